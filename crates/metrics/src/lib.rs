//! berth-metrics: CloudWatch's metric store. Every series (region, namespace, name,
//! dimensions) keeps statistic sets — sample count, sum, minimum, maximum — in three
//! tiers: per second for three hours, per minute for fifteen days, per hour for 455 days
//! (CloudWatch keeps 1-second data for 3 hours, 1-minute for 15 days and 1-hour for 455
//! days). A sweep rolls aged data up a tier, so the file and the memory it takes stay
//! bounded by the number of series, not by time. Its own SQLite file (`metrics.db`, WAL,
//! `synchronous=FULL`): a put that returns is durable.

mod store;

pub use store::{Bucket, Point, Sample, SeriesInfo};

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

/// The file's name in the data directory.
pub const FILE: &str = "metrics.db";

/// The most series one region may hold (CloudWatch has no such limit; berth's store is
/// bounded by it).
pub const DEFAULT_SERIES_LIMIT: usize = 100_000;

/// One tier: its resolution and how long its data is kept before it rolls up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    pub resolution: i64,
    pub keep: i64,
}

/// Per second for 3 hours, per minute for 15 days, per hour for 455 days.
pub const TIERS: [Tier; 3] = [
    Tier { resolution: 1, keep: 3 * 3600 },
    Tier { resolution: 60, keep: 15 * 86400 },
    Tier { resolution: 3600, keep: 455 * 86400 },
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsError {
    /// The store failed (disk, corruption).
    Store(String),
    /// Too many series in the region.
    Limit(String),
}

impl std::fmt::Display for MetricsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsError::Store(e) => write!(f, "the metric store failed: {e}"),
            MetricsError::Limit(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for MetricsError {}

impl From<rusqlite::Error> for MetricsError {
    fn from(e: rusqlite::Error) -> MetricsError {
        MetricsError::Store(e.to_string())
    }
}

/// The metric store; clones share it.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Mutex<store::Db>>,
}

impl Metrics {
    /// Opens (or creates) `DATA_DIR/metrics.db`.
    pub fn open(data_dir: &Path) -> Result<Metrics, MetricsError> {
        std::fs::create_dir_all(data_dir).map_err(|e| MetricsError::Store(e.to_string()))?;
        Ok(Metrics { inner: Arc::new(Mutex::new(store::Db::open(&data_dir.join(FILE), DEFAULT_SERIES_LIMIT)?)) })
    }

    /// The same store with another limit on series per region (tests).
    pub fn with_series_limit(self, limit: usize) -> Metrics {
        self.db().series_limit = limit;
        self
    }

    fn db(&self) -> std::sync::MutexGuard<'_, store::Db> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds points, all or none, durably. Blocking: call it off the async threads.
    pub fn put(&self, region: &str, points: &[Point]) -> Result<(), MetricsError> {
        self.db().put(region, points)
    }

    /// The statistic sets of one series in `[start, end)`, in buckets of `period` seconds
    /// counted from `start` (align `start` to the period for epoch-aligned buckets), oldest
    /// first; buckets without data are left out. `unit`
    /// filters on the unit the data was stored with.
    pub fn buckets(
        &self,
        region: &str,
        series: &berth_model::cloudwatch::SeriesKey,
        unit: Option<&str>,
        start: i64,
        end: i64,
        period: i64,
    ) -> Result<Vec<Bucket>, MetricsError> {
        self.db().buckets(region, series, unit, start, end, period)
    }

    /// The unit a series' data was stored with, if it was given one.
    pub fn unit(
        &self,
        region: &str,
        series: &berth_model::cloudwatch::SeriesKey,
    ) -> Result<Option<String>, MetricsError> {
        self.db().unit(region, series)
    }

    /// Every series of the region matching the filters, in a stable order.
    pub fn list(&self, region: &str, filter: &store::ListFilter<'_>) -> Result<Vec<SeriesInfo>, MetricsError> {
        self.db().list(region, filter)
    }

    /// Rolls aged data up a tier and drops what is older than the last tier keeps.
    pub fn sweep(&self, now: i64) -> Result<(), MetricsError> {
        self.db().sweep(now)
    }

    /// Sweeps every `every` until the handle is aborted.
    pub fn spawn_sweep(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let metrics = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let m = metrics.clone();
                let now = berth_model::time::now() as i64;
                match tokio::task::spawn_blocking(move || m.sweep(now)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "metric sweep failed"),
                    Err(e) => tracing::warn!(error = %e, "metric sweep panicked"),
                }
            }
        })
    }
}

pub use store::ListFilter;
