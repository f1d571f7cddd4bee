//! Sessions: login and logout, hashed server-side sessions that expire, survive restarts and
//! are shared by replicas, the login throttle, voided users, and Spring's bcrypt hashes.

use super::{client_with_token, login_token, plain};
use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::TestApp;
use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;

#[tokio::test]
async fn login_opens_a_session_and_logout_ends_it_on_the_server() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let addr = dispatcher.admin.unwrap();
    let client = AdminClient::new(addr);
    app.add_user("ops@example.org", "s3cret", tenant).await;

    let (status, _) = client.get("/int/currentUser").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no session yet");
    let (status, _) = client.try_login("ops@example.org", "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = client.try_login("nobody@example.org", "s3cret").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unknown email");

    client.login("OPS@example.org", "s3cret").await;
    let (status, user) = client.get("/int/currentUser").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["email"], "ops@example.org");
    assert_eq!(user["workingIntegrationSystemId"], tenant.0);
    assert_eq!(user["voided"], false);
    assert!(user["id"].is_i64() && user["uuid"].is_string(), "{user}");
    assert!(user.get("password").is_none(), "never the hash: {user}");

    let (status, _) = client.get("/int/logout").await;
    assert!(status.as_u16() < 400);
    let (status, _) = client.get("/int/currentUser").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the session ended on the server"
    );

    // The old cookie value, replayed by hand after logout, is refused too.
    let token = login_token(addr, "ops@example.org", "s3cret").await;
    let by_hand = client_with_token(addr, &token);
    assert_eq!(by_hand.get("/int/currentUser").await.0, StatusCode::OK);
    assert!(by_hand.get("/int/logout").await.0.as_u16() < 400);
    assert_eq!(
        by_hand.get("/int/currentUser").await.0,
        StatusCode::FORBIDDEN
    );
    dispatcher.stop().await;
}

#[tokio::test]
async fn sessions_are_stored_only_as_hashes_and_expired_ones_are_refused_and_swept() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let addr = dispatcher.admin.unwrap();
    app.add_user("ops@example.org", "s3cret", tenant).await;
    let token = login_token(addr, "ops@example.org", "s3cret").await;

    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT token_hash, csrf_token FROM int_session")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].0, token, "the raw token is not stored");
    assert!(!rows[0].0.contains(&token) && !rows[0].1.contains(&token));
    assert_eq!(rows[0].0.len(), 64, "sha256 hex: {}", rows[0].0);
    let raw_anywhere: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM int_session s WHERE s::text LIKE '%' || $1 || '%')",
    )
    .bind(&token)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert!(!raw_anywhere);

    let client = client_with_token(addr, &token);
    assert_eq!(client.get("/int/currentUser").await.0, StatusCode::OK);
    sqlx::query("UPDATE int_session SET expires_at = now() - interval '1 second'")
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(
        client.get("/int/currentUser").await.0,
        StatusCode::FORBIDDEN,
        "an expired session is refused"
    );
    // The next login sweeps the expired row away.
    let fresh = login_token(addr, "ops@example.org", "s3cret").await;
    let live: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM int_session")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert_eq!(live.len(), 1, "only the new session is left");
    assert_eq!(
        client_with_token(addr, &fresh)
            .get("/int/currentUser")
            .await
            .0,
        StatusCode::OK
    );
    dispatcher.stop().await;
}

#[tokio::test]
async fn failed_logins_are_throttled_per_email_and_success_resets_the_count() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let client = AdminClient::new(dispatcher.admin.unwrap());
    app.add_user("ops@example.org", "s3cret", tenant).await;
    app.add_user("other@example.org", "s3cret", tenant).await;

    for _ in 0..4 {
        assert_eq!(
            client.try_login("ops@example.org", "wrong").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    client.login("ops@example.org", "s3cret").await;
    for _ in 0..5 {
        assert_eq!(
            client.try_login("Ops@Example.org", "wrong").await.0,
            StatusCode::UNAUTHORIZED,
            "the success reset the count"
        );
    }
    let response = plain()
        .post(client.url("/int/login"))
        .form(&[("email", "ops@example.org"), ("password", "s3cret")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password"
    );
    let retry_after: u64 = response.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");

    // Other emails are not affected; when the window has passed, logins work again.
    client.login("other@example.org", "s3cret").await;
    sqlx::query("UPDATE int_login_failure SET failed_at = failed_at - interval '16 minutes'")
        .execute(app.db.pool())
        .await
        .unwrap();
    client.login("ops@example.org", "s3cret").await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn sessions_survive_a_restart_and_are_shared_by_replicas() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    app.add_user("ops@example.org", "s3cret", tenant).await;
    let first = app.start_dispatcher(app.dispatcher_config()).await;
    let token = login_token(first.admin.unwrap(), "ops@example.org", "s3cret").await;
    first.stop().await;

    let a = app.start_dispatcher(app.dispatcher_config()).await;
    let b = app.start_dispatcher(app.dispatcher_config()).await;
    let on_a = client_with_token(a.admin.unwrap(), &token);
    let on_b = client_with_token(b.admin.unwrap(), &token);
    let (status, user) = on_a.get("/int/currentUser").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the session outlived its dispatcher"
    );
    assert_eq!(user["email"], "ops@example.org");
    assert_eq!(on_b.get("/int/currentUser").await.0, StatusCode::OK);

    assert!(on_b.get("/int/logout").await.0.as_u16() < 400);
    assert_eq!(
        on_a.get("/int/currentUser").await.0,
        StatusCode::FORBIDDEN,
        "a logout on one replica ends the session on all"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn voided_users_cannot_log_in_and_their_sessions_end() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let (dispatcher, admin) = app.admin_session(tenant).await;
    let addr = dispatcher.admin.unwrap();
    let id = app.add_user("leaver@example.org", "s3cret", tenant).await;
    let leaver = AdminClient::new(addr);
    leaver.login("leaver@example.org", "s3cret").await;
    let token = login_token(addr, "leaver@example.org", "s3cret").await;

    let (status, voided) = admin.delete(&format!("/int/user/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{voided}");
    assert_eq!(voided["voided"], true);
    assert_eq!(
        leaver.get("/int/currentUser").await.0,
        StatusCode::FORBIDDEN
    );
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM int_session WHERE user_id = $1")
        .bind(id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(sessions, 0, "voiding ended the sessions");
    assert_eq!(
        leaver.try_login("leaver@example.org", "s3cret").await.0,
        StatusCode::UNAUTHORIZED
    );

    // A session of a user voided behind the API's back is refused as well.
    let other = app.add_user("other@example.org", "s3cret", tenant).await;
    let other_token = login_token(addr, "other@example.org", "s3cret").await;
    sqlx::query("UPDATE users SET is_voided = true WHERE id = $1")
        .bind(other)
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(
        client_with_token(addr, &other_token)
            .get("/int/currentUser")
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        client_with_token(addr, &token).get("/int/user").await.0,
        StatusCode::FORBIDDEN
    );

    // Nobody voids themselves.
    let (_, me) = admin.get("/int/currentUser").await;
    let (status, body) = admin.delete(&format!("/int/user/{}", me["id"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("id").is_some(), "{body}");
    assert_eq!(admin.get("/int/currentUser").await.0, StatusCode::OK);
    dispatcher.stop().await;
}

#[tokio::test]
async fn a_spring_bcrypt_hash_logs_in() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    // Spring Security's documented BCryptPasswordEncoder (cost 10) hash of "password".
    sqlx::query(
        "INSERT INTO users (email, password, working_integration_system_id, uuid)
         VALUES ('legacy@example.org', '$2a$10$dXJ3SW6G7P50lGmMkkmwe.20cQQubK3.HZWzG3YB1tlRy.fqvM/BG', $1, 'u-1')",
    )
    .bind(tenant.0)
    .execute(app.db.pool())
    .await
    .unwrap();
    let client = AdminClient::new(dispatcher.admin.unwrap());
    assert_eq!(
        client.try_login("legacy@example.org", "Password").await.0,
        StatusCode::UNAUTHORIZED
    );
    client.login("legacy@example.org", "password").await;
    dispatcher.stop().await;
}
