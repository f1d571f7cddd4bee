//! Every module's error types in one registry, rendered as `docs/errors.md` so ops can look up
//! what an error means and what fixes it. A test keeps the document equal to the code.

use avni_int_shared::classify::ComparisonOperator;
use avni_int_shared::store::errors::ErrorTypeDef;
use std::fmt::Write;

/// (module, its error types in seeding order: the first matching rule wins).
pub fn modules() -> Vec<(&'static str, &'static [ErrorTypeDef])> {
    vec![("goonj", crate::goonj::errors::GOONJ_ERROR_TYPES)]
}

/// A table cell: pipes escaped, line breaks flattened.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}

fn matched_by(def: &ErrorTypeDef) -> String {
    match (def.operator, def.comparison_value) {
        (Some(operator), Some(value)) => {
            let note = match operator {
                ComparisonOperator::Equals | ComparisonOperator::Contains => "case-insensitive",
                ComparisonOperator::Matches => "regex over the whole message",
            };
            format!("{} `{}` ({note})", operator.name(), cell(value))
        }
        _ => "set directly by the module (no rule)".to_owned(),
    }
}

/// The whole of `docs/errors.md`.
pub fn render_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Error types\n\n");
    out.push_str(
        "Generated from `worker/src/error_catalog.rs` (the modules' error type definitions); \
         do not edit by hand. Regenerate with\n\
         `UPDATE_DOCS=1 cargo test -p avni-int-worker error_catalog`.\n\n",
    );
    out.push_str(
        "Every job of a module adds the types its tenant lacks (by name) and never changes a rule \
         an admin edited in the admin app. A failure message is classified by the first type (in \
         id order) whose rule matches it. Follow-up step: **Process** is retried by the error \
         job; **Terminal** is never retried; **Internal** (a fault on the Avni side: data or \
         configuration) and **External** (a fault in the partner's data) are retried and need \
         a human.\n",
    );
    for (module, defs) in modules() {
        let _ = write!(
            out,
            "\n## {module}\n\n\
             | Error type | Follow-up step | Matched by | Required action |\n\
             |---|---|---|---|\n"
        );
        for def in defs {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(def.name),
                def.follow_up.name(),
                matched_by(def),
                cell(def.required_action)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/errors.md");

    #[test]
    fn docs_errors_md_matches_the_registry() {
        let rendered = render_markdown();
        if std::env::var("UPDATE_DOCS").as_deref() == Ok("1") {
            std::fs::write(DOC, &rendered).expect("write docs/errors.md");
            return;
        }
        let on_disk = std::fs::read_to_string(DOC).unwrap_or_default();
        assert!(
            on_disk == rendered,
            "docs/errors.md is out of date with the error type registry; regenerate it with \
             `UPDATE_DOCS=1 cargo test -p avni-int-worker error_catalog` and commit the result"
        );
    }

    #[test]
    fn every_type_of_a_module_is_listed_once_with_its_action() {
        let rendered = render_markdown();
        for (module, defs) in modules() {
            assert!(rendered.contains(&format!("## {module}")));
            for def in defs {
                assert!(!def.required_action.trim().is_empty(), "{}", def.name);
                let row = format!("| {} |", def.name);
                assert_eq!(rendered.matches(&row).count(), 1, "{}", def.name);
            }
        }
    }
}
