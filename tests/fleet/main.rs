//! The fleet test binary: dispatchers and workers against real Postgres and RabbitMQ, each test
//! on a fresh database and queue prefix, driven by the test-only `probe` module.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_auth;
mod admin_bundle;
mod admin_errors;
mod admin_fuzz;
mod admin_jobs;
mod admin_mapping;
mod admin_openapi;
mod admin_ui;
mod avni_client;
mod bad_input;
mod errors;
mod goonj;
mod goonj_adhoc;
mod goonj_error_job;
mod goonj_error_types;
mod goonj_inbound;
mod goonj_outbound;
mod leadership;
mod metrics;
mod monitoring;
mod recovery;
mod relay;
mod scheduling;
mod schema;

/// The worker binary with the probe module, built by cargo for these tests.
pub const TEST_WORKER: &str = env!("CARGO_BIN_EXE_avni-int-test-worker");
