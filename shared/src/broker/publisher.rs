//! Publishing with publisher confirms and `mandatory`, as persistent messages: a publish counts
//! only when the broker confirmed it and routed it to a queue.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("broker connection or channel failed: {0}")]
    Broker(#[from] lapin::Error),
    #[error("broker refused the message (nack)")]
    Nacked,
    #[error("no queue is bound for routing key {0:?}: message returned")]
    Unroutable(String),
    #[error("no confirm within {0:?} (is the broker blocked by a resource alarm?)")]
    TimedOut(std::time::Duration),
}

/// A confirm-mode channel on one exchange.
pub struct Publisher {
    channel: Channel,
    exchange: String,
}

impl Publisher {
    pub async fn open(connection: &Connection, exchange: String) -> Result<Self, PublishError> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher { channel, exchange })
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    pub fn is_usable(&self) -> bool {
        self.channel.status().connected()
    }

    /// Publishes every message, then waits for all confirms (pipelined, so a batch costs about
    /// one round trip). Results are in input order.
    pub async fn publish_all(&self, messages: &[(&str, &[u8])]) -> Vec<Result<(), PublishError>> {
        let mut pending = Vec::with_capacity(messages.len());
        for &(routing_key, payload) in messages {
            let confirm = self
                .channel
                .basic_publish(
                    self.exchange.as_str().into(),
                    routing_key.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    payload,
                    BasicProperties::default()
                        .with_delivery_mode(2)
                        .with_content_type("application/json".into()),
                )
                .await;
            pending.push((routing_key.to_owned(), confirm));
        }
        let mut results = Vec::with_capacity(pending.len());
        for (routing_key, confirm) in pending {
            let result = match confirm {
                Err(error) => Err(PublishError::Broker(error)),
                Ok(confirm) => match confirm.await {
                    Err(error) => Err(PublishError::Broker(error)),
                    Ok(Confirmation::Ack(None)) => Ok(()),
                    Ok(Confirmation::Ack(Some(_))) => Err(PublishError::Unroutable(routing_key)),
                    Ok(Confirmation::Nack(_)) | Ok(Confirmation::NotRequested) => {
                        Err(PublishError::Nacked)
                    }
                },
            };
            results.push(result);
        }
        results
    }
}
