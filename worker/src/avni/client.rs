//! `AvniClient`: one per tenant, cheap to clone. It owns the token (reused until 60 s before
//! its `exp`, re-obtained once on a 401), sends `AUTH-TOKEN` (or `USER-NAME` without auth),
//! and retries transient failures with jittered exponential backoff, honouring `Retry-After`.
//! The typed calls live in `api`.

use super::auth;
use super::config::{AvniConfig, AvniCredentials};
use super::error::{next_delay, parse_retry_after, AvniError};
use super::token::Token;
use avni_int_shared::metrics::HttpObserver;
use backon::{ExponentialBuilder, Retryable};
use chrono::Utc;
use reqwest::header::RETRY_AFTER;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Mutex;

#[derive(Clone)]
pub struct AvniClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: AvniConfig,
    /// Held while logging in, so concurrent calls wait for one login instead of each making one.
    token: Mutex<Option<Token>>,
    observer: Option<HttpObserver>,
}

/// A success answer's body.
pub(crate) struct Answer {
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, AvniError> {
        serde_json::from_slice(&self.body).map_err(|source| AvniError::Decode {
            what: what.to_owned(),
            source,
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Whether an attempt may be repeated after it might have reached Avni.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    Safe,
    /// A write with a natural key: repeated on outages, but not on a plain 500, which Avni
    /// answers for data it rejects ("Address … not found", an unknown type): repeating cannot
    /// help, and the failure becomes a classified error at once.
    Write,
    /// A create without a natural key: a lost answer repeated would create twice.
    Never,
}

impl AvniClient {
    /// A client with its own connection pool.
    pub fn new(config: AvniConfig) -> Result<Self, AvniError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|source| AvniError::Transport {
                what: "building the HTTP client".into(),
                source,
            })?;
        Ok(Self::with_http(http, config))
    }

    /// A client sharing a connection pool (the config's timeout still applies per request).
    pub fn with_http(http: reqwest::Client, config: AvniConfig) -> Self {
        Self::observed(http, config, None)
    }

    /// A client whose every call is counted and timed by `observer` (target `avni`).
    pub fn observed(
        http: reqwest::Client,
        config: AvniConfig,
        observer: Option<HttpObserver>,
    ) -> Self {
        AvniClient {
            inner: Arc::new(Inner {
                http,
                config,
                token: Mutex::new(None),
                observer,
            }),
        }
    }

    async fn send_observed(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let started = std::time::Instant::now();
        let sent = request.send().await;
        if let Some(observer) = &self.inner.observer {
            let status = sent.as_ref().ok().map(|r| r.status().as_u16());
            observer.observe(status, started.elapsed());
        }
        sent
    }

    pub fn config(&self) -> &AvniConfig {
        &self.inner.config
    }

    /// `base_url` + `path_and_query` (which starts with `/`).
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.inner.config.base_url, path_and_query)
    }

    /// An authenticated request decoded as JSON; `build` makes a fresh request per attempt.
    /// Decoding is part of the attempt: a body cut off in transit is retried like a timeout.
    pub(crate) async fn send_json<T, F>(
        &self,
        what: &str,
        repeat: Repeat,
        build: F,
    ) -> Result<T, AvniError>
    where
        T: DeserializeOwned,
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        self.retrying(what, repeat, || async {
            self.attempt(what, &build).await?.json::<T>(what)
        })
        .await
    }

    /// An authenticated request whose body is returned as is.
    pub(crate) async fn send<F>(
        &self,
        what: &str,
        repeat: Repeat,
        build: F,
    ) -> Result<Answer, AvniError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        self.retrying(what, repeat, || self.attempt(what, &build))
            .await
    }

    /// A request to somewhere other than Avni (a presigned S3 URL): no credentials.
    pub(crate) async fn send_elsewhere<F>(&self, what: &str, build: F) -> Result<Answer, AvniError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        self.retrying(what, Repeat::Safe, || async {
            let request = build(&self.inner.http).timeout(self.inner.config.timeout);
            read_answer(what, self.send_observed(request).await).await
        })
        .await
    }

    /// One try, with one re-login if Avni rejects the token.
    async fn attempt<F>(&self, what: &str, build: &F) -> Result<Answer, AvniError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let token = self.token().await?;
        match self.dispatch(what, build, token.as_ref()).await {
            Err(error) if token.is_some() && token_rejected(&error) => {
                tracing::info!(what, status = ?error.status(), "Avni rejected the token; logging in again");
                if let Some(used) = &token {
                    self.forget(used).await;
                }
                let fresh = self.token().await?;
                self.dispatch(what, build, fresh.as_ref()).await
            }
            other => other,
        }
    }

    async fn dispatch<F>(
        &self,
        what: &str,
        build: &F,
        token: Option<&Token>,
    ) -> Result<Answer, AvniError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let mut request = build(&self.inner.http).timeout(self.inner.config.timeout);
        if let Some(token) = token {
            request = request.header("AUTH-TOKEN", token.value());
        } else if let AvniCredentials::NoAuth { username } = &self.inner.config.auth {
            request = request.header("USER-NAME", username);
        }
        read_answer(what, self.send_observed(request).await).await
    }

    /// The cached token, or a fresh one if it is missing or near its `exp`.
    async fn token(&self) -> Result<Option<Token>, AvniError> {
        if !self.inner.config.auth.uses_token() {
            return Ok(None);
        }
        let mut cached = self.inner.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.usable_at(Utc::now())) {
            return Ok(Some(token.clone()));
        }
        let fresh = auth::login(&self.inner.http, &self.inner.config).await?;
        cached.clone_from(&fresh);
        Ok(fresh)
    }

    /// Drops the cached token if it is the one that was rejected (another task may already
    /// have replaced it).
    async fn forget(&self, used: &Token) {
        let mut cached = self.inner.token.lock().await;
        if cached.as_ref() == Some(used) {
            *cached = None;
        }
    }

    async fn retrying<T, F, Fut>(&self, what: &str, repeat: Repeat, op: F) -> Result<T, AvniError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AvniError>>,
    {
        let policy = self.inner.config.retry;
        let retries = match repeat {
            Repeat::Safe | Repeat::Write => policy.max_attempts.saturating_sub(1),
            Repeat::Never => 0,
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_jitter()
            .with_max_times(retries as usize);
        op.retry(backoff)
            .when(|error: &AvniError| match repeat {
                Repeat::Write => error.is_transient() && error.status() != Some(500),
                Repeat::Safe | Repeat::Never => error.is_transient(),
            })
            .adjust(next_delay)
            .notify(|error, delay| {
                tracing::warn!(what, %error, retry_in_ms = delay.as_millis() as u64, "Avni call failed, retrying");
            })
            .await
    }
}

/// A 401, or the 500 Avni gives for an expired token that fails verification (the original
/// re-logged in on `TokenExpiredException` too).
fn token_rejected(error: &AvniError) -> bool {
    match error {
        AvniError::Http { status: 401, .. } => true,
        AvniError::Http {
            status: 500, body, ..
        } => body.contains("TokenExpiredException"),
        _ => false,
    }
}

/// Reads a response: the body of a 2xx, else an `AvniError::Http` worded like the original.
pub(crate) async fn read_answer(
    what: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<Answer, AvniError> {
    let transport = |source| AvniError::Transport {
        what: what.to_owned(),
        source,
    };
    let response = sent.map_err(transport)?;
    let status = response.status().as_u16();
    let retry_after = parse_retry_after(
        response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
    );
    let body = response.bytes().await.map_err(transport)?;
    if (200..300).contains(&status) {
        // Without a copy when the body is one buffer, which it is once collected.
        Ok(Answer {
            body: Vec::from(body),
        })
    } else {
        Err(AvniError::http(
            status,
            String::from_utf8_lossy(&body).into_owned(),
            retry_after,
        ))
    }
}
