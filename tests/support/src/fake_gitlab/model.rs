//! The fake's state: users, groups, projects, issues, merge requests, notes, awards, pipelines,
//! jobs, webhooks and runners.
//!
//! Plain data behind one mutex, changed by the HTTP handlers and by tests' scripting methods,
//! read by tests' assertions. Ids are allocated the way GitLab allocates them: `id` is global per
//! resource kind, `iid` counts per project. Git contents are not here: they live in each
//! project's bare repository and are read through [`super::repo`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::ci::CiScript;

/// A GitLab user. `token` is the personal access token the fake accepts for them.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub token: String,
    pub bot: bool,
    pub state: String,
}

/// GitLab's access levels (`members` API).
pub mod access {
    pub const GUEST: u32 = 10;
    pub const REPORTER: u32 = 20;
    pub const DEVELOPER: u32 = 30;
    pub const MAINTAINER: u32 = 40;
    pub const OWNER: u32 = 50;
}

/// A project with its bare repository on disk.
#[derive(Debug, Clone)]
pub struct Project {
    pub id: u64,
    pub path_with_namespace: String,
    pub default_branch: String,
    /// user id → access level (inherited and direct are the same here).
    pub members: BTreeMap<u64, u32>,
    /// user id → the membership's `expires_at` (`YYYY-MM-DD`); GitLab keeps an expired
    /// membership listed until its daily clean-up runs.
    pub member_expiry: BTreeMap<u64, String>,
    /// Protected-branch rules; the default branch is protected at creation, as on GitLab.
    pub protected_branches: Vec<ProtectedBranch>,
    pub trigger_tokens: Vec<TriggerToken>,
    pub ci: CiScript,
    /// "Minimum role to use pipeline variables" (`ci_pipeline_variables_minimum_override_role`):
    /// `no_one_allowed`, `developer`, `maintainer` or `owner`.
    pub pipeline_variables_minimum_role: String,
    pub next_issue_iid: u64,
    pub next_mr_iid: u64,
    pub next_pipeline_iid: u64,
    pub created_at: String,
    /// The project this one is a fork of (`forked_from_project`).
    pub forked_from: Option<u64>,
}

impl Project {
    /// A project as GitLab creates one: no members yet, the default branch protected (only
    /// Maintainers push and merge), the default CI script, and pipeline variables allowed from
    /// Developers up (GitLab's default outside GitLab.com's new groups).
    pub fn new(
        id: u64,
        path_with_namespace: &str,
        default_branch: &str,
        protection_id: u64,
        created_at: String,
    ) -> Self {
        Self {
            id,
            path_with_namespace: path_with_namespace.to_owned(),
            default_branch: default_branch.to_owned(),
            members: BTreeMap::new(),
            member_expiry: BTreeMap::new(),
            protected_branches: vec![ProtectedBranch {
                id: protection_id,
                name: default_branch.to_owned(),
                push_access_level: access::MAINTAINER,
                push_user_ids: Vec::new(),
                merge_access_level: access::MAINTAINER,
                allow_force_push: false,
            }],
            trigger_tokens: Vec::new(),
            ci: CiScript::default(),
            pipeline_variables_minimum_role: "developer".to_owned(),
            next_issue_iid: 1,
            next_mr_iid: 1,
            next_pipeline_iid: 1,
            created_at,
            forked_from: None,
        }
    }

    pub fn name(&self) -> &str {
        self.path_with_namespace.rsplit('/').next().unwrap_or(&self.path_with_namespace)
    }

    pub fn namespace(&self) -> &str {
        self.path_with_namespace.rsplit_once('/').map_or("", |(namespace, _)| namespace)
    }

    pub fn access_of(&self, user_id: u64) -> u32 {
        self.members.get(&user_id).copied().unwrap_or(0)
    }
}

/// A protected-branch rule: branches `name` matches (`*` wildcards) take pushes from roles at
/// or above `push_access_level` (0: no one) and from the users in `push_user_ids`.
#[derive(Debug, Clone, Serialize)]
pub struct ProtectedBranch {
    pub id: u64,
    pub name: String,
    pub push_access_level: u32,
    pub push_user_ids: Vec<u64>,
    pub merge_access_level: u32,
    pub allow_force_push: bool,
}

/// A pipeline trigger token and the user its pipelines run as.
#[derive(Debug, Clone, Serialize)]
pub struct TriggerToken {
    pub id: u64,
    pub token: String,
    pub owner_id: u64,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Issue {
    pub id: u64,
    pub iid: u64,
    pub project_id: u64,
    pub title: String,
    pub description: String,
    pub state: String,
    pub author_id: u64,
    pub assignee_ids: Vec<u64>,
    pub labels: Vec<String>,
    /// Visible only to project members with at least the Planner role and the issue's author
    /// and assignees.
    pub confidential: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// What a note, a discussion or an award belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Noteable {
    Issue { project_id: u64, iid: u64 },
    MergeRequest { project_id: u64, iid: u64 },
}

impl Noteable {
    pub fn project_id(self) -> u64 {
        match self {
            Noteable::Issue { project_id, .. } | Noteable::MergeRequest { project_id, .. } => project_id,
        }
    }

    pub fn type_name(self) -> &'static str {
        match self {
            Noteable::Issue { .. } => "Issue",
            Noteable::MergeRequest { .. } => "MergeRequest",
        }
    }
}

/// A note (comment). Notes of one discussion share `discussion_id`.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub id: u64,
    pub noteable: Noteable,
    /// The global id of the issue or MR (`noteable_id`).
    pub noteable_id: u64,
    pub discussion_id: String,
    /// `true` for a plain comment (its own one-note discussion).
    pub individual_note: bool,
    /// `None`, `DiscussionNote` or `DiffNote`.
    pub note_type: Option<String>,
    pub body: String,
    pub author_id: u64,
    pub system: bool,
    pub internal: bool,
    pub position: Option<serde_json::Value>,
    pub commit_id: Option<String>,
    pub resolvable: bool,
    pub resolved: bool,
    /// Who resolved the note's thread, while it is resolved.
    pub resolved_by: Option<u64>,
    pub created_at: String,
    pub updated_at: String,
}

/// A draft note on a merge request: seen only by its author until published.
#[derive(Debug, Clone, Serialize)]
pub struct DraftNote {
    pub id: u64,
    pub project_id: u64,
    pub mr_iid: u64,
    /// The merge request's global id (`merge_request_id`).
    pub merge_request_id: u64,
    pub author_id: u64,
    pub note: String,
    /// The position as validated and stored, like a DiffNote's.
    pub position: Option<serde_json::Value>,
    pub commit_id: Option<String>,
}

/// What an award emoji is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Awardable {
    Issue(u64),
    MergeRequest(u64),
    Note(u64),
}

#[derive(Debug, Clone, Serialize)]
pub struct Award {
    pub id: u64,
    pub name: String,
    pub user_id: u64,
    pub awardable: Awardable,
    pub created_at: String,
}

/// One version (`merge_request_diff`) of a merge request, with its diff files.
#[derive(Debug, Clone, Serialize)]
pub struct MrVersion {
    pub id: u64,
    pub head_commit_sha: String,
    pub base_commit_sha: String,
    pub start_commit_sha: String,
    pub created_at: String,
    pub files: Vec<super::diff::DiffFile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MergeRequest {
    pub id: u64,
    pub iid: u64,
    pub project_id: u64,
    /// The project the source branch lives in: `project_id`, or a fork's id.
    pub source_project_id: u64,
    pub title: String,
    pub description: String,
    pub state: String,
    pub source_branch: String,
    pub target_branch: String,
    pub author_id: u64,
    pub assignee_ids: Vec<u64>,
    pub reviewer_ids: Vec<u64>,
    pub labels: Vec<String>,
    pub remove_source_branch: bool,
    pub squash: bool,
    pub discussion_locked: bool,
    /// Newest last.
    pub versions: Vec<MrVersion>,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

impl MergeRequest {
    /// GitLab's draft detection: a `Draft:`, `[Draft]` or `(Draft)` title prefix (any case).
    pub fn draft(&self) -> bool {
        let lower = self.title.trim_start().to_ascii_lowercase();
        ["draft:", "[draft]", "(draft)", "draft -"].iter().any(|prefix| lower.starts_with(prefix))
    }

    pub fn latest_version(&self) -> Option<&MrVersion> {
        self.versions.last()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Pipeline {
    pub id: u64,
    pub iid: u64,
    pub project_id: u64,
    pub git_ref: String,
    pub sha: String,
    pub before_sha: String,
    pub source: String,
    pub user_id: u64,
    /// Set when a test forces the status; otherwise derived from the jobs.
    pub forced_status: Option<String>,
    /// The configuration's `workflow:name`, expanded (`None` when it sets none).
    pub name: Option<String>,
    pub variables: Vec<(String, String)>,
    /// Pipeline inputs it was started with (GitLab's API does not show them).
    pub inputs: Vec<(String, String)>,
    /// How many more reads report `running` before the scripted outcome shows.
    pub reads_until_done: u32,
    /// The outcome applied once `reads_until_done` reaches zero.
    pub pending_outcome: Option<super::ci::Outcome>,
    /// For a downstream pipeline: whose CI rule scripts its runs (`None`: its own project's).
    pub script_origin: Option<super::ci::ScriptOrigin>,
    pub created_at: String,
    pub updated_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: u64,
    pub pipeline_id: u64,
    pub project_id: u64,
    pub name: String,
    pub stage: String,
    pub status: String,
    pub allow_failure: bool,
    pub failure_reason: Option<String>,
    pub trace: String,
    pub retried: bool,
    /// For a bridge (a `trigger:` job, kept out of `/jobs`): the downstream pipeline it started.
    pub downstream: Option<u64>,
    pub user_id: u64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl Job {
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "success" | "failed" | "canceled" | "skipped")
    }
}

/// A group: the namespace of the projects whose path starts with its `full_path`. Members
/// here are the group's own; project access in the fake is set on each project.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub id: u64,
    pub full_path: String,
    /// user id → access level.
    pub members: BTreeMap<u64, u32>,
    /// Group webhooks are a Premium feature: on GitLab Free the group hooks API answers 403.
    pub webhooks_licensed: bool,
    pub created_at: String,
}

impl Group {
    pub fn name(&self) -> &str {
        self.full_path.rsplit('/').next().unwrap_or(&self.full_path)
    }

    pub fn access_of(&self, user_id: u64) -> u32 {
        self.members.get(&user_id).copied().unwrap_or(0)
    }
}

/// A project's CI/CD variable. A hidden one's value is never shown again.
#[derive(Debug, Clone, Serialize)]
pub struct CiVariable {
    pub project_id: u64,
    pub key: String,
    pub value: String,
    pub masked: bool,
    pub hidden: bool,
    pub protected: bool,
    pub raw: bool,
    pub description: Option<String>,
}

/// Whose webhook it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HookOwner {
    Project(u64),
    Group(u64),
}

/// A project or group webhook. `token` is write-only: GitLab never shows it again.
#[derive(Debug, Clone, Serialize)]
pub struct Hook {
    pub id: u64,
    pub owner: HookOwner,
    pub url: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub token: Option<String>,
    /// `*_events` flag name → on (unset flags read as GitLab's defaults).
    pub events: BTreeMap<String, bool>,
    pub push_events_branch_filter: Option<String>,
    pub branch_filter_strategy: String,
    pub enable_ssl_verification: bool,
    pub created_at: String,
}

impl Hook {
    /// A flag as GitLab reads it: `push_events` defaults to on, every other one to off.
    pub fn event(&self, flag: &str) -> bool {
        self.events.get(flag).copied().unwrap_or(flag == "push_events")
    }
}

/// One delivery a webhook made (what `GET …/hooks/:hook_id/events` lists).
#[derive(Debug, Clone, Serialize)]
pub struct HookDelivery {
    pub id: u64,
    pub hook_id: u64,
    pub trigger: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_data: String,
    /// The HTTP status as text, or `internal error` when no response came.
    pub response_status: String,
    pub response_body: String,
    pub internal_error_message: Option<String>,
    pub execution_duration: f64,
    pub created_at: String,
}

/// A CI runner: an instance runner serves every project, a group runner the group's
/// projects, a project runner the projects it is assigned to.
#[derive(Debug, Clone, Serialize)]
pub struct Runner {
    pub id: u64,
    pub description: String,
    /// `instance_type`, `group_type` or `project_type`.
    pub runner_type: String,
    pub group_id: Option<u64>,
    pub project_ids: Vec<u64>,
    pub tags: Vec<String>,
    pub run_untagged: bool,
    /// Contacted GitLab recently (`online`); `false` is `offline`.
    pub online: bool,
    pub paused: bool,
    pub created_at: String,
}

/// A trigger call as GitLab received it.
#[derive(Debug, Clone, Serialize)]
pub struct TriggerCall {
    pub project_id: u64,
    pub git_ref: String,
    pub variables: Vec<(String, String)>,
    pub inputs: Vec<(String, String)>,
    pub pipeline_id: u64,
}

/// Everything the fake knows.
#[derive(Debug, Default)]
pub struct State {
    pub base_url: String,
    pub users: Vec<User>,
    pub projects: Vec<Project>,
    pub issues: Vec<Issue>,
    pub merge_requests: Vec<MergeRequest>,
    pub notes: Vec<Note>,
    pub draft_notes: Vec<DraftNote>,
    pub awards: Vec<Award>,
    pub pipelines: Vec<Pipeline>,
    pub jobs: Vec<Job>,
    pub triggers: Vec<TriggerCall>,
    pub groups: Vec<Group>,
    pub variables: Vec<CiVariable>,
    pub hooks: Vec<Hook>,
    pub hook_deliveries: Vec<HookDelivery>,
    pub runners: Vec<Runner>,
    /// The admin setting "Allow requests to the local network from webhooks and integrations":
    /// without it a webhook to a loopback or private address is refused. The fake's hooks
    /// point at loopback, so it starts allowed, as on a self-managed instance that set it.
    pub local_requests_blocked: bool,
    next_id: BTreeMap<&'static str, u64>,
}

impl State {
    /// The next global id for a resource kind (`"note"`, `"pipeline"`, …).
    pub fn allocate(&mut self, kind: &'static str) -> u64 {
        let start = match kind {
            "user" => 1,
            "project" => 1,
            _ => 100,
        };
        let next = self.next_id.entry(kind).or_insert(start);
        let id = *next;
        *next += 1;
        id
    }

    pub fn user(&self, id: u64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn user_by_token(&self, token: &str) -> Option<&User> {
        self.users.iter().find(|u| u.token == token)
    }

    pub fn user_by_name(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == username)
    }

    /// A project by numeric id or by (already decoded) `namespace/path`.
    pub fn project(&self, key: &str) -> Option<&Project> {
        match key.parse::<u64>() {
            Ok(id) => self.projects.iter().find(|p| p.id == id),
            Err(_) => self.projects.iter().find(|p| p.path_with_namespace == key),
        }
    }

    pub fn project_by_id(&self, id: u64) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    pub fn project_mut(&mut self, id: u64) -> Option<&mut Project> {
        self.projects.iter_mut().find(|p| p.id == id)
    }

    pub fn issue(&self, project_id: u64, iid: u64) -> Option<&Issue> {
        self.issues.iter().find(|i| i.project_id == project_id && i.iid == iid)
    }

    pub fn merge_request(&self, project_id: u64, iid: u64) -> Option<&MergeRequest> {
        self.merge_requests.iter().find(|m| m.project_id == project_id && m.iid == iid)
    }

    pub fn merge_request_mut(&mut self, project_id: u64, iid: u64) -> Option<&mut MergeRequest> {
        self.merge_requests.iter_mut().find(|m| m.project_id == project_id && m.iid == iid)
    }

    pub fn pipeline(&self, id: u64) -> Option<&Pipeline> {
        self.pipelines.iter().find(|p| p.id == id)
    }

    pub fn pipeline_mut(&mut self, id: u64) -> Option<&mut Pipeline> {
        self.pipelines.iter_mut().find(|p| p.id == id)
    }

    pub fn job(&self, id: u64) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id == id)
    }

    pub fn job_mut(&mut self, id: u64) -> Option<&mut Job> {
        self.jobs.iter_mut().find(|j| j.id == id)
    }

    /// The global id of an issue or MR, as `noteable_id`/`awardable_id` carry it.
    pub fn noteable_id(&self, noteable: Noteable) -> Option<u64> {
        match noteable {
            Noteable::Issue { project_id, iid } => self.issue(project_id, iid).map(|i| i.id),
            Noteable::MergeRequest { project_id, iid } => self.merge_request(project_id, iid).map(|m| m.id),
        }
    }

    /// A group by numeric id or by (already decoded) full path.
    pub fn group(&self, key: &str) -> Option<&Group> {
        match key.parse::<u64>() {
            Ok(id) => self.groups.iter().find(|g| g.id == id),
            Err(_) => self.groups.iter().find(|g| g.full_path == key),
        }
    }

    /// The group a project lives in, when its namespace is one.
    pub fn group_of(&self, project: &Project) -> Option<&Group> {
        self.groups.iter().find(|g| g.full_path == project.namespace())
    }

    pub fn web_url_of_project(&self, project: &Project) -> String {
        format!("{}/{}", self.base_url, project.path_with_namespace)
    }
}
