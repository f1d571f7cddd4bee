//! The OpenAPI document against the running server: every operation it lists exists, needs a
//! session (except login/logout/the document), and answers unknown ids with 404, never a 5xx.

use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// `(method, path)` of every operation, with path parameters filled by `fill`.
fn operations(doc: &Value, fill: impl Fn(&str) -> String) -> Vec<(Method, String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .split('/')
                .map(
                    |part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                        Some(name) => fill(name),
                        None => part.to_owned(),
                    },
                )
                .collect::<Vec<_>>()
                .join("/");
            out.push((
                method.to_uppercase().parse().unwrap(),
                path.clone(),
                concrete,
            ));
        }
    }
    out
}

#[tokio::test]
async fn admin_openapi_every_operation_needs_a_session() {
    let app = TestApp::new().await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let anonymous = AdminClient::new(dispatcher.admin.unwrap());
    let (status, doc) = anonymous.get("/int/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let ops = operations(
        &doc,
        |name| if name == "id" { "1".into() } else { "x".into() },
    );
    assert!(ops.len() > 40, "the document lists the API: {}", ops.len());
    for (method, template, path) in ops {
        if template == "/int/login" || template == "/int/logout" {
            continue;
        }
        let (status, _) = anonymous
            .call(method.clone(), &path, Some(&serde_json::json!({})))
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{method} {path} without a session"
        );
    }
    dispatcher.stop().await;
}

#[tokio::test]
async fn admin_openapi_every_operation_exists_and_unknown_ids_are_404() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let (dispatcher, client) = app.admin_session(tenant).await;
    let (_, doc) = client.get("/int/openapi.json").await;
    let ops = operations(&doc, |name| match name {
        "id" => "987654".into(),
        "module" => "no_such_module".into(),
        _ => "00000000-0000-0000-0000-000000000000".into(),
    });
    for (method, template, path) in ops {
        if method != Method::GET || template == "/int/logout" {
            continue;
        }
        let (status, body) = client.get(&path).await;
        assert!(!status.is_server_error(), "GET {path}: {status} {body}");
        if template.contains('{') {
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                "GET {path}: an unknown id is 404 (Goonj routes: 403 for a non-Goonj tenant), got {status} {body}"
            );
        } else {
            assert_ne!(
                status,
                StatusCode::NOT_FOUND,
                "GET {path} is documented but not served"
            );
        }
    }
    dispatcher.stop().await;
}
