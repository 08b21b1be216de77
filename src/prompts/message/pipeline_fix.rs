//! The pipeline-fix loop's note: how each attempt went and how the loop ended.

use serde::Serialize;

use super::{MarkdownCode, MarkdownCodeSpan, MarkdownText, Marker, Message, UsageTable};
use crate::prompts::MessageContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineFixOutcome {
    /// The loop is still working (the note is edited in place as attempts finish).
    Running,
    /// The last pipeline passed.
    Fixed,
    /// Attempts or time ran out.
    NeedsHuman,
    /// Someone else pushed to the branch; the loop stopped.
    Superseded,
    /// The pipeline waits for a manual job or a schedule; nobody waits on it.
    Blocked,
    /// The failed jobs passed when re-run unchanged: flaky, not broken; nothing was changed.
    Flaky,
    /// The pipeline stayed queued: no runner picked it up.
    NotPickedUp,
}

/// Why the loop handed the pipeline to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Every fix attempt (`DEBUG_MAX_TIME`) was used.
    AttemptsUsed,
    /// The job's time budget (`TOTAL_TIMEOUT`) ran out.
    OutOfTime,
    /// Infrastructure failures outlasted every retry (`RETRY_MAX_TIME`).
    RetriesUsed,
    /// Neither a code change nor a retry can fix the failure (a quota, a permission, …).
    NotFixable,
    /// The agent changed nothing.
    NoChange,
    /// The push started no pipeline.
    NoPipeline,
    /// A fix attempt ended in the very failure it set out to fix.
    SameFailureTwice,
    /// The agent's fix weakened the tests or CI twice; the rejected lines are listed.
    WeakenedTests,
    /// The failure is in a downstream pipeline of another project the agent cannot read.
    DownstreamHidden,
}

/// A failed downstream pipeline the agent cannot read, for the end note.
#[derive(Debug, Clone, Serialize)]
pub struct HiddenDownstream {
    /// The bridge (`trigger:` job) that started it.
    pub bridge: MarkdownCodeSpan,
    pub project_id: u64,
    pub pipeline_id: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptResult {
    Passed,
    Failed,
    /// An infrastructure failure (runner, timeout) that was retried, not fixed.
    Retried,
    /// The agent changed nothing.
    NoChange,
    /// The attempt's pipeline is still being watched.
    Running,
    /// The failed jobs were re-run unchanged, to tell a flaky failure from a broken one.
    Rerun,
    /// The re-run passed: the failure was flaky.
    Flaky,
    /// The agent's change weakened the tests or CI and was not pushed.
    Rejected,
}

/// A job that failed and then passed when re-run unchanged.
#[derive(Debug, Clone, Serialize)]
pub struct FlakyJob {
    pub name: MarkdownCodeSpan,
    pub failed_id: u64,
    pub failed_url: Option<String>,
    pub passed_id: u64,
    pub passed_url: Option<String>,
}

/// One attempt of the pipeline-fix loop.
#[derive(Debug, Clone, Serialize)]
pub struct FixAttempt {
    pub number: u32,
    pub pipeline_url: String,
    pub commit_sha: Option<String>,
    pub result: AttemptResult,
    /// `job: failure_reason` of each failed job the attempt dealt with.
    pub failed_jobs: Vec<MarkdownCodeSpan>,
    /// What the agent changed, in one line of its own summary.
    pub change: Option<MarkdownText>,
}

/// The note that ends (or reports) the pipeline-fix loop.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineFixNote {
    /// [`Marker::pipeline_fix`] of the merge request.
    pub marker: Marker,
    pub outcome: PipelineFixOutcome,
    /// Why a person is needed, with [`PipelineFixOutcome::NeedsHuman`].
    pub reason: Option<StopReason>,
    pub attempts: Vec<FixAttempt>,
    /// Fix attempts (commits) made so far, over every run of the loop on this merge request.
    pub fix_attempts: u32,
    pub max_attempts: u32,
    /// The log excerpt of the last failed job, when a person is needed.
    pub last_excerpt: Option<MarkdownCode>,
    /// The signature of the failure that came back, with [`StopReason::SameFailureTwice`].
    pub signature: Option<MarkdownCodeSpan>,
    /// The rejected lines (`path:line: rule: +text`), with [`StopReason::WeakenedTests`].
    pub rejected_lines: Vec<MarkdownCodeSpan>,
    /// With [`PipelineFixOutcome::Flaky`]: the jobs that passed on their re-run.
    pub flaky_jobs: Vec<FlakyJob>,
    /// With [`StopReason::DownstreamHidden`]: the downstream pipelines the agent cannot read.
    pub hidden_downstreams: Vec<HiddenDownstream>,
    pub job_url: Option<String>,
    /// The loop's state, so a later job continues its count: see `workflows::pipeline_fix`.
    pub state: Option<Marker>,
    /// What the job's agent calls cost, per stage and in total.
    pub usage: Option<UsageTable>,
}

impl MessageContext for PipelineFixNote {
    fn message(&self) -> Message {
        Message::PipelineFixNote
    }
}
