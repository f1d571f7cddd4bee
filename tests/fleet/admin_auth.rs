//! Admin API authentication: form login, sessions on the server, 403 without one.

use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::TestApp;
use reqwest::StatusCode;

#[tokio::test]
async fn login_opens_a_session_and_logout_ends_it_on_the_server() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let client = AdminClient::new(dispatcher.admin.unwrap());
    app.add_user("ops@example.org", "s3cret", tenant).await;

    let (status, _) = client.get("/int/currentUser").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no session yet");
    let (status, _) = client.try_login("ops@example.org", "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    client.login("ops@example.org", "s3cret").await;
    let (status, user) = client.get("/int/currentUser").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["email"], "ops@example.org");
    assert_eq!(user["workingIntegrationSystemId"], tenant.0);
    assert!(user.get("password").is_none(), "never the hash: {user}");

    let (status, _) = client.get("/int/logout").await;
    assert!(status.as_u16() < 400);
    let (status, _) = client.get("/int/currentUser").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the session ended on the server"
    );
    dispatcher.stop().await;
}
