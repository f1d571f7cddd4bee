//! Queue depths (ready messages and consumers) read with passive declares, so no management
//! plugin is needed. Used by the admin API's queue page and the depth gauge.

use super::{connect, ConnectError};
use lapin::options::QueueDeclareOptions;
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Connection, ErrorKind};
use std::time::Duration;

/// One queue's depth; `None` counts mean the queue does not exist (not declared yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub queue: String,
    pub messages: Option<u32>,
    pub consumers: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum DepthError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("reading queue {queue} failed: {source}")]
    Read {
        queue: String,
        #[source]
        source: lapin::Error,
    },
    #[error("no answer from RabbitMQ within {0:?}")]
    Timeout(Duration),
}

/// Reads the depth of every queue on `connection`. A missing queue closes the channel (404 on
/// a passive declare), so the next queue gets a fresh channel.
pub async fn read(
    connection: &Connection,
    queues: &[String],
) -> Result<Vec<QueueDepth>, DepthError> {
    let mut depths = Vec::with_capacity(queues.len());
    let mut channel: Option<Channel> = None;
    for queue in queues {
        let current = match channel.take() {
            Some(open) => open,
            None => connection
                .create_channel()
                .await
                .map_err(|source| DepthError::Read {
                    queue: queue.clone(),
                    source,
                })?,
        };
        let declared = current
            .queue_declare(
                ShortString::from(queue.as_str()),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await;
        match declared {
            Ok(found) => {
                depths.push(QueueDepth {
                    queue: queue.clone(),
                    messages: Some(found.message_count()),
                    consumers: Some(found.consumer_count()),
                });
                channel = Some(current);
            }
            Err(error) if is_not_found(&error) => depths.push(QueueDepth {
                queue: queue.clone(),
                messages: None,
                consumers: None,
            }),
            Err(source) => {
                return Err(DepthError::Read {
                    queue: queue.clone(),
                    source,
                })
            }
        }
    }
    if let Some(open) = channel {
        let _ = open.close(200, "depths read".into()).await;
    }
    Ok(depths)
}

/// Connects (as `name`), reads, and closes, all within `timeout`: for callers that ask rarely
/// (an admin page) and must answer even when the broker is down.
pub async fn read_once(
    url: &str,
    name: &str,
    queues: &[String],
    timeout: Duration,
) -> Result<Vec<QueueDepth>, DepthError> {
    let attempt = async {
        let connection = connect(url, name).await?;
        let depths = read(&connection, queues).await;
        let _ = connection.close(200, "depths read".into()).await;
        depths
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| DepthError::Timeout(timeout))?
}

fn is_not_found(error: &lapin::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ProtocolError(amqp)
            if *amqp.kind() == AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)
    )
}
