//! Log setup: JSON lines in production, readable lines in the demo (`LOG_FORMAT=pretty`).

use tracing_subscriber::{fmt, EnvFilter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl LogFormat {
    /// `pretty` (or `text`) gives readable lines; anything else is JSON.
    pub fn parse(value: Option<&str>) -> Self {
        match value.map(str::to_ascii_lowercase).as_deref() {
            Some("pretty") | Some("text") => LogFormat::Pretty,
            _ => LogFormat::Json,
        }
    }
}

/// Installs the global subscriber; `RUST_LOG` filters (default `info`). Safe to call twice:
/// the second call is ignored, which in-process tests rely on.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    let result = match format {
        LogFormat::Json => fmt()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .try_init(),
        LogFormat::Pretty => fmt().compact().with_env_filter(filter).try_init(),
    };
    // An error means a subscriber is already installed (a second in-process component).
    drop(result);
}
