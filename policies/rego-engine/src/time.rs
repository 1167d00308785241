//! OPA's `time.*` builtins that policies need for dates and ages, without a
//! clock. regorus's own come with chrono, whose clock imports wasm-bindgen
//! on this target; these are written here on integer arithmetic, in UTC
//! (there is no time zone database in the sandbox: any other zone is an
//! error, never a guess).
//!
//! `time.now_ns()` is the evaluation's time, the context's `evaluated_at`:
//! the same in every evaluation of one context, as OPA's is one query's
//! start. Every error ends the policy in ERROR (strict builtin errors).

use anyhow::{Result, anyhow, bail};
use regorus::Value;

const NS_PER_SECOND: i128 = 1_000_000_000;
const SECONDS_PER_DAY: i128 = 86_400;

/// Register the builtins on `engine`, `time.now_ns()` answering `now_unix`.
pub(crate) fn register(engine: &mut regorus::Engine, now_unix: i64) -> Result<(), String> {
    let now_ns = i64::try_from(i128::from(now_unix) * NS_PER_SECOND)
        .map_err(|_| format!("the evaluation time {now_unix} is beyond what time.now_ns can give"))?;
    let mut add = |name: &str, nargs: u8, f: Box<dyn regorus::Extension>| {
        engine
            .add_extension(name.to_owned(), nargs, f)
            .map_err(|e| format!("{name}: {e}"))
    };
    add(
        "time.now_ns",
        0,
        Box::new(move |_: Vec<Value>| -> Result<Value> { Ok(Value::from(now_ns)) }),
    )?;
    add(
        "time.parse_rfc3339_ns",
        1,
        Box::new(|args: Vec<Value>| -> Result<Value> {
            Ok(Value::from(parse_rfc3339_ns(args[0].as_string()?)?))
        }),
    )?;
    add(
        "time.parse_duration_ns",
        1,
        Box::new(|args: Vec<Value>| -> Result<Value> {
            Ok(Value::from(parse_duration_ns(args[0].as_string()?)?))
        }),
    )?;
    add(
        "time.date",
        1,
        Box::new(|args: Vec<Value>| -> Result<Value> {
            let (y, m, d) = civil_from_days(days(utc_ns(&args[0], "time.date")?));
            Ok(Value::from(vec![Value::from(y), Value::from(m), Value::from(d)]))
        }),
    )?;
    add(
        "time.clock",
        1,
        Box::new(|args: Vec<Value>| -> Result<Value> {
            let (h, m, s) = clock(utc_ns(&args[0], "time.clock")?);
            Ok(Value::from(vec![Value::from(h), Value::from(m), Value::from(s)]))
        }),
    )?;
    add(
        "time.weekday",
        1,
        Box::new(|args: Vec<Value>| -> Result<Value> {
            Ok(Value::from(weekday(utc_ns(&args[0], "time.weekday")?)))
        }),
    )?;
    add(
        "time.add_date",
        4,
        Box::new(|args: Vec<Value>| -> Result<Value> {
            Ok(Value::from(add_date(
                args[0].as_i64()?,
                args[1].as_i64()?,
                args[2].as_i64()?,
                args[3].as_i64()?,
            )?))
        }),
    )?;
    Ok(())
}

/// A time argument: nanoseconds, or `[nanoseconds, zone]` with the zone
/// `UTC` (or empty, which OPA reads as UTC).
fn utc_ns(value: &Value, name: &str) -> Result<i64> {
    if let Ok(items) = value.as_array() {
        let [ns, zone] = items.as_slice() else {
            bail!("{name}: expected nanoseconds or [nanoseconds, time zone]");
        };
        let zone = zone.as_string()?;
        if !(zone.is_empty() || zone.as_ref() == "UTC") {
            bail!("{name}: time zone `{zone}` is not available in the sandbox; only UTC is");
        }
        return ns.as_i64();
    }
    value.as_i64()
}

/// Whole days since 1970-01-01 (floored, so times before it count back).
fn days(ns: i64) -> i64 {
    // Always within i64: |ns| / 86 400e9 is far smaller.
    (i128::from(ns).div_euclid(SECONDS_PER_DAY * NS_PER_SECOND)) as i64
}

/// Nanoseconds since the start of the day.
fn time_of_day(ns: i64) -> i128 {
    i128::from(ns).rem_euclid(SECONDS_PER_DAY * NS_PER_SECOND)
}

fn clock(ns: i64) -> (i64, i64, i64) {
    let seconds = (time_of_day(ns) / NS_PER_SECOND) as i64;
    (seconds / 3600, seconds / 60 % 60, seconds % 60)
}

fn weekday(ns: i64) -> &'static str {
    // 1970-01-01 was a Thursday.
    const NAMES: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    NAMES[(days(ns) + 4).rem_euclid(7) as usize]
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`); `month` 1-12, `day` may overflow the month.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01 (`civil_from_days`).
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

fn days_in_month(year: i64, month: i64) -> i64 {
    days_from_civil(year, month + 1, 1) - days_from_civil(year, month, 1)
}

fn to_i64(ns: i128, what: &str) -> Result<i64> {
    i64::try_from(ns)
        .map_err(|_| anyhow!("{what}: the result is outside the nanosecond range (years 1678-2262)"))
}

/// `time.add_date`: Go's `AddDate`, which normalises (January 31 plus one
/// month is March 2 or 3).
fn add_date(ns: i64, years: i64, months: i64, add_days: i64) -> Result<i64> {
    let (y, m, d) = civil_from_days(days(ns));
    let month_index = (m - 1)
        .checked_add(months)
        .ok_or_else(|| anyhow!("time.add_date: months out of range"))?;
    let year = y
        .checked_add(years)
        .and_then(|y| y.checked_add(month_index.div_euclid(12)))
        .filter(|y| y.abs() < 1_000_000)
        .ok_or_else(|| anyhow!("time.add_date: years out of range"))?;
    let add_days = add_days.clamp(-1_000_000_000, 1_000_000_000);
    let day = days_from_civil(year, month_index.rem_euclid(12) + 1, 1) + (d - 1) + add_days;
    to_i64(
        i128::from(day) * SECONDS_PER_DAY * NS_PER_SECOND + time_of_day(ns),
        "time.add_date",
    )
}

/// `time.parse_rfc3339_ns`: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, as
/// Go's `time.RFC3339` reads it (`t`, `z` in lower case too).
fn parse_rfc3339_ns(text: &str) -> Result<i64> {
    let bad = |why: &str| anyhow!("time.parse_rfc3339_ns: `{text}` is not an RFC 3339 time: {why}");
    let b = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Result<i64> {
        let digits = b.get(range).ok_or_else(|| bad("too short"))?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad("a digit was expected"));
        }
        Ok(digits.iter().fold(0i64, |n, c| n * 10 + i64::from(c - b'0')))
    };
    let separator = |at: usize, allowed: &[u8]| -> Result<()> {
        match b.get(at) {
            Some(c) if allowed.contains(c) => Ok(()),
            _ => Err(bad("a separator is missing")),
        }
    };
    let year = number(0..4)?;
    separator(4, b"-")?;
    let month = number(5..7)?;
    separator(7, b"-")?;
    let day = number(8..10)?;
    separator(10, b"Tt")?;
    let hour = number(11..13)?;
    separator(13, b":")?;
    let minute = number(14..16)?;
    separator(16, b":")?;
    let second = number(17..19)?;
    if !(1..=12).contains(&month) {
        return Err(bad("month out of range"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(bad("day out of range"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad("time of day out of range"));
    }
    let mut at = 19;
    let mut fraction: i128 = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return Err(bad("a fraction needs digits"));
        }
        // Nanoseconds: the first nine digits (Go reads at most nine).
        let digits = &b[start..at.min(start + 9)];
        fraction = digits.iter().fold(0i128, |n, c| n * 10 + i128::from(c - b'0'));
        fraction *= 10i128.pow(9 - digits.len() as u32);
    }
    let offset_seconds = match b.get(at) {
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if at + 6 == b.len() => {
            let hours = number(at + 1..at + 3)?;
            separator(at + 3, b":")?;
            let minutes = number(at + 4..at + 6)?;
            if hours > 23 || minutes > 59 {
                return Err(bad("offset out of range"));
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return Err(bad("it must end in Z or an offset such as +02:00")),
    };
    let seconds = i128::from(days_from_civil(year, month, day)) * SECONDS_PER_DAY
        + i128::from(hour * 3600 + minute * 60 + second - offset_seconds);
    to_i64(seconds * NS_PER_SECOND + fraction, "time.parse_rfc3339_ns")
}

/// `time.parse_duration_ns`: Go's durations, `[-+]` then one or more
/// decimal numbers each with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`,
/// `h`): `720h`, `1h30m`, `1.5s`, `-2m`; `0` alone needs no unit.
fn parse_duration_ns(text: &str) -> Result<i64> {
    let bad = |why: &str| anyhow!("time.parse_duration_ns: `{text}` is not a duration: {why}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad("empty"));
    }
    const UNITS: [(&str, i128); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("μs", 1_000),
        ("ms", 1_000_000),
        ("s", NS_PER_SECOND),
        ("m", 60 * NS_PER_SECOND),
        ("h", 3600 * NS_PER_SECOND),
    ];
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let whole_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let whole = &rest[..whole_len];
        rest = &rest[whole_len..];
        let mut fraction = "";
        if let Some(after) = rest.strip_prefix('.') {
            let len = after.bytes().take_while(u8::is_ascii_digit).count();
            fraction = &after[..len];
            rest = &after[len..];
        }
        if whole.is_empty() && fraction.is_empty() {
            return Err(bad("a number is missing"));
        }
        let (unit, scale) = UNITS
            .iter()
            .find(|(unit, _)| rest.starts_with(unit))
            .ok_or_else(|| bad("a unit (ns, us, ms, s, m, h) is missing or unknown"))?;
        rest = &rest[unit.len()..];
        let overflow = || bad("too long");
        let mut value: i128 = 0;
        for c in whole.bytes() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(c - b'0')))
                .filter(|v| *v <= i128::from(i64::MAX))
                .ok_or_else(overflow)?;
        }
        let mut part = value.checked_mul(*scale).ok_or_else(overflow)?;
        // The fraction, to nanosecond precision.
        let mut divisor: i128 = 1;
        let mut numerator: i128 = 0;
        for c in fraction.bytes().take(18) {
            numerator = numerator * 10 + i128::from(c - b'0');
            divisor *= 10;
        }
        part += numerator * scale / divisor;
        total = total.checked_add(part).ok_or_else(overflow)?;
        if total > i128::from(i64::MAX) {
            return Err(overflow());
        }
    }
    let total = if negative { -total } else { total };
    to_i64(total, "time.parse_duration_ns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_as_opa_reads_them() {
        // date -u -d 2026-11-30T01:15:22Z +%s → 1796001322
        assert_eq!(
            parse_rfc3339_ns("2026-11-30T01:15:22Z").unwrap(),
            1_796_001_322 * 1_000_000_000
        );
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_rfc3339_ns("1970-01-01T01:00:00+01:00").unwrap(), 0);
        assert_eq!(parse_rfc3339_ns("1969-12-31T23:59:59.5Z").unwrap(), -500_000_000);
        assert_eq!(
            parse_rfc3339_ns("2000-02-29t12:00:00.123456789123z").unwrap(),
            951_825_600_123_456_789
        );
        assert_eq!(
            parse_rfc3339_ns("2024-06-01T00:00:00-02:30").unwrap(),
            1_717_209_000 * 1_000_000_000
        );
        for bad in [
            "2026-11-30",
            "2026-11-30 01:15:22Z",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-11-30T24:00:00Z",
            "2026-11-30T01:15:60Z",
            "2026-11-30T01:15:22",
            "2026-11-30T01:15:22+0100",
            "2026-11-30T01:15:22.Z",
            "2026-11-30T01:15:22Zjunk",
            "3000-01-01T00:00:00Z",
            "",
            "２０２６-11-30T01:15:22Z",
        ] {
            assert!(parse_rfc3339_ns(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_clocks_and_weekdays() {
        let t = parse_rfc3339_ns("2026-11-30T01:15:22Z").unwrap();
        assert_eq!(civil_from_days(days(t)), (2026, 11, 30));
        assert_eq!(clock(t), (1, 15, 22));
        assert_eq!(weekday(t), "Monday");
        let before = parse_rfc3339_ns("1969-12-31T23:59:59Z").unwrap();
        assert_eq!(civil_from_days(days(before)), (1969, 12, 31));
        assert_eq!(clock(before), (23, 59, 59));
        assert_eq!(weekday(before), "Wednesday");
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn add_date_normalises_as_go_does() {
        let at = |s| parse_rfc3339_ns(s).unwrap();
        assert_eq!(
            add_date(at("2026-01-31T10:00:00Z"), 0, 1, 0).unwrap(),
            at("2026-03-03T10:00:00Z")
        );
        assert_eq!(
            add_date(at("2024-02-29T00:00:00Z"), 1, 0, 0).unwrap(),
            at("2025-03-01T00:00:00Z")
        );
        assert_eq!(
            add_date(at("2026-11-30T01:15:22Z"), 0, 0, -365).unwrap(),
            at("2025-11-30T01:15:22Z")
        );
        assert_eq!(
            add_date(at("2026-03-15T00:00:00Z"), 0, -14, 0).unwrap(),
            at("2025-01-15T00:00:00Z")
        );
        assert!(add_date(0, 500, 0, 0).is_err());
        assert!(add_date(0, i64::MAX, i64::MAX, i64::MAX).is_err());
    }

    #[test]
    fn durations_as_go_writes_them() {
        let h = 3_600_000_000_000i64;
        assert_eq!(parse_duration_ns("720h").unwrap(), 720 * h);
        assert_eq!(parse_duration_ns("1h30m").unwrap(), h + h / 2);
        assert_eq!(parse_duration_ns("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_duration_ns("-2m").unwrap(), -120_000_000_000);
        assert_eq!(parse_duration_ns(".5ms").unwrap(), 500_000);
        assert_eq!(parse_duration_ns("3µs2ns").unwrap(), 3_002);
        assert_eq!(parse_duration_ns("0").unwrap(), 0);
        assert_eq!(parse_duration_ns("1.h").unwrap(), h);
        for bad in ["", "5", "h", "1d", ".h", "-", "99999999999999999999h", "1h-1m"] {
            assert!(parse_duration_ns(bad).is_err(), "{bad}");
        }
    }
}
