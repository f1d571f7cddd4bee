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
        LogFormat::Json => json_lines(filter, std::io::stdout).try_init(),
        LogFormat::Pretty => fmt().compact().with_env_filter(filter).try_init(),
    };
    drop(result);
}

/// JSON lines carrying every enclosing span's fields (`spans`), so each line a step logs also
/// names its job, tenant, module and kind from the job's span above it.
fn json_lines<W>(
    filter: EnvFilter,
    writer: W,
) -> fmt::SubscriberBuilder<
    fmt::format::JsonFields,
    fmt::format::Format<fmt::format::Json>,
    EnvFilter,
    W,
>
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .with_env_filter(filter)
        .with_writer(writer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_of_a_step_names_its_job_tenant_module_and_kind() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = json_lines(EnvFilter::new("info"), move || sink.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            let job = tracing::info_span!(
                "job",
                job_id = 42,
                tenant = 7,
                module = "goonj",
                kind = "regular"
            );
            let _job = job.enter();
            let step = tracing::info_span!("step", step = "GoonjDemand");
            let _step = step.enter();
            tracing::warn!(record = "a0B1", "record failed");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["message"], "record failed");
        assert_eq!(line["record"], "a0B1");
        let spans = line["spans"].as_array().unwrap();
        assert_eq!(spans[0]["job_id"], 42);
        assert_eq!(spans[0]["tenant"], 7);
        assert_eq!(spans[0]["module"], "goonj");
        assert_eq!(spans[0]["kind"], "regular");
        assert_eq!(spans[1]["step"], "GoonjDemand");
    }
}
