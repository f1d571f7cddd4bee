//! Exchange, queue and dead-letter names and arguments. One durable quorum queue per module and
//! kind on a direct exchange, with a delivery limit and at-least-once dead-lettering.

use crate::ids::ModuleName;
use crate::job::{routing_key, JobKind};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("declaring {what} failed: {source}")]
    Declare {
        what: String,
        #[source]
        source: lapin::Error,
    },
}

/// Names and limits of the broker objects. `prefix` separates fleets (and tests) sharing a
/// broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub prefix: String,
    /// Deliveries of one message before it is dead-lettered (`x-delivery-limit`).
    pub delivery_limit: u32,
}

impl Topology {
    pub fn new(prefix: impl Into<String>, delivery_limit: u32) -> Self {
        Topology {
            prefix: prefix.into(),
            delivery_limit,
        }
    }

    /// The direct exchange jobs are published to.
    pub fn exchange(&self) -> String {
        self.prefix.clone()
    }

    pub fn queue(&self, module: &ModuleName, kind: JobKind) -> String {
        format!("{}.{}", self.prefix, routing_key(module, kind))
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.prefix)
    }

    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    /// Every queue of these modules, both kinds.
    pub fn queues<'a>(&'a self, modules: &'a [ModuleName]) -> impl Iterator<Item = String> + 'a {
        modules
            .iter()
            .flat_map(move |m| JobKind::ALL.iter().map(move |kind| self.queue(m, *kind)))
    }

    /// Declares the exchanges, the dead-letter queue and both queues of every module. Safe to
    /// call from every process at start: declaring what exists with the same arguments is a
    /// no-op.
    pub async fn declare(
        &self,
        channel: &Channel,
        modules: &[ModuleName],
    ) -> Result<(), TopologyError> {
        let durable_exchange = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        let durable_queue = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let declare_err = |what: String| move |source| TopologyError::Declare { what, source };

        channel
            .exchange_declare(
                self.exchange().as_str().into(),
                ExchangeKind::Direct,
                durable_exchange,
                FieldTable::default(),
            )
            .await
            .map_err(declare_err(format!("exchange {}", self.exchange())))?;
        channel
            .exchange_declare(
                self.dead_letter_exchange().as_str().into(),
                ExchangeKind::Fanout,
                durable_exchange,
                FieldTable::default(),
            )
            .await
            .map_err(declare_err(format!(
                "exchange {}",
                self.dead_letter_exchange()
            )))?;
        let mut dead_args = FieldTable::default();
        dead_args.insert("x-queue-type".into(), long_string("quorum"));
        channel
            .queue_declare(
                self.dead_letter_queue().as_str().into(),
                durable_queue,
                dead_args,
            )
            .await
            .map_err(declare_err(format!("queue {}", self.dead_letter_queue())))?;
        channel
            .queue_bind(
                self.dead_letter_queue().as_str().into(),
                self.dead_letter_exchange().as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(declare_err(format!("binding {}", self.dead_letter_queue())))?;

        for module in modules {
            for kind in JobKind::ALL {
                let queue = self.queue(module, *kind);
                channel
                    .queue_declare(queue.as_str().into(), durable_queue, self.job_queue_args())
                    .await
                    .map_err(declare_err(format!("queue {queue}")))?;
                channel
                    .queue_bind(
                        queue.as_str().into(),
                        self.exchange().as_str().into(),
                        routing_key(module, *kind).as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map_err(declare_err(format!("binding {queue}")))?;
            }
        }
        Ok(())
    }

    /// Every limit explicit (RabbitMQ 3.10 has none of 4.x's defaults).
    fn job_queue_args(&self) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert("x-queue-type".into(), long_string("quorum"));
        args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongInt(i32::try_from(self.delivery_limit).unwrap_or(i32::MAX)),
        );
        args.insert(
            "x-dead-letter-exchange".into(),
            long_string(&self.dead_letter_exchange()),
        );
        // at-least-once dead-lettering needs reject-publish overflow; without it a message
        // could be dropped between the queue and the dead-letter queue.
        args.insert(
            "x-dead-letter-strategy".into(),
            long_string("at-least-once"),
        );
        args.insert("x-overflow".into(), long_string("reject-publish"));
        args
    }

    /// Messages ready in `queue`, read with a passive declare (no management plugin needed).
    pub async fn depth(&self, channel: &Channel, queue: &str) -> Result<u32, lapin::Error> {
        let declared = channel
            .queue_declare(
                ShortString::from(queue),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(declared.message_count())
    }
}

fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_design() {
        let t = Topology::new("avni_int", 5);
        let goonj = ModuleName::new("goonj").unwrap();
        assert_eq!(t.queue(&goonj, JobKind::Regular), "avni_int.goonj.regular");
        assert_eq!(t.dead_letter_queue(), "avni_int.dead");
        let all: Vec<String> = t.queues(std::slice::from_ref(&goonj)).collect();
        assert_eq!(all, ["avni_int.goonj.regular", "avni_int.goonj.error"]);
        let args = t.job_queue_args();
        assert_eq!(
            args.inner().get("x-delivery-limit"),
            Some(&AMQPValue::LongInt(5))
        );
    }
}
