//! The two date formats a SigV4 request may carry, parsed strictly so that the text the client
//! signed is exactly what formatting the parsed value gives back.

use time::macros::format_description;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A formatted `YYYYMMDDTHHMMSSZ` timestamp (a sign and up to 17 bytes for years outside
/// 0..=9999, which only hand-built values can have).
pub(crate) struct AmzDate {
    buf: [u8; 17],
    len: usize,
}

impl AmzDate {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The `YYYYMMDD` prefix.
    pub(crate) fn date(&self) -> &[u8] {
        &self.buf[..self.len - 8]
    }
}

impl std::fmt::Display for AmzDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only ASCII is ever written.
        f.write_str(std::str::from_utf8(self.as_bytes()).unwrap_or("?"))
    }
}

fn to_utc(t: OffsetDateTime) -> OffsetDateTime {
    t.checked_to_offset(UtcOffset::UTC).unwrap_or(t)
}

impl AmzDate {
    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn push_digits(&mut self, v: u32, n: u32) {
        for i in (0..n).rev() {
            // `% 10` keeps the value a single digit.
            self.push(b'0' + ((v / 10u32.pow(i)) % 10) as u8);
        }
    }
}

/// Formats `t` (converted to UTC) the way `X-Amz-Date` is written.
pub(crate) fn amz_date(t: OffsetDateTime) -> AmzDate {
    let t = to_utc(t);
    let mut out = AmzDate {
        buf: [0; 17],
        len: 0,
    };
    let year = t.year();
    if year < 0 {
        out.push(b'-');
    }
    out.push_digits(year.unsigned_abs(), 4);
    out.push_digits(u32::from(u8::from(t.month())), 2);
    out.push_digits(u32::from(t.day()), 2);
    out.push(b'T');
    out.push_digits(u32::from(t.hour()), 2);
    out.push_digits(u32::from(t.minute()), 2);
    out.push_digits(u32::from(t.second()), 2);
    out.push(b'Z');
    out
}

fn number(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Parses a credential-scope date, `YYYYMMDD`.
pub(crate) fn parse_scope_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 8 {
        return None;
    }
    let year = i32::try_from(number(&b[0..4])?).ok()?;
    let month = Month::try_from(u8::try_from(number(&b[4..6])?).ok()?).ok()?;
    let day = u8::try_from(number(&b[6..8])?).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// Parses ISO 8601 basic format, `YYYYMMDDTHHMMSSZ`, the only form `X-Amz-Date` takes.
pub(crate) fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let date = parse_scope_date(s.get(..8)?)?;
    let hour = u8::try_from(number(&b[9..11])?).ok()?;
    let minute = u8::try_from(number(&b[11..13])?).ok()?;
    let second = u8::try_from(number(&b[13..15])?).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Parses a `Date` header: RFC 7231's IMF-fixdate (`Sun, 30 Aug 2015 12:36:00 GMT`), or the
/// basic ISO form, which some clients put there too.
pub(crate) fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    if let Some(t) = parse_amz_date(s) {
        return Some(t);
    }
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    PrimitiveDateTime::parse(s, format)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn round_trips_basic_format() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(t, datetime!(2015-08-30 12:36:00 UTC));
        assert_eq!(amz_date(t).to_string(), "20150830T123600Z");
        assert_eq!(amz_date(t).date(), b"20150830");
        let t = datetime!(2015-08-30 14:36:00 +02:00);
        assert_eq!(amz_date(t).to_string(), "20150830T123600Z");
    }

    #[test]
    fn rejects_non_canonical_dates() {
        for bad in [
            "",
            "20150830T123600",
            "20150830t123600Z",
            "20150830T123660Z",
            "20150230T123600Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "20150830T1236000Z",
            "2015-08-30T12:36:00Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_http_dates() {
        assert_eq!(
            parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"),
            Some(datetime!(2015-08-30 12:36:00 UTC))
        );
        assert_eq!(
            parse_http_date("20150830T123600Z"),
            Some(datetime!(2015-08-30 12:36:00 UTC))
        );
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 PST"), None);
    }

    #[test]
    fn formats_extreme_years() {
        let t = datetime!(-0001-01-01 00:00:00 UTC);
        assert_eq!(amz_date(t).to_string(), "-00010101T000000Z");
    }
}
