//! Rotation schedules as AWS documents them ("Rotation schedules", Secrets Manager User
//! Guide): `AutomaticallyAfterDays` (1–1000) or a `ScheduleExpression` — `rate(N hours|days)`
//! (every 4 to 23 hours, or 1 to 999 days) or `cron(0 H DoM Month DoW *)` in EventBridge's
//! syntax restricted the way Secrets Manager restricts it (minutes 0, year `*`, windows no
//! closer than four hours) — and a rotation window (`Duration`, `Nh`). Windows open on the hour,
//! in UTC: at midnight for `AutomaticallyAfterDays` and rates, when the cron expression says
//! otherwise; by default a schedule in hours keeps its window open one hour and a schedule in
//! days until the end of the UTC day. A window may not run into the next day (schedules in
//! days) or the next window (schedules in hours).

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, OffsetDateTime};

use crate::error::SecretsError;

/// `RotationRules` as the API and the store carry them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationRules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatically_after_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
}

/// A checked schedule: when windows open, and how long they stay open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    cadence: Cadence,
    window_hours: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cadence {
    /// `AutomaticallyAfterDays` or `rate(N days)`: N days after the last rotation's date.
    Days(i64),
    /// `rate(N hours)`: every N hours from each UTC midnight.
    Hours(i64),
    Cron(Cron),
}

/// How far ahead a cron expression is searched (a 29 February schedule fires within 8 years).
const CRON_HORIZON_DAYS: i64 = 366 * 8;

fn invalid(message: impl Into<String>) -> SecretsError {
    SecretsError::InvalidParameter(message.into())
}

impl Schedule {
    /// Checks `rules` as `RotateSecret` does.
    pub fn parse(rules: &RotationRules) -> Result<Self, SecretsError> {
        let cadence = match (&rules.automatically_after_days, &rules.schedule_expression) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "You cannot specify both rotation frequency and schedule expression together.",
                ))
            }
            (Some(days), None) => {
                if !(1..=1000).contains(days) {
                    return Err(SecretsError::constraint(
                        days,
                        "rotationRules.automaticallyAfterDays",
                        "Member must have value between 1 and 1000",
                    ));
                }
                Cadence::Days(*days)
            }
            (None, Some(expression)) => parse_expression(expression)?,
            (None, None) => return Err(invalid(
                "RotationRules must specify either AutomaticallyAfterDays or ScheduleExpression.",
            )),
        };
        let default_hours = match &cadence {
            Cadence::Days(_) => 24,
            Cadence::Hours(_) => 1,
            Cadence::Cron(cron) if cron.hourly() => 1,
            Cadence::Cron(cron) => 24 - cron.first_hour(),
        };
        let window_hours = match &rules.duration {
            None => default_hours,
            Some(duration) => parse_duration(duration)?,
        };
        let fits = match &cadence {
            Cadence::Days(_) => window_hours <= 24,
            Cadence::Hours(every) => window_hours <= *every,
            Cadence::Cron(cron) if cron.hourly() => window_hours <= cron.shortest_gap(),
            Cadence::Cron(cron) => cron.first_hour() + window_hours <= 24,
        };
        if !fits {
            return Err(invalid(
                "The rotation window (Duration) must not extend into the next rotation window or the next UTC day.",
            ));
        }
        Ok(Schedule {
            cadence,
            window_hours,
        })
    }

    /// The first window after `after` — for `AutomaticallyAfterDays` and day rates, `after` is
    /// the last rotation — as (opens, closes). None only for a cron expression that never fires
    /// again, which [`Schedule::parse`] refuses.
    pub fn next_window(&self, after: OffsetDateTime) -> Option<(OffsetDateTime, OffsetDateTime)> {
        let after = after.to_offset(time::UtcOffset::UTC);
        let opens = match &self.cadence {
            Cadence::Days(days) => at_hour(after.date().checked_add(Duration::days(*days))?, 0),
            Cadence::Hours(every) => {
                let mut date = after.date();
                loop {
                    let slot = (0..24)
                        .step_by(usize::try_from(*every).ok()?)
                        .map(|h| at_hour(date, h))
                        .find(|t| *t > after);
                    if let Some(slot) = slot {
                        break slot;
                    }
                    date = date.next_day()?;
                }
            }
            Cadence::Cron(cron) => cron.next_after(after)?,
        };
        Some((opens, opens + Duration::hours(self.window_hours)))
    }
}

fn at_hour(date: Date, hour: i64) -> OffsetDateTime {
    date.midnight().assume_utc() + Duration::hours(hour)
}

/// `Duration`: `[0-9]+h`, 2 or 3 characters, at least one hour.
fn parse_duration(text: &str) -> Result<i64, SecretsError> {
    let hours = text
        .strip_suffix('h')
        .filter(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(|| {
            SecretsError::constraint(
                text,
                "rotationRules.duration",
                "Member must satisfy regular expression pattern: [0-9]+h",
            )
        })?;
    if hours < 1 {
        return Err(invalid(
            "The rotation window (Duration) must be at least 1 hour.",
        ));
    }
    Ok(hours)
}

/// `ScheduleExpression`: `rate(...)` or `cron(...)`, within the model's length and alphabet.
fn parse_expression(text: &str) -> Result<Cadence, SecretsError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "()#?*-/, ".contains(c);
    if text.is_empty() || text.chars().count() > 256 || !text.chars().all(allowed) {
        return Err(SecretsError::constraint(
            text,
            "rotationRules.scheduleExpression",
            "Member must satisfy regular expression pattern: [0-9A-Za-z\\(\\)#\\?\\*\\-\\/, ]+",
        ));
    }
    let bad = |why: &str| invalid(format!("Invalid ScheduleExpression {text}: {why}"));
    if let Some(body) = text.strip_prefix("rate(").and_then(|t| t.strip_suffix(')')) {
        let parts: Vec<&str> = body.split(' ').collect();
        let [value, unit] = parts.as_slice() else {
            return Err(bad("a rate is rate(Value Unit)."));
        };
        let value: i64 = value
            .parse()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| bad("the rate's value must be a positive integer."))?;
        return match *unit {
            "hour" | "hours" if (4..=23).contains(&value) => Ok(Cadence::Hours(value)),
            "hour" | "hours" => Err(bad("a rate in hours must be between 4 and 23 hours.")),
            "day" | "days" if value <= 999 => Ok(Cadence::Days(value)),
            "day" | "days" => Err(bad("a rate in days must be at most 999 days.")),
            _ => Err(bad("the rate's unit must be hours or days.")),
        };
    }
    if let Some(body) = text.strip_prefix("cron(").and_then(|t| t.strip_suffix(')')) {
        return Cron::parse(body)
            .map(Cadence::Cron)
            .map_err(|why| bad(&why));
    }
    Err(bad("it must be a rate() or cron() expression."))
}

/// A cron expression Secrets Manager accepts: `0 Hours Day-of-month Month Day-of-week *`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cron {
    /// The hours windows open at, ascending.
    hours: Vec<i64>,
    /// Indexed by month number (1–12).
    months: [bool; 13],
    days: Days,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Days {
    /// Day-of-month: listed days (1–31), `L` (the last day), `nW` (the weekday nearest day n).
    OfMonth {
        listed: [bool; 32],
        last: bool,
        nearest_weekday: Vec<u8>,
    },
    /// Day-of-week (1 = SUN … 7 = SAT): listed days, `dL` (the last d of the month), `d#n` (the
    /// n-th d of the month).
    OfWeek {
        listed: [bool; 8],
        last: Vec<u8>,
        nth: Vec<(u8, u8)>,
    },
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Cron {
    fn parse(body: &str) -> Result<Self, String> {
        let fields: Vec<&str> = body.split(' ').collect();
        let [minutes, hours, dom, months, dow, year] = fields.as_slice() else {
            return Err("a cron expression has six fields: Minutes Hours Day-of-month Month Day-of-week Year.".into());
        };
        if *minutes != "0" {
            return Err("the minutes field must be 0: rotation windows open on the hour.".into());
        }
        if *year != "*" {
            return Err("the year field must be *.".into());
        }
        let hours: Vec<i64> = values(hours, "hours", 0, 23, &[])?
            .into_iter()
            .map(i64::from)
            .collect();
        let mut month_set = [false; 13];
        for m in values(months, "month", 1, 12, &MONTHS)? {
            month_set[usize::from(m)] = true;
        }
        let days = match (*dom, *dow) {
            ("?", "?") => return Err("only one of day-of-month and day-of-week may be ?.".into()),
            ("?", dow) => parse_day_of_week(dow)?,
            (dom, "?") => parse_day_of_month(dom)?,
            _ => return Err("one of day-of-month and day-of-week must be ?.".into()),
        };
        let cron = Cron {
            hours,
            months: month_set,
            days,
        };
        if cron.hourly() && cron.shortest_gap() < 4 {
            return Err("rotation windows must be at least four hours apart.".into());
        }
        let reference = Date::from_calendar_date(2000, Month::January, 1)
            .map_err(|e| e.to_string())?
            .midnight()
            .assume_utc();
        if cron.next_after(reference).is_none() {
            return Err("the expression never matches a date.".into());
        }
        Ok(cron)
    }

    /// A schedule in hours (several windows a day) rather than in days.
    fn hourly(&self) -> bool {
        self.hours.len() > 1
    }

    fn first_hour(&self) -> i64 {
        self.hours.first().copied().unwrap_or(0)
    }

    /// The fewest hours between two windows, across midnight too.
    fn shortest_gap(&self) -> i64 {
        let wrap = self.first_hour() + 24 - self.hours.last().copied().unwrap_or(0);
        self.hours
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(wrap, i64::min)
    }

    fn matches_day(&self, date: Date) -> bool {
        if !self.months[usize::from(u8::from(date.month()))] {
            return false;
        }
        let day = date.day();
        let last_day = date.month().length(date.year());
        match &self.days {
            Days::OfMonth {
                listed,
                last,
                nearest_weekday,
            } => {
                listed[usize::from(day)]
                    || (*last && day == last_day)
                    || nearest_weekday
                        .iter()
                        .any(|n| nearest_weekday_of(date, *n, last_day) == Some(day))
            }
            Days::OfWeek { listed, last, nth } => {
                let weekday = date.weekday().number_from_sunday();
                listed[usize::from(weekday)]
                    || last.iter().any(|d| *d == weekday && day + 7 > last_day)
                    || nth
                        .iter()
                        .any(|(d, n)| *d == weekday && (day - 1) / 7 + 1 == *n)
            }
        }
    }

    fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let mut date = after.date();
        for _ in 0..CRON_HORIZON_DAYS {
            if self.matches_day(date) {
                if let Some(t) = self
                    .hours
                    .iter()
                    .map(|h| at_hour(date, *h))
                    .find(|t| *t > after)
                {
                    return Some(t);
                }
            }
            date = date.next_day()?;
        }
        None
    }
}

/// The day of `date`'s month that is the weekday nearest day `n` (`nW`), staying in the month.
fn nearest_weekday_of(date: Date, n: u8, last_day: u8) -> Option<u8> {
    if n > last_day {
        return None;
    }
    let target = Date::from_calendar_date(date.year(), date.month(), n).ok()?;
    Some(match target.weekday().number_from_sunday() {
        7 if n == 1 => 3,
        7 => n - 1,
        1 if n == last_day => n - 2,
        1 => n + 1,
        _ => n,
    })
}

fn parse_day_of_month(field: &str) -> Result<Days, String> {
    let mut listed = [false; 32];
    let (mut last, mut nearest_weekday) = (false, Vec::new());
    for item in field.split(',') {
        if item == "L" {
            last = true;
        } else if let Some(n) = item.strip_suffix('W') {
            nearest_weekday.push(number(n, "day-of-month", 1, 31, &[])?);
        } else {
            for d in values(item, "day-of-month", 1, 31, &[])? {
                listed[usize::from(d)] = true;
            }
        }
    }
    Ok(Days::OfMonth {
        listed,
        last,
        nearest_weekday,
    })
}

fn parse_day_of_week(field: &str) -> Result<Days, String> {
    let mut listed = [false; 8];
    let (mut last, mut nth) = (Vec::new(), Vec::new());
    for item in field.split(',') {
        if item == "L" {
            listed[7] = true;
        } else if let Some((d, n)) = item.split_once('#') {
            let d = number(d, "day-of-week", 1, 7, &WEEKDAYS)?;
            let n = number(n, "day-of-week", 1, 5, &[])?;
            nth.push((d, n));
        } else if let Some(d) = item.strip_suffix('L') {
            last.push(number(d, "day-of-week", 1, 7, &WEEKDAYS)?);
        } else {
            for d in values(item, "day-of-week", 1, 7, &WEEKDAYS)? {
                listed[usize::from(d)] = true;
            }
        }
    }
    Ok(Days::OfWeek { listed, last, nth })
}

/// The values a plain field (or one comma-separated item of it) lists: `*`, `n`, `a-b`, and
/// increments `*/s`, `a/s`, `a-b/s`; `names` spell `min`, `min + 1`, … (JAN, SUN).
fn values(field: &str, what: &str, min: u8, max: u8, names: &[&str]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, number(step, what, 1, max, &[])?),
            None => (item, 1),
        };
        let (from, to) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                number(a, what, min, max, names)?,
                number(b, what, min, max, names)?,
            )
        } else {
            let a = number(range, what, min, max, names)?;
            (a, if item.contains('/') { max } else { a })
        };
        if from > to {
            return Err(format!("the {what} range {range} runs backwards."));
        }
        out.extend((from..=to).step_by(usize::from(step)));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn number(text: &str, what: &str, min: u8, max: u8, names: &[&str]) -> Result<u8, String> {
    let by_name = names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(text))
        .and_then(|i| u8::try_from(i).ok())
        .map(|i| i + min);
    by_name
        .or_else(|| text.parse::<u8>().ok())
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{text} is not a valid {what} value ({min}-{max})."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn rules(days: Option<i64>, expression: Option<&str>, duration: Option<&str>) -> RotationRules {
        RotationRules {
            automatically_after_days: days,
            duration: duration.map(Into::into),
            schedule_expression: expression.map(Into::into),
        }
    }

    fn schedule(expression: &str, duration: Option<&str>) -> Result<Schedule, SecretsError> {
        Schedule::parse(&rules(None, Some(expression), duration))
    }

    fn window(s: &Schedule, after: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
        s.next_window(after).expect("a window")
    }

    #[test]
    fn days_count_from_the_date_of_the_last_rotation_and_fill_the_day() {
        let s = Schedule::parse(&rules(Some(30), None, None)).unwrap();
        assert_eq!(
            window(&s, datetime!(2024-01-10 17:25 UTC)),
            (
                datetime!(2024-02-09 00:00 UTC),
                datetime!(2024-02-10 00:00 UTC)
            )
        );
        let s = Schedule::parse(&rules(Some(1), None, Some("3h"))).unwrap();
        assert_eq!(
            window(&s, datetime!(2024-12-31 23:00 UTC)),
            (
                datetime!(2025-01-01 00:00 UTC),
                datetime!(2025-01-01 03:00 UTC)
            )
        );
        assert_eq!(
            schedule("rate(10 days)", None).unwrap().cadence,
            Cadence::Days(10)
        );
    }

    #[test]
    fn hour_rates_open_from_midnight_for_an_hour() {
        let s = schedule("rate(8 hours)", None).unwrap();
        assert_eq!(
            window(&s, datetime!(2024-03-01 09:30 UTC)),
            (
                datetime!(2024-03-01 16:00 UTC),
                datetime!(2024-03-01 17:00 UTC)
            )
        );
        assert_eq!(
            window(&s, datetime!(2024-03-01 16:00 UTC)).0,
            datetime!(2024-03-02 00:00 UTC)
        );
        let s = schedule("rate(10 hours)", Some("10h")).unwrap();
        assert_eq!(
            window(&s, datetime!(2024-03-01 21:00 UTC)).0,
            datetime!(2024-03-02 00:00 UTC)
        );
    }

    #[test]
    fn cron_expressions_pick_hours_and_days() {
        let s = schedule("cron(0 4/12 * * ? *)", None).unwrap();
        assert_eq!(
            window(&s, datetime!(2024-03-01 05:00 UTC)),
            (
                datetime!(2024-03-01 16:00 UTC),
                datetime!(2024-03-01 17:00 UTC)
            )
        );
        // Daily at 08:00: the window runs to the end of the day.
        let s = schedule("cron(0 8 * * ? *)", None).unwrap();
        assert_eq!(
            window(&s, datetime!(2024-03-01 08:00 UTC)),
            (
                datetime!(2024-03-02 08:00 UTC),
                datetime!(2024-03-03 00:00 UTC)
            )
        );
        // 2024-03-01 is a Friday; 1 = SUN.
        let sunday = schedule("cron(0 12 ? * 1 *)", None).unwrap();
        assert_eq!(
            window(&sunday, datetime!(2024-03-01 00:00 UTC)).0,
            datetime!(2024-03-03 12:00 UTC)
        );
        let second_tuesday = schedule("cron(0 10 ? FEB,MAY,AUG,NOV TUE#2 *)", Some("2h")).unwrap();
        assert_eq!(
            window(&second_tuesday, datetime!(2024-03-01 00:00 UTC)).0,
            datetime!(2024-05-14 10:00 UTC)
        );
        let last_day = schedule("cron(0 16 L * ? *)", Some("8h")).unwrap();
        assert_eq!(
            window(&last_day, datetime!(2024-02-10 00:00 UTC)).0,
            datetime!(2024-02-29 16:00 UTC)
        );
        let last_friday = schedule("cron(0 0 ? * 6L *)", None).unwrap();
        assert_eq!(
            window(&last_friday, datetime!(2024-03-01 00:00 UTC)).0,
            datetime!(2024-03-29 00:00 UTC)
        );
        // 2024-06-01 is a Saturday: the nearest weekday is Monday the 3rd.
        let first_weekday = schedule("cron(0 0 1W * ? *)", None).unwrap();
        assert_eq!(
            window(&first_weekday, datetime!(2024-05-31 12:00 UTC)).0,
            datetime!(2024-06-03 00:00 UTC)
        );
        let leap = schedule("cron(0 0 29 2 ? *)", None).unwrap();
        assert_eq!(
            window(&leap, datetime!(2025-01-01 00:00 UTC)).0,
            datetime!(2028-02-29 00:00 UTC)
        );
    }

    #[test]
    fn invalid_rules_are_refused() {
        // Outside the service model's constraints (ranges, patterns): ValidationException, as
        // AWS's front end answers; the service's own rules: InvalidParameterException.
        let refused = |r: RotationRules| {
            let e = Schedule::parse(&r).unwrap_err();
            assert!(
                ["InvalidParameterException", "ValidationException"].contains(&e.code()),
                "{r:?}: {}",
                e.code()
            );
            e.to_string()
        };
        for days in [0, 1001] {
            let e = Schedule::parse(&rules(Some(days), None, None)).unwrap_err();
            assert_eq!(e.code(), "ValidationException");
        }
        assert!(
            refused(rules(Some(2), Some("rate(2 days)"), None)).contains("both rotation frequency")
        );
        refused(rules(None, None, None));
        refused(rules(Some(0), None, None));
        refused(rules(Some(1001), None, None));
        for expression in [
            "rate(3 hours)",
            "rate(24 hours)",
            "rate(0 days)",
            "rate(1000 days)",
            "rate(5 weeks)",
            "rate(5days)",
            "rate(x days)",
            "every day",
            "cron(5 8 * * ? *)",
            "cron(0 8 * * ? 2025)",
            "cron(0 8 * * * *)",
            "cron(0 8 ? * ? *)",
            "cron(0 24 * * ? *)",
            "cron(0 0,2 * * ? *)",
            "cron(0 8 * 13 ? *)",
            "cron(0 8 31 2 ? *)",
            "cron(0 8 * * ?)",
            "cron(0 8 ? * MON#6 *)",
            "cron(0 8-6 * * ? *)",
            "rate(5 days);",
            "",
        ] {
            refused(rules(None, Some(expression), None));
        }
        for duration in ["0h", "3", "h", "100h", "3d", "25h"] {
            refused(rules(Some(1), None, Some(duration)));
        }
        // The window may not reach the next day or the next window.
        refused(rules(None, Some("cron(0 20 * * ? *)"), Some("5h")));
        refused(rules(None, Some("rate(6 hours)"), Some("7h")));
        refused(rules(None, Some("cron(0 0/6 * * ? *)"), Some("7h")));
        assert!(Schedule::parse(&rules(None, Some("cron(0 20 * * ? *)"), Some("4h"))).is_ok());
        assert!(Schedule::parse(&rules(None, Some("rate(6 hours)"), Some("6h"))).is_ok());
    }
}
