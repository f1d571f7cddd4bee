//! RabbitMQ: the topology every process declares (idempotently), connecting, and the confirmed
//! publisher the relay uses. The broker only delivers; the ledger in Postgres is the truth.

pub mod depth;
mod publisher;
mod topology;

pub use publisher::{PublishError, Publisher};
pub use topology::{Topology, TopologyError};

use lapin::{Connection, ConnectionProperties};

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error("RabbitMQ did not complete the connection within {0:?}")]
    TimedOut(std::time::Duration),
}

/// How long the AMQP handshake may take. A broker still booting can accept the TCP connection
/// and then not answer; every caller retries, so giving up is always better than waiting.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens a connection named `name` (visible in `rabbitmqctl list_connections client_properties`,
/// which is how ops, and tests, find a process's connection).
pub async fn connect(url: &str, name: &str) -> Result<Connection, ConnectError> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(url, properties)).await {
        Ok(connected) => Ok(connected?),
        Err(_) => Err(ConnectError::TimedOut(CONNECT_TIMEOUT)),
    }
}
