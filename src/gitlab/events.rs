//! Typed GitLab webhook payloads, as GitLab sends them (see the fixtures of real deliveries).
//!
//! Only the fields that routing and logging read are typed; serde ignores the rest, so a new
//! field in a later GitLab version never breaks parsing. Fields that GitLab omits in some
//! versions or for some objects are `Option` (top-level `assignees`/`reviewers` disappear when
//! the list is empty, `action` on notes arrived in 16.11, many hooks carry no `event_type`).
//! Which payload a body is comes from its `object_kind` (the `X-Gitlab-Event` header only
//! confirms it): confidential issues and notes share the plain kinds and differ in
//! `event_type`.

use serde::Deserialize;

/// A person or bot as GitLab embeds it in payloads (`User#hook_attrs`). Assignee entries of some
/// GitLab versions carry no `id`, so people are matched by `username`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct User {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
    pub username: String,
    /// Set on reviewer entries when the author asked for a review again.
    #[serde(default)]
    pub re_requested: Option<bool>,
}

/// The project an event happened in.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Project {
    /// Missing in some older group-hook payloads; routing then falls back on the object's
    /// `target_project_id`.
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub path_with_namespace: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub default_branch: Option<String>,
}

/// One entry of a payload's `changes`: the value before and after the update.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Change<T> {
    #[serde(default)]
    pub previous: Option<T>,
    #[serde(default)]
    pub current: Option<T>,
}

/// A webhook delivery, by `object_kind`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Issue(Box<IssueEvent>),
    Note(Box<NoteEvent>),
    MergeRequest(Box<MergeRequestEvent>),
    Pipeline(Box<PipelineEvent>),
    Job(Box<JobEvent>),
    Push(Box<PushEvent>),
    TagPush(Box<PushEvent>),
    Release(Box<ReleaseEvent>),
    Deployment(Box<DeploymentEvent>),
    /// A group or system hook without `object_kind` (member, subgroup, project events).
    Named(NamedEvent),
    /// An `object_kind` we have no type for (wiki page, emoji, feature flag, work item, …).
    Other {
        object_kind: String,
    },
}

/// Why a body is not a webhook payload we can read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the body is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("the `{kind}` payload does not have the expected shape: {source}")]
    Shape {
        kind: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the payload has neither `object_kind` nor `event_name`")]
    Unknown,
}

/// The `object_kind` each `X-Gitlab-Event` header announces (GitLab's webhook events page;
/// the confidential hooks carry the same payloads).
fn kind_of_hook(hook: &str) -> Option<&'static str> {
    Some(match hook {
        "Issue Hook" | "Confidential Issue Hook" => "issue",
        "Note Hook" | "Confidential Note Hook" => "note",
        "Merge Request Hook" => "merge_request",
        "Pipeline Hook" => "pipeline",
        "Job Hook" => "build",
        "Push Hook" => "push",
        "Tag Push Hook" => "tag_push",
        "Release Hook" => "release",
        "Deployment Hook" => "deployment",
        _ => return None,
    })
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    object_kind: Option<String>,
    #[serde(default)]
    event_name: Option<String>,
}

impl Event {
    /// Parses a delivery body. The kind comes from `object_kind` (or `event_name` for hooks that
    /// have none); a known kind whose body does not fit its type is an error, an unknown kind is
    /// [`Event::Other`].
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let probe: Probe = serde_json::from_slice(body).map_err(ParseError::Json)?;
        let Some(kind) = probe.object_kind else {
            return match probe.event_name {
                Some(event_name) => Ok(Event::Named(NamedEvent { event_name })),
                None => Err(ParseError::Unknown),
            };
        };
        Self::of_kind(&kind, body)
    }

    /// Parses a delivery whose `X-Gitlab-Event` header is `hook`: a known hook's body is read
    /// once, straight into its type, and kept when its own `object_kind` agrees; anything else
    /// (no header, a header we do not map, a disagreement, a body that does not fit) is parsed
    /// as [`Event::parse`] does, so the header never decides what a body means.
    pub fn parse_delivery(body: &[u8], hook: Option<&str>) -> Result<Self, ParseError> {
        if let Some(kind) = hook.and_then(kind_of_hook)
            && let Ok(event) = Self::of_kind(kind, body)
            && event.object_kind() == Some(kind)
        {
            return Ok(event);
        }
        Self::parse(body)
    }

    /// The body read as the typed event of `kind`.
    fn of_kind(kind: &str, body: &[u8]) -> Result<Self, ParseError> {
        fn typed<T: for<'de> Deserialize<'de>>(kind: &str, body: &[u8]) -> Result<Box<T>, ParseError> {
            serde_json::from_slice(body)
                .map(Box::new)
                .map_err(|source| ParseError::Shape { kind: kind.to_owned(), source })
        }
        Ok(match kind {
            "issue" => Event::Issue(typed(kind, body)?),
            "note" => Event::Note(typed(kind, body)?),
            "merge_request" => Event::MergeRequest(typed(kind, body)?),
            "pipeline" => Event::Pipeline(typed(kind, body)?),
            "build" => Event::Job(typed(kind, body)?),
            "push" => Event::Push(typed(kind, body)?),
            "tag_push" => Event::TagPush(typed(kind, body)?),
            "release" => Event::Release(typed(kind, body)?),
            "deployment" => Event::Deployment(typed(kind, body)?),
            _ => Event::Other { object_kind: kind.to_owned() },
        })
    }

    /// The `object_kind` the body itself gave, for the typed events.
    fn object_kind(&self) -> Option<&str> {
        match self {
            Event::Issue(event) => event.object_kind.as_deref(),
            Event::Note(event) => event.object_kind.as_deref(),
            Event::MergeRequest(event) => event.object_kind.as_deref(),
            Event::Pipeline(event) => event.object_kind.as_deref(),
            Event::Job(event) => event.object_kind.as_deref(),
            Event::Push(event) => event.object_kind.as_deref(),
            Event::TagPush(event) => event.object_kind.as_deref(),
            Event::Release(event) => event.object_kind.as_deref(),
            Event::Deployment(event) => event.object_kind.as_deref(),
            Event::Named(_) | Event::Other { .. } => None,
        }
    }

    /// The kind as GitLab names it in `object_kind` (or the `event_name` of a named hook), for
    /// logs and metrics.
    pub fn kind(&self) -> &str {
        match self {
            Event::Issue(_) => "issue",
            Event::Note(_) => "note",
            Event::MergeRequest(_) => "merge_request",
            Event::Pipeline(_) => "pipeline",
            Event::Job(_) => "build",
            Event::Push(_) => "push",
            Event::TagPush(_) => "tag_push",
            Event::Release(_) => "release",
            Event::Deployment(_) => "deployment",
            Event::Named(named) => &named.event_name,
            Event::Other { object_kind } => object_kind,
        }
    }
}

/// `Issue Hook` and `Confidential Issue Hook`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct IssueEvent {
    /// The kind the body names itself, checked against the `X-Gitlab-Event` header.
    #[serde(default)]
    pub object_kind: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    pub user: User,
    pub project: Project,
    pub object_attributes: IssueAttributes,
    /// Omitted by GitLab when the issue has no assignee.
    #[serde(default)]
    pub assignees: Option<Vec<User>>,
    #[serde(default)]
    pub changes: IssueChanges,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct IssueAttributes {
    pub id: u64,
    pub iid: u64,
    /// `open`, `close`, `reopen` or `update`.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub confidential: Option<bool>,
    #[serde(default)]
    pub url: Option<String>,
    /// When the change this event reports was made (`2013-12-03T17:15:43Z`, or
    /// `2021-09-27 05:01:21 UTC` in older payloads).
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// The `changes` routing reads; the others (labels, title, …) are ignored.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct IssueChanges {
    #[serde(default)]
    pub assignees: Option<Change<Vec<User>>>,
}

/// `Note Hook` and `Confidential Note Hook`: a comment on an issue, MR, commit or snippet.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct NoteEvent {
    /// The kind the body names itself, checked against the `X-Gitlab-Event` header.
    #[serde(default)]
    pub object_kind: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    pub user: User,
    pub project: Project,
    pub object_attributes: NoteAttributes,
    #[serde(default)]
    pub issue: Option<NotedIssue>,
    #[serde(default)]
    pub merge_request: Option<NotedMergeRequest>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct NoteAttributes {
    pub id: u64,
    pub note: String,
    /// `Issue`, `MergeRequest`, `Commit` or `Snippet`.
    pub noteable_type: String,
    #[serde(default)]
    pub author_id: Option<u64>,
    #[serde(default)]
    pub system: Option<bool>,
    /// `create` or `update` (GitLab 16.11+; older versions send only creations).
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct NotedIssue {
    pub id: u64,
    pub iid: u64,
    #[serde(default)]
    pub confidential: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct NotedMergeRequest {
    pub id: u64,
    pub iid: u64,
    pub source_branch: String,
    pub target_branch: String,
    #[serde(default)]
    pub source_project_id: Option<u64>,
    #[serde(default)]
    pub target_project_id: Option<u64>,
}

/// `Merge Request Hook`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MergeRequestEvent {
    /// The kind the body names itself, checked against the `X-Gitlab-Event` header.
    #[serde(default)]
    pub object_kind: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    pub user: User,
    pub project: Project,
    pub object_attributes: MergeRequestAttributes,
    /// Omitted by GitLab when the MR has no reviewer.
    #[serde(default)]
    pub reviewers: Option<Vec<User>>,
    #[serde(default)]
    pub assignees: Option<Vec<User>>,
    /// The merge request's labels after the change.
    #[serde(default)]
    pub labels: Option<Vec<Label>>,
    #[serde(default)]
    pub changes: MergeRequestChanges,
}

/// A label as webhooks show it; only its title matters here.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Label {
    pub title: String,
}

/// The head commit of a merge request event.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct LastCommit {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct MergeRequestAttributes {
    pub id: u64,
    /// Absent from some older group-hook payloads, which cannot be acted upon.
    #[serde(default)]
    pub iid: Option<u64>,
    #[serde(default)]
    pub source_branch: Option<String>,
    #[serde(default)]
    pub target_branch: Option<String>,
    #[serde(default)]
    pub source_project_id: Option<u64>,
    #[serde(default)]
    pub target_project_id: Option<u64>,
    /// `open`, `close`, `reopen`, `update`, `approved`, `merge`, …
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// When the change this event reports was made.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// The source branch's head before this `update`: present only when commits were pushed.
    #[serde(default)]
    pub oldrev: Option<String>,
    /// The source branch's head after the change.
    #[serde(default)]
    pub last_commit: Option<LastCommit>,
    #[serde(default)]
    pub author_id: Option<u64>,
    /// Whether the merge request is a draft (`work_in_progress` on GitLab before 13.x; both are sent).
    #[serde(default)]
    pub draft: Option<bool>,
    #[serde(default)]
    pub work_in_progress: Option<bool>,
}

impl MergeRequestAttributes {
    /// Whether the merge request is a draft, by whichever field the payload carries.
    pub fn is_draft(&self) -> bool {
        self.draft.or(self.work_in_progress).unwrap_or(false)
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct MergeRequestChanges {
    #[serde(default)]
    pub reviewers: Option<Change<Vec<User>>>,
    #[serde(default)]
    pub assignees: Option<Change<Vec<User>>>,
    #[serde(default)]
    pub labels: Option<Change<Vec<Label>>>,
    #[serde(default)]
    pub draft: Option<Change<bool>>,
}

/// `Pipeline Hook`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PipelineEvent {
    /// The kind the body names itself, checked against the `X-Gitlab-Event` header.
    #[serde(default)]
    pub object_kind: Option<String>,
    pub object_attributes: PipelineAttributes,
    #[serde(default)]
    pub merge_request: Option<PipelineMergeRequest>,
    #[serde(default)]
    pub user: Option<User>,
    pub project: Project,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PipelineAttributes {
    pub id: u64,
    #[serde(default)]
    pub iid: Option<u64>,
    #[serde(rename = "ref")]
    pub git_ref: String,
    #[serde(default)]
    pub tag: bool,
    #[serde(default)]
    pub sha: Option<String>,
    /// `created`, `pending`, `running`, `success`, `failed`, `canceled`, …
    pub status: String,
    #[serde(default)]
    pub source: Option<String>,
    /// When the pipeline ended (`2016-08-12 15:26:29 UTC`); a retried pipeline ends again.
    #[serde(default)]
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PipelineMergeRequest {
    pub id: u64,
    pub iid: u64,
    pub source_branch: String,
    pub target_branch: String,
    #[serde(default)]
    pub source_project_id: Option<u64>,
    #[serde(default)]
    pub target_project_id: Option<u64>,
}

/// `Job Hook` (`object_kind: build`; legacy `Build Hook`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct JobEvent {
    /// The kind the body names itself, checked against the `X-Gitlab-Event` header.
    #[serde(default)]
    pub object_kind: Option<String>,
    pub build_id: u64,
    pub build_name: String,
    pub build_status: String,
    pub pipeline_id: u64,
    pub project_id: u64,
    #[serde(rename = "ref")]
    pub git_ref: String,
}

/// `Push Hook` and `Tag Push Hook`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PushEvent {
    /// The kind the body names itself, checked against the `X-Gitlab-Event` header.
    #[serde(default)]
    pub object_kind: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub before: String,
    pub after: String,
    pub user_username: String,
    pub project_id: u64,
    #[serde(default)]
    pub total_commits_count: Option<u64>,
}

/// `Release Hook`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ReleaseEvent {
    /// The kind the body names itself, checked against the `X-Gitlab-Event` header.
    #[serde(default)]
    pub object_kind: Option<String>,
    pub id: u64,
    pub tag: String,
    #[serde(default)]
    pub action: Option<String>,
    pub project: Project,
}

/// `Deployment Hook`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DeploymentEvent {
    /// The kind the body names itself, checked against the `X-Gitlab-Event` header.
    #[serde(default)]
    pub object_kind: Option<String>,
    pub deployment_id: u64,
    pub status: String,
    pub environment: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub project: Project,
}

/// A group or system hook identified by `event_name` (`user_add_to_group`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedEvent {
    pub event_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/data/gitlab/webhooks/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|error| panic!("reading {path}: {error}"))
    }

    #[test]
    fn every_fixture_parses_into_its_kind() {
        let expected = [
            ("build.json", "build"),
            ("deployment.json", "deployment"),
            ("group_merge_request.json", "merge_request"),
            ("issue.json", "issue"),
            ("job.json", "build"),
            ("member.json", "user_add_to_group"),
            ("merge_request.json", "merge_request"),
            ("note_commit.json", "note"),
            ("note_issue.json", "note"),
            ("note_merge_request.json", "note"),
            ("note_snippet.json", "note"),
            ("pipeline.json", "pipeline"),
            ("push.json", "push"),
            ("release.json", "release"),
            ("service_merge_request.json", "merge_request"),
            ("tag_push.json", "tag_push"),
        ];
        let dir = format!("{}/tests/data/gitlab/webhooks", env!("CARGO_MANIFEST_DIR"));
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("fixtures dir")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".json"))
            .collect();
        on_disk.sort();
        let listed: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
        assert_eq!(on_disk, listed, "a fixture was added or removed: type it and list it here");
        for (name, kind) in expected {
            let event = Event::parse(&fixture(name)).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(event.kind(), kind, "{name}");
            assert!(!matches!(event, Event::Other { .. }), "{name} has no type");
        }
    }

    #[test]
    fn a_delivery_is_read_once_by_its_header_and_the_body_has_the_last_word() {
        let hooks = [
            ("build.json", "Job Hook"),
            ("deployment.json", "Deployment Hook"),
            ("issue.json", "Issue Hook"),
            ("merge_request.json", "Merge Request Hook"),
            ("note_issue.json", "Note Hook"),
            ("note_merge_request.json", "Confidential Note Hook"),
            ("pipeline.json", "Pipeline Hook"),
            ("push.json", "Push Hook"),
            ("release.json", "Release Hook"),
            ("tag_push.json", "Tag Push Hook"),
        ];
        for (name, hook) in hooks {
            let body = fixture(name);
            let hinted = Event::parse_delivery(&body, Some(hook)).unwrap_or_else(|error| panic!("{name}: {error}"));
            let plain = Event::parse(&body).unwrap();
            assert_eq!(format!("{hinted:?}"), format!("{plain:?}"), "{name}");
            assert_eq!(hinted.object_kind(), Some(hinted.kind()), "{name}: read straight into its type");
        }
        // A header that disagrees with the body, or one we do not map, changes nothing.
        let note = fixture("note_issue.json");
        for hook in [Some("Issue Hook"), Some("Wiki Page Hook"), Some(""), None] {
            assert_eq!(Event::parse_delivery(&note, hook).unwrap().kind(), "note", "{hook:?}");
        }
        let member = fixture("member.json");
        assert_eq!(Event::parse_delivery(&member, Some("Note Hook")).unwrap().kind(), "user_add_to_group");
    }

    #[test]
    fn fields_routing_reads_come_through() {
        let Event::Note(note) = Event::parse(&fixture("note_merge_request.json")).expect("parses") else {
            panic!("not a note")
        };
        assert_eq!(note.object_attributes.id, 1244);
        assert_eq!(note.object_attributes.action.as_deref(), Some("create"));
        let mr = note.merge_request.expect("noted MR");
        assert_eq!((mr.iid, mr.source_branch.as_str(), mr.target_branch.as_str()), (1, "master", "markdown"));

        let Event::Pipeline(pipeline) = Event::parse(&fixture("pipeline.json")).expect("parses") else {
            panic!("not a pipeline")
        };
        assert_eq!((pipeline.object_attributes.id, pipeline.object_attributes.git_ref.as_str()), (31, "master"));
        assert_eq!(pipeline.merge_request.map(|mr| mr.iid), Some(1));

        let Event::Issue(issue) = Event::parse(&fixture("issue.json")).expect("parses") else { panic!("not an issue") };
        assert_eq!(issue.object_attributes.iid, 23);
        assert!(issue.changes.assignees.is_none(), "the fixture changes labels, not assignees");
    }

    #[test]
    fn assignee_changes_parse_in_the_shape_gitlab_builds() {
        let body = br#"{"object_kind":"issue","event_type":"confidential_issue",
            "user":{"id":1,"username":"root"},"project":{"id":5},
            "object_attributes":{"id":9,"iid":3,"action":"update"},
            "changes":{"assignees":{"previous":[],"current":[{"id":7,"name":"Bot","username":"agent-bot","avatar_url":"x","email":"[REDACTED]"}]}}}"#;
        let Event::Issue(issue) = Event::parse(body).expect("parses") else { panic!("not an issue") };
        let change = issue.changes.assignees.expect("assignee change");
        assert_eq!(change.previous, Some(vec![]));
        assert_eq!(change.current.expect("current")[0].username, "agent-bot");
        assert!(issue.assignees.is_none(), "top-level assignees are omitted when empty");
    }

    #[test]
    fn malformed_and_unknown_bodies_are_told_apart() {
        assert!(matches!(Event::parse(b"{not json"), Err(ParseError::Json(_))));
        assert!(matches!(Event::parse(b"{}"), Err(ParseError::Unknown)));
        assert!(matches!(Event::parse(br#"{"object_kind":"note","user":{}}"#), Err(ParseError::Shape { .. })));
        assert!(matches!(
            Event::parse(br#"{"object_kind":"wiki_page"}"#),
            Ok(Event::Other { object_kind }) if object_kind == "wiki_page"
        ));
    }
}
