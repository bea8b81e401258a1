//! Dates for the `Date*` operators: "one of the W3C implementations of the ISO 8601 date
//! formats or in epoch (UNIX) time" (Condition operators page, Date section).
//!
//! Accepted: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh:mm`, `…:ss`, `…:ss.fraction`,
//! each time optionally followed by `Z` or `±hh:mm` (absent means UTC), and epoch seconds
//! (an optional `-`, digits, an optional fraction). The one ambiguous spelling is four
//! digits alone: we read it as a year (W3C's `YYYY`), since epoch second 2024 is not a
//! date anyone writes in a policy; five digits or more are epoch seconds.
//! An instant is nanoseconds since the epoch, so `DateEquals` compares exactly.

const NANOS: i128 = 1_000_000_000;

/// Reads a date or epoch time into nanoseconds since 1970-01-01T00:00:00Z.
pub(crate) fn parse_instant(text: &str) -> Option<i128> {
    let text = text.trim();
    let digits = text.strip_prefix('-').unwrap_or(text);
    let is_number = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1;
    if is_number && !(digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit())) {
        return parse_epoch(text);
    }
    parse_iso(text)
}

/// Epoch seconds as a number (used for `aws:EpochTime` and numeric context values).
pub(crate) fn instant_from_epoch_seconds(seconds: f64) -> Option<i128> {
    if !seconds.is_finite() {
        return None;
    }
    Some((seconds * 1e9).round() as i128)
}

fn parse_epoch(text: &str) -> Option<i128> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    if whole.is_empty() || whole.len() > 18 {
        return None;
    }
    let seconds: i128 = whole.parse().ok()?;
    let nanos = fraction_nanos(fraction)?;
    let value = seconds * NANOS + nanos;
    Some(if negative { -value } else { value })
}

/// Up to nine fraction digits as nanoseconds; further digits are ignored.
fn fraction_nanos(fraction: &str) -> Option<i128> {
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos: i128 = 0;
    for i in 0..9 {
        let digit = fraction.as_bytes().get(i).map_or(0, |b| (b - b'0') as i128);
        nanos = nanos * 10 + digit;
    }
    Some(nanos)
}

/// A small cursor over the date text.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let slice = self.bytes.get(self.at..self.at + n)?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += n;
        Some(
            slice
                .iter()
                .fold(0i64, |acc, b| acc * 10 + (b - b'0') as i64),
        )
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self
            .bytes
            .get(self.at)
            .is_some_and(|b| b.eq_ignore_ascii_case(&byte))
        {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

fn parse_iso(text: &str) -> Option<i128> {
    let mut c = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let year = c.digits(4)?;
    let (mut month, mut day) = (1, 1);
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0i128);
    let mut offset_minutes = 0i64;
    if c.eat(b'-') {
        month = c.digits(2)?;
        if c.eat(b'-') {
            day = c.digits(2)?;
            if c.eat(b'T') {
                hour = c.digits(2)?;
                if !c.eat(b':') {
                    return None;
                }
                minute = c.digits(2)?;
                if c.eat(b':') {
                    second = c.digits(2)?;
                    if c.eat(b'.') {
                        let start = c.at;
                        while c.bytes.get(c.at).is_some_and(u8::is_ascii_digit) {
                            c.at += 1;
                        }
                        nanos = fraction_nanos(&text[start..c.at])?;
                    }
                }
                offset_minutes = parse_offset(&mut c)?;
            }
        }
    }
    if !c.done() || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds as i128 * NANOS + nanos)
}

/// `Z`, `±hh:mm`, `±hhmm` or nothing (UTC), in minutes east of UTC.
fn parse_offset(c: &mut Cursor<'_>) -> Option<i64> {
    if c.eat(b'Z') || c.done() {
        return Some(0);
    }
    let sign = if c.eat(b'+') {
        1
    } else if c.eat(b'-') {
        -1
    } else {
        return None;
    };
    let hours = c.digits(2)?;
    c.eat(b':');
    let minutes = c.digits(2)?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 60 + minutes))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats an instant as `YYYY-MM-DDThh:mm:ssZ` (with a fraction when it has one), the
/// form `aws:CurrentTime` takes in the request context.
pub(crate) fn format_instant(nanos: i128) -> String {
    let seconds = nanos.div_euclid(NANOS) as i64;
    let fraction = nanos.rem_euclid(NANOS);
    let (days, secs) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if fraction == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        let frac = format!("{fraction:09}");
        format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{}Z",
            frac.trim_end_matches('0')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> Option<i64> {
        parse_instant(text).map(|n| (n / NANOS) as i64)
    }

    #[test]
    fn iso_forms() {
        assert_eq!(secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(secs("2020-01-01T00:00:01Z"), Some(1_577_836_801));
        assert_eq!(secs("2020-01-01"), Some(1_577_836_800));
        assert_eq!(secs("2020-01"), Some(1_577_836_800));
        assert_eq!(secs("2020"), Some(1_577_836_800));
        assert_eq!(secs("2020-01-01T01:00+01:00"), Some(1_577_836_800));
        assert_eq!(secs("2019-12-31T19:00:00-05:00"), Some(1_577_836_800));
        assert_eq!(secs("2020-01-01T00:00:00"), Some(1_577_836_800));
        assert_eq!(
            parse_instant("2020-01-01T00:00:00.5Z"),
            Some(1_577_836_800 * NANOS + 500_000_000)
        );
        assert_eq!(secs("2024-02-29"), Some(1_709_164_800));
    }

    #[test]
    fn epoch_forms() {
        assert_eq!(secs("1577836800"), Some(1_577_836_800));
        assert_eq!(parse_instant("1.5"), Some(1_500_000_000));
        assert_eq!(secs("-86400"), Some(-86_400));
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "",
            "2023-02-29",
            "2020-13-01",
            "2020-01-01T25:00Z",
            "tomorrow",
            "2020-1-1",
            "1.2.3",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for text in [
            "2020-01-01T00:00:01Z",
            "1969-07-20T20:17:40Z",
            "2024-02-29T12:34:56.25Z",
        ] {
            assert_eq!(format_instant(parse_instant(text).unwrap()), text);
        }
    }
}
