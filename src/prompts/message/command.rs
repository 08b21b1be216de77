//! The agent's answers to the short commands in notes: help, stop and retry.

use serde::Serialize;

use super::Message;
use crate::prompts::MessageContext;
use crate::prompts::markers::Marker;
use crate::untrusted::Username;

/// What a command's answer says.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandReply {
    /// The commands, for a note on an issue or on a merge request.
    Help { on_merge_request: bool },
    /// The work running in these pipelines (links) was cancelled.
    Stopping { pipelines: Vec<String> },
    /// No work of the agent's was running on this issue or merge request.
    NothingToStop,
    /// The failed request (a link to the note that asked, or `None` for an assignment or review
    /// request) runs again.
    Retrying { request: Option<String> },
    /// No request on this issue or merge request failed.
    NothingToRetry,
    /// `proceed` found no plan on the issue: one is made now.
    NoPlan,
    /// `proceed` found the issue changed since its plan (or the plan does not match its hash):
    /// a new plan is made now.
    PlanChanged,
    /// The line put atop a stopped run's status note: who stopped it and when (UTC).
    StatusLine { marker: Marker, at: String },
}

/// A note answering a command; `actor` asked.
#[derive(Debug, Clone, Serialize)]
pub struct CommandNote {
    pub actor: Option<Username>,
    #[serde(flatten)]
    pub reply: CommandReply,
}

impl MessageContext for CommandNote {
    fn message(&self) -> Message {
        Message::CommandNote
    }
}

/// The plan of an issue's work, posted before any code is written; `proceed` runs it as stored.
#[derive(Debug, Clone, Serialize)]
pub struct PlanNote {
    pub actor: Option<Username>,
    pub complexity: super::Complexity,
    pub stages: Vec<super::Step>,
    /// The files the analysis names (or else those the issue names).
    pub files: Vec<crate::untrusted::MarkdownCodeSpan>,
    pub acceptance_criteria: Vec<crate::untrusted::MarkdownText>,
    /// The analysis's summary, when it ran.
    pub summary: Option<crate::untrusted::MarkdownText>,
    /// [`Marker::plan`] and [`Marker::plan_data`].
    pub marker: Marker,
    pub data: Marker,
}

impl MessageContext for PlanNote {
    fn message(&self) -> Message {
        Message::PlanNote
    }
}
