//! Admin API authentication: form login, sessions on the server (hashed, shared by replicas,
//! kept across restarts, ended by logout, voiding and expiry), the login throttle, the
//! cross-site guard, 403 for every protected path, and `/int/user` with its tenant isolation.

use avni_int_dispatcher::users::{self, UsersError};
use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::TestApp;
use reqwest::header::{COOKIE, ORIGIN, RETRY_AFTER, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::net::SocketAddr;

/// A client without a cookie store, so the test decides which cookie is sent.
fn plain() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs in by hand and returns the session token from `Set-Cookie`.
async fn login_token(addr: SocketAddr, email: &str, password: &str) -> String {
    let response = plain()
        .post(format!("http://{addr}/int/login"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "login as {email}");
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("JSESSIONID="))
        .expect("a session cookie")
        .to_owned();
    let token = cookie.split(';').next().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    token
}

/// An admin client that sends `token` by hand on every call (no cookie store).
fn client_with_token(addr: SocketAddr, token: &str) -> AdminClient {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(COOKIE, format!("JSESSIONID={token}").parse().unwrap());
    AdminClient {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

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

#[tokio::test]
async fn users_are_listed_created_and_changed_within_the_tenant() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let (dispatcher, client) = app.admin_session(tenant).await;
    let other_tenant = app.add_probe_tenant(&[]).await;
    let outsider = app
        .add_user("outsider@example.org", "s3cret", other_tenant)
        .await;

    let (status, created) = client
        .post(
            "/int/user",
            &json!({"email": "new@example.org", "workingIntegrationSystemId": tenant.0, "password": "n3w-pass"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["email"], "new@example.org");
    assert_eq!(created["workingIntegrationSystemId"], tenant.0);
    assert_eq!(created["voided"], false);
    assert!(created.get("password").is_none());
    let new_id = created["id"].as_i64().unwrap();
    let hash: String = sqlx::query_scalar("SELECT password FROM users WHERE id = $1")
        .bind(new_id as i32)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert!(hash.starts_with("$2a$10$"), "Spring's format: {hash}");
    AdminClient::new(dispatcher.admin.unwrap())
        .login("new@example.org", "n3w-pass")
        .await;

    // Without a password the account exists but nothing opens it.
    let (status, nopass) = client
        .post(
            "/int/user",
            &json!({"email": "nopass@example.org", "workingIntegrationSystemId": tenant.0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{nopass}");
    for guess in ["", "password", "null"] {
        assert_eq!(
            AdminClient::new(dispatcher.admin.unwrap())
                .try_login("nopass@example.org", guess)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }

    for (body, field) in [
        (
            json!({"email": "NEW@example.org", "workingIntegrationSystemId": tenant.0}),
            "email",
        ),
        (
            json!({"email": "not-an-email", "workingIntegrationSystemId": tenant.0}),
            "email",
        ),
        (
            json!({"email": format!("{}@example.org", "x".repeat(250))}),
            "email",
        ),
        (json!({"workingIntegrationSystemId": tenant.0}), "email"),
        (
            json!({"email": "x@example.org", "workingIntegrationSystemId": other_tenant.0}),
            "workingIntegrationSystemId",
        ),
        (
            json!({"email": "x@example.org", "workingIntegrationSystemId": "one"}),
            "workingIntegrationSystemId",
        ),
        (
            json!({"email": "x@example.org", "password": "p".repeat(73)}),
            "password",
        ),
    ] {
        let (status, error) = client.post("/int/user", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert!(error.get(field).is_some(), "{body} names {field}: {error}");
    }

    let (status, all) = client.get("/int/user").await;
    assert_eq!(status, StatusCode::OK);
    let emails: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 3, "the caller, new and nopass: {emails:?}");
    assert!(!emails.contains(&"outsider@example.org"));
    let (status, page) = client.get("/int/user?page=0&size=2&sort=email,DESC").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["totalElements"], 3);
    assert_eq!(page["content"].as_array().unwrap().len(), 2);
    let caller = *emails.iter().find(|e| e.starts_with("ops-")).unwrap();
    assert_eq!(
        page["content"][0]["email"], caller,
        "sorted by email, descending"
    );
    assert_eq!(page["content"][1]["email"], "nopass@example.org");
    let (status, some) = client
        .get(&format!("/int/user?ids={new_id},{outsider}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        some.as_array().unwrap().len(),
        1,
        "not the other tenant's: {some}"
    );
    assert_eq!(some[0]["id"], new_id);

    let (status, changed) = client
        .put(
            &format!("/int/user/{new_id}"),
            &json!({"id": new_id, "email": "renamed@example.org", "workingIntegrationSystemId": tenant.0, "voided": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["email"], "renamed@example.org");
    let (status, error) = client
        .put(
            &format!("/int/user/{new_id}"),
            &json!({"workingIntegrationSystemId": other_tenant.0}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.get("workingIntegrationSystemId").is_some(), "{error}");
    let (status, error) = client
        .put(
            &format!("/int/user/{new_id}"),
            &json!({"email": "NOPASS@example.org"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "taken, whatever the case");
    assert!(error.get("email").is_some(), "{error}");
    let (_, unchanged) = client.get(&format!("/int/user/{new_id}")).await;
    assert_eq!(unchanged["email"], "renamed@example.org");
    assert_eq!(unchanged["workingIntegrationSystemId"], tenant.0);
    assert_eq!(
        client.get("/int/user/999999").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(client.get("/int/user/abc").await.0, StatusCode::NOT_FOUND);

    // A voided user's email is free again.
    assert_eq!(
        client.delete(&format!("/int/user/{new_id}")).await.0,
        StatusCode::OK
    );
    let (status, all) = client.get("/int/user").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        all.as_array().unwrap().len(),
        2,
        "voided users are not listed"
    );
    let (status, again) = client
        .post(
            "/int/user",
            &json!({"email": "Renamed@example.org", "workingIntegrationSystemId": tenant.0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    dispatcher.stop().await;
}

#[tokio::test]
async fn users_of_another_tenant_are_invisible_and_unchangeable() {
    let app = TestApp::new().await;
    let a = app.add_probe_tenant(&[]).await;
    let b = app.add_probe_tenant(&[]).await;
    let (dispatcher, client_a) = app.admin_session(a).await;
    let of_b = app.add_user("b-user@example.org", "s3cret", b).await;
    let path = format!("/int/user/{of_b}");

    assert_eq!(client_a.get(&path).await.0, StatusCode::NOT_FOUND);
    let (status, _) = client_a
        .put(
            &path,
            &json!({"email": "hijacked@example.org", "workingIntegrationSystemId": a.0}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(client_a.delete(&path).await.0, StatusCode::NOT_FOUND);
    let row: (String, i32, bool) = sqlx::query_as(
        "SELECT email, working_integration_system_id, coalesce(is_voided, false) FROM users WHERE id = $1",
    )
    .bind(of_b)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(row, ("b-user@example.org".to_owned(), b.0, false));
    let (_, list) = client_a.get("/int/user?page=0&size=50&sort=id,ASC").await;
    assert!(list["content"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["workingIntegrationSystemId"] == a.0));
    dispatcher.stop().await;
}

#[tokio::test]
async fn the_cli_functions_create_users_set_passwords_and_move_tenants() {
    let app = TestApp::new().await;
    let first = app.add_tenant("goonj-cli", "goonj", &[]).await;
    let second = app.add_probe_tenant(&[]).await;
    let pool = app.db.pool();
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let addr = dispatcher.admin.unwrap();

    let id = users::create_user(pool, "cli@example.org", "goonj-cli", "first-pass")
        .await
        .unwrap();
    let client = AdminClient::new(addr);
    client.login("cli@example.org", "first-pass").await;
    let (_, me) = client.get("/int/currentUser").await;
    assert_eq!(me["id"], id);
    assert_eq!(me["workingIntegrationSystemId"], first.0);

    assert!(matches!(
        users::create_user(pool, "CLI@example.org", &second.0.to_string(), "x").await,
        Err(UsersError::DuplicateEmail(_))
    ));
    assert!(matches!(
        users::create_user(pool, "x@example.org", "no-such-system", "x").await,
        Err(UsersError::UnknownTenant(_))
    ));
    assert!(matches!(
        users::set_password(pool, "nobody@example.org", "x").await,
        Err(UsersError::UnknownUser(_))
    ));
    let by_id = users::create_user(pool, "by-id@example.org", &second.0.to_string(), "p")
        .await
        .unwrap();
    let tenant_of_by_id: i32 =
        sqlx::query_scalar("SELECT working_integration_system_id FROM users WHERE id = $1")
            .bind(by_id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(tenant_of_by_id, second.0);

    users::set_password(pool, "Cli@Example.org", "second-pass")
        .await
        .unwrap();
    assert_eq!(
        client.get("/int/currentUser").await.0,
        StatusCode::FORBIDDEN,
        "a new password ends the old sessions"
    );
    assert_eq!(
        client.try_login("cli@example.org", "first-pass").await.0,
        StatusCode::UNAUTHORIZED
    );
    client.login("cli@example.org", "second-pass").await;

    let moved = users::set_tenant(pool, "cli@example.org", &second.0.to_string())
        .await
        .unwrap();
    assert_eq!(moved, second);
    let (_, me) = client.get("/int/currentUser").await;
    assert_eq!(
        me["workingIntegrationSystemId"], second.0,
        "from the next request"
    );
    dispatcher.stop().await;
}
