//! When and how long to wait before trying a GitLab request again.
//!
//! GitLab sheds load with 429 (with `Retry-After` seconds or a date, or only `RateLimit-Reset`,
//! or nothing at all) and its proxies answer 502/503/504 while a node restarts. We retry those
//! and network failures with exponential backoff and full jitter, bounded both by a number of
//! attempts and by a total time budget, so a job never hangs on an unreachable server.
//!
//! Whether a failed request may be *sent again* depends on the request, not only on the failure:
//! see [`Replay`].

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;

/// Limits on retrying one logical request (all its attempts together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Time from the first attempt after which no new attempt starts.
    pub total_budget: Duration,
    /// The backoff cap of the first retry; it doubles with every further retry.
    pub base_delay: Duration,
    /// The backoff cap never grows beyond this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            total_budget: Duration::from_secs(120),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the backoff before retry number `retry` (1 for the first retry).
    pub fn backoff_cap(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// A backoff with full jitter: uniform between zero and [`Self::backoff_cap`].
    pub fn backoff(&self, retry: u32) -> Duration {
        let cap = self.backoff_cap(retry);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(0..=millis))
    }
}

/// Whether a request may be sent again after a failure whose effect is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Repeating it changes nothing (GET, PUT of a whole value, cancel): retry every transient
    /// failure.
    Always,
    /// A repeat could duplicate a visible effect: retry only failures where GitLab certainly did
    /// not act (connection refused, 429). The caller reconciles or reports anything else.
    OnlyUnsent,
}

/// The attempts made so far for one logical request, against its [`RetryPolicy`].
#[derive(Debug)]
pub(crate) struct Budget {
    policy: RetryPolicy,
    started: Instant,
    attempts: u32,
}

impl Budget {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Self { policy, started: Instant::now(), attempts: 0 }
    }

    /// Counts an attempt about to start.
    pub(crate) fn start_attempt(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }

    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The wait before the next attempt, or `None` when the attempts or the time are used up.
    /// `server_hint` (from `Retry-After` or `RateLimit-Reset`) replaces the backoff.
    pub(crate) fn next_delay(&self, server_hint: Option<Duration>) -> Option<Duration> {
        if self.attempts >= self.policy.max_attempts {
            return None;
        }
        let delay = server_hint.unwrap_or_else(|| self.policy.backoff(self.attempts));
        let elapsed = self.started.elapsed();
        (elapsed.saturating_add(delay) <= self.policy.total_budget).then_some(delay)
    }
}

/// How long a 429 asks us to wait: `Retry-After` (seconds or an HTTP date), else
/// `RateLimit-Reset` (unix seconds), else `None` (use the backoff).
pub(crate) fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
    if let Some(wait) = header("retry-after").and_then(|value| parse_retry_after(value, now)) {
        return Some(wait);
    }
    header("ratelimit-reset").and_then(|value| parse_rate_limit_reset(value, now))
}

/// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`; a date in the past is
/// no wait at all.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `RateLimit-Reset: 1558351203`, the unix time at which the window resets.
pub(crate) fn parse_rate_limit_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let reset = value.parse::<u64>().ok()?;
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(reset))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn at(unix: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(unix)
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = at(1_558_351_143);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        // 2019-05-20 11:20:03 GMT is 1558351203, sixty seconds after `now`.
        assert_eq!(parse_retry_after("Mon, 20 May 2019 11:20:03 GMT", now), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("Mon, 20 May 2019 11:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn rate_limit_reset_is_a_unix_time() {
        let now = at(1_558_351_143);
        assert_eq!(parse_rate_limit_reset("1558351203", now), Some(Duration::from_secs(60)));
        assert_eq!(parse_rate_limit_reset("1558351000", now), Some(Duration::ZERO));
        assert_eq!(parse_rate_limit_reset("Mon, 20 May 2019 11:20:03 GMT", now), None);
    }

    #[test]
    fn retry_after_wins_over_rate_limit_reset_and_nothing_means_backoff() {
        let now = at(1_558_351_143);
        let mut headers = HeaderMap::new();
        assert_eq!(rate_limit_wait(&headers, now), None);
        headers.insert("RateLimit-Reset", HeaderValue::from_static("1558351163"));
        assert_eq!(rate_limit_wait(&headers, now), Some(Duration::from_secs(20)));
        headers.insert("Retry-After", HeaderValue::from_static("3"));
        assert_eq!(rate_limit_wait(&headers, now), Some(Duration::from_secs(3)));
        headers.insert("Retry-After", HeaderValue::from_static("garbage"));
        assert_eq!(rate_limit_wait(&headers, now), Some(Duration::from_secs(20)));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_within_it() {
        let policy = RetryPolicy {
            max_attempts: 10,
            total_budget: Duration::from_secs(600),
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        let caps: Vec<u128> = (1..=6).map(|retry| policy.backoff_cap(retry).as_millis()).collect();
        assert_eq!(caps, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.backoff_cap(u32::MAX), Duration::from_millis(1000));
        for retry in 1..=6 {
            for _ in 0..200 {
                assert!(policy.backoff(retry) <= policy.backoff_cap(retry));
            }
        }
        // Full jitter spreads the waits: 200 samples under a 1 s cap are not all equal.
        let samples: std::collections::HashSet<Duration> = (0..200).map(|_| policy.backoff(6)).collect();
        assert!(samples.len() > 10, "{samples:?}");
    }

    #[test]
    fn the_budget_ends_on_attempts_or_on_time() {
        let policy = RetryPolicy {
            max_attempts: 3,
            total_budget: Duration::from_secs(10),
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        };
        let mut budget = Budget::new(policy);
        budget.start_attempt();
        assert!(budget.next_delay(None).is_some());
        assert_eq!(budget.next_delay(Some(Duration::from_secs(5))), Some(Duration::from_secs(5)));
        // A server asking for more than the remaining time ends the retries now.
        assert_eq!(budget.next_delay(Some(Duration::from_secs(11))), None);
        budget.start_attempt();
        budget.start_attempt();
        assert_eq!(budget.attempts(), 3);
        assert_eq!(budget.next_delay(None), None);
    }
}
