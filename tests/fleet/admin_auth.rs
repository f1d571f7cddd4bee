//! Admin API authentication: form login, sessions on the server (hashed, shared by replicas,
//! kept across restarts, ended by logout, voiding and expiry), the login throttle, the
//! cross-site guard, 403 for every protected path, and `/int/user` with its tenant isolation.

mod guard;
mod sessions;
mod users;

use avni_int_tests::admin_client::AdminClient;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::StatusCode;
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
