//! Salesforce fields to Avni observations through the tenant's metadata mappings (type
//! `Observations`, one group per entity), as contracts/goonj.md §3 describes.

use avni_int_shared::store::mappings::{DataTypeHint, Mappings};
use serde_json::{Map, Value};

/// A record that cannot be mapped; the message is what classification rules match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MappingError(pub String);

/// Maps every field of `record` not in `core` through `group`: no mapping row → skipped; no
/// hint → the raw value under the row's Avni concept; `Coded` → the answer row of the value
/// (missing → an error naming the field; present with a blank Avni value → an error naming
/// the field and value); any other hint → dropped.
pub fn observations(
    mappings: &Mappings,
    group: &str,
    record: &Map<String, Value>,
    core: &[&str],
) -> Result<Map<String, Value>, MappingError> {
    let mut observations = Map::new();
    for (field, value) in record {
        if core.contains(&field.as_str()) || value.is_null() {
            continue;
        }
        let Some(row) = mappings.by_partner_value(group, field) else {
            tracing::debug!(%group, %field, "no mapping for field; skipped");
            continue;
        };
        match row.hint {
            None => {
                observations.insert(row.avni_value.clone(), value.clone());
            }
            Some(DataTypeHint::Coded) => {
                let raw = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let answer = mappings.by_partner_value(group, &raw).ok_or_else(|| {
                    MappingError(format!(
                        "Answer Mapping entry not found for coded concept answer field: {field}"
                    ))
                })?;
                // A row saved without its Avni answer (legacy data, an import): sending a blank
                // answer would only make Avni reject the subject with a vaguer message.
                if answer.avni_value.trim().is_empty() {
                    return Err(MappingError(format!(
                        "Answer Mapping is null for coded concept answer field: {field}, value: {raw}"
                    )));
                }
                observations.insert(
                    row.avni_value.clone(),
                    Value::String(answer.avni_value.clone()),
                );
            }
            Some(_) => {}
        }
    }
    Ok(observations)
}

/// `IsVoided` arrives as a string or a boolean ((orig) a boolean threw).
pub fn is_voided(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// A string field, trimmed; `None` when absent, null or blank.
pub fn text<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use avni_int_shared::store::mappings::Mapping;
    use serde_json::json;

    fn row(partner: &str, avni: &str, hint: Option<DataTypeHint>) -> Mapping {
        Mapping {
            int_system_value: partner.into(),
            avni_value: avni.into(),
            hint,
        }
    }

    #[test]
    fn a_coded_answer_row_without_an_avni_value_is_null_not_missing() {
        let mut m = Mappings::default();
        m.insert(
            "G",
            row(
                "TypeOfDisaster",
                "Type of Disaster",
                Some(DataTypeHint::Coded),
            ),
        );
        m.insert("G", row("Flood", "Flood", None));
        m.insert("G", row("Cyclone", " ", None));
        let record = |value: &str| {
            json!({"TypeOfDisaster": value})
                .as_object()
                .cloned()
                .unwrap()
        };
        let obs = observations(&m, "G", &record("Flood"), &[]).unwrap();
        assert_eq!(obs["Type of Disaster"], "Flood");
        assert_eq!(
            observations(&m, "G", &record("Cyclone"), &[])
                .unwrap_err()
                .0,
            "Answer Mapping is null for coded concept answer field: TypeOfDisaster, value: Cyclone"
        );
        assert_eq!(
            observations(&m, "G", &record("Drought"), &[])
                .unwrap_err()
                .0,
            "Answer Mapping entry not found for coded concept answer field: TypeOfDisaster"
        );
    }
}
