//! The guard in front of the API: 403 for every protected path without a session, and
//! cross-site writes refused.

use super::{login_token, plain};
use avni_int_tests::fleet::TestApp;
use reqwest::header::{COOKIE, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn every_protected_path_is_403_without_a_session_even_unknown_ones() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let (dispatcher, client) = app.admin_session(tenant).await;
    let http = plain();
    let calls: &[(Method, &str)] = &[
        (Method::GET, "/int/currentUser"),
        (Method::GET, "/int/user"),
        (Method::GET, "/int/user/1"),
        (Method::POST, "/int/user"),
        (Method::PUT, "/int/user/1"),
        (Method::DELETE, "/int/user/1"),
        (
            Method::GET,
            "/int/mappingMetadata?page=0&size=10&sort=id,ASC",
        ),
        (Method::POST, "/int/mappingMetadata"),
        (Method::GET, "/int/mappingGroup?page=0&size=10&sort=id,ASC"),
        (Method::GET, "/int/mappingType"),
        (Method::GET, "/int/errorType"),
        (Method::GET, "/int/errorRecordLog"),
        (Method::PUT, "/int/errorRecordLog/1"),
        (Method::GET, "/int/integrationSystem"),
        (Method::GET, "/int/export"),
        (Method::POST, "/int/import"),
        (Method::GET, "/int/jobs"),
        (Method::GET, "/int/no-such-resource"),
        (Method::DELETE, "/int/currentUser"),
    ];
    for (method, path) in calls {
        let response = http
            .request(method.clone(), client.url(path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{method} {path} without a session"
        );
    }
    // The open ones stay open; with a session an unknown path is a plain 404.
    assert!(http
        .get(client.url("/int/logout"))
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    assert_ne!(
        http.get(client.url("/int/openapi.json"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        client.get("/int/no-such-resource").await.0,
        StatusCode::NOT_FOUND
    );
    dispatcher.stop().await;
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_write_nothing() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let addr = dispatcher.admin.unwrap();
    app.add_user("ops@example.org", "s3cret", tenant).await;
    let token = login_token(addr, "ops@example.org", "s3cret").await;
    let post = |origin: String| {
        plain()
            .post(format!("http://{addr}/int/user"))
            .header(COOKIE, format!("JSESSIONID={token}"))
            .header(ORIGIN, origin)
            .json(&json!({"email": "new@example.org", "workingIntegrationSystemId": tenant.0}))
            .send()
    };
    let users = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM users")
            .fetch_one(app.db.pool())
            .await
            .unwrap()
    };

    let evil = post("https://evil.example".into()).await.unwrap();
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    assert_eq!(users().await, 1, "nothing written");
    let own = post(format!("http://{addr}")).await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(users().await, 2);
    dispatcher.stop().await;
}
