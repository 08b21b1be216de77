//! The pipeline-fix loop's memory across jobs, kept in a hidden marker of its status note.
//!
//! Every push of the loop starts a pipeline, and a failed pipeline on an agent branch triggers a
//! new job: without memory that would be a loop without end. The ledger counts fix attempts per
//! merge request (bounded by `DEBUG_MAX_TIME` over every job, not per job), remembers the last
//! pipeline the loop acted on (a job for a pipeline already handled does nothing), holds a lease
//! while a job is working (a second job for the same merge request leaves it alone), and keeps
//! the attempts so the table survives, with the signature of the failure each fix attempt set out
//! to fix (so "the same failure twice" is seen across jobs too) and the infrastructure retries
//! (bounded per merge request like the fix attempts). Only the agent's own notes are read for it.

use crate::prompts::markers::{self, Marker};
use crate::prompts::message::{AttemptResult, FixAttempt};
use crate::untrusted::{MarkdownCodeSpan, MarkdownText};

/// One attempt as the status note lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Row {
    pub(super) number: u32,
    pub(super) result: AttemptResult,
    pub(super) commit: Option<String>,
    /// The pipeline the attempt produced (a fix) or retried (an infrastructure failure).
    pub(super) pipeline_id: u64,
    /// `job: failure_reason` of each job the attempt dealt with (not kept across jobs).
    pub(super) failed_jobs: Vec<String>,
    /// The agent's one-line summary (not kept across jobs).
    pub(super) change: Option<String>,
    /// The digest of the failure's signature this fix attempt set out to fix.
    pub(super) signature: Option<String>,
    /// The signature in words, at most [`FAILURE_CHARS`] characters (kept hex-encoded, so the
    /// next job's prompt can show it too).
    pub(super) failure: Option<String>,
}

/// The loop's state on one merge request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Ledger {
    /// Fix attempts (commits) so far.
    pub(super) fixes: u32,
    /// The newest pipeline the loop pushed a fix for or ended on; older and equal ones are
    /// handled. A retry, or a job killed half-way, leaves it be: the pipeline is taken up again.
    pub(super) acted: u64,
    /// Unix seconds until which a running job holds the loop; 0 when none does.
    pub(super) lease_until: u64,
    /// Infrastructure retries so far.
    pub(super) retries: u32,
    pub(super) rows: Vec<Row>,
}

impl Ledger {
    /// The ledger in a note body about `subject` (`mr-12`), if there is one.
    pub(super) fn read(body: &str, subject: &str) -> Option<Self> {
        let fields = markers::pipeline_fix_state(body, subject)?;
        let mut ledger = Self::default();
        for (key, value) in fields {
            match key {
                "fixes" => ledger.fixes = value.parse().unwrap_or(0),
                "acted" => ledger.acted = value.parse().unwrap_or(0),
                "lease" => ledger.lease_until = value.parse().unwrap_or(0),
                "retries" => ledger.retries = value.parse().unwrap_or(0),
                "rows" => ledger.rows = value.split(',').filter_map(parse_row).collect(),
                _ => {}
            }
        }
        Some(ledger)
    }

    /// The marker that carries this ledger.
    pub(super) fn marker(&self, subject: &str) -> Marker {
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|row| {
                let commit = row.commit.as_deref().map_or("0", |sha| &sha[..sha.len().min(12)]);
                let signature = row.signature.as_deref().unwrap_or("0");
                let failure = row.failure.as_deref().map_or_else(|| "0".to_owned(), encode_failure);
                format!("{}.{}.{commit}.{}.{signature}.{failure}", row.number, result_name(row.result), row.pipeline_id)
            })
            .collect();
        Marker::pipeline_fix_state(
            subject,
            &[
                ("fixes", self.fixes.to_string()),
                ("acted", self.acted.to_string()),
                ("lease", self.lease_until.to_string()),
                ("retries", self.retries.to_string()),
                ("rows", rows.join(",")),
            ],
        )
    }

    /// Whether another job holds the loop at `now` (unix seconds).
    pub(super) fn leased_at(&self, now: u64) -> bool {
        self.lease_until > now
    }

    /// Adds a row numbered after the last one; returns its index.
    pub(super) fn push(&mut self, result: AttemptResult, pipeline_id: u64, failed_jobs: Vec<String>) -> usize {
        let number = self.rows.last().map_or(1, |row| row.number + 1);
        let row = Row {
            number,
            result,
            commit: None,
            pipeline_id,
            failed_jobs,
            change: None,
            signature: None,
            failure: None,
        };
        self.rows.push(row);
        self.rows.len() - 1
    }

    /// The fix attempt (a row with a commit) that produced pipeline `pipeline_id`.
    pub(super) fn fix_that_produced(&self, pipeline_id: u64) -> Option<&Row> {
        self.rows.iter().rev().find(|row| row.pipeline_id == pipeline_id && row.commit.is_some())
    }

    /// The rows as the note renders them; `pipeline_url` links a pipeline id.
    pub(super) fn attempts(&self, pipeline_url: impl Fn(u64) -> String) -> Vec<FixAttempt> {
        self.rows
            .iter()
            .map(|row| FixAttempt {
                number: row.number,
                pipeline_url: pipeline_url(row.pipeline_id),
                commit_sha: row.commit.clone(),
                result: row.result,
                failed_jobs: row.failed_jobs.iter().map(|job| MarkdownCodeSpan::new(job)).collect(),
                change: row.change.as_deref().map(MarkdownText::line),
            })
            .collect()
    }
}

/// Characters of a row's failure kept in the marker.
pub(super) const FAILURE_CHARS: usize = 200;

/// A failure's words as marker-safe hex, cut to [`FAILURE_CHARS`] characters.
fn encode_failure(text: &str) -> String {
    let cut: String = text.chars().take(FAILURE_CHARS).collect();
    hex::encode(cut.as_bytes())
}

fn decode_failure(hex: &str) -> Option<String> {
    String::from_utf8(hex::decode(hex).ok()?).ok()
}

fn result_name(result: AttemptResult) -> &'static str {
    match result {
        AttemptResult::Passed => "passed",
        AttemptResult::Failed => "failed",
        AttemptResult::Retried => "retried",
        AttemptResult::NoChange => "no_change",
        AttemptResult::Running => "running",
        AttemptResult::Rerun => "rerun",
        AttemptResult::Flaky => "flaky",
        AttemptResult::Rejected => "rejected",
    }
}

fn parse_row(text: &str) -> Option<Row> {
    let mut parts = text.split('.');
    let number = parts.next()?.parse().ok()?;
    let result = match parts.next()? {
        "passed" => AttemptResult::Passed,
        "failed" => AttemptResult::Failed,
        "retried" => AttemptResult::Retried,
        "no_change" => AttemptResult::NoChange,
        "running" => AttemptResult::Running,
        "rerun" => AttemptResult::Rerun,
        "flaky" => AttemptResult::Flaky,
        "rejected" => AttemptResult::Rejected,
        _ => return None,
    };
    let commit = Some(parts.next()?).filter(|sha| *sha != "0").map(str::to_owned);
    let pipeline_id = parts.next()?.parse().ok()?;
    // Written since signatures were kept; older markers end here.
    let signature = parts.next().filter(|digest| *digest != "0").map(str::to_owned);
    let failure = parts.next().filter(|hex| *hex != "0").and_then(decode_failure);
    Some(Row { number, result, commit, pipeline_id, failed_jobs: Vec::new(), change: None, signature, failure })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_survives_a_round_trip_through_its_marker() {
        let mut ledger = Ledger { fixes: 2, acted: 105, lease_until: 1_700_000_000, retries: 3, rows: Vec::new() };
        let first = ledger.push(AttemptResult::Failed, 104, vec!["test: script_failure".into()]);
        ledger.rows[first].commit = Some("0123456789abcdef0123".into());
        ledger.rows[first].signature = Some("a1b2c3d4e5f6".into());
        ledger.rows[first].failure = Some("test: error: `x` --> y (failing: a::b)".into());
        ledger.push(AttemptResult::Retried, 105, Vec::new());
        let body = format!("### Fixing\n\n{}\n", ledger.marker("mr-3").as_str());
        let read = Ledger::read(&body, "mr-3").expect("a ledger");
        assert_eq!((read.fixes, read.acted, read.lease_until, read.retries), (2, 105, 1_700_000_000, 3));
        assert_eq!(read.rows[0].signature.as_deref(), Some("a1b2c3d4e5f6"));
        assert_eq!(read.rows[0].failure.as_deref(), Some("test: error: `x` --> y (failing: a::b)"));
        assert!(!ledger.marker("mr-3").as_str().contains("-->y"), "the failure cannot close the comment");
        assert_eq!(read.fix_that_produced(104).map(|row| row.number), Some(1));
        assert_eq!(read.fix_that_produced(105), None);
        assert_eq!(read.rows.len(), 2);
        assert_eq!(read.rows[0].commit.as_deref(), Some("0123456789ab"));
        assert_eq!(
            (read.rows[1].number, read.rows[1].result, read.rows[1].commit.clone()),
            (2, AttemptResult::Retried, None)
        );
        assert!(read.leased_at(1_699_999_999) && !read.leased_at(1_700_000_000));
        assert_eq!(Ledger::read(&body, "mr-4"), None);
    }

    #[test]
    fn rows_written_before_signatures_are_still_read() {
        let body =
            "<!-- copilot-runner:pipeline-fix-state mr-3 fixes=1 acted=7 lease=0 rows=1.failed.0123456789ab.7 -->";
        let read = Ledger::read(body, "mr-3").expect("a ledger");
        assert_eq!((read.rows[0].pipeline_id, read.rows[0].signature.clone(), read.retries), (7, None, 0));
    }
}
