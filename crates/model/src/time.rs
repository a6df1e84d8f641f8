//! Timestamps on the wire are epoch seconds (JSON numbers with a fraction). Reading the
//! system clock is the one thing here that touches the outside world.

/// Seconds since the Unix epoch, millisecond precision, as the ECS API sends them.
pub type Timestamp = f64;

/// Converts milliseconds since the epoch into a wire timestamp.
pub fn from_millis(ms: i64) -> Timestamp {
    ms as f64 / 1000.0
}

/// The current time as a wire timestamp.
pub fn now() -> Timestamp {
    let ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    from_millis(ms)
}
