//! Cognito's `TIMESTAMP`: `Mon Nov 30 13:19:29 UTC 2026` — English weekday and month
//! abbreviations, the day of the month *not* zero-padded (both amazon-cognito-identity-js's
//! `getNowString` and pycognito write `Nov 5`, and pycognito's older releases strip the zero of
//! `%d` because Cognito refuses `Nov 05`), a 24-hour zero-padded time, the literal `UTC`, and a
//! four-digit year. Parsed strictly: the signature covers the exact string, so there is no reason
//! to accept a second spelling, and the weekday must be the date's.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, Weekday};

use super::SrpError;

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("Mon", Weekday::Monday),
    ("Tue", Weekday::Tuesday),
    ("Wed", Weekday::Wednesday),
    ("Thu", Weekday::Thursday),
    ("Fri", Weekday::Friday),
    ("Sat", Weekday::Saturday),
    ("Sun", Weekday::Sunday),
];

const MONTHS: [(&str, Month); 12] = [
    ("Jan", Month::January),
    ("Feb", Month::February),
    ("Mar", Month::March),
    ("Apr", Month::April),
    ("May", Month::May),
    ("Jun", Month::June),
    ("Jul", Month::July),
    ("Aug", Month::August),
    ("Sep", Month::September),
    ("Oct", Month::October),
    ("Nov", Month::November),
    ("Dec", Month::December),
];

/// Writes `at` (converted to UTC) the way Cognito's clients do.
pub fn format_timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let weekday = WEEKDAYS
        .iter()
        .find(|(_, w)| *w == at.weekday())
        .map(|(name, _)| *name)
        .expect("every weekday is listed");
    let month = MONTHS[usize::from(u8::from(at.month())) - 1].0;
    format!(
        "{weekday} {month} {} {:02}:{:02}:{:02} UTC {}",
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.year()
    )
}

/// Reads a `TIMESTAMP`; anything but the exact form is [`SrpError::MalformedTimestamp`].
pub fn parse_timestamp(text: &str) -> Result<OffsetDateTime, SrpError> {
    parse(text).ok_or(SrpError::MalformedTimestamp)
}

fn parse(text: &str) -> Option<OffsetDateTime> {
    let mut parts = text.split(' ');
    let (weekday, month, day, clock, zone, year) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if parts.next().is_some() || zone != "UTC" {
        return None;
    }
    let weekday = WEEKDAYS.iter().find(|(name, _)| *name == weekday)?.1;
    let month = MONTHS.iter().find(|(name, _)| *name == month)?.1;
    let day = match day.as_bytes() {
        [d @ b'1'..=b'9'] => d - b'0',
        [t @ b'1'..=b'3', d @ b'0'..=b'9'] => (t - b'0') * 10 + (d - b'0'),
        _ => return None,
    };
    let clock = clock.as_bytes();
    if clock.len() != 8 || clock[2] != b':' || clock[5] != b':' {
        return None;
    }
    let two = |at: usize| -> Option<u8> {
        let (t, d) = (clock[at], clock[at + 1]);
        (t.is_ascii_digit() && d.is_ascii_digit()).then(|| (t - b'0') * 10 + (d - b'0'))
    };
    let time = Time::from_hms(two(0)?, two(3)?, two(6)?).ok()?;
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = Date::from_calendar_date(year.parse().ok()?, month, day).ok()?;
    if date.weekday() != weekday {
        return None;
    }
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}
