//! Routing: from a parsed webhook event to a decision — which workflow to trigger, with which
//! identifier-only variables, or why nothing happens. Pure (no IO), so every rule is a unit test
//! and the server only has to authorize, deduplicate and act.
//!
//! The rules:
//! - `issue_assignee`: an Issue Hook where the agent was *added* to the assignees (compared
//!   `changes.assignees` previous vs current; on `open`, present from the start). An agent that
//!   was already assigned and stays so is not a new request.
//! - `issue_note` / `mr_note`: a new (not edited) note on an issue or MR that mentions the agent
//!   outside code and quotes (see [`crate::request::mention`]).
//! - `mr_reviewer`: a Merge Request Hook where the agent was added to the reviewers or asked to
//!   review again (`re_requested`); or, where the project opted in to automatic reviews, a merge
//!   request opened, pushed to, labelled or marked ready (see [`super::auto_review`]).
//! - `pipeline_failed`: a failed branch pipeline whose branch carries the agent's prefix. This is
//!   the one trigger the agent's own actions may cause (the agent pushes those branches); every
//!   other event by the agent is ignored so it never answers itself.
//!
//! Confidential variants have the same `object_kind` and are routed like the plain ones.

use crate::gitlab::events::{Event, IssueEvent, MergeRequestEvent, NoteEvent, PipelineEvent, User};
pub use crate::trigger::{Branches, Trigger, TriggerType};

use crate::request::actor::is_bot;
use crate::request::mention;

/// What routing needs to know about the agent.
#[derive(Debug, Clone)]
pub struct Agent {
    /// The agent user's username, without `@`.
    pub username: String,
    /// Prefix of the branches the agent pushes (`copilot/`).
    pub branch_prefix: String,
    /// Which merge requests the agent reviews without being asked.
    pub auto_review: crate::config::AutoReviewSettings,
}

/// Who caused the event; their access to the project is checked before anything is triggered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: u64,
    pub username: String,
    /// The agent itself (only a `pipeline_failed` trigger can have it as actor).
    pub is_agent: bool,
}

/// Where the acknowledgement goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwardTarget {
    IssueNote {
        issue_iid: u64,
        note_id: u64,
    },
    MergeRequestNote {
        mr_iid: u64,
        note_id: u64,
    },
    Issue {
        iid: u64,
    },
    MergeRequest {
        iid: u64,
    },
    /// The open MR of a failed pipeline's branch: its own when the pipeline ran for one,
    /// otherwise looked up by the branch when acting.
    PipelineMergeRequest {
        iid: Option<u64>,
    },
}

impl AwardTarget {
    /// The emoji awarded: 👀 ("seen, on it"), or 🔧 on an MR for its failed pipeline, so that a
    /// review request and a pipeline failure on one MR hold locks of their own.
    pub fn emoji(self) -> &'static str {
        match self {
            Self::PipelineMergeRequest { .. } => "wrench",
            _ => "eyes",
        }
    }
}

/// How replicas that share no store agree on who starts a request: through the agent's award
/// on GitLab, which GitLab refuses to give twice ("has already been taken").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// A note is new: only a replica handling this very note can have awarded it.
    Note,
    /// An issue or MR keeps its award from earlier requests: an award made before this change
    /// (`updated_at`, or the pipeline's `finished_at`) belongs to an earlier request and is
    /// replaced; one made since is this request's.
    Since(chrono::DateTime<chrono::Utc>),
    /// The event tells no time: the award is a courtesy and two replicas may both start.
    None,
}

/// A webhook payload's time: `2013-12-03T17:15:43Z` (RFC 3339) or `2021-09-27 05:01:21 UTC`
/// (older payloads, and pipeline events to this day).
pub fn event_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{DateTime, NaiveDateTime, Utc};
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    if let Some(naive) = text.strip_suffix(" UTC") {
        return NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S").ok().map(|time| time.and_utc());
    }
    DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S %z").ok().map(|time| time.with_timezone(&Utc))
}

/// A decision to start the agent: the trigger contract and what to do around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    /// What the pipeline gets: identifiers only, never user text.
    pub trigger: Trigger,
    pub actor: Actor,
    pub award: Option<AwardTarget>,
    /// When the change this request answers was made, as the payload tells it.
    pub event_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The head commit an automatic review is for: each push is a request of its own.
    pub revision: Option<String>,
}

impl Work {
    /// How the award on [`Work::award`] serves as the lock between replicas.
    pub fn lock(&self) -> Lock {
        match (self.award, self.event_at) {
            (Some(AwardTarget::IssueNote { .. } | AwardTarget::MergeRequestNote { .. }), _) => Lock::Note,
            (Some(_), Some(at)) => Lock::Since(at),
            _ => Lock::None,
        }
    }

    pub fn trigger_type(&self) -> TriggerType {
        self.trigger.kind()
    }

    /// The pipeline variables of the trigger contract.
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        self.trigger.variables()
    }

    /// The object this work is about, for deduplication of double deliveries: the same note,
    /// the same pipeline, the same issue or MR for the same kind of request; with the change's
    /// time where the event tells it, so that a later request on the same object is a new one.
    pub fn object_key(&self) -> String {
        let mut object = match &self.trigger {
            Trigger::IssueNote { note_id, .. } | Trigger::MrNote { note_id, .. } => format!("note:{note_id}"),
            Trigger::PipelineFailed { pipeline_id, .. } => format!("pipeline:{pipeline_id}"),
            Trigger::IssueAssignee { issue_iid, .. } => format!("issue:{issue_iid}"),
            Trigger::MrReviewer { mr_iid, .. } => format!("mr:{mr_iid}"),
        };
        if let Some(at) = self.event_at {
            object = format!("{object}@{}", at.timestamp());
        }
        if let Some(revision) = &self.revision {
            object = format!("{object}#{revision}");
        }
        format!("{}/{}/{object}", self.trigger.kind().as_str(), self.trigger.project_id())
    }
}

/// Why an event starts nothing. Few and fixed, so they can label metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ignored {
    /// A kind of event the agent never acts on (push, job, release, …).
    UninterestingKind,
    /// The agent caused it; answering would loop.
    ByAgent,
    /// A bot caused it.
    ByBot,
    /// A system note ("assigned to …", "changed the description").
    SystemNote,
    /// An edit of an existing note: the request was handled when it was created.
    NoteEdited,
    /// A note on a commit or snippet.
    NoteNotOnIssueOrMr,
    /// A note that does not mention the agent (outside code and quotes).
    NotMentioned,
    /// An issue event in which the agent was not newly assigned.
    NotNewlyAssigned,
    /// An MR event in which the agent was not newly asked to review, nor one that an automatic
    /// review answers (opened, pushed to, labelled, marked ready).
    NotNewlyReviewer,
    /// An MR event an automatic review would answer, with `COPILOT_AUTO_REVIEW=off`.
    AutoReviewOff,
    /// An MR event an automatic review would answer, on an MR not opted in (no label).
    AutoReviewNotOptedIn,
    /// An MR event an automatic review would answer, on a draft.
    AutoReviewDraft,
    /// An MR event an automatic review would answer, on the agent's own MR.
    AgentMergeRequest,
    /// A pipeline that did not fail (or has not finished).
    PipelineNotFailed,
    /// A child pipeline's own event: the loop follows it from its parent pipeline's failure.
    ChildPipeline,
    /// A failed pipeline on a branch the agent does not own, or on a tag.
    NotAgentBranch,
    /// The payload lacks an identifier the trigger needs (project, iid or actor id).
    MissingIdentifier,
}

impl Ignored {
    pub const ALL: [Ignored; 17] = [
        Self::UninterestingKind,
        Self::ByAgent,
        Self::ByBot,
        Self::SystemNote,
        Self::NoteEdited,
        Self::NoteNotOnIssueOrMr,
        Self::NotMentioned,
        Self::NotNewlyAssigned,
        Self::NotNewlyReviewer,
        Self::AutoReviewOff,
        Self::AutoReviewNotOptedIn,
        Self::AutoReviewDraft,
        Self::AgentMergeRequest,
        Self::PipelineNotFailed,
        Self::ChildPipeline,
        Self::NotAgentBranch,
        Self::MissingIdentifier,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UninterestingKind => "uninteresting_kind",
            Self::ByAgent => "by_agent",
            Self::ByBot => "by_bot",
            Self::SystemNote => "system_note",
            Self::NoteEdited => "note_edited",
            Self::NoteNotOnIssueOrMr => "note_not_on_issue_or_mr",
            Self::NotMentioned => "not_mentioned",
            Self::NotNewlyAssigned => "not_newly_assigned",
            Self::NotNewlyReviewer => "not_newly_reviewer",
            Self::AutoReviewOff => "auto_review_off",
            Self::AutoReviewNotOptedIn => "auto_review_not_opted_in",
            Self::AutoReviewDraft => "auto_review_draft",
            Self::AgentMergeRequest => "agent_merge_request",
            Self::PipelineNotFailed => "pipeline_not_failed",
            Self::ChildPipeline => "child_pipeline",
            Self::NotAgentBranch => "not_agent_branch",
            Self::MissingIdentifier => "missing_identifier",
        }
    }
}

/// The outcome of routing one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Trigger(Box<Work>),
    Ignore(Ignored),
}

/// Decides what an event asks of the agent.
pub fn route(event: &Event, agent: &Agent) -> Decision {
    let result = match event {
        Event::Issue(issue) => route_issue(issue, agent),
        Event::Note(note) => route_note(note, agent),
        Event::MergeRequest(mr) => route_merge_request(mr, agent),
        Event::Pipeline(pipeline) => route_pipeline(pipeline, agent),
        _ => Err(Ignored::UninterestingKind),
    };
    match result {
        Ok(work) => Decision::Trigger(Box::new(work)),
        Err(ignored) => Decision::Ignore(ignored),
    }
}

fn same_user(user: &User, username: &str) -> bool {
    user.username.eq_ignore_ascii_case(username)
}

fn contains(users: Option<&Vec<User>>, username: &str) -> bool {
    users.is_some_and(|users| users.iter().any(|user| same_user(user, username)))
}

/// The actor of a human-initiated event: not the agent, not a bot, with an id to authorize.
fn human_actor(user: &User, agent: &Agent) -> Result<Actor, Ignored> {
    if same_user(user, &agent.username) {
        return Err(Ignored::ByAgent);
    }
    if is_bot(&user.username) {
        return Err(Ignored::ByBot);
    }
    let id = user.id.ok_or(Ignored::MissingIdentifier)?;
    Ok(Actor { id, username: user.username.clone(), is_agent: false })
}

fn route_issue(issue: &IssueEvent, agent: &Agent) -> Result<Work, Ignored> {
    let attributes = &issue.object_attributes;
    let newly_assigned = match &issue.changes.assignees {
        Some(change) => {
            contains(change.current.as_ref(), &agent.username) && !contains(change.previous.as_ref(), &agent.username)
        }
        // GitLab sends no `changes.assignees` for an issue created with its assignees.
        None => attributes.action.as_deref() == Some("open") && contains(issue.assignees.as_ref(), &agent.username),
    };
    if !newly_assigned {
        return Err(Ignored::NotNewlyAssigned);
    }
    let actor = human_actor(&issue.user, agent)?;
    let project_id = issue.project.id.ok_or(Ignored::MissingIdentifier)?;
    Ok(Work {
        trigger: Trigger::IssueAssignee { project_id, issue_iid: attributes.iid },
        actor,
        award: Some(AwardTarget::Issue { iid: attributes.iid }),
        event_at: attributes.updated_at.as_deref().and_then(event_time),
        revision: None,
    })
}

fn route_note(note: &NoteEvent, agent: &Agent) -> Result<Work, Ignored> {
    let attributes = &note.object_attributes;
    if attributes.system == Some(true) {
        return Err(Ignored::SystemNote);
    }
    if attributes.action.as_deref().is_some_and(|action| action != "create") {
        return Err(Ignored::NoteEdited);
    }
    let actor = human_actor(&note.user, agent)?;
    if !matches!(attributes.noteable_type.as_str(), "Issue" | "MergeRequest") {
        return Err(Ignored::NoteNotOnIssueOrMr);
    }
    if !mention::mentions(&attributes.note, &agent.username) {
        return Err(Ignored::NotMentioned);
    }
    let project_id = note.project.id.ok_or(Ignored::MissingIdentifier)?;
    let note_id = attributes.id;
    match (attributes.noteable_type.as_str(), &note.issue, &note.merge_request) {
        ("Issue", Some(issue), _) => Ok(Work {
            trigger: Trigger::IssueNote { project_id, issue_iid: issue.iid, note_id },
            actor,
            award: Some(AwardTarget::IssueNote { issue_iid: issue.iid, note_id }),
            event_at: None,
            revision: None,
        }),
        ("MergeRequest", _, Some(mr)) => Ok(Work {
            trigger: Trigger::MrNote {
                project_id,
                mr_iid: mr.iid,
                note_id,
                branches: Branches { source: Some(mr.source_branch.clone()), target: Some(mr.target_branch.clone()) },
            },
            actor,
            award: Some(AwardTarget::MergeRequestNote { mr_iid: mr.iid, note_id }),
            event_at: None,
            revision: None,
        }),
        _ => Err(Ignored::MissingIdentifier),
    }
}

fn route_merge_request(mr: &MergeRequestEvent, agent: &Agent) -> Result<Work, Ignored> {
    let attributes = &mr.object_attributes;
    let requested = match &mr.changes.reviewers {
        Some(change) => {
            let current = change.current.iter().flatten().find(|user| same_user(user, &agent.username));
            current.is_some_and(|user| {
                user.re_requested == Some(true) || !contains(change.previous.as_ref(), &agent.username)
            })
        }
        None => attributes.action.as_deref() == Some("open") && contains(mr.reviewers.as_ref(), &agent.username),
    };
    // A review nobody asked for: the project's opt-in decides, and each head is one request.
    let revision = if requested {
        None
    } else {
        use super::auto_review::{AgentIdentity, NotWanted};
        let identity = AgentIdentity { username: &agent.username, branch_prefix: &agent.branch_prefix };
        super::auto_review::wanted(mr, &agent.auto_review, identity).map_err(|why| match why {
            NotWanted::NoOccasion => Ignored::NotNewlyReviewer,
            NotWanted::Off => Ignored::AutoReviewOff,
            NotWanted::NotOptedIn => Ignored::AutoReviewNotOptedIn,
            NotWanted::Draft => Ignored::AutoReviewDraft,
            NotWanted::AgentMergeRequest => Ignored::AgentMergeRequest,
        })?;
        Some(attributes.last_commit.as_ref().map(|commit| commit.id.clone()).ok_or(Ignored::MissingIdentifier)?)
    };
    let actor = human_actor(&mr.user, agent)?;
    let project_id = mr.project.id.or(attributes.target_project_id).ok_or(Ignored::MissingIdentifier)?;
    let iid = attributes.iid.ok_or(Ignored::MissingIdentifier)?;
    Ok(Work {
        trigger: Trigger::MrReviewer {
            project_id,
            mr_iid: iid,
            branches: Branches { source: attributes.source_branch.clone(), target: attributes.target_branch.clone() },
        },
        actor,
        award: Some(AwardTarget::MergeRequest { iid }),
        event_at: attributes.updated_at.as_deref().and_then(event_time),
        revision,
    })
}

fn route_pipeline(pipeline: &PipelineEvent, agent: &Agent) -> Result<Work, Ignored> {
    let attributes = &pipeline.object_attributes;
    if attributes.status != "failed" {
        return Err(Ignored::PipelineNotFailed);
    }
    if attributes.source.as_deref() == Some("parent_pipeline") {
        // Its parent fails with it (a strategy `depend` bridge) and is the loop's to handle.
        return Err(Ignored::ChildPipeline);
    }
    // A merge request pipeline runs on `refs/merge-requests/<iid>/head`; its branch is the MR's.
    let branch = match &pipeline.merge_request {
        Some(mr) => mr.source_branch.as_str(),
        None => attributes.git_ref.as_str(),
    };
    if attributes.tag || !branch.starts_with(&agent.branch_prefix) {
        return Err(Ignored::NotAgentBranch);
    }
    let user = pipeline.user.as_ref().ok_or(Ignored::MissingIdentifier)?;
    let actor = if same_user(user, &agent.username) {
        Actor { id: user.id.ok_or(Ignored::MissingIdentifier)?, username: user.username.clone(), is_agent: true }
    } else {
        human_actor(user, agent)?
    };
    let project_id = pipeline.project.id.ok_or(Ignored::MissingIdentifier)?;
    Ok(Work {
        trigger: Trigger::PipelineFailed {
            project_id,
            pipeline_id: attributes.id,
            mr_iid: pipeline.merge_request.as_ref().map(|mr| mr.iid),
            branches: Branches {
                source: Some(branch.to_owned()),
                target: pipeline.merge_request.as_ref().map(|mr| mr.target_branch.clone()),
            },
        },
        actor,
        award: Some(AwardTarget::PipelineMergeRequest { iid: pipeline.merge_request.as_ref().map(|mr| mr.iid) }),
        event_at: attributes.finished_at.as_deref().and_then(event_time),
        revision: None,
    })
}

#[cfg(test)]
mod tests;
