//! Goonj's times: Salesforce stamps in UTC, the feed cursor is Salesforce's IST wall clock
//! without a zone, and dates sent to Salesforce are IST calendar dates.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};

/// India Standard Time (no DST, so a fixed offset is exact).
pub fn ist() -> FixedOffset {
    // 5 h 30 min is within FixedOffset's ±24 h range.
    FixedOffset::east_opt(5 * 3600 + 30 * 60).unwrap_or_else(|| Utc.fix())
}

/// The IST wall clock of an instant, as the feed cursor stores and sends it.
pub fn ist_wall_clock(at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&ist()).naive_local()
}

/// The `dateTimestamp` query value: `yyyy-MM-ddTHH:mm:ss`, no zone.
pub fn cursor_param(wall_clock: NaiveDateTime) -> String {
    wall_clock.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The IST calendar date of an instant (`UTC → IST → yyyy-MM-dd`).
pub fn ist_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&ist()).date_naive()
}

/// Salesforce date-times: `yyyy-MM-dd'T'HH:mm:ss[.SSS][Z|±hhmm|±hh:mm]` (no zone = UTC),
/// `yyyy-MM-dd` and `dd/MM/yyyy` (midnight IST).
pub fn parse_sf(value: &str) -> Option<DateTime<Utc>> {
    let v = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(t) = DateTime::parse_from_str(v, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, format) {
            return Some(t.and_utc());
        }
    }
    for format in ["%Y-%m-%d", "%d/%m/%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(v, format) {
            let midnight = d.and_hms_opt(0, 0, 0)?;
            return ist()
                .from_local_datetime(&midnight)
                .single()
                .map(|t| t.with_timezone(&Utc));
        }
    }
    None
}

/// A Salesforce date as a calendar date (`DispatchDate`, `CreatedDate`).
pub fn parse_sf_date(value: &str) -> Option<NaiveDate> {
    let v = value.trim();
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(v, "%d/%m/%Y"))
        .ok()
        .or_else(|| parse_sf(v).map(ist_date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_is_the_ist_wall_clock_without_zone() {
        let at = parse_sf("2023-06-01T10:15:30.000Z").unwrap();
        assert_eq!(cursor_param(ist_wall_clock(at)), "2023-06-01T15:45:30");
        assert_eq!(
            ist_date(parse_sf("2023-06-01T20:00:00Z").unwrap()).to_string(),
            "2023-06-02"
        );
    }

    #[test]
    fn every_salesforce_form_parses() {
        for value in [
            "2023-06-01T10:15:30.000Z",
            "2023-06-01T10:15:30.000+0000",
            "2023-06-01T10:15:30+00:00",
            "2023-06-01T10:15:30",
        ] {
            assert_eq!(
                parse_sf(value).unwrap().to_rfc3339(),
                "2023-06-01T10:15:30+00:00",
                "{value}"
            );
        }
        assert_eq!(
            parse_sf_date("30/05/2023").unwrap().to_string(),
            "2023-05-30"
        );
        assert_eq!(
            parse_sf_date("2023-05-30").unwrap().to_string(),
            "2023-05-30"
        );
        assert!(parse_sf("yesterday").is_none());
    }
}
