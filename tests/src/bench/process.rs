//! Fleet components as processes for the benchmarks: a dispatcher process, waiting for
//! workers to attach, and resident memory read from `/proc`.

use crate::broker::amqp_url;
use crate::fleet::TestApp;
use avni_int_shared::broker::{self, Topology};
use avni_int_shared::{JobKind, ModuleName};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use std::time::Duration;

/// A `/proc/<pid>/status` field in kB (`VmHWM`: peak resident set so far; `VmRSS`: now);
/// 0 once the process is gone.
pub fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Peak resident set of a process so far, in kB.
pub fn peak_rss_kb(pid: u32) -> u64 {
    rss_kb(pid, "VmHWM")
}

/// Starts `avni-int-test-dispatcher` (path from `CARGO_BIN_EXE_…`) on this app's database and
/// queue prefix, configured as a deployment would be (from the environment). `AVNI_INT_ENV`
/// matches no tenant, so the scheduler starts nothing: the benchmark enqueues every job.
pub fn spawn_dispatcher_process(
    app: &TestApp,
    binary: &str,
    topology: &Topology,
) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .envs([
            ("DATABASE_URL", app.db.url.clone()),
            ("AMQP_URL", amqp_url()),
            ("QUEUE_PREFIX", topology.prefix.clone()),
            ("QUEUE_DELIVERY_LIMIT", topology.delivery_limit.to_string()),
            ("AVNI_INT_ENV", "bench-never-scheduled".to_owned()),
            ("DISPATCHER_MODULES", "goonj".to_owned()),
            ("ADMIN_BIND_ADDRESS", "127.0.0.1".to_owned()),
            ("AVNI_INT_SERVER_PORT", "0".to_owned()),
            ("LEADER_LEASE_SECS", "5".to_owned()),
            ("LOG_FORMAT", "pretty".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
            ("MALLOC_ARENA_MAX", "2".to_owned()),
        ])
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    command.spawn().expect("dispatcher process starts")
}

/// Waits until `count` consumers listen on `module`'s regular queue: the workers are up.
pub async fn wait_consumers(topology: &Topology, module: &ModuleName, count: u32) {
    let conn = broker::connect(&amqp_url(), "bench-watch").await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    let queue = topology.queue(module, JobKind::Regular);
    crate::poll::until("workers to attach", Duration::from_secs(60), || {
        let (channel, queue) = (&channel, &queue);
        async move {
            let declared = channel
                .queue_declare(
                    queue.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .ok()?;
            (declared.consumer_count() >= count).then_some(())
        }
    })
    .await;
    let _ = conn.close(200, "done".into()).await;
}

/// Stops a process the way an orchestrator does (SIGTERM), then reaps it.
pub async fn stop(mut child: tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
    }
    if tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

/// The binaries a fleet of processes runs (paths from `CARGO_BIN_EXE_…`).
#[derive(Clone, Copy)]
pub struct Binaries<'a> {
    pub worker: &'a str,
    pub dispatcher: &'a str,
}

/// A dispatcher process and worker processes on one app's database and queue prefix.
pub struct ProcessFleet {
    dispatcher: tokio::process::Child,
    workers: Vec<tokio::process::Child>,
}

impl ProcessFleet {
    /// Starts them and waits until the workers consume `module`'s queue.
    pub async fn start(
        app: &TestApp,
        binaries: Binaries<'_>,
        module: &ModuleName,
        workers: usize,
        concurrency: usize,
    ) -> ProcessFleet {
        let dispatcher = spawn_dispatcher_process(app, binaries.dispatcher, &app.broker.topology);
        let concurrency = concurrency.to_string();
        let workers: Vec<_> = (0..workers)
            .map(|i| {
                app.spawn_worker_process(
                    binaries.worker,
                    &format!("bench-worker-{i}"),
                    &[
                        ("RUST_LOG", "warn"),
                        ("JOB_LEASE_SECS", "30"),
                        ("MALLOC_ARENA_MAX", "2"),
                        ("WORKER_CONCURRENCY", &concurrency),
                    ],
                )
            })
            .collect();
        wait_consumers(&app.broker.topology, module, workers.len() as u32).await;
        ProcessFleet {
            dispatcher,
            workers,
        }
    }

    /// The largest worker peak RSS so far, in kB.
    pub fn worker_peak_kb(&self) -> u64 {
        self.workers
            .iter()
            .filter_map(|w| w.id())
            .map(peak_rss_kb)
            .max()
            .unwrap_or(0)
    }

    /// The dispatcher's peak RSS so far, in kB.
    pub fn dispatcher_peak_kb(&self) -> u64 {
        self.dispatcher.id().map_or(0, peak_rss_kb)
    }

    /// SIGTERM to every process, workers first.
    pub async fn stop(self) {
        for worker in self.workers {
            stop(worker).await;
        }
        stop(self.dispatcher).await;
    }
}
