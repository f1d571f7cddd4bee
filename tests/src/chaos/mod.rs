//! Chaos test support: private RabbitMQ and Postgres instances a test may restart freely (the
//! shared ones serve the rest of the suite in parallel), a Goonj fleet of worker processes and
//! in-process dispatchers around a backlog flowing both ways, and the invariant checks every
//! chaos scenario ends with.

pub mod checks;
pub mod fleet;
pub mod postgres;
pub mod rabbit;
pub mod world;

use std::path::PathBuf;
use std::time::Duration;

/// A port nobody listens on right now (the OS picks it; a race with another process is
/// possible but harmless for tests: the service would fail to start and say so).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// A fresh directory under the system temp dir, removed by [`ScratchDir`]'s drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    pub fn new(what: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "avni-int-chaos-{what}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        ScratchDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
pub async fn wait_for_port(what: &str, port: u16, within: Duration) {
    crate::poll::until(what, within, || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
}

/// Waits until nothing accepts TCP connections on `127.0.0.1:port` any more.
pub async fn wait_for_port_closed(what: &str, port: u16, within: Duration) {
    crate::poll::until(what, within, || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
            .then_some(())
    })
    .await;
}
