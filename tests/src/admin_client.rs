//! A client of the admin API as the admin app uses it: a cookie jar, form login, JSON calls.
//! Every call returns the status and the body as JSON (or `Null` when the body is not JSON).

use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::net::SocketAddr;

/// The keys of a Spring Data `Page` as the original's list endpoints serialise it.
pub const SPRING_PAGE_FIELDS: &[&str] = &[
    "content",
    "pageable",
    "totalElements",
    "totalPages",
    "last",
    "first",
    "size",
    "number",
    "sort",
    "numberOfElements",
    "empty",
];

#[derive(Clone)]
pub struct AdminClient {
    pub base: String,
    pub http: reqwest::Client,
}

impl AdminClient {
    /// A fresh client (empty cookie jar) for the server at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        AdminClient {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Form login; panics unless it succeeds.
    pub async fn login(&self, email: &str, password: &str) {
        let (status, body) = self.try_login(email, password).await;
        assert_eq!(status, StatusCode::OK, "login as {email}: {body}");
    }

    pub async fn try_login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url("/int/login"))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap();
        Self::read(response).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// A request with a raw body and content type (malformed JSON, forms, …).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .request(method, self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        Self::read(response).await
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        Self::read(request.send().await.unwrap()).await
    }

    async fn read(response: reqwest::Response) -> (StatusCode, Value) {
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}
