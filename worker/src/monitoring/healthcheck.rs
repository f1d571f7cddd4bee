//! healthchecks.io pings: `/start` when a job starts, the bare slug on success, `/fail` on
//! failure (contracts/original-service.md §3). Pings of one job are sent in order by a task of
//! their own, so a slow ping server never delays the job.

use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    Start,
    Success,
    Fail,
}

impl Ping {
    fn suffix(self) -> &'static str {
        match self {
            Ping::Start => "/start",
            Ping::Success => "",
            Ping::Fail => "/fail",
        }
    }
}

#[derive(Debug, Clone)]
pub struct HealthcheckConfig {
    /// `https://hc-ping.com` or a self-hosted instance.
    pub base_url: String,
    /// `HEALTHCHECK_PING_KEY`; unset or `dummy` turns pings off.
    pub ping_key: Option<String>,
    pub timeout: Duration,
}

#[derive(Clone)]
pub struct Healthchecks {
    client: reqwest::Client,
    config: HealthcheckConfig,
}

impl Healthchecks {
    pub fn new(client: reqwest::Client, config: HealthcheckConfig) -> Self {
        Healthchecks { client, config }
    }

    fn enabled_key(&self) -> Option<&str> {
        self.config
            .ping_key
            .as_deref()
            .filter(|k| !k.is_empty() && *k != "dummy")
    }

    /// A sender for one check's pings; `None` when pings are off.
    pub fn check(&self, slug: &str) -> Option<CheckPings> {
        let key = self.enabled_key()?;
        let url = format!(
            "{}/{}/{}",
            self.config.base_url.trim_end_matches('/'),
            key,
            slug
        );
        let (tx, mut rx) = mpsc::unbounded_channel::<Ping>();
        let client = self.client.clone();
        let timeout = self.config.timeout;
        let slug = slug.to_owned();
        tokio::spawn(async move {
            while let Some(ping) = rx.recv().await {
                let target = format!("{url}{}", ping.suffix());
                let sent = client.get(&target).timeout(timeout).send().await;
                match sent {
                    Ok(response) if response.status().is_success() => {}
                    Ok(response) => {
                        tracing::warn!(%slug, status = %response.status(), ?ping, "healthcheck ping refused")
                    }
                    Err(error) => tracing::warn!(%slug, %error, ?ping, "healthcheck ping failed"),
                }
            }
        });
        Some(CheckPings { tx })
    }
}

/// The pings of one check, delivered in the order sent.
pub struct CheckPings {
    tx: mpsc::UnboundedSender<Ping>,
}

impl CheckPings {
    pub fn send(&self, ping: Ping) {
        // The receiving task lives as long as this sender; a send cannot fail before drop.
        let _ = self.tx.send(ping);
    }
}
