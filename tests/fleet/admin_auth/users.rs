//! Users: `/int/user` within the caller's tenant, and the CLI functions that create users, set
//! passwords and move them between tenants.

use avni_int_dispatcher::users::{self, UsersError};
use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::TestApp;
use reqwest::StatusCode;
use serde_json::json;

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
