//! The contract between avni-int processes: job messages, the Postgres store (ledger, outbox,
//! cursors, tenants), broker topology and publishing, configuration, metrics, telemetry and
//! shutdown. It knows nothing of HTTP servers or partner APIs.

pub mod broker;
pub mod classify;
pub mod config;
pub mod ids;
pub mod job;
pub mod metrics;
pub mod readiness;
pub mod shutdown;
pub mod store;
pub mod telemetry;

pub use ids::{IntegrationSystemId, JobId, ModuleName, WorkerId};
pub use job::{JobKind, JobMessage, JobState, JobTrigger};
