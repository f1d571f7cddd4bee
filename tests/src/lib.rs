//! Test support for the fleet: a fresh database and queue prefix per test, in-process
//! dispatchers and workers, worker processes, a test-only module, and fake HTTP endpoints.
//! Shared by the fleet tests, the benchmarks and (later) the partner simulators.

// Test-only crate: a failed setup step should stop the test loudly, so unwrap/expect are fine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod admin_client;
pub mod bench;
pub mod broker;
pub mod browser;
pub mod chaos;
pub mod database;
pub mod fake_endpoint;
pub mod fleet;
pub mod goonj_world;
pub mod noop;
pub mod poll;
pub mod probe;
pub mod sim;

/// Readable logs for failing tests (`RUST_LOG` filters; quiet by default).
pub fn init_test_logs() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
}

/// Runs async cleanup from a `Drop` (which cannot await): on a thread of its own with a
/// short-lived runtime, waiting for it to finish.
pub fn cleanup_blocking<F>(cleanup: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(cleanup);
        }
    })
    .join();
}
