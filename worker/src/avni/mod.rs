//! The Avni client every module uses (contracts/avni.md): configuration from a tenant's
//! settings, login and token caching, retries of transient failures, typed calls over Avni's
//! human-keyed JSON, and the incremental reader that pages by `Last modified at` without
//! skipping or looping on ties.
//!
//! One `AvniClient` per tenant, created by the job that needs it; nothing is global.

pub mod api;
mod auth;
pub mod client;
pub mod config;
pub mod cursor;
pub mod entity;
pub mod error;
pub mod query;
pub mod raw;
pub mod reader;
pub mod token;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod reader_tests;

pub use api::{EncounterSource, SubjectSource};
pub use client::AvniClient;
pub use config::{AvniConfig, AvniConfigError, AvniCredentials, RetryPolicy, MAX_PAGE_SIZE};
pub use cursor::{AvniCursor, StoredCursor};
pub use entity::{Encounter, Entity, Page, Subject, SubjectRequest};
pub use error::AvniError;
pub use query::{EncounterQuery, SubjectQuery};
pub use raw::{Keyed, Raw};
pub use reader::{Batch, IncrementalReader, PageSource};
