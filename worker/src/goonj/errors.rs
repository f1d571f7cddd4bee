//! Goonj's error types (contracts/goonj.md §5) with the action that rectifies each, seeded
//! into every Goonj tenant so ops see the action beside every error.

use avni_int_shared::classify::{ComparisonOperator as Op, FollowUpStep as Follow};
use avni_int_shared::store::errors::ErrorTypeDef;

const fn rule(
    name: &'static str,
    operator: Op,
    value: &'static str,
    follow_up: Follow,
    required_action: &'static str,
) -> ErrorTypeDef {
    ErrorTypeDef {
        name,
        operator: Some(operator),
        comparison_value: Some(value),
        follow_up,
        required_action,
    }
}

const fn direct(
    name: &'static str,
    follow_up: Follow,
    required_action: &'static str,
) -> ErrorTypeDef {
    ErrorTypeDef {
        name,
        operator: None,
        comparison_value: None,
        follow_up,
        required_action,
    }
}

pub const ENTITY_IS_DELETED: &str = "EntityIsDeleted";
pub const DISPATCH_LINE_DELETION_FAILURE: &str = "DispatchLineItemsDeletionFailure";

/// In id order once seeded: the first matching rule wins, so specific rules come first.
pub const GOONJ_ERROR_TYPES: &[ErrorTypeDef] = &[
    rule("AddressNotFoundError", Op::Matches, "500.*Address.*not found.*", Follow::Internal,
        "Add the State/District location in Avni (or correct the address in Salesforce), then let the error job retry."),
    rule("InvalidAddressError", Op::Contains, "Invalid address value specified", Follow::External,
        "Fill in State and District of the record in Salesforce."),
    rule("AnswerMappingNotFoundForCodedConcept", Op::Contains, "Answer Mapping entry not found", Follow::Internal,
        "Add the missing answer mapping in Metadata Mapping (the field and value are in the message)."),
    rule("AnswerMappingIsNull", Op::Contains, "Answer Mapping is null", Follow::External,
        "Fill the required value in Salesforce or map it."),
    rule("TargetCommunityIsNullError", Op::Contains, "Target Community is null", Follow::External,
        "Fill Target Community of the Demand in Salesforce."),
    rule("BadValueForRestrictedPicklist", Op::Contains, "bad value for restricted picklist", Follow::Internal,
        "Correct the answer or its mapping in Avni, or ask Goonj to extend the Salesforce picklist."),
    rule("MustNotHave2SimilarElements", Op::Contains, "two identically equal elements", Follow::Internal,
        "Remove the duplicate line from the dispatch receipt in Avni."),
    rule("FieldCustomValidationException", Op::Contains, "FIELD_CUSTOM_VALIDATION_EXCEPTION", Follow::Internal,
        "Fix the Avni record as the Salesforce validation rule in the message requires."),
    rule("ClassCastException", Op::Contains, "ClassCastException", Follow::Process,
        "A value has the wrong JSON type: report to the developers with the payload."),
    rule("TooManyRows", Op::Contains, "too many rows", Follow::Process,
        "Several rows match where one is expected: de-duplicate the data named in the message."),
    rule("BadGateway", Op::Contains, "502 Bad Gateway", Follow::Process,
        "None: a transient gateway failure; the error job retries it."),
    direct(DISPATCH_LINE_DELETION_FAILURE, Follow::Internal,
        "Check the Dispatch in Avni; the error job clears this once the line is removed."),
    direct(ENTITY_IS_DELETED, Follow::Terminal,
        "None: the entity was deleted; nothing will be retried."),
    direct(avni_int_shared::classify::UNCLASSIFIED, Follow::Process,
        "Triage the message; add an error type rule for it (and a fix) if it recurs."),
];
