//! The Prometheus metrics of the fleet. Each process (and each in-process test component) owns a
//! `Metrics` with its own registry, so nothing is global.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub jobs_total: IntCounterVec,
    pub job_duration_seconds: HistogramVec,
    pub job_lag_seconds: Histogram,
    pub jobs_running: IntGauge,
    pub schedule_fired_total: IntCounterVec,
    pub schedule_skipped_total: IntCounterVec,
    pub outbox_published_total: IntCounterVec,
    pub jobs_rescued_total: IntCounterVec,
    pub is_leader: IntGauge,
    pub queue_depth: IntGaugeVec,
    pub broker_reconnects_total: IntCounterVec,
    pub broker_connected: IntGaugeVec,
    pub records_synced_total: IntCounterVec,
    pub classified_errors_total: IntCounterVec,
    pub http_requests_total: IntCounterVec,
    pub http_request_duration_seconds: HistogramVec,
    pub outbox_backlog: IntGauge,
    pub dead_letters: IntGauge,
}

#[derive(Debug, thiserror::Error)]
#[error("metrics registration failed: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

impl Metrics {
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let jobs_total = IntCounterVec::new(
            Opts::new("avni_int_jobs_total", "Jobs finished, by outcome"),
            &["module", "kind", "outcome"],
        )?;
        let job_duration_seconds = HistogramVec::new(
            HistogramOpts::new(
                "avni_int_job_duration_seconds",
                "Time a job ran on a worker",
            )
            .buckets(vec![
                0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0,
            ]),
            &["module", "kind"],
        )?;
        let job_lag_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "avni_int_job_lag_seconds",
                "Time from a job's schedule to its start on a worker",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 120.0,
            ]),
        )?;
        let jobs_running = IntGauge::new("avni_int_jobs_running", "Jobs running on this worker")?;
        let schedule_fired_total = IntCounterVec::new(
            Opts::new(
                "avni_int_schedule_fired_total",
                "Cron ticks that enqueued a job",
            ),
            &["module", "kind"],
        )?;
        let schedule_skipped_total = IntCounterVec::new(
            Opts::new(
                "avni_int_schedule_skipped_total",
                "Cron ticks that enqueued nothing, by reason",
            ),
            &["module", "reason"],
        )?;
        let outbox_published_total = IntCounterVec::new(
            Opts::new(
                "avni_int_outbox_published_total",
                "Outbox messages the relay published, by result",
            ),
            &["result"],
        )?;
        let jobs_rescued_total = IntCounterVec::new(
            Opts::new(
                "avni_int_jobs_rescued_total",
                "Jobs the rescuer returned to the queue or gave up on",
            ),
            &["reason"],
        )?;
        let is_leader = IntGauge::new(
            "avni_int_dispatcher_is_leader",
            "1 while this dispatcher schedules",
        )?;
        let queue_depth = IntGaugeVec::new(
            Opts::new("avni_int_queue_depth", "Messages ready in a queue"),
            &["queue"],
        )?;
        let broker_reconnects_total = IntCounterVec::new(
            Opts::new(
                "avni_int_broker_reconnects_total",
                "Connections to RabbitMQ re-established after a loss",
            ),
            &["component"],
        )?;
        let broker_connected = IntGaugeVec::new(
            Opts::new(
                "avni_int_broker_connected",
                "1 while this component holds a usable RabbitMQ connection",
            ),
            &["component"],
        )?;
        let records_synced_total = IntCounterVec::new(
            Opts::new(
                "avni_int_records_synced_total",
                "Records written to the other side, by module, step and direction",
            ),
            &["module", "step", "direction"],
        )?;
        let classified_errors_total = IntCounterVec::new(
            Opts::new(
                "avni_int_classified_errors_total",
                "Records that failed with a classified error, by error type",
            ),
            &["module", "error_type"],
        )?;
        let http_requests_total = IntCounterVec::new(
            Opts::new(
                "avni_int_http_requests_total",
                "Calls to Avni and partner APIs, by target and status class (2xx, 4xx, 5xx, error)",
            ),
            &["target", "status_class"],
        )?;
        let http_request_duration_seconds = HistogramVec::new(
            HistogramOpts::new(
                "avni_int_http_request_duration_seconds",
                "Latency of calls to Avni and partner APIs",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["target"],
        )?;
        let outbox_backlog = IntGauge::new(
            "avni_int_outbox_backlog",
            "Jobs committed to the ledger and not yet confirmed by RabbitMQ",
        )?;
        let dead_letters =
            IntGauge::new("avni_int_dead_letters", "Messages in the dead-letter queue")?;
        registry.register(Box::new(broker_connected.clone()))?;
        registry.register(Box::new(records_synced_total.clone()))?;
        registry.register(Box::new(classified_errors_total.clone()))?;
        registry.register(Box::new(http_requests_total.clone()))?;
        registry.register(Box::new(http_request_duration_seconds.clone()))?;
        registry.register(Box::new(outbox_backlog.clone()))?;
        registry.register(Box::new(dead_letters.clone()))?;
        registry.register(Box::new(jobs_total.clone()))?;
        registry.register(Box::new(job_duration_seconds.clone()))?;
        registry.register(Box::new(job_lag_seconds.clone()))?;
        registry.register(Box::new(jobs_running.clone()))?;
        registry.register(Box::new(schedule_fired_total.clone()))?;
        registry.register(Box::new(schedule_skipped_total.clone()))?;
        registry.register(Box::new(outbox_published_total.clone()))?;
        registry.register(Box::new(jobs_rescued_total.clone()))?;
        registry.register(Box::new(is_leader.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        registry.register(Box::new(broker_reconnects_total.clone()))?;
        Ok(Metrics {
            registry,
            jobs_total,
            job_duration_seconds,
            job_lag_seconds,
            jobs_running,
            schedule_fired_total,
            schedule_skipped_total,
            outbox_published_total,
            jobs_rescued_total,
            is_leader,
            queue_depth,
            broker_reconnects_total,
            broker_connected,
            records_synced_total,
            classified_errors_total,
            http_requests_total,
            http_request_duration_seconds,
            outbox_backlog,
            dead_letters,
        })
    }

    /// The registry in Prometheus text format, for `/metrics`.
    pub fn render(&self) -> String {
        let encoder = prometheus::TextEncoder::new();
        encoder
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|error| format!("# metrics encoding failed: {error}\n"))
    }
}

/// Counts and times calls to one HTTP target (`avni`, `salesforce`, …) into the process's
/// metrics; partner clients hold one and call `observe` after each response.
#[derive(Clone)]
pub struct HttpObserver {
    requests: IntCounterVec,
    duration: HistogramVec,
    target: &'static str,
}

impl HttpObserver {
    /// `status` is `None` when no response came (timeout, connection refused).
    pub fn observe(&self, status: Option<u16>, elapsed: std::time::Duration) {
        let class = match status {
            None => "error",
            Some(200..=299) => "2xx",
            Some(300..=399) => "3xx",
            Some(400..=499) => "4xx",
            Some(_) => "5xx",
        };
        self.requests.with_label_values(&[self.target, class]).inc();
        self.duration
            .with_label_values(&[self.target])
            .observe(elapsed.as_secs_f64());
    }
}

impl Metrics {
    pub fn http_observer(&self, target: &'static str) -> HttpObserver {
        HttpObserver {
            requests: self.http_requests_total.clone(),
            duration: self.http_request_duration_seconds.clone(),
            target,
        }
    }
}
