//! A private RabbitMQ node (its own node name, ports, data and config in a scratch dir, no
//! plugins) that a chaos test can stop and start without touching the shared broker.

use super::{free_port, ScratchDir};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
/// A cold start of RabbitMQ 3.10 takes 5–15 s on a small machine.
const START_WITHIN: Duration = Duration::from_secs(60);

/// How the broker goes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM: the node shuts down cleanly (connections closed, queues synced).
    Graceful,
    /// SIGKILL: the node dies mid-flight, as on a host crash (the disk stays).
    Crash,
}

pub struct PrivateRabbit {
    pub node: String,
    pub port: u16,
    dist_port: u16,
    child: Option<Child>,
    // Last: the directory goes after the process is killed.
    dir: ScratchDir,
}

impl PrivateRabbit {
    /// Starts a fresh node and waits until it accepts AMQP connections.
    pub async fn start() -> Self {
        let dir = ScratchDir::new("rabbit");
        let node = format!(
            "chaos{}@localhost",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        std::fs::write(dir.path().join("env.conf"), "").unwrap();
        std::fs::write(dir.path().join("enabled_plugins"), "[].\n").unwrap();
        std::fs::write(
            dir.path().join("rabbitmq.conf"),
            "loopback_users = none\nlog.console = false\n",
        )
        .unwrap();
        let mut rabbit = PrivateRabbit {
            node,
            port: free_port(),
            dist_port: free_port(),
            child: None,
            dir,
        };
        rabbit.start_again().await;
        rabbit
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Starts the node (again, on the same data) and waits until it serves AMQP.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "the node is already running");
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("server.out"))
            .unwrap();
        let mut command = Command::new(SERVER);
        command
            // /etc/rabbitmq/rabbitmq-env.conf names the shared node: read an empty one instead.
            .env("RABBITMQ_CONF_ENV_FILE", d.join("env.conf"))
            .env("HOME", d)
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            // Otherwise the script stays as a parent that traps signals (and leaves the node
            // orphaned when it is killed); with this it execs erl, which execs beam.
            .env("RUNNING_UNDER_SYSTEMD", "true")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true);
        // The script execs erl, which execs beam: this child is the node itself.
        self.child = Some(command.spawn().expect("rabbitmq-server starts"));
        let deadline = tokio::time::Instant::now() + START_WITHIN;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "private RabbitMQ {} exited during start ({status}): {}",
                    self.node,
                    self.output_tail()
                );
            }
            // `connect` is bounded (shared::broker::CONNECT_TIMEOUT); the close is bounded here
            // because a node still booting may never answer it.
            if let Ok(conn) = avni_int_shared::broker::connect(&self.url(), "chaos-readiness").await
            {
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), conn.close(200, "ready".into()))
                        .await;
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "private RabbitMQ {} not serving within {START_WITHIN:?}: {}",
                self.node,
                self.output_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Takes the node down and waits until the process is gone.
    pub async fn stop(&mut self, how: Stop) {
        let mut child = self.child.take().expect("the node is running");
        match how {
            Stop::Crash => child.start_kill().unwrap(),
            Stop::Graceful => {
                let pid = child.id().expect("running child has a pid").to_string();
                let status = std::process::Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .unwrap();
                assert!(status.success());
            }
        }
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(result) => {
                result.unwrap();
            }
            Err(_) => {
                child.start_kill().unwrap();
                let _ = child.wait().await;
            }
        }
    }

    /// Stops the node and starts it again on the same data.
    pub async fn restart(&mut self, how: Stop) {
        eprintln!("{how:?}: stopping {} at {}", self.node, chrono::Utc::now());
        self.stop(how).await;
        eprintln!("{how:?}: stopped, starting again at {}", chrono::Utc::now());
        self.start_again().await;
    }

    fn output_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("server.out")).unwrap_or_default();
        let start = text.len().saturating_sub(3000);
        text.get(start..).unwrap_or_default().to_owned()
    }
}

impl Drop for PrivateRabbit {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            // Reap it before the directory goes (bounded: SIGKILL is quick).
            for _ in 0..100 {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
