//! Prometheus metrics of the webhook service, written by hand: a handful of counters and one
//! latency histogram do not justify a metrics framework. Rendered in the Prometheus text
//! exposition format (version 0.0.4) at `GET /metrics`.
//!
//! Label values come from fixed sets (event kinds we type, decisions, failure stages), never
//! from request data, so a sender cannot grow the series without bound.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds: fine below 10 ms (our own time), coarse up
/// to GitLab's 10 s delivery timeout.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Event kinds that get their own label value; anything else counts as `other`.
const KINDS: [&str; 10] =
    ["issue", "note", "merge_request", "pipeline", "build", "push", "tag_push", "release", "deployment", "none"];

/// Where an accepted event failed on GitLab's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureStage {
    Member,
    Award,
    Trigger,
    Timeout,
}

impl FailureStage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Award => "award",
            Self::Trigger => "trigger",
            Self::Timeout => "timeout",
        }
    }
}

#[derive(Debug)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Every metric of the service. Cheap to update from any request.
#[derive(Debug)]
pub struct Metrics {
    events: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    ignored: Mutex<BTreeMap<&'static str, u64>>,
    triggers: Mutex<BTreeMap<&'static str, u64>>,
    failures: Mutex<BTreeMap<FailureStage, u64>>,
    latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            events: Mutex::default(),
            ignored: Mutex::default(),
            triggers: Mutex::default(),
            failures: Mutex::default(),
            latency: Histogram {
                buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                count: AtomicU64::new(0),
                sum_micros: AtomicU64::new(0),
            },
        }
    }
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    *map.lock().unwrap_or_else(PoisonError::into_inner).entry(key).or_default() += 1;
}

fn snapshot<K: Ord + Clone>(map: &Mutex<BTreeMap<K, u64>>) -> BTreeMap<K, u64> {
    map.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// The label value for an event kind.
pub fn kind_label(kind: &str) -> &'static str {
    KINDS.into_iter().find(|known| *known == kind).unwrap_or("other")
}

impl Metrics {
    /// One delivery, by event kind and what we decided (`issue_note`, `ignored`, `rejected`, …).
    pub fn event(&self, kind: &str, decision: &'static str) {
        bump(&self.events, (kind_label(kind), decision));
    }

    /// Why an event was ignored.
    pub fn ignored(&self, reason: &'static str) {
        bump(&self.ignored, reason);
    }

    /// A pipeline GitLab accepted.
    pub fn triggered(&self, trigger_type: &'static str) {
        bump(&self.triggers, trigger_type);
    }

    pub fn failure(&self, stage: FailureStage) {
        bump(&self.failures, stage);
    }

    /// How long one `POST /webhook` took, from the first byte of the request to the response.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every metric, with the gauges read at this moment:
    /// deliveries being worked on and keys the duplicate filter holds.
    pub fn render(&self, in_flight: usize, dedup_keys: usize) -> String {
        let mut out = String::with_capacity(4096);

        out.push_str("# HELP copilot_webhook_in_flight Webhook deliveries being worked on.\n");
        out.push_str("# TYPE copilot_webhook_in_flight gauge\n");
        let _ = writeln!(out, "copilot_webhook_in_flight {in_flight}");
        out.push_str("# HELP copilot_webhook_dedup_keys Keys the duplicate filter holds in memory.\n");
        out.push_str("# TYPE copilot_webhook_dedup_keys gauge\n");
        let _ = writeln!(out, "copilot_webhook_dedup_keys {dedup_keys}");

        out.push_str("# HELP copilot_webhook_events_total Webhook deliveries by event kind and decision.\n");
        out.push_str("# TYPE copilot_webhook_events_total counter\n");
        for ((kind, decision), count) in snapshot(&self.events) {
            let _ = writeln!(out, "copilot_webhook_events_total{{kind=\"{kind}\",decision=\"{decision}\"}} {count}");
        }
        out.push_str("# HELP copilot_webhook_ignored_total Events that started nothing, by reason.\n");
        out.push_str("# TYPE copilot_webhook_ignored_total counter\n");
        for (reason, count) in snapshot(&self.ignored) {
            let _ = writeln!(out, "copilot_webhook_ignored_total{{reason=\"{reason}\"}} {count}");
        }
        out.push_str("# HELP copilot_webhook_triggers_total Agent pipelines GitLab accepted, by trigger type.\n");
        out.push_str("# TYPE copilot_webhook_triggers_total counter\n");
        for (trigger_type, count) in snapshot(&self.triggers) {
            let _ = writeln!(out, "copilot_webhook_triggers_total{{trigger_type=\"{trigger_type}\"}} {count}");
        }
        out.push_str("# HELP copilot_webhook_failures_total Calls to GitLab that failed while acting on an event.\n");
        out.push_str("# TYPE copilot_webhook_failures_total counter\n");
        for (stage, count) in snapshot(&self.failures) {
            let _ = writeln!(out, "copilot_webhook_failures_total{{stage=\"{}\"}} {count}", stage.as_str());
        }
        out.push_str("# HELP copilot_webhook_request_duration_seconds Time to answer a webhook delivery.\n");
        out.push_str("# TYPE copilot_webhook_request_duration_seconds histogram\n");
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency.buckets) {
            let count = bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "copilot_webhook_request_duration_seconds_bucket{{le=\"{bound}\"}} {count}");
        }
        let count = self.latency.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "copilot_webhook_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.latency.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "copilot_webhook_request_duration_seconds_sum {sum}");
        let _ = writeln!(out, "copilot_webhook_request_duration_seconds_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let metrics = Metrics::default();
        metrics.event("note", "issue_note");
        metrics.event("note", "issue_note");
        metrics.event("wiki_page", "ignored");
        metrics.ignored("uninteresting_kind");
        metrics.triggered("issue_note");
        metrics.failure(FailureStage::Trigger);
        metrics.observe(Duration::from_millis(3));
        metrics.observe(Duration::from_secs(20));
        let text = metrics.render(3, 42);
        for line in [
            "copilot_webhook_events_total{kind=\"note\",decision=\"issue_note\"} 2",
            "copilot_webhook_events_total{kind=\"other\",decision=\"ignored\"} 1",
            "copilot_webhook_ignored_total{reason=\"uninteresting_kind\"} 1",
            "copilot_webhook_triggers_total{trigger_type=\"issue_note\"} 1",
            "copilot_webhook_failures_total{stage=\"trigger\"} 1",
            "copilot_webhook_request_duration_seconds_bucket{le=\"0.0025\"} 0",
            "copilot_webhook_request_duration_seconds_bucket{le=\"0.005\"} 1",
            "copilot_webhook_request_duration_seconds_bucket{le=\"10\"} 1",
            "copilot_webhook_request_duration_seconds_bucket{le=\"+Inf\"} 2",
            "copilot_webhook_request_duration_seconds_count 2",
            "copilot_webhook_in_flight 3",
            "copilot_webhook_dedup_keys 42",
        ] {
            assert!(text.lines().any(|candidate| candidate == line), "missing {line:?} in\n{text}");
        }
    }
}
