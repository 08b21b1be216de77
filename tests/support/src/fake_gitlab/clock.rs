//! Timestamps in the form GitLab's API writes them (`2026-11-23T12:00:00.123Z`, UTC, millis).

/// The current time as GitLab formats `created_at`/`updated_at`.
pub fn now() -> String {
    format(time::OffsetDateTime::now_utc())
}

/// A time written by [`now`], moved `by` into the past; anything else unchanged.
pub fn earlier(text: &str, by: std::time::Duration) -> String {
    parse(text).map_or_else(|| text.to_owned(), |t| format(t - by))
}

fn parse(text: &str) -> Option<time::OffsetDateTime> {
    let key = sort_key(text)?;
    let number = |range: std::ops::Range<usize>| key.get(range)?.parse::<u32>().ok();
    let month = time::Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(number(0..4)?).ok()?, month, u8::try_from(number(8..10)?).ok()?)
            .ok()?;
    let time = time::Time::from_hms_milli(
        u8::try_from(number(11..13)?).ok()?,
        u8::try_from(number(14..16)?).ok()?,
        u8::try_from(number(17..19)?).ok()?,
        u16::try_from(number(20..23)?).ok()?,
    )
    .ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc())
}

fn format(t: time::OffsetDateTime) -> String {
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

/// A UTC ISO 8601 time (`2026-11-23T12:00:00Z`, with or without fractions) as a key that sorts
/// like the time; `None` for anything else.
pub fn sort_key(text: &str) -> Option<String> {
    let text = text.strip_suffix('Z')?;
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let valid = whole.len() == 19
        && whole.bytes().enumerate().all(|(index, byte)| match index {
            4 | 7 => byte == b'-',
            10 => byte == b'T',
            13 | 16 => byte == b':',
            _ => byte.is_ascii_digit(),
        })
        && fraction.bytes().all(|byte| byte.is_ascii_digit());
    valid.then(|| format!("{whole}.{:0<9}", &fraction[..fraction.len().min(9)]))
}
