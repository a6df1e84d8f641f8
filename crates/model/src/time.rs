//! Timestamps on the wire are epoch seconds (JSON numbers with a fraction). Reading the
//! system clock is the one thing here that touches the outside world.

/// Seconds since the Unix epoch, millisecond precision, as the ECS API sends them.
pub type Timestamp = f64;

/// Converts milliseconds since the epoch into a wire timestamp.
pub fn from_millis(ms: i64) -> Timestamp {
    ms as f64 / 1000.0
}

/// Milliseconds since the Unix epoch (CloudWatch Logs' timestamps).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The current time as a wire timestamp.
pub fn now() -> Timestamp {
    from_millis(now_ms())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + if m <= 2 { 1 } else { 0 }, m, d)
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` with an optional `Z` or `±HH:MM` offset,
/// into epoch seconds (no zone means UTC).
pub fn parse_date(s: &str) -> Option<f64> {
    let s = s.trim();
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if s.get(4..5)? != "-" || s.get(7..8)? != "-" || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let day = days_from_civil(y, mo, d) * 86400;
    if s.len() == 10 {
        return Some(day as f64);
    }
    if !matches!(s.get(10..11)?, "T" | " ") || s.get(13..14)? != ":" || s.get(16..17)? != ":" {
        return None;
    }
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // An optional fraction of a second (`.123`, as botocore sends when there is one).
    let mut rest = s.get(19..)?;
    let mut fraction = 0.0;
    if let Some(digits) = rest.strip_prefix('.') {
        let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
        if end == 0 {
            return None;
        }
        fraction = format!("0.{}", &digits[..end]).parse::<f64>().ok()?;
        rest = &digits[end..];
    }
    let offset = match rest {
        "" | "Z" => 0,
        zone if zone.len() == 6 && zone.get(3..4)? == ":" => {
            let sign = match zone.get(0..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            sign * (zone.get(1..3)?.parse::<i64>().ok()? * 3600 + zone.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    Some((day + h * 3600 + mi * 60 + se - offset) as f64 + fraction)
}

/// Formats epoch seconds as the query protocol's ISO 8601 timestamp.
pub fn iso8601(t: f64) -> String {
    let ms = (t * 1000.0).round() as i64;
    let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let s = secs.rem_euclid(86400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", s / 3600, s % 3600 / 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_every_documented_form() {
        assert_eq!(parse_date("1970-01-02"), Some(86400.0));
        assert_eq!(parse_date("2018-06-18T22:28:28Z"), parse_date("2018-06-18T22:28:28"));
        assert_eq!(
            parse_date("2018-06-18T22:28:28+01:00").unwrap() + 3600.0,
            parse_date("2018-06-18T22:28:28Z").unwrap()
        );
        assert_eq!(parse_date("2018-06-18T22:28:28.250Z").unwrap() - 0.25, parse_date("2018-06-18T22:28:28Z").unwrap());
        assert_eq!(parse_date("2018-06-18T22:28:28.Z"), None);
        assert_eq!(parse_date("2018-13-01"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(civil_from_days(days_from_civil(2026, 11, 22)), (2026, 11, 22));
    }
}
