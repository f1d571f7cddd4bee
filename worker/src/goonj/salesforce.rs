//! Goonj's Salesforce Apex REST client (contracts/goonj.md §1, §3, §4): password-grant login
//! with a per-tenant token (valid till `issued_at` + expiry, renewed 60 s early, re-obtained
//! once on a 401), retried transient failures, feed reads, and upserts that treat an
//! `errorCode` body as a failure even with a 2xx status.

use super::config::SalesforceConfig;
use crate::avni::error::{http_message, parse_retry_after, reason_for, MAX_RETRY_AFTER};
use crate::avni::RetryPolicy;
use crate::module::StepError;
use avni_int_shared::metrics::HttpObserver;
use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum SalesforceError {
    /// A failure status, worded as the original's RestTemplate did (classification rules
    /// match this text).
    #[error("{}", http_message(*.status, reason_for(*.status), .body))]
    Http {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    /// A 2xx (or 4xx) whose body carries Salesforce's `errorCode`.
    #[error("{code}, {message}")]
    Rejected { code: String, message: String },
    #[error("Salesforce request {what} failed: {source}")]
    Transport {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("unreadable Salesforce response to {what}: {detail}")]
    Decode { what: String, detail: String },
    #[error("Salesforce login failed: {0}")]
    Login(String),
}

impl SalesforceError {
    pub fn is_transient(&self) -> bool {
        match self {
            // An Apex exception about the data comes back as a 500 with an `errorCode` body:
            // sending the same data again fails the same way.
            SalesforceError::Http { status, body, .. } => {
                (*status >= 500 && !body.contains("\"errorCode\"")) || *status == 429
            }
            SalesforceError::Transport { source, .. } => !source.is_builder(),
            // A truncated or garbled answer (a proxy, a cut connection) reads fine next time.
            SalesforceError::Decode { .. } => true,
            SalesforceError::Rejected { .. } => false,
            SalesforceError::Login(_) => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            SalesforceError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<SalesforceError> for StepError {
    fn from(error: SalesforceError) -> Self {
        if error.is_transient() {
            StepError::Unavailable(error.to_string())
        } else {
            StepError::Failed(error.to_string())
        }
    }
}

struct Token {
    value: String,
    valid_until: SystemTime,
}

/// One per tenant; cheap to clone. The token is the tenant's own (the original shared one
/// across tenants).
#[derive(Clone)]
pub struct SalesforceClient {
    http: reqwest::Client,
    config: Arc<SalesforceConfig>,
    retry: RetryPolicy,
    token: Arc<Mutex<Option<Token>>>,
    observer: Option<HttpObserver>,
}

impl SalesforceClient {
    pub fn new(http: reqwest::Client, config: SalesforceConfig, retry: RetryPolicy) -> Self {
        SalesforceClient {
            http,
            config: Arc::new(config),
            retry,
            token: Arc::new(Mutex::new(None)),
            observer: None,
        }
    }

    /// Counts and times every call (target `salesforce`).
    pub fn observed_by(mut self, observer: Option<HttpObserver>) -> Self {
        self.observer = observer;
        self
    }

    fn observe(&self, sent: &Result<reqwest::Response, reqwest::Error>, started: Instant) {
        if let Some(observer) = &self.observer {
            let status = sent.as_ref().ok().map(|r| r.status().as_u16());
            observer.observe(status, started.elapsed());
        }
    }

    pub fn config(&self) -> &SalesforceConfig {
        &self.config
    }

    async fn token(&self, renew: bool) -> Result<String, SalesforceError> {
        let mut token = self.token.lock().await;
        if !renew {
            if let Some(t) = token.as_ref() {
                if t.valid_until > SystemTime::now() + Duration::from_secs(60) {
                    return Ok(t.value.clone());
                }
            }
        }
        let form = reqwest::multipart::Form::new()
            .text("username", self.config.username.clone())
            .text("password", self.config.password.clone())
            .text("grant_type", "password")
            .text("client_id", self.config.client_id.clone())
            .text("client_secret", self.config.client_secret.clone());
        let response = self
            .http
            .post(&self.config.auth_url)
            .multipart(form)
            .send()
            .await
            .map_err(|source| SalesforceError::Transport {
                what: "login".into(),
                source,
            })?;
        let status = response.status().as_u16();
        let retry_after = parse_retry_after(
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
        );
        let body = response.text().await.unwrap_or_default();
        // An outage or throttling of the login endpoint is retried like any other call; only
        // a refusal of the credentials (4xx) is a login failure.
        if status >= 500 || status == 429 {
            return Err(SalesforceError::Http {
                status,
                body,
                retry_after,
            });
        }
        if !(200..300).contains(&status) {
            return Err(SalesforceError::Login(http_message(
                status,
                reason_for(status),
                &body,
            )));
        }
        let parsed: Value = serde_json::from_str(&body).map_err(|e| SalesforceError::Decode {
            what: "login".into(),
            detail: e.to_string(),
        })?;
        let value = parsed["access_token"]
            .as_str()
            .ok_or_else(|| SalesforceError::Login("no access_token in the answer".into()))?
            .to_owned();
        let issued_ms = parsed["issued_at"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .or_else(|| parsed["issued_at"].as_u64());
        let issued = issued_ms
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
            .unwrap_or_else(SystemTime::now);
        *token = Some(Token {
            value: value.clone(),
            valid_until: issued + self.config.token_expiry,
        });
        Ok(value)
    }

    /// Sends a request built by `build` with the bearer token; retries transient failures
    /// (honouring `Retry-After`) and logs in again once on a 401. Returns the body of a 2xx.
    async fn send(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<(String, Vec<u8>), SalesforceError> {
        let attempt = || async {
            let mut renewed = false;
            loop {
                let token = self.token(renewed).await?;
                let started = Instant::now();
                let sent = build(&self.http).bearer_auth(&token).send().await;
                self.observe(&sent, started);
                let response = sent.map_err(|source| SalesforceError::Transport {
                    what: what.to_owned(),
                    source,
                })?;
                let status = response.status().as_u16();
                let retry_after = parse_retry_after(
                    response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()),
                );
                let content_type = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body = response
                    .bytes()
                    .await
                    .map_err(|source| SalesforceError::Transport {
                        what: what.to_owned(),
                        source,
                    })?;
                if status == 401 && !renewed {
                    renewed = true;
                    continue;
                }
                if (200..300).contains(&status) {
                    return Ok((content_type, body.to_vec()));
                }
                return Err(SalesforceError::Http {
                    status,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    retry_after,
                });
            }
        };
        attempt
            .retry(self.backoff())
            .when(SalesforceError::is_transient)
            .adjust(|error, delay| {
                let asked = match error {
                    SalesforceError::Http { retry_after, .. } => {
                        retry_after.map(|d| d.min(MAX_RETRY_AFTER))
                    }
                    _ => None,
                };
                delay.map(|d| asked.unwrap_or(d))
            })
            .notify(|error, delay| {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "Salesforce call failed; retrying");
            })
            .await
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
    }

    /// `GET {app}/{path}?{params}`; the JSON answer.
    pub async fn get(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, SalesforceError> {
        self.get_checked(path, params, |_| Ok(())).await
    }

    /// [`SalesforceClient::get`] whose answer must also pass `check` (its shape). An answer
    /// that is not JSON or fails the check is a `Decode` failure, read again with backoff
    /// like any transient failure: a garbled answer must not abort the step at its first sight.
    pub async fn get_checked(
        &self,
        path: &str,
        params: &[(&str, &str)],
        check: impl Fn(&Value) -> Result<(), String>,
    ) -> Result<Value, SalesforceError> {
        let url = format!("{}/{path}", self.config.app_url);
        let decode = |detail: String| SalesforceError::Decode {
            what: path.to_owned(),
            detail,
        };
        let read = || async {
            let (_, body) = self.send(path, |http| http.get(&url).query(params)).await?;
            let value: Value = serde_json::from_slice(&body).map_err(|e| decode(e.to_string()))?;
            check(&value).map_err(decode)?;
            Ok(value)
        };
        // `send` has retried everything else already.
        read.retry(self.backoff())
            .when(|error| matches!(error, SalesforceError::Decode { .. }))
            .notify(|error, delay| {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "unreadable Salesforce answer; reading again");
            })
            .await
    }

    /// `POST {app}/{resource}` with `{wrapper: records}`. A body carrying `errorCode` is a
    /// failure whatever the status (the original ignored it).
    pub async fn upsert(
        &self,
        resource: &str,
        wrapper: &str,
        records: &[Value],
    ) -> Result<(), SalesforceError> {
        let url = format!("{}/{resource}", self.config.app_url);
        let body = json!({ wrapper: records });
        let (_, answer) = match self
            .send(resource, |http| http.post(&url).json(&body))
            .await
        {
            Ok(ok) => ok,
            Err(SalesforceError::Http { status, body, .. }) if status < 500 && status != 429 => {
                if let Some(rejected) = rejection(&body) {
                    return Err(rejected);
                }
                return Err(SalesforceError::Http {
                    status,
                    body,
                    retry_after: None,
                });
            }
            Err(other) => return Err(other),
        };
        match rejection(&String::from_utf8_lossy(&answer)) {
            Some(rejected) => Err(rejected),
            None => Ok(()),
        }
    }

    /// `POST {app}/deleteDispatchReceivedStatusService/`; errors are the caller's to ignore.
    pub async fn delete_receipts(&self, source_ids: &[String]) -> Result<(), SalesforceError> {
        let url = format!(
            "{}/deleteDispatchReceivedStatusService/",
            self.config.app_url
        );
        let body = json!({ "recordId": [], "sourceId": source_ids });
        self.send("deleteDispatchReceivedStatusService", |http| {
            http.post(&url).json(&body)
        })
        .await
        .map(|_| ())
    }

    /// Downloads an image link with the bearer: (content type, bytes).
    pub async fn download(&self, link: &str) -> Result<(String, Vec<u8>), SalesforceError> {
        self.send("image download", |http| http.get(link)).await
    }
}

/// Salesforce's failure bodies: `[{"errorCode": …, "message": …}]` or the object alone.
fn rejection(body: &str) -> Option<SalesforceError> {
    let value: Value = serde_json::from_str(body).ok()?;
    let first = match &value {
        Value::Array(items) => items.first()?.clone(),
        other => other.clone(),
    };
    let code = first.get("errorCode")?.as_str()?.to_owned();
    let message = first
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some(SalesforceError::Rejected { code, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_bodies_are_rejections_whatever_their_shape() {
        let list = r#"[{"errorCode":"FIELD_CUSTOM_VALIDATION_EXCEPTION","message":"Received quantity too high"}]"#;
        let rejected = rejection(list).unwrap();
        assert_eq!(
            rejected.to_string(),
            "FIELD_CUSTOM_VALIDATION_EXCEPTION, Received quantity too high"
        );
        assert!(!rejected.is_transient());
        assert!(rejection(r#"{"errorCode":"X","message":"y"}"#).is_some());
        assert!(rejection(r#"[{"Id":"a","success":true}]"#).is_none());
        assert!(rejection("not json").is_none());
    }

    #[test]
    fn http_failures_read_like_the_original_and_classify_transience() {
        let e = SalesforceError::Http {
            status: 502,
            body: "bad gateway".into(),
            retry_after: None,
        };
        assert_eq!(e.to_string(), r#"502 Bad Gateway: "bad gateway""#);
        assert!(e.is_transient());
        let e = SalesforceError::Http {
            status: 400,
            body: "no".into(),
            retry_after: None,
        };
        assert!(!e.is_transient());
        let apex = SalesforceError::Http {
            status: 500,
            body: r#"[{"errorCode":"APEX_ERROR","message":"System.NullPointerException"}]"#.into(),
            retry_after: None,
        };
        assert!(!apex.is_transient(), "a data failure is not repeated");
    }
}
