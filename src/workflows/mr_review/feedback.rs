//! The review learns from feedback: at review time it reads the award emoji on its own finding
//! threads and people's replies in them, records a suppression in the project's store for each
//! new 👎 or "false positive" reply, and holds back this review's findings of those kinds; and
//! "@agent forget suppressions" records that everything learned so far is forgotten.
//!
//! The store is the context cache's (`CONTEXT_CACHE_URL`), where `context::suppressions` keeps
//! one record per piece of feedback. Learning is an improvement, not the review: a store that
//! cannot be read or written is logged and the review posts every finding.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::Job;
use crate::context::store::CacheStore;
use crate::context::suppressions::{ClearRecord, SuppressionLedger, SuppressionRecord, Suppressions};
use crate::gitlab::Awardable;
use crate::gitlab::types::{AwardEmoji, Discussion, Note};
use crate::gitlab::{Noteable, UserBasic};
use crate::prompts::message::SuppressionsForgottenNote;
use crate::report::Reporter;
use crate::review::findings::Category;
use crate::review::suppress::{self, CategoryAcceptance, Feedback, FindingThread, Rule};
use crate::untrusted::Username;

/// What the review learned before its agent calls.
#[derive(Debug, Default)]
pub(super) struct Learned {
    /// The project's suppressions that hold.
    pub(super) rules: Vec<Rule>,
    pub(super) report: FeedbackReport,
}

/// What `summary.json` records under `review_feedback`.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct FeedbackReport {
    /// Per category: the agent's threads on this merge request and the 👍, 👎 and "false
    /// positive" replies people gave them.
    pub(super) acceptance: BTreeMap<&'static str, CategoryAcceptance>,
    /// Suppressions this review recorded from new feedback.
    pub(super) suppressions_recorded: u32,
    /// The project's suppressions that held for this review.
    pub(super) suppressions_active: u32,
    /// This review's findings they held back.
    pub(super) findings_suppressed: u32,
    /// Why the suppressions could not be read or written, when they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) store_error: Option<String>,
}

/// The store's suppression records, and those of project `project_id` as they stand.
async fn open_ledger(job: &Job, project_id: u64) -> anyhow::Result<(SuppressionLedger, Suppressions)> {
    let store = CacheStore::from_settings(&job.settings.cache, &job.env)
        .context("while opening the context cache's store, which keeps the review's suppressions")?;
    let ledger = SuppressionLedger::new(store);
    let read = ledger
        .read(&project_id.to_string())
        .await
        .with_context(|| format!("while reading the suppressions in `{}`", ledger.description()))?;
    Ok((ledger, read))
}

/// Reads the feedback on the agent's threads among `discussions` (the merge request's, read
/// once by the caller), records what is new and returns the suppressions that hold.
pub(super) async fn learn(job: &Job, project_id: u64, mr_iid: u64, discussions: &[Discussion]) -> Learned {
    let threads = suppress::finding_threads(discussions, job.agent_user.id);
    let awards = thread_awards(job, project_id, mr_iid, &threads).await;
    let agent = (job.agent_user.id, job.agent_user.username.as_str());
    let feedback = suppress::read_feedback(&threads, discussions, &awards, agent);
    let mut learned = Learned {
        rules: Vec::new(),
        report: FeedbackReport { acceptance: suppress::acceptance(&threads, &feedback), ..FeedbackReport::default() },
    };
    match record_and_read(job, project_id, mr_iid, &feedback).await {
        Ok((recorded, suppressions)) => {
            learned.report.suppressions_recorded = recorded;
            learned.rules = suppressions.active().into_iter().filter_map(rule_of).collect();
            learned.report.suppressions_active = u32::try_from(learned.rules.len()).unwrap_or(u32::MAX);
            tracing::info!(recorded, active = learned.rules.len(), "suppressions read");
        }
        Err(error) => {
            let error = format!("{error:#}");
            tracing::error!(%error, "the review's suppressions could not be read; every finding is posted");
            learned.report.store_error = Some(error);
        }
    }
    learned
}

/// The awards on each thread's first note. A thread whose awards cannot be read has none.
async fn thread_awards(
    job: &Job,
    project_id: u64,
    mr_iid: u64,
    threads: &[FindingThread],
) -> HashMap<u64, Vec<AwardEmoji>> {
    let mut awards = HashMap::new();
    for thread in threads {
        let on = Awardable::Note { on: Noteable::MergeRequest(mr_iid), note_id: thread.note_id };
        match job.client.award_emojis(project_id, on).await {
            Ok(read) => {
                awards.insert(thread.note_id, read);
            }
            Err(error) => {
                tracing::warn!(note = thread.note_id, %error, "a finding's award emoji could not be read; skipped");
            }
        }
    }
    awards
}

/// Records the suppressing feedback not recorded yet; returns how many it recorded and the
/// project's records as they now stand.
async fn record_and_read(
    job: &Job,
    project_id: u64,
    mr_iid: u64,
    feedback: &[Feedback],
) -> anyhow::Result<(u32, Suppressions)> {
    let (ledger, mut suppressions) = open_ledger(job, project_id).await?;
    let project = project_id.to_string();
    let mut recorded = 0;
    let now = Utc::now();
    let new: Vec<&Feedback> =
        feedback.iter().filter(|item| item.reaction.suppresses() && !suppressions.knows(&item.id)).collect();
    for item in new {
        let record = SuppressionRecord {
            project: project.clone(),
            feedback: item.id.clone(),
            reaction: item.reaction.name().to_owned(),
            merge_request: mr_iid,
            discussion_id: item.thread.discussion_id.clone(),
            category: item.thread.category.name().to_owned(),
            title_shape: item.thread.rule.title_shape.clone(),
            path_pattern: item.thread.rule.path_pattern.clone(),
            feedback_at: gitlab_time(item.at.as_deref()).unwrap_or(now),
            recorded_at: now,
        };
        ledger.record(&record).await.context("while recording a suppression")?;
        tracing::info!(
            feedback = %record.feedback,
            category = %record.category,
            title = %record.title_shape,
            path = %record.path_pattern,
            "suppression recorded"
        );
        suppressions.records.push(record);
        recorded += 1;
    }
    Ok((recorded, suppressions))
}

/// The rule a stored record holds; `None` for a category this version does not know.
fn rule_of(record: &SuppressionRecord) -> Option<Rule> {
    Some(Rule {
        category: Category::from_name(&record.category)?,
        title_shape: record.title_shape.clone(),
        path_pattern: record.path_pattern.clone(),
    })
}

/// A time as GitLab writes it (RFC 3339).
fn gitlab_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?).ok().map(|time| time.with_timezone(&Utc))
}

/// Answers "@agent forget suppressions" in `note`: records that the project's feedback until the
/// note was written is forgotten, then says how many suppressions held.
pub(in crate::workflows) async fn forget(
    job: &Job,
    reporter: &mut Reporter<'_>,
    project_id: u64,
    note: &Note,
    actor: &UserBasic,
) -> anyhow::Result<()> {
    let (ledger, mut read) = open_ledger(job, project_id).await?;
    let project = project_id.to_string();
    let cleared_at = gitlab_time(note.created_at.as_deref()).unwrap_or_else(Utc::now);
    // What held when the note was written: a re-run of this request says the same number.
    read.clears.retain(|clear| clear.note_id != note.id);
    read.records.retain(|record| record.feedback_at <= cleared_at);
    let count = u32::try_from(read.active().len()).unwrap_or(u32::MAX);
    let clear =
        ClearRecord { project, note_id: note.id, by: actor.username.clone(), cleared_at, recorded_at: Utc::now() };
    ledger.clear(&clear).await.context("while recording that the suppressions are forgotten")?;
    tracing::info!(forgotten = count, "suppressions forgotten");
    // A re-run of this request edits its answer: the reporter learns the notes an earlier run left.
    let notes =
        job.client.notes(project_id, reporter.target.on).await.context("while reading the merge request's notes")?;
    reporter.remember_own(&notes);
    let answer = SuppressionsForgottenNote { actor: Some(Username::new(&actor.username)), count };
    reporter.post(&answer).await.context("while answering the request to forget suppressions")?;
    Ok(())
}
