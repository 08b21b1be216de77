//! Timestamps in the form GitLab's API writes them (`2026-11-23T12:00:00.123Z`, UTC, millis).

/// The current time as GitLab formats `created_at`/`updated_at`.
pub fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}
