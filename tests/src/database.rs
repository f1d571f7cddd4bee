//! A fresh, migrated integration database per test, dropped afterwards.

use avni_int_shared::store::Store;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection};

/// Where tests create their databases: `DATABASE_URL` (a server-level URL), else local trust.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn url_for(database: &str) -> String {
    let admin = admin_url();
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap_or(admin);
    format!("{base}/{database}")
}

pub struct TestDb {
    pub name: String,
    pub url: String,
    pub store: Store,
}

impl TestDb {
    /// An empty database (no tables).
    pub async fn empty() -> Self {
        let name = format!("avni_int_t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("postgres is reachable");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let url = url_for(&name);
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect(&url)
            .await
            .expect("connect to test database");
        TestDb {
            name,
            url,
            store: Store::from_pool(pool),
        }
    }

    /// A database with every migration applied and the probe module's tables.
    pub async fn migrated() -> Self {
        let db = Self::empty().await;
        db.store.migrate().await.expect("migrations apply");
        crate::probe::create_tables(db.store.pool()).await;
        db
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.store.pool()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        crate::cleanup_blocking(async move {
            if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        });
    }
}
