//! What a job is on the wire and in the ledger: its kind, trigger, state and the message a worker
//! consumes.

use crate::ids::{IntegrationSystemId, JobId, ModuleName};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The two scheduled jobs every module has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Sync both directions from the cursors.
    Regular,
    /// Retry what failed on bad data.
    Error,
}

/// Why a job exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobTrigger {
    Schedule,
    Manual,
    /// A job that ran out of its time budget checkpointed and enqueued the rest of its work.
    Continuation,
}

/// Ledger states: `scheduled → queued → running → succeeded | failed | dead`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// The row and its outbox message are committed; the relay has not had a confirm yet.
    Scheduled,
    /// The broker confirmed the message; no worker holds it.
    Queued,
    /// A worker holds the lease.
    Running,
    Succeeded,
    /// The job ran and something failed that no classified error explains.
    Failed,
    /// The job was given up on: its leases expired more often than the attempt limit allows.
    Dead,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownVariant {
    pub what: &'static str,
    pub value: String,
}

macro_rules! string_enum {
    ($t:ty, $what:literal, { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$(<$t>::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $(<$t>::$variant => $text),* }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $t {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(<$t>::$variant),)*
                    _ => Err(UnknownVariant { what: $what, value: s.to_owned() }),
                }
            }
        }
    };
}

string_enum!(JobKind, "job kind", { Regular => "regular", Error => "error" });
string_enum!(JobTrigger, "job trigger", {
    Schedule => "schedule", Manual => "manual", Continuation => "continuation"
});
string_enum!(JobState, "job state", {
    Scheduled => "scheduled", Queued => "queued", Running => "running",
    Succeeded => "succeeded", Failed => "failed", Dead => "dead",
});

impl JobState {
    /// At most one live job may exist per (tenant, module, kind).
    pub fn is_live(self) -> bool {
        matches!(
            self,
            JobState::Scheduled | JobState::Queued | JobState::Running
        )
    }
}

/// The message the relay publishes and a worker consumes. The ledger row is the truth; the
/// message only says "look at job N".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    /// Wire format version, so a worker of another release can tell it cannot read this.
    pub v: u8,
    pub job_id: JobId,
    pub integration_system_id: IntegrationSystemId,
    pub module: ModuleName,
    pub kind: JobKind,
    pub trigger: JobTrigger,
    /// Attempts already made when this message was published.
    pub attempt: i32,
    /// The step a continuation resumes at (earlier steps already ran in this chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_step: Option<String>,
}

impl JobMessage {
    pub const VERSION: u8 = 1;

    /// Routing key on the job exchange: `<module>.<kind>`.
    pub fn routing_key(&self) -> String {
        routing_key(&self.module, self.kind)
    }
}

pub fn routing_key(module: &ModuleName, kind: JobKind) -> String {
    format!("{module}.{kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_ledger_text() {
        for kind in JobKind::ALL {
            assert_eq!(kind.as_str().parse::<JobKind>().ok(), Some(*kind));
        }
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>().ok(), Some(*state));
        }
        for trigger in JobTrigger::ALL {
            assert_eq!(trigger.as_str().parse::<JobTrigger>().ok(), Some(*trigger));
        }
        assert!("Regular".parse::<JobKind>().is_err());
    }

    #[test]
    fn message_json_is_stable_and_rejects_bad_module_names() {
        let msg = JobMessage {
            v: 1,
            job_id: JobId(7),
            integration_system_id: IntegrationSystemId(3),
            module: ModuleName::new("goonj").unwrap(),
            kind: JobKind::Error,
            trigger: JobTrigger::Continuation,
            attempt: 2,
            resume_step: None,
        };
        let json = serde_json::to_string(&msg).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"job_id":7,"integration_system_id":3,"module":"goonj","kind":"error","trigger":"continuation","attempt":2}"#
        );
        assert_eq!(serde_json::from_str::<JobMessage>(&json).unwrap(), msg);
        let bad = json.replace("goonj", "Go.onj");
        assert!(serde_json::from_str::<JobMessage>(&bad).is_err());
        assert_eq!(msg.routing_key(), "goonj.error");
    }
}
