//! RabbitMQ: the topology every process declares (idempotently), connecting, and the confirmed
//! publisher the relay uses. The broker only delivers; the ledger in Postgres is the truth.

pub mod depth;
mod publisher;
mod topology;

pub use publisher::{PublishError, Publisher};
pub use topology::{Topology, TopologyError};

use lapin::{Connection, ConnectionProperties};

#[derive(Debug, thiserror::Error)]
#[error("cannot connect to RabbitMQ: {0}")]
pub struct ConnectError(#[from] lapin::Error);

/// Opens a connection named `name` (visible in `rabbitmqctl list_connections client_properties`,
/// which is how ops, and tests, find a process's connection).
pub async fn connect(url: &str, name: &str) -> Result<Connection, ConnectError> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Ok(Connection::connect(url, properties).await?)
}
