//! The SQLite side: a table of series and one of statistic sets keyed by
//! (series, tier, second).

use std::{collections::HashMap, path::Path};

use berth_model::cloudwatch::{Dimension, SeriesKey, Statistic};
use rusqlite::{params, Connection, OptionalExtension};

use crate::{MetricsError, TIERS};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    region TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    dims TEXT NOT NULL,
    unit TEXT,
    last_ts INTEGER NOT NULL,
    UNIQUE (region, namespace, name, dims)
);
CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL,
    tier INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    n REAL NOT NULL,
    sum REAL NOT NULL,
    mn REAL NOT NULL,
    mx REAL NOT NULL,
    PRIMARY KEY (series, tier, ts)
) WITHOUT ROWID;
";

/// A statistic set: what one second (or minute, or hour) of a series holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Sample {
    /// One value seen `count` times.
    pub fn value(v: f64, count: f64) -> Sample {
        Sample { count, sum: v * count, min: v, max: v }
    }

    pub fn merge(self, other: Sample) -> Sample {
        Sample {
            count: self.count + other.count,
            sum: self.sum + other.sum,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }
}

/// A point to store: the series, the unit it is in, its second, its statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub series: SeriesKey,
    pub unit: Option<String>,
    pub ts: i64,
    pub sample: Sample,
}

/// One period's statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The period's first second.
    pub start: i64,
    pub sample: Sample,
}

impl Bucket {
    pub fn stat(&self, statistic: Statistic) -> f64 {
        let s = self.sample;
        match statistic {
            Statistic::SampleCount => s.count,
            Statistic::Sum => s.sum,
            Statistic::Minimum => s.min,
            Statistic::Maximum => s.max,
            Statistic::Average if s.count > 0.0 => s.sum / s.count,
            Statistic::Average => 0.0,
        }
    }
}

/// A series as ListMetrics shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInfo {
    pub key: SeriesKey,
    pub unit: Option<String>,
    pub last_ts: i64,
}

/// ListMetrics' filters.
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
    /// Each dimension name must be present; with a value, with that value.
    pub dimensions: &'a [(String, Option<String>)],
    /// Only series with data at or after this second.
    pub active_since: Option<i64>,
}

pub(crate) struct Db {
    conn: Connection,
    ids: HashMap<(String, SeriesKey), i64>,
    counts: HashMap<String, usize>,
    pub(crate) series_limit: usize,
}

fn parse_dims(text: &str) -> Vec<Dimension> {
    text.lines().filter_map(|l| l.split_once('=')).map(|(n, v)| Dimension::new(n, v)).collect()
}

impl Db {
    pub(crate) fn open(path: &Path, series_limit: usize) -> Result<Db, MetricsError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        let mut ids = HashMap::new();
        let mut counts: HashMap<String, usize> = HashMap::new();
        {
            let mut stmt = conn.prepare("SELECT id, region, namespace, name, dims FROM series")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?;
            for row in rows {
                let (id, region, namespace, name, dims) = row?;
                *counts.entry(region.clone()).or_default() += 1;
                ids.insert((region, SeriesKey { namespace, name, dimensions: parse_dims(&dims) }), id);
            }
        }
        Ok(Db { conn, ids, counts, series_limit })
    }

    /// A new series' row, within the region's limit.
    fn insert_series(
        &mut self,
        region: &str,
        key: &SeriesKey,
        unit: Option<&str>,
        ts: i64,
    ) -> Result<i64, MetricsError> {
        let count = self.counts.get(region).copied().unwrap_or(0);
        if count >= self.series_limit {
            return Err(MetricsError::Limit(format!(
                "The region already holds {count} metrics, the most berth keeps; no new metric was added."
            )));
        }
        self.conn.execute(
            "INSERT INTO series (region, namespace, name, dims, unit, last_ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![region, key.namespace, key.name, key.dimensions_text(), unit, ts],
        )?;
        let id = self.conn.last_insert_rowid();
        self.ids.insert((region.to_string(), key.clone()), id);
        *self.counts.entry(region.to_string()).or_default() += 1;
        Ok(id)
    }

    pub(crate) fn put(&mut self, region: &str, points: &[Point]) -> Result<(), MetricsError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut added = Vec::new();
        // Each known series' row is touched once a put: its newest second and unit.
        let mut touched: HashMap<i64, (i64, Option<&str>)> = HashMap::new();
        let result = (|| {
            for p in points {
                let id = match self.ids.get(&(region.to_string(), p.series.clone())) {
                    Some(id) => {
                        let t = touched.entry(*id).or_insert((p.ts, None));
                        t.0 = t.0.max(p.ts);
                        t.1 = p.unit.as_deref().or(t.1);
                        *id
                    }
                    None => {
                        let id = self.insert_series(region, &p.series, p.unit.as_deref(), p.ts)?;
                        added.push(p.series.clone());
                        id
                    }
                };
                let s = p.sample;
                self.conn
                    .prepare_cached(
                        "INSERT INTO points (series, tier, ts, n, sum, mn, mx) VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (series, tier, ts) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum,
                         mn = MIN(mn, excluded.mn), mx = MAX(mx, excluded.mx)",
                    )?
                    .execute(params![id, p.ts, s.count, s.sum, s.min, s.max])?;
            }
            for (id, (ts, unit)) in &touched {
                self.conn
                    .prepare_cached(
                        "UPDATE series SET last_ts = MAX(last_ts, ?2), unit = COALESCE(?3, unit) WHERE id = ?1",
                    )?
                    .execute(params![id, ts, unit])?;
            }
            Ok::<_, MetricsError>(())
        })();
        match result.and_then(|()| self.conn.execute_batch("COMMIT").map_err(MetricsError::from)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                // Nothing was stored: forget the series this put would have added.
                for key in added {
                    self.ids.remove(&(region.to_string(), key));
                    if let Some(c) = self.counts.get_mut(region) {
                        *c -= 1;
                    }
                }
                Err(e)
            }
        }
    }

    /// The unit a series' data was stored with (`None` for an unknown series or one sent
    /// without a unit).
    pub(crate) fn unit(&mut self, region: &str, key: &SeriesKey) -> Result<Option<String>, MetricsError> {
        let Some(id) = self.ids.get(&(region.to_string(), key.clone())).copied() else {
            return Ok(None);
        };
        let stored: Option<Option<String>> =
            self.conn.query_row("SELECT unit FROM series WHERE id = ?1", [id], |r| r.get(0)).optional()?;
        Ok(stored.flatten())
    }

    pub(crate) fn buckets(
        &mut self,
        region: &str,
        key: &SeriesKey,
        unit: Option<&str>,
        start: i64,
        end: i64,
        period: i64,
    ) -> Result<Vec<Bucket>, MetricsError> {
        let Some(id) = self.ids.get(&(region.to_string(), key.clone())).copied() else {
            return Ok(Vec::new());
        };
        if let Some(unit) = unit {
            if self.unit(region, key)?.as_deref().unwrap_or("None") != unit {
                return Ok(Vec::new());
            }
        }
        let period = period.max(1);
        let mut stmt = self.conn.prepare_cached(
            "SELECT ts - ((ts - ?2) % ?4) AS b, SUM(n), SUM(sum), MIN(mn), MAX(mx) FROM points
             WHERE series = ?1 AND tier IN (0, 1, 2) AND ts >= ?2 AND ts < ?3 GROUP BY b ORDER BY b",
        )?;
        let rows = stmt.query_map(params![id, start, end, period], |r| {
            Ok(Bucket {
                start: r.get(0)?,
                sample: Sample { count: r.get(1)?, sum: r.get(2)?, min: r.get(3)?, max: r.get(4)? },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn list(&mut self, region: &str, f: &ListFilter<'_>) -> Result<Vec<SeriesInfo>, MetricsError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT namespace, name, dims, unit, last_ts FROM series WHERE region = ?1
             AND (?2 IS NULL OR namespace = ?2) AND (?3 IS NULL OR name = ?3) AND last_ts >= ?4
             ORDER BY namespace, name, dims",
        )?;
        let rows = stmt.query_map(params![region, f.namespace, f.name, f.active_since.unwrap_or(i64::MIN)], |r| {
            Ok(SeriesInfo {
                key: SeriesKey {
                    namespace: r.get(0)?,
                    name: r.get(1)?,
                    dimensions: parse_dims(&r.get::<_, String>(2)?),
                },
                unit: r.get(3)?,
                last_ts: r.get(4)?,
            })
        })?;
        let mut out = Vec::new();
        for row in rows {
            let info = row?;
            let matches = f.dimensions.iter().all(|(name, value)| {
                info.key.dimensions.iter().any(|d| &d.name == name && value.as_ref().is_none_or(|v| v == &d.value))
            });
            if matches {
                out.push(info);
            }
        }
        Ok(out)
    }

    pub(crate) fn sweep(&mut self, now: i64) -> Result<(), MetricsError> {
        let tx = self.conn.unchecked_transaction()?;
        for (tier, pair) in TIERS.windows(2).enumerate() {
            let next = pair[1].resolution;
            // Whole periods of the next tier only, so no period is split between tiers.
            let cutoff = (now - pair[0].keep).div_euclid(next) * next;
            tx.execute(
                "INSERT INTO points (series, tier, ts, n, sum, mn, mx)
                 SELECT series, ?1 + 1, ts - (ts % ?2), SUM(n), SUM(sum), MIN(mn), MAX(mx) FROM points
                 WHERE tier = ?1 AND ts < ?3 GROUP BY series, ts - (ts % ?2)
                 ON CONFLICT (series, tier, ts) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum,
                 mn = MIN(mn, excluded.mn), mx = MAX(mx, excluded.mx)",
                params![tier as i64, next, cutoff],
            )?;
            tx.execute("DELETE FROM points WHERE tier = ?1 AND ts < ?2", params![tier as i64, cutoff])?;
        }
        let last = TIERS[TIERS.len() - 1];
        tx.execute("DELETE FROM points WHERE tier = ?1 AND ts < ?2", params![TIERS.len() as i64 - 1, now - last.keep])?;
        tx.commit()?;
        Ok(())
    }
}
