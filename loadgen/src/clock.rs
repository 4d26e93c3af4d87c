//! The one reader of the system time: a client stamps its assertions and checks token lifetimes with the
//! real clock (durations are measured with `Instant`).

/// Seconds since the Unix epoch.
#[allow(clippy::disallowed_methods)] // the one place that reads the system time
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
