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
