//! Recording a page of per-record outcomes with the cursor in one transaction: a synced record
//! clears its error record, a failed one is classified and stored with its payload, and the
//! cursor moves to the last record whose outcome is stored. A failure no rule classifies (with
//! bypass off) stops the step there: the cursor stays before that record.

use crate::module::{StepError, StepOutcome};
use avni_int_shared::classify::Classifier;
use avni_int_shared::store::cursors::{self, Cursor};
use avni_int_shared::store::errors::{self as error_store, FailedEntity};
use avni_int_shared::store::{Store, StoreError};
use avni_int_shared::IntegrationSystemId;
use serde_json::Value;

/// What happened to one record.
#[derive(Debug, Clone)]
pub enum RecordResult {
    Synced,
    /// Nothing to do (a voided Avni entity, an incomplete record the original skips).
    Skipped,
    Failed {
        message: String,
        payload: Value,
    },
}

/// One record's outcome and the cursor once it is recorded.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub entity: FailedEntity,
    pub result: RecordResult,
    pub cursor_after: Cursor,
}

/// Outcomes of a page, in the order the records were read.
pub struct Page<'a> {
    pub store: &'a Store,
    pub tenant: IntegrationSystemId,
    pub classifier: &'a Classifier,
    /// `integrating_entity_status.entity_type` of the step's cursor.
    pub cursor_entity: &'a str,
    /// `false` for ad-hoc and error-job runs, which never move cursors.
    pub move_cursor: bool,
}

impl Page<'_> {
    /// Commits the outcomes; returns the counts, or the step's error when a failure could not
    /// be classified (after committing everything before it).
    pub async fn commit(&self, outcomes: Vec<Outcome>) -> Result<StepOutcome, StepError> {
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        let mut done = StepOutcome::default();
        let mut cursor: Option<Cursor> = None;
        let mut stop: Option<StepError> = None;
        let mut synced: Vec<FailedEntity> = Vec::new();
        for outcome in outcomes {
            match &outcome.result {
                RecordResult::Synced => {
                    synced.push(outcome.entity.clone());
                    done.synced += 1;
                }
                // Nothing to send any more (voided, incomplete): an old error is moot too.
                RecordResult::Skipped => synced.push(outcome.entity.clone()),
                RecordResult::Failed { message, payload } => {
                    match self.classifier.classify(message) {
                        Some(error_type) => {
                            error_store::record(
                                &mut tx,
                                self.tenant,
                                &outcome.entity,
                                error_type.id,
                                message,
                                Some(payload),
                            )
                            .await?;
                            tracing::info!(entity = ?outcome.entity, error_type = %error_type.name, %message, "record failed; stored as a classified error");
                            done.failed += 1;
                        }
                        None => {
                            stop = Some(StepError::Failed(format!(
                                "unclassified failure of {:?} (no error type matches and goonj_bypass_errors is off): {message}",
                                outcome.entity
                            )));
                            break;
                        }
                    }
                }
            }
            cursor = Some(outcome.cursor_after);
        }
        // Synced records lose their error records, in one pass for the page.
        error_store::clear_many(&mut tx, self.tenant, &synced).await?;
        if let (true, Some(cursor)) = (self.move_cursor, cursor) {
            cursors::save(&mut tx, self.tenant, self.cursor_entity, &cursor).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        match stop {
            Some(error) => Err(error),
            None => Ok(done),
        }
    }
}
