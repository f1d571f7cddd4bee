//! Metadata mappings (`mapping_metadata` with its group and type): admin-maintained
//! translations between partner values and Avni concept names. A job loads a tenant's mappings
//! of one type once and looks them up in memory, in either direction.

use super::StoreError;
use crate::ids::IntegrationSystemId;
use sqlx::PgPool;
use std::collections::HashMap;

/// `data_type_hint` values the original uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataTypeHint {
    Coded,
    Date,
    Numeric,
    Text,
    Boolean,
    DateTime,
    NotApplicable,
}

impl DataTypeHint {
    pub fn parse(hint: &str) -> Option<Self> {
        Some(match hint.trim() {
            "Coded" => Self::Coded,
            "Date" => Self::Date,
            "Numeric" => Self::Numeric,
            "Text" => Self::Text,
            "Boolean" => Self::Boolean,
            "DateTime" => Self::DateTime,
            "NA" => Self::NotApplicable,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub int_system_value: String,
    pub avni_value: String,
    /// `None` when the row has no hint (or one this build does not know).
    pub hint: Option<DataTypeHint>,
}

#[derive(sqlx::FromRow)]
struct MappingRow {
    group_name: String,
    int_system_value: Option<String>,
    avni_value: Option<String>,
    data_type_hint: Option<String>,
}

/// One tenant's mappings of one type (e.g. `Observations`), indexed by group.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    by_partner_value: HashMap<(String, String), Mapping>,
    by_avni_value: HashMap<(String, String), Mapping>,
}

impl Mappings {
    pub async fn load(
        pool: &PgPool,
        tenant: IntegrationSystemId,
        mapping_type: &str,
    ) -> Result<Self, StoreError> {
        let rows: Vec<MappingRow> = sqlx::query_as(
            "SELECT g.name AS group_name, m.int_system_value, m.avni_value, m.data_type_hint
               FROM mapping_metadata m
               JOIN mapping_group g ON g.id = m.mapping_group_id AND g.integration_system_id = $1
               JOIN mapping_type t ON t.id = m.mapping_type_id AND t.integration_system_id = $1
              WHERE m.integration_system_id = $1 AND t.name = $2
                AND NOT coalesce(m.is_voided, false) AND NOT coalesce(g.is_voided, false)
                AND NOT coalesce(t.is_voided, false)
              ORDER BY m.id",
        )
        .bind(tenant)
        .bind(mapping_type)
        .fetch_all(pool)
        .await?;
        let mut mappings = Mappings::default();
        for row in rows {
            let (group, hint) = (row.group_name, row.data_type_hint);
            let Some(partner) = row.int_system_value else {
                continue;
            };
            // A row saved without an Avni value is kept as "": the lookup finds it and the
            // module reports AnswerMappingIsNull (fill the value), not "entry not found".
            let avni = row.avni_value.unwrap_or_default();
            mappings.insert(
                &group,
                Mapping {
                    int_system_value: partner,
                    avni_value: avni,
                    hint: hint.as_deref().and_then(DataTypeHint::parse),
                },
            );
        }
        Ok(mappings)
    }

    /// Adds a row; the first row for a value wins, as the original's single-result lookups
    /// effectively did.
    pub fn insert(&mut self, group: &str, mapping: Mapping) {
        self.by_partner_value
            .entry((group.to_owned(), mapping.int_system_value.clone()))
            .or_insert_with(|| mapping.clone());
        self.by_avni_value
            .entry((group.to_owned(), mapping.avni_value.clone()))
            .or_insert(mapping);
    }

    /// The row whose partner value is `value` in `group`.
    pub fn by_partner_value(&self, group: &str, value: &str) -> Option<&Mapping> {
        self.by_partner_value
            .get(&(group.to_owned(), value.to_owned()))
    }

    /// The row whose Avni value is `value` in `group`.
    pub fn by_avni_value(&self, group: &str, value: &str) -> Option<&Mapping> {
        self.by_avni_value
            .get(&(group.to_owned(), value.to_owned()))
    }

    pub fn is_empty(&self) -> bool {
        self.by_partner_value.is_empty()
    }
}
