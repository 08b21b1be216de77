//! The GitLab REST resources we read, as serde types.
//!
//! They follow GitLab's response schemas and the recorded payloads in `tests/data/gitlab/`, and
//! they are lenient where GitLab is: unknown fields are ignored (GitLab adds fields every
//! release), fields GitLab omits or nulls are `Option` or default to empty (a list of assignees
//! or reviewers is absent when empty), and statuses we do not know yet are kept as text.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A user as embedded in other resources (author, assignee, award giver). Some embeddings carry
/// only the id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct UserBasic {
    pub id: u64,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// `GET /user`: the user the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CurrentUser {
    pub id: u64,
    pub username: String,
    pub name: String,
    #[serde(default)]
    pub state: Option<String>,
    /// Project and group access tokens belong to bot users.
    #[serde(default)]
    pub bot: bool,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// A project's role of a user. GitLab's numbers: 0 none, 5 minimal, 10 guest, 15 planner,
/// 20 reporter, 30 developer, 40 maintainer, 50 owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(transparent)]
pub struct AccessLevel(pub u32);

impl AccessLevel {
    pub const NONE: Self = Self(0);
    pub const MINIMAL: Self = Self(5);
    pub const GUEST: Self = Self(10);
    pub const PLANNER: Self = Self(15);
    pub const REPORTER: Self = Self(20);
    pub const DEVELOPER: Self = Self(30);
    pub const MAINTAINER: Self = Self(40);
    pub const OWNER: Self = Self(50);
}

/// `GET /projects/:id/members/all/:user_id`: a member, direct or inherited.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Member {
    pub id: u64,
    pub username: String,
    pub name: String,
    #[serde(default)]
    pub state: Option<String>,
    pub access_level: AccessLevel,
    /// `YYYY-MM-DD` (or a timestamp); past it the membership no longer counts, even while
    /// GitLab's daily clean-up has not removed it yet.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// `active`, or `awaiting` while an invitation or seat waits for approval.
    #[serde(default)]
    pub membership_state: Option<String>,
}

/// `GET /projects/:id`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Project {
    pub id: u64,
    pub name: String,
    pub path_with_namespace: String,
    #[serde(default)]
    pub default_branch: Option<String>,
    pub web_url: String,
    #[serde(default)]
    pub http_url_to_repo: Option<String>,
    /// Lowest role that may pass variables to a pipeline (`no_one_allowed`, `developer`,
    /// `maintainer`, `owner`); GitLab shows it to Maintainers and above only.
    #[serde(default)]
    pub ci_pipeline_variables_minimum_override_role: Option<String>,
    #[serde(default)]
    pub namespace: Option<Namespace>,
}

/// The namespace a project lives in: a group (`kind: group`) or a user (`kind: user`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Namespace {
    pub id: u64,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub full_path: String,
}

/// An issue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Issue {
    pub id: u64,
    pub iid: u64,
    pub project_id: u64,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub state: String,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub author: Option<UserBasic>,
    #[serde(default)]
    pub assignees: Vec<UserBasic>,
    pub web_url: String,
    /// Visible only to members who may see confidential issues.
    #[serde(default)]
    pub confidential: bool,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A note (comment) on an issue or a merge request, or one note of a discussion.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Note {
    pub id: u64,
    /// `null` for a plain note, `DiscussionNote`, `DiffNote`.
    #[serde(default, rename = "type")]
    pub note_type: Option<String>,
    pub body: String,
    #[serde(default)]
    pub author: Option<UserBasic>,
    /// Notes GitLab writes itself ("changed the description", "mentioned in …").
    #[serde(default)]
    pub system: bool,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub noteable_id: Option<u64>,
    #[serde(default)]
    pub noteable_iid: Option<u64>,
    #[serde(default)]
    pub noteable_type: Option<String>,
    #[serde(default)]
    pub resolvable: bool,
    #[serde(default)]
    pub resolved: Option<bool>,
    #[serde(default)]
    pub internal: Option<bool>,
    /// Where a `DiffNote` sits in the diff.
    #[serde(default)]
    pub position: Option<Position>,
}

impl Note {
    pub fn author_id(&self) -> Option<u64> {
        self.author.as_ref().map(|author| author.id)
    }
}

/// A thread of notes; a plain note is a discussion of one (`individual_note`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Discussion {
    pub id: String,
    #[serde(default)]
    pub individual_note: bool,
    pub notes: Vec<Note>,
}

/// A draft note: a comment only its author sees until it is published.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DraftNote {
    pub id: u64,
    pub author_id: u64,
    /// The body (`note`, where a published note has `body`).
    pub note: String,
    #[serde(default)]
    pub position: Option<Position>,
}

/// The position of a diff note, as GitLab reports it and as we send it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Position {
    pub base_sha: String,
    pub start_sha: String,
    pub head_sha: String,
    /// `text`, `image` or `file`.
    pub position_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_range: Option<LineRange>,
}

/// The lines a multi-line comment spans.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct LineRange {
    pub start: LinePoint,
    pub end: LinePoint,
}

/// One end of a [`LineRange`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct LinePoint {
    /// `<sha1(path)>_<old_line>_<new_line>`.
    pub line_code: String,
    /// `new` for an added line, `old` for a removed one; GitLab sends `null` for context lines.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub line_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_line: Option<u32>,
}

/// An award emoji (👀 is `eyes`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AwardEmoji {
    pub id: u64,
    pub name: String,
    pub user: UserBasic,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub awardable_id: Option<u64>,
    #[serde(default)]
    pub awardable_type: Option<String>,
}

/// The three SHAs a diff position refers to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct DiffRefs {
    pub base_sha: String,
    pub head_sha: String,
    pub start_sha: String,
}

/// `!123` and its longer forms.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct References {
    pub short: String,
    #[serde(default)]
    pub relative: Option<String>,
    #[serde(default)]
    pub full: Option<String>,
}

/// A merge request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MergeRequest {
    pub id: u64,
    pub iid: u64,
    pub project_id: u64,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `opened`, `closed`, `locked`, `merged`.
    pub state: String,
    // Always present in GitLab's answers; defaulted only because some recorded update answers
    // were trimmed by hand.
    #[serde(default)]
    pub source_branch: String,
    #[serde(default)]
    pub target_branch: String,
    #[serde(default)]
    pub source_project_id: Option<u64>,
    #[serde(default)]
    pub target_project_id: Option<u64>,
    #[serde(default)]
    pub author: Option<UserBasic>,
    #[serde(default)]
    pub assignees: Vec<UserBasic>,
    #[serde(default)]
    pub reviewers: Vec<UserBasic>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Since GitLab 14; older answers only have `work_in_progress`.
    #[serde(default)]
    pub draft: Option<bool>,
    #[serde(default)]
    pub work_in_progress: bool,
    /// The source branch's head.
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub diff_refs: Option<DiffRefs>,
    #[serde(default)]
    pub detailed_merge_status: Option<String>,
    #[serde(default)]
    pub has_conflicts: bool,
    #[serde(default)]
    pub head_pipeline: Option<PipelineInfo>,
    #[serde(default)]
    pub references: Option<References>,
    pub web_url: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl MergeRequest {
    pub fn is_draft(&self) -> bool {
        self.draft.unwrap_or(self.work_in_progress)
    }
}

/// `GET /projects/:id/merge_requests/:iid/reviewers`: a reviewer and their review state.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MergeRequestReviewer {
    pub user: UserBasic,
    /// `unreviewed`, `reviewed`, `requested_changes`, `approved`, `unapproved`, `review_started`.
    pub state: String,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// One version (push) of a merge request's diff; the API lists the newest first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MergeRequestVersion {
    pub id: u64,
    pub head_commit_sha: String,
    pub base_commit_sha: String,
    pub start_commit_sha: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub merge_request_id: Option<u64>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub real_size: Option<String>,
}

impl MergeRequestVersion {
    /// The SHAs a new diff comment on this version must carry.
    pub fn diff_refs(&self) -> DiffRefs {
        DiffRefs {
            base_sha: self.base_commit_sha.clone(),
            head_sha: self.head_commit_sha.clone(),
            start_sha: self.start_commit_sha.clone(),
        }
    }
}

/// One file of a merge request's diff.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FileDiff {
    pub old_path: String,
    pub new_path: String,
    #[serde(default)]
    pub a_mode: Option<String>,
    #[serde(default)]
    pub b_mode: Option<String>,
    /// The unified diff's hunks, without the `diff --git` header; empty when GitLab collapsed it.
    #[serde(default)]
    pub diff: String,
    #[serde(default)]
    pub new_file: bool,
    #[serde(default)]
    pub renamed_file: bool,
    #[serde(default)]
    pub deleted_file: bool,
    #[serde(default)]
    pub generated_file: Option<bool>,
}

/// A commit as branches and lists embed it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Commit {
    pub id: String,
    #[serde(default)]
    pub short_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub author_name: Option<String>,
    #[serde(default)]
    pub author_email: Option<String>,
    #[serde(default)]
    pub authored_date: Option<String>,
    #[serde(default)]
    pub committed_date: Option<String>,
    #[serde(default)]
    pub parent_ids: Vec<String>,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// A branch.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Branch {
    pub name: String,
    pub commit: Commit,
    #[serde(default)]
    pub merged: bool,
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub can_push: Option<bool>,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// A pipeline's or a job's status. Unknown strings (GitLab adds statuses, e.g.
/// `waiting_for_callback`) are kept in [`Status::Other`] and count as still running.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Status {
    Created,
    WaitingForResource,
    Preparing,
    Pending,
    Running,
    Success,
    Failed,
    Canceling,
    Canceled,
    Skipped,
    Manual,
    Scheduled,
    Other(String),
}

impl Status {
    pub fn as_str(&self) -> &str {
        match self {
            Status::Created => "created",
            Status::WaitingForResource => "waiting_for_resource",
            Status::Preparing => "preparing",
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Success => "success",
            Status::Failed => "failed",
            Status::Canceling => "canceling",
            Status::Canceled => "canceled",
            Status::Skipped => "skipped",
            Status::Manual => "manual",
            Status::Scheduled => "scheduled",
            Status::Other(other) => other,
        }
    }

    /// Finished for good: nothing will change without a retry.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Status::Success | Status::Failed | Status::Canceled | Status::Skipped)
    }

    /// Waiting for a person (`manual`) or a time (`scheduled`): not worth waiting for.
    pub fn is_blocked(&self) -> bool {
        matches!(self, Status::Manual | Status::Scheduled)
    }
}

impl From<&str> for Status {
    fn from(text: &str) -> Self {
        match text {
            "created" => Status::Created,
            "waiting_for_resource" => Status::WaitingForResource,
            "preparing" => Status::Preparing,
            "pending" => Status::Pending,
            "running" => Status::Running,
            "success" => Status::Success,
            "failed" => Status::Failed,
            "canceling" => Status::Canceling,
            "canceled" => Status::Canceled,
            "skipped" => Status::Skipped,
            "manual" => Status::Manual,
            "scheduled" => Status::Scheduled,
            other => Status::Other(other.to_owned()),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Status::from(text.as_str()))
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A variable a pipeline was started with (`GET …/pipelines/:id/variables`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PipelineVariable {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// A pipeline as embedded in an MR (`head_pipeline`) or listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PipelineInfo {
    pub id: u64,
    #[serde(default)]
    pub iid: Option<u64>,
    #[serde(default)]
    pub project_id: Option<u64>,
    pub sha: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub status: Status,
    /// `push`, `trigger`, `merge_request_event`, `web`, …
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// `GET /projects/:id/pipelines/:id` and the trigger's answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Pipeline {
    pub id: u64,
    #[serde(default)]
    pub iid: Option<u64>,
    #[serde(default)]
    pub project_id: Option<u64>,
    pub sha: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub status: Status,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub before_sha: Option<String>,
    #[serde(default)]
    pub tag: bool,
    #[serde(default)]
    pub user: Option<UserBasic>,
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub duration: Option<f64>,
    #[serde(default)]
    pub detailed_status: Option<DetailedStatus>,
}

/// The UI's view of a status; `group` is a coarse bucket such as `success-with-warnings`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DetailedStatus {
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
}

/// The pipeline a job belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JobPipeline {
    pub id: u64,
    #[serde(default)]
    pub project_id: Option<u64>,
    #[serde(default)]
    pub status: Option<Status>,
}

/// A CI job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Job {
    pub id: u64,
    pub name: String,
    pub stage: String,
    pub status: Status,
    #[serde(rename = "ref")]
    pub git_ref: String,
    #[serde(default)]
    pub allow_failure: bool,
    /// Why a failed job failed: `script_failure`, `runner_system_failure`,
    /// `stuck_or_timeout_failure`, `job_execution_timeout`, …
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub pipeline: Option<JobPipeline>,
    /// Whether a newer run of this job exists (listed with `include_retried`).
    #[serde(default)]
    pub retried: Option<bool>,
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub duration: Option<f64>,
    #[serde(default)]
    pub user: Option<UserBasic>,
}

/// A bridge: a `trigger:` job that starts a downstream pipeline (a child pipeline of the same
/// project, or a pipeline of another project). GitLab lists bridges only under
/// `GET …/pipelines/:id/bridges`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Bridge {
    /// What a bridge shares with a job: id, name, stage, status, failure reason, ….
    #[serde(flatten)]
    pub job: Job,
    /// The pipeline it started; `None` when it started none (yet, or it failed to).
    #[serde(default)]
    pub downstream_pipeline: Option<PipelineInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_still_running() {
        for text in [
            "created",
            "waiting_for_resource",
            "preparing",
            "pending",
            "running",
            "success",
            "failed",
            "canceling",
            "canceled",
            "skipped",
            "manual",
            "scheduled",
        ] {
            let status: Status = serde_json::from_value(serde_json::json!(text)).unwrap();
            assert!(!matches!(status, Status::Other(_)), "{text}");
            assert_eq!(serde_json::to_value(&status).unwrap(), serde_json::json!(text));
        }
        let unknown: Status = serde_json::from_str(r#""waiting_for_callback""#).unwrap();
        assert_eq!(unknown, Status::Other("waiting_for_callback".into()));
        assert!(!unknown.is_terminal() && !unknown.is_blocked());
    }

    #[test]
    fn terminal_and_blocked_statuses() {
        let terminal: Vec<&str> = ["success", "failed", "canceled", "skipped", "running", "manual", "canceling"]
            .into_iter()
            .filter(|s| Status::from(*s).is_terminal())
            .collect();
        assert_eq!(terminal, ["success", "failed", "canceled", "skipped"]);
        assert!(Status::Manual.is_blocked() && Status::Scheduled.is_blocked());
        assert!(!Status::Pending.is_blocked() && !Status::Manual.is_terminal());
    }

    #[test]
    fn absent_assignees_and_reviewers_mean_none() {
        let mr: MergeRequest = serde_json::from_value(serde_json::json!({
            "id": 1, "iid": 2, "project_id": 3, "title": "Draft: x", "state": "opened",
            "source_branch": "copilot/issue-1", "target_branch": "main", "web_url": "https://g/x",
            "work_in_progress": true, "some_future_field": {"nested": 1}
        }))
        .unwrap();
        assert!(mr.assignees.is_empty() && mr.reviewers.is_empty());
        assert!(mr.is_draft());
        assert!(AccessLevel(40) >= AccessLevel::DEVELOPER && AccessLevel::REPORTER < AccessLevel::DEVELOPER);
    }
}
