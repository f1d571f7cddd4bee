//! A private Postgres cluster (initdb into a scratch dir, its own port and socket dir) that a
//! chaos test can restart or crash without touching the shared server. Postgres refuses to run
//! as root, so as root every command runs as the `postgres` user.

use super::{free_port, ScratchDir};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// How the server goes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `pg_ctl stop -m fast`: sessions are terminated, a checkpoint is written.
    Fast,
    /// `pg_ctl stop -m immediate`: every process quits at once; the next start recovers
    /// from the WAL, as after a crash.
    Immediate,
}

pub struct PrivatePostgres {
    pub port: u16,
    data: PathBuf,
    running: bool,
    dir: ScratchDir,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args…`, as the `postgres` user when we are root.
fn pg_command(program: &str, args: &[&str]) -> Command {
    let path = format!("{BIN}/{program}");
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", &path]).args(args);
        command
    } else {
        let mut command = Command::new(path);
        command.args(args);
        command
    }
}

fn run(what: &str, mut command: Command) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl PrivatePostgres {
    /// initdb (trust auth) and start; waits until it accepts connections.
    pub async fn start() -> Self {
        let dir = ScratchDir::new("postgres");
        if is_root() {
            run("chown the scratch dir to postgres", {
                let mut c = Command::new("chown");
                c.args(["postgres:postgres", &dir.path().to_string_lossy()]);
                c
            });
        }
        let data = dir.path().join("data");
        let data_text = data.to_string_lossy().into_owned();
        tokio::task::spawn_blocking(move || {
            run(
                "initdb",
                pg_command(
                    "initdb",
                    &[
                        "-D",
                        &data_text,
                        "--auth=trust",
                        "-U",
                        "postgres",
                        "--no-sync",
                        "-E",
                        "UTF8",
                    ],
                ),
            )
        })
        .await
        .unwrap();
        let mut pg = PrivatePostgres {
            port: free_port(),
            data,
            running: false,
            dir,
        };
        pg.start_again().await;
        pg
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) -> Command {
        let data = self.data.to_string_lossy().into_owned();
        let mut all = vec!["-D", &data];
        all.extend_from_slice(args);
        pg_command("pg_ctl", &all)
    }

    /// Starts the server on its data directory and waits (pg_ctl -w) until it is ready.
    pub async fn start_again(&mut self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().to_string_lossy()
        );
        let log = self.dir.path().join("postgres.log");
        let command = self.pg_ctl(&[
            "-o",
            &options,
            "-l",
            &log.to_string_lossy(),
            "-w",
            "-t",
            "60",
            "start",
        ]);
        tokio::task::spawn_blocking(move || run("pg_ctl start", command))
            .await
            .unwrap();
        self.running = true;
        super::wait_for_port(
            "private postgres to listen",
            self.port,
            Duration::from_secs(30),
        )
        .await;
    }

    pub async fn stop(&mut self, how: Stop) {
        let mode = match how {
            Stop::Fast => "fast",
            Stop::Immediate => "immediate",
        };
        let command = self.pg_ctl(&["-m", mode, "-w", "stop"]);
        tokio::task::spawn_blocking(move || run("pg_ctl stop", command))
            .await
            .unwrap();
        self.running = false;
    }

    pub async fn restart(&mut self, how: Stop) {
        self.stop(how).await;
        self.start_again().await;
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.pg_ctl(&["-m", "immediate", "-w", "stop"]).output();
        }
    }
}
