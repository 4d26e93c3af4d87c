//! Days and times as auditors read and type them: `YYYY-MM-DD` in forms and addresses, UTC days
//! numbered from the Unix epoch for the figures, and entry times written out in full (`1 December 2026,
//! 21:45:13 UTC`) with their ISO 8601 form for `<time datetime>`.

use time::{Date, Month, OffsetDateTime};

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// A UTC day: days since 1970-01-01.
pub type Day = i64;

/// The UTC day a time (seconds since the Unix epoch) falls on.
pub fn day_of(time: i64) -> Day {
    time.div_euclid(DAY)
}

/// The Unix time at which a day starts.
pub fn start_of(day: Day) -> i64 {
    day.saturating_mul(DAY)
}

fn date(day: Day) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp(start_of(day))
        .ok()
        .map(|t| t.date())
}

/// Parses `YYYY-MM-DD` (a real date, four-digit year) into its day.
pub fn parse_day(text: &str) -> Option<Day> {
    let text = text.trim();
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    if !(y.bytes().chain(m.bytes()).chain(d.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    let epoch = Date::from_calendar_date(1970, Month::January, 1).ok()?;
    Some(i64::from(date.to_julian_day() - epoch.to_julian_day()))
}

/// A day as `YYYY-MM-DD`.
pub fn iso_day(day: Day) -> String {
    match date(day) {
        Some(d) => format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
        None => day.to_string(),
    }
}

/// A day as `1 December 2026`.
pub fn long_day(day: Day) -> String {
    match date(day) {
        Some(d) => format!("{} {} {}", d.day(), d.month(), d.year()),
        None => day.to_string(),
    }
}

/// A day as `1 Dec`, for chart axes.
pub fn short_day(day: Day) -> String {
    match date(day) {
        Some(d) => {
            let month = d.month().to_string();
            format!("{} {}", d.day(), month.get(..3).unwrap_or(&month))
        }
        None => day.to_string(),
    }
}

/// A time as `1 December 2026, 21:45:13 UTC`.
pub fn readable(time: i64) -> String {
    let secs = time.rem_euclid(DAY);
    format!(
        "{}, {:02}:{:02}:{:02} UTC",
        long_day(day_of(time)),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A time as `2026-12-01T21:45:13Z`.
pub fn iso(time: i64) -> String {
    let secs = time.rem_euclid(DAY);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        iso_day(day_of(time)),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_and_print() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2027-01-15"), Some(day_of(1_800_000_000)));
        assert_eq!(iso_day(parse_day("2024-02-29").unwrap()), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "24-01-01",
            "2024-1-01",
            "2024-01-01-01",
            "",
            "x",
            "2024/01/01",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        assert_eq!(readable(1_800_000_000), "15 January 2027, 08:00:00 UTC");
        assert_eq!(iso(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(short_day(day_of(1_800_000_000)), "15 Jan");
        assert_eq!(day_of(-1), -1);
    }
}
