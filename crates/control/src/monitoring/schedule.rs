//! Application Auto Scaling's schedules: `at(yyyy-mm-ddThh:mm:ss)` (once), `rate(N
//! unit)` (every N minutes, hours or days), and `cron(minutes hours day-of-month month
//! day-of-week year)` with AWS's fields (`?`, `L`, `W`, `#`, names, day-of-week 1–7 from
//! Sunday), read in an IANA time zone (UTC by default), DST included.

use std::str::FromStr;

use chrono::{NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::{
    parser::{CronParser, Seconds, Year},
    Cron,
};

#[derive(Debug, Clone)]
pub enum Schedule {
    At(NaiveDateTime),
    Rate(i64),
    Cron(Box<Cron>),
}

/// A schedule and the zone it is read in.
#[derive(Debug, Clone)]
pub struct Zoned {
    pub schedule: Schedule,
    pub zone: Tz,
}

pub fn parse_zone(zone: Option<&str>) -> Result<Tz, String> {
    match zone {
        None => Ok(Tz::UTC),
        Some(z) => {
            Tz::from_str(z).map_err(|_| format!("'{z}' is not an IANA time zone (e.g. Europe/Paris, America/New_York)"))
        }
    }
}

fn inner<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.strip_prefix(name)?.strip_prefix('(')?.strip_suffix(')').map(str::trim)
}

pub fn parse(text: &str, zone: Option<&str>) -> Result<Zoned, String> {
    let zone = parse_zone(zone)?;
    let text = text.trim();
    let schedule = if let Some(at) = inner(text, "at") {
        Schedule::At(
            NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S")
                .map_err(|_| format!("at({at}) is not a time of the form at(yyyy-mm-ddThh:mm:ss)"))?,
        )
    } else if let Some(rate) = inner(text, "rate") {
        let (n, unit) = rate.split_once(' ').ok_or_else(|| format!("rate({rate}) must be rate(value unit)"))?;
        let n: i64 = n
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("rate({rate}): the value must be a positive whole number"))?;
        let seconds = match (unit.trim(), n) {
            ("minute", 1) | ("minutes", 2..) => 60,
            ("hour", 1) | ("hours", 2..) => 3600,
            ("day", 1) | ("days", 2..) => 86400,
            _ => return Err(format!("rate({rate}): the unit must be minute(s), hour(s) or day(s), singular for 1")),
        };
        Schedule::Rate(n * seconds)
    } else if let Some(expr) = inner(text, "cron") {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "cron({expr}) must have six fields: minutes hours day-of-month month day-of-week year"
            ));
        }
        // AWS's six fields are croner's seven with the seconds at 0.
        let parser = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Required)
            .alternative_weekdays(true)
            .dom_and_dow(false)
            .build();
        let cron = parser.parse(&format!("0 {expr}")).map_err(|e| format!("cron({expr}) is not valid: {e}"))?;
        Schedule::Cron(Box::new(cron))
    } else {
        return Err(format!("'{text}' is not a schedule: use at(...), rate(...) or cron(...)"));
    };
    Ok(Zoned { schedule, zone })
}

impl Zoned {
    /// The first time after `after` (epoch seconds) the schedule fires; `anchor` is where
    /// a rate counts from.
    pub fn next_after(&self, after: f64, anchor: f64) -> Option<f64> {
        match &self.schedule {
            Schedule::At(local) => {
                let t = self.zone.from_local_datetime(local).earliest()?.timestamp() as f64;
                (t > after).then_some(t)
            }
            Schedule::Rate(every) => {
                let every = *every as f64;
                let k = ((after - anchor) / every).floor() + 1.0;
                Some(anchor + k.max(1.0) * every)
            }
            Schedule::Cron(cron) => {
                let from = Utc.timestamp_opt(after.floor() as i64, 0).single()?.with_timezone(&self.zone);
                cron.find_next_occurrence(&from, false).ok().map(|t| t.timestamp() as f64)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> f64 {
        berth_model::time::parse_date(text).unwrap()
    }

    #[test]
    fn at_fires_once_in_its_zone() {
        let s = parse("at(2026-12-01T09:00:00)", Some("Europe/Paris")).unwrap();
        assert_eq!(s.next_after(at("2026-11-29T00:00:00Z"), 0.0), Some(at("2026-12-01T08:00:00Z")));
        assert_eq!(s.next_after(at("2026-12-01T08:00:00Z"), 0.0), None);
    }

    #[test]
    fn rate_counts_from_its_anchor() {
        let s = parse("rate(5 minutes)", None).unwrap();
        let anchor = at("2026-11-29T00:00:00Z");
        assert_eq!(s.next_after(anchor, anchor), Some(anchor + 300.0));
        assert_eq!(s.next_after(anchor + 301.0, anchor), Some(anchor + 600.0));
        assert!(parse("rate(1 minutes)", None).is_err());
        assert!(parse("rate(2 minute)", None).is_err());
        assert!(parse("rate(0 hours)", None).is_err());
        assert_eq!(parse("rate(1 day)", None).unwrap().next_after(0.0, 0.0), Some(86400.0));
    }

    #[test]
    fn cron_uses_aws_fields_and_follows_daylight_saving() {
        // 09:00 on weekdays (MON-FRI), New York time.
        let s = parse("cron(0 9 ? * MON-FRI *)", Some("America/New_York")).unwrap();
        // Friday 2026-10-30 10:00 UTC is 06:00 EDT: next is the same day at 13:00 UTC.
        assert_eq!(s.next_after(at("2026-10-30T10:00:00Z"), 0.0), Some(at("2026-10-30T13:00:00Z")));
        // After it, Monday 2026-11-02 09:00 EST (DST ended on Nov 1) = 14:00 UTC.
        assert_eq!(s.next_after(at("2026-10-30T13:00:00Z"), 0.0), Some(at("2026-11-02T14:00:00Z")));
        // Day-of-week numbers count from Sunday = 1, as AWS's do: 2 is Monday.
        let monday = parse("cron(30 6 ? * 2 *)", None).unwrap();
        assert_eq!(monday.next_after(at("2026-11-29T00:00:00Z"), 0.0), Some(at("2026-11-30T06:30:00Z")));
        // The year field limits it.
        let once = parse("cron(0 12 1 1 ? 2027)", None).unwrap();
        assert_eq!(once.next_after(at("2026-11-29T00:00:00Z"), 0.0), Some(at("2027-01-01T12:00:00Z")));
        assert_eq!(once.next_after(at("2027-01-01T12:00:00Z"), 0.0), None);
        // Every 15 minutes.
        let quarter = parse("cron(0/15 * * * ? *)", None).unwrap();
        assert_eq!(quarter.next_after(at("2026-11-29T10:07:00Z"), 0.0), Some(at("2026-11-29T10:15:00Z")));
    }

    #[test]
    fn bad_schedules_and_zones_are_refused() {
        assert!(parse("cron(0 9 * * *)", None).is_err());
        assert!(parse("at(tomorrow)", None).is_err());
        assert!(parse("every day", None).is_err());
        assert!(parse("rate(5 minutes)", Some("Mars/Olympus")).is_err());
    }
}
