//! Avni client errors, each classified transient or permanent where it happens. HTTP failures
//! read as the original's Spring `RestTemplate` worded them (`<code> <reason>: "<body>"`),
//! because tenants' error-classification rules were written against that text.

use super::config::AvniConfigError;
use crate::module::StepError;
use std::time::Duration;

/// The longest `Retry-After` we honour; a larger one would outlive the job's budget anyway.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum AvniError {
    /// Avni (or a proxy in front of it) answered with a failure status.
    #[error("{}", http_message(*.status, .reason, .body))]
    Http {
        status: u16,
        /// The status line's reason phrase as the original saw it: empty for Avni's Tomcat.
        reason: String,
        body: String,
        /// `Retry-After` seconds of a 429 or 503.
        retry_after: Option<Duration>,
    },
    /// No answer: connect failure, timeout, reset, a body cut off in transit.
    #[error("Avni request {what} failed: {source}")]
    Transport {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    /// A success answer that is not the JSON we expect.
    #[error("unreadable Avni response to {what}: {source}")]
    Decode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// The login was refused or cannot be done (bad password, user not allowed to generate
    /// tokens, an IdP we do not speak).
    #[error("Avni login failed: {0}")]
    Login(String),
    #[error(transparent)]
    Config(#[from] AvniConfigError),
    /// An answer we can read but not use (a record without `ID`, an unparsable timestamp).
    #[error("unexpected Avni response: {0}")]
    Unexpected(String),
    /// An incremental read kept finding a one-millisecond slice changing under it; the cursor
    /// stays where it is and the next run tries again.
    #[error("Avni records at {0} kept changing while being read; will retry")]
    Unstable(String),
}

/// Spring 5.3 `DefaultResponseErrorHandler`: status, reason, then the body quoted with line
/// breaks shown as `<LF>`/`<CR>`, or `[no body]`.
pub fn http_message(status: u16, reason: &str, body: &str) -> String {
    if body.is_empty() {
        format!("{status} {reason}: [no body]")
    } else {
        let body = body.replace('\n', "<LF>").replace('\r', "<CR>");
        format!("{status} {reason}: \"{body}\"")
    }
}

/// The reason phrase the original would have shown. Avni runs on Tomcat, which sends none
/// (hence `500 : "…"`); gateway errors come from the load balancer in front, which sends the
/// standard phrase (`502 Bad Gateway`). reqwest does not expose the wire phrase, so this
/// reproduces what each party sends.
pub fn reason_for(status: u16) -> &'static str {
    match status {
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

impl AvniError {
    pub(crate) fn http(status: u16, body: String, retry_after: Option<Duration>) -> Self {
        AvniError::Http {
            status,
            reason: reason_for(status).to_owned(),
            body,
            retry_after,
        }
    }

    /// Worth retrying: the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        match self {
            AvniError::Http { status, .. } => *status >= 500 || *status == 429,
            // Building the request failed: nothing was sent and retrying cannot help.
            AvniError::Transport { source, .. } => !source.is_builder(),
            // A body cut off or garbled in transit (a proxy's error page, a truncated answer)
            // reads fine next time; one that stays wrong fails the step after the retries.
            AvniError::Decode { .. } => true,
            AvniError::Unstable(_) => true,
            AvniError::Login(_) | AvniError::Config(_) | AvniError::Unexpected(_) => false,
        }
    }

    /// The HTTP status, for HTTP failures.
    pub fn status(&self) -> Option<u16> {
        match self {
            AvniError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// How long the server asked us to wait, capped.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AvniError::Http { retry_after, .. } => retry_after.map(|d| d.min(MAX_RETRY_AFTER)),
            _ => None,
        }
    }
}

/// The wait before the next attempt: what the server asked for, else the backoff's. `None`
/// (attempts used up) stays `None`.
pub(crate) fn next_delay(error: &AvniError, backoff: Option<Duration>) -> Option<Duration> {
    backoff.map(|delay| error.retry_after().unwrap_or(delay))
}

/// Parses `Retry-After` given in seconds (Avni and the simulators never send an HTTP date;
/// one would fall back to the backoff).
pub(crate) fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl From<AvniError> for StepError {
    fn from(error: AvniError) -> Self {
        match error {
            AvniError::Config(e) => StepError::Config(e.to_string()),
            e if e.is_transient() => StepError::Unavailable(e.to_string()),
            e => StepError::Failed(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_message_matches_the_original_wording() {
        let e = AvniError::http(500, "Address Uttarakhand, Dehradun not found".into(), None);
        assert_eq!(
            e.to_string(),
            r#"500 : "Address Uttarakhand, Dehradun not found""#
        );
        let e = AvniError::http(400, "line one\nline two\r\n".into(), None);
        assert_eq!(e.to_string(), r#"400 : "line one<LF>line two<CR><LF>""#);
        assert_eq!(
            AvniError::http(404, String::new(), None).to_string(),
            "404 : [no body]"
        );
        assert_eq!(
            AvniError::http(502, "<html>bad gateway</html>".into(), None).to_string(),
            r#"502 Bad Gateway: "<html>bad gateway</html>""#
        );
    }

    #[test]
    fn transient_statuses() {
        for status in [500, 502, 503, 504, 429] {
            assert!(
                AvniError::http(status, String::new(), None).is_transient(),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 409, 422] {
            assert!(
                !AvniError::http(status, String::new(), None).is_transient(),
                "{status}"
            );
        }
    }

    #[test]
    fn unreadable_bodies_are_transient() {
        let eof = serde_json::from_str::<serde_json::Value>(r#"{"content":[{"ID":"#).unwrap_err();
        let e = AvniError::Decode {
            what: "x".into(),
            source: eof,
        };
        assert!(e.is_transient());
        let shape = serde_json::from_str::<Vec<u32>>(r#"{"a":1}"#).unwrap_err();
        let e = AvniError::Decode {
            what: "x".into(),
            source: shape,
        };
        assert!(e.is_transient());
        assert!(!AvniError::Login("403".into()).is_transient());
        assert!(AvniError::Unstable("t".into()).is_transient());
    }

    #[test]
    fn retry_after_overrides_the_backoff_but_not_giving_up() {
        let throttled = AvniError::http(429, String::new(), Some(Duration::from_secs(7)));
        let base = Some(Duration::from_millis(500));
        assert_eq!(next_delay(&throttled, base), Some(Duration::from_secs(7)));
        assert_eq!(next_delay(&throttled, None), None);
        let plain = AvniError::http(503, String::new(), None);
        assert_eq!(next_delay(&plain, base), base);
        let huge = AvniError::http(429, String::new(), Some(Duration::from_secs(86_400)));
        assert_eq!(next_delay(&huge, base), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn parses_retry_after_seconds_only() {
        assert_eq!(parse_retry_after(Some(" 3 ")), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(None), None);
    }

    #[test]
    fn step_errors_keep_the_classification() {
        let unavailable: StepError = AvniError::http(503, String::new(), None).into();
        assert!(matches!(unavailable, StepError::Unavailable(_)));
        let failed: StepError = AvniError::http(400, "bad".into(), None).into();
        assert!(matches!(failed, StepError::Failed(m) if m == r#"400 : "bad""#));
        let config: StepError = AvniError::Config(AvniConfigError::Missing { key: "k" }).into();
        assert!(matches!(config, StepError::Config(_)));
    }
}
