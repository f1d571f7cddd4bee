//! A headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`, which
//! `deploy/dev/test.sh` installs): the built-in UI's end-to-end tests use one per test. A
//! missing browser fails the test with what to install; it is never skipped.

use fantoccini::elements::Element;
use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a page or an element may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// One browser and the chromedriver behind it; chromedriver (and the browser it started) is
/// killed on drop, whatever the test did.
pub struct Browser {
    pub client: fantoccini::Client,
    driver: Child,
    base_url: String,
}

fn find_binary(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    candidates
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .map(Path::to_path_buf)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port for chromedriver")
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session whose relative
    /// paths resolve against `base_url` (e.g. `http://127.0.0.1:41234`).
    pub async fn start(base_url: &str) -> Browser {
        let missing = "is missing: the UI tests need Debian's `chromium` and `chromium-driver` \
                       packages (deploy/dev/test.sh installs them; or `apt-get install chromium \
                       chromium-driver`), or set CHROMIUM / CHROMEDRIVER to their paths";
        let chromium = find_binary(
            "CHROMIUM",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        )
        .unwrap_or_else(|| panic!("chromium {missing}"));
        let chromedriver = find_binary("CHROMEDRIVER", &["/usr/bin/chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver {missing}"));
        let port = free_port();
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so drop can end chromedriver and the browser it started.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command.spawn().unwrap_or_else(|e| {
            panic!(
                "chromedriver ({}) did not start: {e}",
                chromedriver.display()
            )
        });
        let mut browser_guard = DriverGuard(Some(driver));
        let webdriver = format!("http://127.0.0.1:{port}");
        let capabilities: serde_json::Map<String, serde_json::Value> =
            serde_json::from_value(serde_json::json!({
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium.to_string_lossy(),
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1366,900",
                        "--no-first-run", "--disable-extensions",
                    ],
                },
            }))
            .unwrap();
        // chromedriver takes a moment to listen: retry the session until it answers.
        let deadline = tokio::time::Instant::now() + WAIT;
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&webdriver)
                .await
            {
                Ok(client) => break client,
                Err(error) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(%error, "chromedriver not ready yet");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!(
                    "no Chromium session from chromedriver at {webdriver} within {WAIT:?}: {error}"
                ),
            }
        };
        Browser {
            client,
            driver: browser_guard.0.take().unwrap(),
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Opens `path` (relative to the server) and waits for the page to load.
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&self.url(path))
            .await
            .unwrap_or_else(|e| panic!("opening {path}: {e}"));
    }

    /// The current path and query (`/errors?page=1`).
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The page's visible text (read again if the page changed while it was being read).
    pub async fn text(&self) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.find("body").await.text().await {
                Ok(text) => return text,
                Err(error) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(%error, "page changed while reading it");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("reading the page's text: {error}"),
            }
        }
    }

    /// The element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css:?} within {WAIT:?}: {e}"))
    }

    /// Types `value` into the field matching `css` (cleared first).
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Picks the option labelled `label` in the `<select>` matching `css`.
    pub async fn choose(&self, css: &str, label: &str) {
        self.find(css)
            .await
            .select_by_label(label)
            .await
            .unwrap_or_else(|e| panic!("no option {label:?} in {css:?}: {e}"));
    }

    /// Clicks the element matching `css` (a submit button posts its form and the browser
    /// follows the redirect before this returns).
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css:?}: {e}"));
    }

    /// Clicks a button that asks `confirm()` first, and accepts; returns the question asked.
    pub async fn click_and_confirm(&self, css: &str) -> String {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css:?}: {e}"));
        let question = self
            .client
            .get_alert_text()
            .await
            .unwrap_or_else(|e| panic!("clicking {css:?} asked nothing: {e}"));
        self.client.accept_alert().await.unwrap();
        question
    }

    /// Clicks the link whose text is `text`.
    pub async fn click_link(&self, text: &str) {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::LinkText(text))
            .await
            .unwrap_or_else(|e| panic!("no link {text:?} within {WAIT:?}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Waits until the page's text contains `needle`; returns the text.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "the page ({}) never showed {needle:?}; it shows:\n{text}",
                    self.path().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the browser is at `path` (a click's navigation may still be under way).
    pub async fn wait_for_path(&self, path: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now = self.path().await;
            if now == path {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "the browser never reached {path}; it is at {now}:\n{}",
                    self.text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's `<h1>` reads `heading`.
    pub async fn wait_for_heading(&self, heading: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now = match self.client.find(Locator::Css("h1")).await {
                Ok(h1) => h1.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if now == heading {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("the page's heading never became {heading:?}; it is {now:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the browser session; chromedriver ends on drop.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// Kills chromedriver if `Browser::start` fails after spawning it.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            kill_group(child);
        }
    }
}

/// Ends chromedriver's process group (chromedriver and every browser process it started).
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}
