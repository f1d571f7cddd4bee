//! The integration database: the job ledger and its outbox, leader lease, schedule state,
//! tenants and their config, cursors. Every query that touches tenant data takes the tenant id.

pub mod adhoc_tasks;
pub mod cursors;
pub mod errors;
pub mod leader;
pub mod ledger;
pub mod mappings;
pub mod outbox;
pub mod pauses;
pub mod schedule_state;
pub mod tenants;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// Migrations embedded at build time from `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the ledger holds a value this build does not know: {0}")]
    Corrupt(String),
    #[error("gave up retrying {0}: shutting down or lease lost")]
    Interrupted(String),
}

impl StoreError {
    /// True when the same call may succeed later: the database is restarting, unreachable, or
    /// the pool is exhausted. Constraint violations and bad SQL are not transient.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(error) => is_transient_sqlx(error),
            StoreError::Migrate(_) | StoreError::Corrupt(_) | StoreError::Interrupted(_) => false,
        }
    }
}

fn is_transient_sqlx(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            // Class 08 (connection exception), 57P01..03 (admin shutdown, crash shutdown,
            // cannot connect now), 40001/40P01 (serialization failure, deadlock).
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            code.starts_with("08")
                || matches!(
                    code.as_str(),
                    "57P01" | "57P02" | "57P03" | "40001" | "40P01"
                )
        }
        _ => false,
    }
}

/// A handle on the integration database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects lazily: the pool opens connections on first use and replaces broken ones, so a
    /// process can start (and keep running) while Postgres restarts.
    pub fn connect_lazy(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?.application_name("avni-int");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(true)
            .connect_lazy_with(options);
        Ok(Store { pool })
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Store { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// True when a trivial query answers within `timeout` (readiness probes).
    pub async fn ping(&self, timeout: Duration) -> bool {
        let query = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&self.pool);
        matches!(tokio::time::timeout(timeout, query).await, Ok(Ok(1)))
    }

    /// Applies what is missing of `migrations/`; a no-op when everything is applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }
}

/// Retries a store call while its error is transient, with jittered exponential backoff, until
/// `give_up` is cancelled. Used where losing the result would lose work (committing a job's
/// outcome), not for reads a later tick repeats anyway.
pub async fn retry_transient<T, F, Fut>(
    what: &str,
    give_up: &tokio_util::sync::CancellationToken,
    call: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    use backon::{ExponentialBuilder, Retryable};
    let policy = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times();
    let attempts = call
        .retry(policy)
        .when(|error: &StoreError| error.is_transient())
        .notify(|error, delay| {
            tracing::warn!(%error, what, retry_in_ms = delay.as_millis() as u64, "database unavailable, retrying");
        });
    tokio::select! {
        result = attempts => result,
        _ = give_up.cancelled() => Err(StoreError::Interrupted(what.to_owned())),
    }
}
