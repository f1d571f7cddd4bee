//! Bugsnag notifications for unclassified failures: one JSON POST (payload version 5) to a
//! configurable endpoint, only in the release stages the original notified from.

use serde_json::json;
use std::time::Duration;

const NOTIFY_STAGES: [&str; 4] = ["prod", "staging", "prerelease", "uat"];

#[derive(Debug, Clone)]
pub struct BugsnagConfig {
    pub api_key: Option<String>,
    pub release_stage: Option<String>,
    /// `https://notify.bugsnag.com/` unless self-hosted.
    pub endpoint: String,
    pub timeout: Duration,
}

/// What went wrong, and where.
#[derive(Debug, Clone)]
pub struct Report {
    pub error_class: String,
    pub message: String,
    pub context: String,
    pub metadata: serde_json::Value,
}

#[derive(Clone)]
pub struct Bugsnag {
    client: reqwest::Client,
    config: BugsnagConfig,
}

impl Bugsnag {
    pub fn new(client: reqwest::Client, config: BugsnagConfig) -> Self {
        Bugsnag { client, config }
    }

    pub fn enabled(&self) -> bool {
        self.config
            .api_key
            .as_deref()
            .is_some_and(|k| !k.is_empty())
            && self
                .config
                .release_stage
                .as_deref()
                .is_some_and(|s| NOTIFY_STAGES.contains(&s))
    }

    /// Sends in the background; failures are logged, never raised.
    pub fn notify(&self, report: Report) {
        if !self.enabled() {
            return;
        }
        let Some(api_key) = self.config.api_key.clone() else {
            return;
        };
        let body = json!({
            "apiKey": api_key,
            "payloadVersion": "5",
            "notifier": {
                "name": "avni-int",
                "version": env!("CARGO_PKG_VERSION"),
                "url": "https://github.com/avniproject/integration-service"
            },
            "events": [{
                "exceptions": [{
                    "errorClass": report.error_class,
                    "message": report.message,
                    "stacktrace": []
                }],
                "context": report.context,
                "severity": "error",
                "unhandled": false,
                "app": { "releaseStage": self.config.release_stage },
                "metaData": { "job": report.metadata }
            }]
        });
        let request = self
            .client
            .post(&self.config.endpoint)
            .header("Bugsnag-Api-Key", api_key)
            .header("Bugsnag-Payload-Version", "5")
            .timeout(self.config.timeout)
            .json(&body);
        tokio::spawn(async move {
            match request.send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    tracing::warn!(status = %response.status(), "bugsnag refused the notification")
                }
                Err(error) => tracing::warn!(%error, "bugsnag notification failed"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bugsnag(key: Option<&str>, stage: Option<&str>) -> Bugsnag {
        Bugsnag::new(
            reqwest::Client::new(),
            BugsnagConfig {
                api_key: key.map(str::to_owned),
                release_stage: stage.map(str::to_owned),
                endpoint: "http://127.0.0.1:9/".into(),
                timeout: Duration::from_secs(1),
            },
        )
    }

    #[test]
    fn notifies_only_with_a_key_in_the_original_stages() {
        assert!(bugsnag(Some("k"), Some("prod")).enabled());
        assert!(bugsnag(Some("k"), Some("uat")).enabled());
        assert!(!bugsnag(Some("k"), Some("dev")).enabled());
        assert!(!bugsnag(None, Some("prod")).enabled());
        assert!(!bugsnag(Some("k"), None).enabled());
    }
}
