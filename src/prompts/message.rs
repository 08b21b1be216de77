//! The contexts of messages posted on GitLab: status and final notes, merge request descriptions,
//! review summaries and the notes that explain why the runner stopped.
//!
//! Text that people or the model wrote is a [`MarkdownText`] (escaped), a [`MarkdownCodeSpan`]
//! or a [`MarkdownCode`] (fenced); people are [`Username`]s; hidden markers are [`Marker`]s; links, SHAs and numbers are ours.

use serde::{Deserialize, Serialize, Serializer};

mod command;
mod pipeline_fix;
pub(super) mod repo_config;

pub use command::{CommandNote, CommandReply, PlanNote};
pub use pipeline_fix::*;
pub use repo_config::{Allowed, RepoConfigNote, RepoConfigProblem};

use super::MessageContext;
use super::Stage;
use super::markers::Marker;
use crate::untrusted::{MarkdownCode, MarkdownCodeSpan, MarkdownText, Username};

/// A GitLab message template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    StatusNote,
    FinalNote,
    FailureNote,
    RefusalNote,
    NothingChangedNote,
    MrDescription,
    ReviewSummary,
    ReviewFinding,
    ReviewResolution,
    ThreadAnswer,
    PushConflictNote,
    UnsupportedNote,
    PipelineFixNote,
    SpendCapNote,
    MonthlyCapNote,
    SuppressionsForgotten,
    CommandNote,
    PlanNote,
    RepoConfigNote,
}

impl Message {
    pub const ALL: [Message; 19] = [
        Self::StatusNote,
        Self::FinalNote,
        Self::FailureNote,
        Self::RefusalNote,
        Self::NothingChangedNote,
        Self::MrDescription,
        Self::ReviewSummary,
        Self::ReviewFinding,
        Self::ReviewResolution,
        Self::ThreadAnswer,
        Self::PushConflictNote,
        Self::UnsupportedNote,
        Self::PipelineFixNote,
        Self::SpendCapNote,
        Self::MonthlyCapNote,
        Self::SuppressionsForgotten,
        Self::CommandNote,
        Self::PlanNote,
        Self::RepoConfigNote,
    ];

    /// Whether the message tells how a piece of work ended: one such note per request, which a
    /// re-run of the same request edits instead of posting another.
    pub fn is_outcome(self) -> bool {
        matches!(
            self,
            Self::FinalNote
                | Self::FailureNote
                | Self::NothingChangedNote
                | Self::SpendCapNote
                | Self::SuppressionsForgotten
                | Self::PlanNote
        )
    }

    /// Whether the message says a request failed: a retry runs that request again.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::FailureNote | Self::PushConflictNote | Self::SpendCapNote)
    }

    /// The template stem.
    pub fn name(self) -> &'static str {
        match self {
            Self::StatusNote => "status_note",
            Self::FinalNote => "final_note",
            Self::FailureNote => "failure_note",
            Self::RefusalNote => "refusal_note",
            Self::NothingChangedNote => "nothing_changed_note",
            Self::MrDescription => "mr_description",
            Self::ReviewSummary => "review_summary",
            Self::ReviewFinding => "review_finding",
            Self::ReviewResolution => "review_resolution",
            Self::ThreadAnswer => "thread_answer",
            Self::PushConflictNote => "push_conflict_note",
            Self::UnsupportedNote => "unsupported_note",
            Self::PipelineFixNote => "pipeline_fix_note",
            Self::SpendCapNote => "spend_cap_note",
            Self::MonthlyCapNote => "monthly_cap_note",
            Self::SuppressionsForgotten => "suppressions_forgotten",
            Self::CommandNote => "command_note",
            Self::PlanNote => "plan_note",
            Self::RepoConfigNote => "repo_config_note",
        }
    }
}

/// A step of a run as the status checklist names it (the names are translated by the
/// `_stage_names` template).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Clone and project context.
    Prepare,
    Plan,
    /// An agent call, named as the stage.
    Stage(Stage),
    /// Commit and push.
    Push,
    MergeRequest,
}

impl Step {
    /// The name templates compare against: the stage's own for a stage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prepare => "prepare",
            Self::Plan => "plan",
            Self::Stage(stage) => stage.as_str(),
            Self::Push => "push",
            Self::MergeRequest => "merge_request",
        }
    }
}

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// ☐
    Pending,
    /// ⏳
    Running,
    /// ✅
    Done,
    /// ❌
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChecklistItem {
    pub step: Step,
    pub state: StepState,
}

/// The one status note of a run, edited in place as steps advance.
#[derive(Debug, Clone, Serialize)]
pub struct StatusNote {
    /// [`Marker::status`] of the issue or merge request.
    pub marker: Marker,
    /// The person who asked.
    pub requester: Option<Username>,
    pub checklist: Vec<ChecklistItem>,
    pub pipeline_url: Option<String>,
    pub job_url: Option<String>,
    /// Set when the description the agent follows was last edited by someone below
    /// `COPILOT_MIN_ACCESS_LEVEL`.
    pub edited_text: Option<EditedText>,
    /// What the agent calls so far cost, once one has run.
    pub usage: Option<UsageTable>,
    /// [`Marker::run`]: the pipeline the work runs in, for a stop request.
    pub run: Option<Marker>,
}

/// Premium requests and tokens, of one stage or in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct UsageFigures {
    /// Premium requests the Copilot CLI reported, shown with at most two decimals.
    #[serde(serialize_with = "two_decimals")]
    pub premium_requests: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// One stage's line of a [`UsageTable`].
#[derive(Debug, Clone, Serialize)]
pub struct UsageLine {
    pub step: Step,
    #[serde(flatten)]
    pub figures: UsageFigures,
}

/// What the agent calls of a run cost, per stage and in total (the `_usage` template).
#[derive(Debug, Clone, Serialize)]
pub struct UsageTable {
    pub stages: Vec<UsageLine>,
    pub total: UsageFigures,
}

/// The note when the job used `COPILOT_MAX_PREMIUM_REQUESTS`: what ran, what did not, and that
/// nothing was pushed.
#[derive(Debug, Clone, Serialize)]
pub struct SpendCapNote {
    pub marker: Marker,
    #[serde(serialize_with = "two_decimals")]
    pub cap: f64,
    /// The stages that finished before the cap.
    pub done: Vec<Step>,
    /// The stages that did not run or did not finish.
    pub remaining: Vec<Step>,
    pub usage: UsageTable,
    pub job_url: Option<String>,
}

impl MessageContext for SpendCapNote {
    fn message(&self) -> Message {
        Message::SpendCapNote
    }
}

/// The reply to a request once the project used `COPILOT_MONTHLY_PREMIUM_REQUESTS` this month.
#[derive(Debug, Clone, Serialize)]
pub struct MonthlyCapNote {
    pub actor: Option<Username>,
    /// `YYYY-MM`, in UTC.
    pub month: String,
    #[serde(serialize_with = "two_decimals")]
    pub cap: f64,
    #[serde(serialize_with = "two_decimals")]
    pub used: f64,
    /// The cap is the project's own `monthly_premium_requests` in `.gitlab/copilot-agent.yml`,
    /// lower than the agent project's.
    pub by_repository: bool,
}

impl MessageContext for MonthlyCapNote {
    fn message(&self) -> Message {
        Message::MonthlyCapNote
    }
}

/// The answer to "@agent forget suppressions": how many the project had.
#[derive(Debug, Clone, Serialize)]
pub struct SuppressionsForgottenNote {
    pub actor: Option<Username>,
    /// The suppressions that held until now.
    pub count: u32,
}

impl MessageContext for SuppressionsForgottenNote {
    fn message(&self) -> Message {
        Message::SuppressionsForgotten
    }
}

/// Who wrote the description the agent follows, when its last editor may not start work.
#[derive(Debug, Clone, Serialize)]
pub struct EditedText {
    /// The issue's or merge request's author.
    pub author: Option<Username>,
    /// Who edited the description last (below the required role).
    pub editor: Username,
    /// The lowest role that may start work (`Developer`).
    pub required_role: String,
}

impl MessageContext for StatusNote {
    fn message(&self) -> Message {
        Message::StatusNote
    }
}

/// Counts of a finished run.
#[derive(Debug, Clone, Serialize)]
pub struct RunStats {
    pub stages: u32,
    pub agent_calls: u32,
    /// Premium requests the Copilot CLI reported, shown with at most two decimals.
    #[serde(serialize_with = "two_decimals")]
    pub premium_requests: f64,
    /// Wall-clock seconds, shown as `1h 02m 03s`.
    #[serde(serialize_with = "duration")]
    pub duration_secs: u64,
}

/// The note that closes a successful run.
#[derive(Debug, Clone, Serialize)]
pub struct FinalNote {
    pub marker: Marker,
    /// `!34`.
    pub merge_request_reference: String,
    pub merge_request_url: String,
    pub branch: MarkdownCodeSpan,
    pub stats: RunStats,
    pub usage: UsageTable,
}

impl MessageContext for FinalNote {
    fn message(&self) -> Message {
        Message::FinalNote
    }
}

/// The note that says a run failed.
#[derive(Debug, Clone, Serialize)]
pub struct FailureNote {
    pub marker: Marker,
    /// The step that failed, when it was one of the checklist's.
    pub step: Option<Step>,
    /// The error (already redacted by the caller), shown in a code block.
    pub error: MarkdownCode,
    pub job_url: Option<String>,
    pub pipeline_url: Option<String>,
}

impl MessageContext for FailureNote {
    fn message(&self) -> Message {
        Message::FailureNote
    }
}

/// The reply to someone who may not start work.
#[derive(Debug, Clone, Serialize)]
pub struct RefusalNote {
    pub actor: Username,
    /// The lowest role that may start work (`Developer`).
    pub required_role: String,
}

impl MessageContext for RefusalNote {
    fn message(&self) -> Message {
        Message::RefusalNote
    }
}

/// The note when the agent finished without changing any file.
#[derive(Debug, Clone, Serialize)]
pub struct NothingChangedNote {
    pub marker: Marker,
    /// The agent's closing words, quoted as its own explanation.
    pub agent_summary: Option<MarkdownText>,
    pub job_url: Option<String>,
    /// What the job's agent calls cost, per stage and in total.
    pub usage: Option<UsageTable>,
}

impl MessageContext for NothingChangedNote {
    fn message(&self) -> Message {
        Message::NothingChangedNote
    }
}

/// How big a task is: the planner's verdict, shown in the merge request description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Complexity {
    Small,
    Medium,
    Large,
}

impl Complexity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::Medium => "medium",
            Self::Large => "large",
        }
    }
}

/// A changed file as the merge request description lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeLine {
    pub path: MarkdownCodeSpan,
    /// What changed there, in a few words.
    pub summary: Option<MarkdownText>,
}

/// The description of the merge request the runner opens or updates.
#[derive(Debug, Clone, Serialize)]
pub struct MrDescription {
    pub issue_iid: u64,
    /// `None` for a confidential issue: its title stays on the issue.
    pub issue_title: Option<MarkdownText>,
    /// The issue is confidential: the description links it and carries none of its text.
    pub confidential: bool,
    pub requester: Option<Username>,
    pub complexity: Complexity,
    pub stages: Vec<Step>,
    /// The analysis summary or the agent's own summary of the work.
    pub summary: Option<MarkdownText>,
    pub changes: Vec<ChangeLine>,
}

impl MessageContext for MrDescription {
    fn message(&self) -> Message {
        Message::MrDescription
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No finding above minor.
    Approve,
    /// Findings to look at, none blocking.
    Comment,
    /// A critical or major finding.
    RequestChanges,
}

pub use crate::config::Severity;

#[derive(Debug, Clone, Default, Serialize)]
pub struct SeverityCounts {
    pub critical: u32,
    pub major: u32,
    pub minor: u32,
    pub info: u32,
}

/// A finding that could not be placed on a diff line, shown in the summary instead.
#[derive(Debug, Clone, Serialize)]
pub struct UnplacedFinding {
    pub file: MarkdownCodeSpan,
    pub line: Option<u32>,
    pub severity: Severity,
    pub title: MarkdownText,
    pub body: MarkdownText,
}

/// The summary note of a review.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewSummary {
    /// [`Marker::review`] of the reviewed head.
    pub marker: Marker,
    pub verdict: Verdict,
    pub counts: SeverityCounts,
    /// How many findings became inline discussions.
    pub inline_count: u32,
    pub unplaced: Vec<UnplacedFinding>,
    pub head_sha: String,
    /// Set when only the changes since an earlier review were covered.
    pub since_sha: Option<String>,
    /// Whether findings went inline (`ENABLE_INLINE_REVIEW_COMMENTS`); when not, `unplaced`
    /// holds every finding.
    pub inline_enabled: bool,
    /// Changed files the review did not read, with the reason.
    pub skipped: Vec<SkippedFileNote>,
    /// Findings kept out of the diff to cut the noise: below [`Self::min_severity`] or beyond
    /// [`Self::max_inline`], by severity and file.
    pub held_back: Vec<FindingGroup>,
    /// Findings on lines the merge request did not change, by severity and file; never inline.
    pub pre_existing: Vec<FindingGroup>,
    /// The least severe finding that may be inline (`COPILOT_REVIEW_MIN_SEVERITY`).
    pub min_severity: Severity,
    /// The most inline discussions one review keeps (`COPILOT_REVIEW_MAX_INLINE_COMMENTS`).
    pub max_inline: Option<usize>,
    /// What the job's agent calls cost, per stage and in total.
    pub usage: Option<UsageTable>,
    /// How many of the agent's open threads this review resolved as fixed or no longer applying.
    pub resolved_count: u32,
    /// How many findings this review held back because people called findings of their kind
    /// wrong (see `review::suppress`).
    pub suppressed_count: u32,
}

/// Why a review resolves one of the agent's own threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionReason {
    /// A commit since changed or removed the thread's lines and the finding was not reported again.
    Fixed,
    /// The thread's file or lines are no longer part of the merge request's diff.
    NoLongerApplies,
}

/// The reply a review leaves in one of the agent's threads before resolving it.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewResolution {
    pub reason: ResolutionReason,
    /// The head that fixed it (named for [`ResolutionReason::Fixed`]).
    pub head_sha: String,
    /// [`Marker::resolution`]: a later review sees the thread was answered already.
    pub marker: Marker,
}

impl MessageContext for ReviewResolution {
    fn message(&self) -> Message {
        Message::ReviewResolution
    }
}

/// What the agent did about a review thread it was asked to address, as its reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadOutcome {
    /// Fixed in the merge request's own branch; the thread is resolved.
    Fixed,
    /// Fixed on a follow-up branch (the requester may not push to the source branch); the thread
    /// stays open until that merge request is merged.
    FixedInFollowUp,
    /// Left as it is, for the reason given.
    Left,
    /// The agent said nothing about the thread.
    NoAnswer,
    /// The agent said it fixed the thread, but its work changed no file.
    NoChange,
}

/// The agent's reply in a thread it was asked to address.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadAnswer {
    pub outcome: ThreadOutcome,
    /// The agent's reason, one line.
    pub reason: Option<MarkdownText>,
    /// The commit that holds the change, when there is one.
    pub commit_sha: Option<String>,
    /// The follow-up merge request (`!12`) for [`ThreadOutcome::FixedInFollowUp`].
    pub follow_up: Option<String>,
    /// [`Marker::addressed`]: a re-run sees the thread was answered already, and how.
    pub marker: Marker,
}

impl MessageContext for ThreadAnswer {
    fn message(&self) -> Message {
        Message::ThreadAnswer
    }
}

/// The findings of one severity in the summary, by file.
#[derive(Debug, Clone, Serialize)]
pub struct FindingGroup {
    pub severity: Severity,
    pub files: Vec<FileFindings>,
}

/// The findings of one file within a [`FindingGroup`], in the order the review found them.
#[derive(Debug, Clone, Serialize)]
pub struct FileFindings {
    pub file: MarkdownCodeSpan,
    pub findings: Vec<UnplacedFinding>,
}

/// Why a changed file was not reviewed, as the summary note says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    Binary,
    Generated,
    /// Its diff is over the size limit (`bytes`, `limit`).
    TooLarge,
    /// The file itself is over the size limit (`bytes`, `limit`).
    FileTooLarge,
    /// Renamed or mode changed only.
    NoContentChange,
    /// Neither GitLab nor the checkout gave its diff.
    DiffUnavailable,
    /// The agent's findings for it were invalid twice.
    InvalidFindings,
    /// `TOTAL_TIMEOUT` ran out before its chunk was reviewed.
    OutOfTime,
    /// The repository's `.gitlab/copilot-agent.yml` excludes it from reviews.
    Excluded,
}

/// A changed file the review did not read.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedFileNote {
    pub path: MarkdownCodeSpan,
    pub reason: SkipKind,
    pub bytes: Option<usize>,
    pub limit: Option<usize>,
}

impl MessageContext for ReviewSummary {
    fn message(&self) -> Message {
        Message::ReviewSummary
    }
}

/// The body of one inline review discussion.
///
/// Its first line is `<badge> · <category> · **<title>**` in every language: a later review reads
/// the title back from it to recognise the finding.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewFinding {
    pub severity: Severity,
    /// `security`, `performance`, `correctness`, `maintainability` or `style`.
    pub category: &'static str,
    pub title: MarkdownText,
    pub body: MarkdownText,
    /// The complete GitLab suggestion block (```` ```suggestion:-N+M ````), built by the review
    /// core so that it covers exactly the commented lines; the replacement inside is verbatim.
    pub suggestion: Option<String>,
    /// The proposed code where it cannot be a suggestion (a removed line).
    pub proposed: Option<MarkdownCode>,
    /// [`Marker::finding`] of the finding's fingerprint.
    pub marker: Marker,
}

impl MessageContext for ReviewFinding {
    fn message(&self) -> Message {
        Message::ReviewFinding
    }
}

/// The note when someone pushed to the branch while the agent worked.
#[derive(Debug, Clone, Serialize)]
pub struct PushConflictNote {
    pub marker: Marker,
    pub branch: MarkdownCodeSpan,
    /// The commit the agent made locally and did not push.
    pub local_sha: String,
    /// The commit now at the tip of the remote branch.
    pub remote_sha: String,
    /// Whether a rebase onto the remote tip was tried and failed.
    pub rebase_attempted: bool,
    pub job_url: Option<String>,
}

impl MessageContext for PushConflictNote {
    fn message(&self) -> Message {
        Message::PushConflictNote
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsupportedReason {
    /// The merge request comes from a fork the agent cannot push to.
    ForkMergeRequest,
    /// The issue or merge request is closed or merged.
    Closed,
    /// The note asked for nothing the agent can do.
    EmptyRequest,
    /// The target branch is protected against the agent's pushes (or the requester's).
    ProtectedBranch,
    /// The merge request's source branch is the project's default branch.
    DefaultBranch,
    /// The requester may not push to the merge request's source branch.
    NoPushAccess,
    /// A review was asked for, but the merge request's head is the one the last review covered.
    AlreadyReviewed,
    /// The issue is confidential and `COPILOT_ALLOW_CONFIDENTIAL` is off.
    Confidential,
}

/// The note when a request cannot be served.
#[derive(Debug, Clone, Serialize)]
pub struct UnsupportedNote {
    pub reason: UnsupportedReason,
    pub actor: Option<Username>,
    /// The agent does the work on a new branch and opens a Draft merge request into the merge
    /// request's source branch instead.
    pub follow_up: bool,
}

impl MessageContext for UnsupportedNote {
    fn message(&self) -> Message {
        Message::UnsupportedNote
    }
}

fn two_decimals<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    serializer.serialize_str(text)
}

fn duration<S: Serializer>(secs: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    let (hours, minutes, seconds) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let text = match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m {seconds:02}s"),
        _ => format!("{hours}h {minutes:02}m {seconds:02}s"),
    };
    serializer.serialize_str(&text)
}
