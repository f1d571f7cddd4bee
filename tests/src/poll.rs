//! Waiting without sleeping blindly: poll a condition until it holds or a deadline passes.

use std::future::Future;
use std::time::Duration;

/// Polls `check` every 50 ms until it returns `Some`, or panics after `within` naming `what`.
pub async fn until<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
