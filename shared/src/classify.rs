//! Classifying failure messages into the tenant's error types (the original's
//! `ErrorClassifier`): the first type by id whose rule matches wins. Rules and follow-up steps
//! are stored as ordinal strings; some rows hold names (`Terminal`), which are accepted too.

use regex::Regex;
use std::str::FromStr;

/// How an error type's `comparison_value` is compared with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOperator {
    /// Case-insensitive equality.
    Equals,
    /// Case-insensitive substring.
    Contains,
    /// A regex over the whole message (Java's `String.matches`).
    Matches,
}

/// What the error job does with an error of this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpStep {
    /// Retry it in the error job.
    Process,
    /// Never retry.
    Terminal,
    /// Retried; a fault on the Avni side (mapping, location, config) a human must fix.
    Internal,
    /// Retried; a fault in the partner's data.
    External,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown {what} {value:?} (expected an ordinal or a name)")]
pub struct UnknownEncoding {
    pub what: &'static str,
    pub value: String,
}

impl FromStr for ComparisonOperator {
    type Err = UnknownEncoding;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "0" | "EQUALS" => Ok(Self::Equals),
            "1" | "CONTAINS" => Ok(Self::Contains),
            "2" | "MATCHES" => Ok(Self::Matches),
            _ => Err(UnknownEncoding {
                what: "comparison operator",
                value: s.to_owned(),
            }),
        }
    }
}

impl ComparisonOperator {
    /// The ordinal string the original stores.
    pub fn ordinal(self) -> &'static str {
        match self {
            Self::Equals => "0",
            Self::Contains => "1",
            Self::Matches => "2",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Equals => "EQUALS",
            Self::Contains => "CONTAINS",
            Self::Matches => "MATCHES",
        }
    }
}

impl FromStr for FollowUpStep {
    type Err = UnknownEncoding;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "0" | "process" => Ok(Self::Process),
            "1" | "terminal" => Ok(Self::Terminal),
            "2" | "internal" => Ok(Self::Internal),
            "3" | "external" => Ok(Self::External),
            _ => Err(UnknownEncoding {
                what: "follow-up step",
                value: s.to_owned(),
            }),
        }
    }
}

impl FollowUpStep {
    pub fn ordinal(self) -> &'static str {
        match self {
            Self::Process => "0",
            Self::Terminal => "1",
            Self::Internal => "2",
            Self::External => "3",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Process => "Process",
            Self::Terminal => "Terminal",
            Self::Internal => "Internal",
            Self::External => "External",
        }
    }

    pub fn is_retried(self) -> bool {
        self != Self::Terminal
    }
}

/// A tenant's error type as the classifier uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorType {
    pub id: i32,
    pub name: String,
    pub operator: Option<ComparisonOperator>,
    pub comparison_value: Option<String>,
    pub follow_up: FollowUpStep,
    pub required_action: Option<String>,
}

/// The name of the fallback type (`goonj_bypass_errors`).
pub const UNCLASSIFIED: &str = "UnclassifiedError";

enum Rule {
    Equals(String),
    Contains(String),
    Matches(Regex),
}

impl Rule {
    fn matches(&self, message: &str, lowered: &str) -> bool {
        match self {
            Rule::Equals(value) => lowered == value,
            Rule::Contains(value) => lowered.contains(value.as_str()),
            Rule::Matches(regex) => regex.is_match(message),
        }
    }
}

/// A rule that could not be used, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenRule {
    pub error_type: String,
    pub reason: String,
}

pub struct Classifier {
    rules: Vec<(ErrorType, Rule)>,
    fallback: Option<ErrorType>,
    broken: Vec<BrokenRule>,
}

impl Classifier {
    /// `bypass`: a message no rule matches gets the `UnclassifiedError` type (when the tenant
    /// has one); otherwise it stays unclassified. Types without an operator or value only
    /// serve as direct targets (`DispatchLineItemsDeletionFailure`, …).
    pub fn new(mut types: Vec<ErrorType>, bypass: bool) -> Self {
        types.sort_by_key(|t| t.id);
        let fallback = bypass
            .then(|| types.iter().find(|t| t.name == UNCLASSIFIED).cloned())
            .flatten();
        let mut rules = Vec::new();
        let mut broken = Vec::new();
        for error_type in types {
            let (Some(operator), Some(value)) =
                (error_type.operator, error_type.comparison_value.clone())
            else {
                continue;
            };
            let rule = match operator {
                ComparisonOperator::Equals => Rule::Equals(value.to_lowercase()),
                ComparisonOperator::Contains => Rule::Contains(value.to_lowercase()),
                // Java's matches() must match the whole message; (?s) is not implied.
                ComparisonOperator::Matches => match Regex::new(&format!("^(?:{value})$")) {
                    Ok(regex) => Rule::Matches(regex),
                    Err(error) => {
                        broken.push(BrokenRule {
                            error_type: error_type.name.clone(),
                            reason: error.to_string(),
                        });
                        continue;
                    }
                },
            };
            rules.push((error_type, rule));
        }
        Classifier {
            rules,
            fallback,
            broken,
        }
    }

    /// The matching type, else the fallback; `None` means unclassified.
    pub fn classify(&self, message: &str) -> Option<&ErrorType> {
        let lowered = message.to_lowercase();
        self.rules
            .iter()
            .find(|(_, rule)| rule.matches(message, &lowered))
            .map(|(t, _)| t)
            .or(self.fallback.as_ref())
    }

    /// Rules that were skipped (an invalid regex): report them to ops.
    pub fn broken_rules(&self) -> &[BrokenRule] {
        &self.broken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: i32, name: &str, op: Option<&str>, value: Option<&str>, follow: &str) -> ErrorType {
        ErrorType {
            id,
            name: name.into(),
            operator: op.map(|o| o.parse().unwrap()),
            comparison_value: value.map(str::to_owned),
            follow_up: follow.parse().unwrap(),
            required_action: None,
        }
    }

    #[test]
    fn ordinal_strings_and_names_both_decode() {
        assert_eq!("0".parse(), Ok(ComparisonOperator::Equals));
        assert_eq!("2".parse(), Ok(ComparisonOperator::Matches));
        assert_eq!("Terminal".parse(), Ok(FollowUpStep::Terminal));
        assert_eq!("3".parse(), Ok(FollowUpStep::External));
        assert!("7".parse::<FollowUpStep>().is_err());
        assert!(!FollowUpStep::Terminal.is_retried());
    }

    #[test]
    fn first_matching_type_by_id_wins_and_comparisons_follow_the_original() {
        let classifier = Classifier::new(
            vec![
                t(5, "Contains", Some("1"), Some("ADDRESS"), "0"),
                t(
                    3,
                    "Matches",
                    Some("2"),
                    Some("500.*Address.*not found.*"),
                    "2",
                ),
                t(
                    9,
                    "Equals",
                    Some("0"),
                    Some("Invalid address value specified"),
                    "3",
                ),
                t(10, UNCLASSIFIED, None, None, "0"),
            ],
            true,
        );
        let msg = r#"500 : "Address Uttarakhand, Dehradun not found""#;
        assert_eq!(classifier.classify(msg).unwrap().name, "Matches");
        // MATCHES is anchored: a partial match does not count.
        assert_eq!(
            classifier.classify("x 500 Address not found").unwrap().name,
            "Contains"
        );
        assert_eq!(
            classifier
                .classify("INVALID ADDRESS VALUE SPECIFIED")
                .unwrap()
                .name,
            "Contains",
            "5 before 9, case-insensitive"
        );
        assert_eq!(
            classifier.classify("something new").unwrap().name,
            UNCLASSIFIED
        );
    }

    #[test]
    fn without_bypass_an_unmatched_message_is_unclassified_and_bad_regexes_are_reported() {
        let classifier = Classifier::new(
            vec![
                t(1, "Broken", Some("2"), Some("("), "0"),
                t(2, UNCLASSIFIED, None, None, "0"),
            ],
            false,
        );
        assert!(classifier.classify("anything").is_none());
        assert_eq!(classifier.broken_rules()[0].error_type, "Broken");
    }
}
