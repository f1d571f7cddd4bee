//! Spring-style 6-field crons (seconds first), as deployments already write them. `-` or an
//! empty value means "off".

use chrono::{DateTime, FixedOffset, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid cron {expression:?}: {reason} (Spring 6-field syntax expected, e.g. \"0 */5 * * * *\"; \"-\" turns it off)")]
pub struct CronError {
    pub expression: String,
    pub reason: String,
}

/// A parsed schedule, evaluated in a fixed UTC offset (the original ran in the JVM's zone;
/// India has no DST, so a fixed offset reproduces it exactly).
#[derive(Debug, Clone)]
pub struct SpringCron {
    expression: String,
    cron: Cron,
    offset: FixedOffset,
}

impl PartialEq for SpringCron {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression && self.offset == other.offset
    }
}

impl SpringCron {
    /// `Ok(None)` for "off" (`-` or blank).
    pub fn parse(expression: &str, offset: FixedOffset) -> Result<Option<Self>, CronError> {
        let trimmed = expression.trim();
        if trimmed.is_empty() || trimmed == "-" {
            return Ok(None);
        }
        let error = |reason: String| CronError {
            expression: expression.to_owned(),
            reason,
        };
        let fields = trimmed.split_whitespace().count();
        if fields != 6 && !trimmed.starts_with('@') {
            return Err(error(format!("{fields} fields instead of 6")));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Disallowed)
            // Spring requires both day fields to match when both are restricted.
            .dom_and_dow(true)
            .build()
            .parse(trimmed)
            .map_err(|e| error(e.to_string()))?;
        Ok(Some(SpringCron {
            expression: trimmed.to_owned(),
            cron,
            offset,
        }))
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.offset);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The last fire time at or before `at`.
    pub fn previous_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&self.offset);
        self.cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// Parses `+05:30`, `-03:00`, `Z` or `UTC`.
pub fn parse_offset(value: &str) -> Option<FixedOffset> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("utc") || v == "Z" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match v.as_bytes().first()? {
        b'+' => (1, &v[1..]),
        b'-' => (-1, &v[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
    FixedOffset::east_opt(sign * secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    #[test]
    fn off_values_parse_to_none() {
        assert_eq!(SpringCron::parse("-", utc()), Ok(None));
        assert_eq!(SpringCron::parse("  ", utc()), Ok(None));
    }

    #[test]
    fn spring_six_field_crons_fire_when_spring_would() {
        let every_5_min = SpringCron::parse("0 */5 * * * *", utc()).unwrap().unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 10, 2, 3).unwrap();
        assert_eq!(
            every_5_min.next_after(at),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 10, 5, 0).unwrap())
        );
        let every_sec = SpringCron::parse("* * * * * ?", utc()).unwrap().unwrap();
        assert_eq!(
            every_sec.next_after(at),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 10, 2, 4).unwrap())
        );
        // Weekday names and 1 = Monday, as in Spring. 2026-01-05 is a Monday.
        let mondays = SpringCron::parse("0 0 2 * * MON", utc()).unwrap().unwrap();
        assert_eq!(
            mondays.next_after(at),
            Some(Utc.with_ymd_and_hms(2026, 1, 5, 2, 0, 0).unwrap())
        );
    }

    #[test]
    fn the_offset_moves_wall_clock_crons() {
        let ist = parse_offset("+05:30").unwrap();
        let two_am_ist = SpringCron::parse("0 0 2 * * *", ist).unwrap().unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            two_am_ist.next_after(at),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 20, 30, 0).unwrap())
        );
    }

    #[test]
    fn five_field_and_garbage_crons_are_refused_with_the_expression() {
        let err = SpringCron::parse("*/5 * * * *", utc()).unwrap_err();
        assert!(err.to_string().contains("5 fields"), "{err}");
        assert!(SpringCron::parse("0 0 25 * * *", utc()).is_err());
        assert!(SpringCron::parse("every day", utc()).is_err());
    }
}
