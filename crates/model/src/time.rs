//! Timestamps on the wire are epoch seconds (JSON numbers with a fraction).

/// Seconds since the Unix epoch, millisecond precision, as the ECS API sends them.
pub type Timestamp = f64;

/// Converts milliseconds since the epoch into a wire timestamp.
pub fn from_millis(ms: i64) -> Timestamp {
    ms as f64 / 1000.0
}
