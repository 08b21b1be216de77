//! Progress on GitLab: 👀 on what started the work, one status note edited in place as steps
//! finish, and the final, failure and other notes, all in the configured language.
//!
//! The status note carries a hidden marker naming its subject (`issue-12`, `mr-34`, or
//! `mr-34-note-56` for the work one note asked for); a re-run finds the note by that marker (only
//! among the agent's own notes: anyone can type a marker) and edits it, so a retried job never
//! posts a second status note, while a new request gets its own note next to it.

use crate::config::Language;
use crate::gitlab::{self, Awardable, Client, Noteable};
use crate::prompts::markers::Marker;
use crate::prompts::message::{ChecklistItem, StatusNote, Step, StepState};
use crate::prompts::{MessageContext, PromptError, Prompts};
use crate::untrusted::Username;

/// Why something could not be reported.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot render the `{message}` message")]
    Render {
        message: &'static str,
        #[source]
        source: PromptError,
    },
    #[error("gitlab refused the note")]
    GitLab(#[from] gitlab::Error),
}

/// Where notes go and who writes them.
#[derive(Debug, Clone)]
pub struct Target {
    pub project_id: u64,
    pub on: Noteable,
    /// The agent user's id: only its notes are trusted to carry markers.
    pub agent_user_id: u64,
}

/// Posts and edits the notes of one run.
#[derive(Debug)]
pub struct Reporter<'a> {
    pub client: &'a Client,
    pub prompts: &'a Prompts,
    pub language: Language,
    pub target: Target,
    pub pipeline_url: Option<String>,
    pub job_url: Option<String>,
    status: StatusNote,
    status_note_id: Option<u64>,
}

impl<'a> Reporter<'a> {
    pub fn new(
        client: &'a Client,
        prompts: &'a Prompts,
        language: Language,
        target: Target,
        pipeline_url: Option<String>,
        job_url: Option<String>,
    ) -> Self {
        let status = StatusNote {
            marker: Marker::status(&subject(target.on)),
            requester: None,
            checklist: Vec::new(),
            pipeline_url: pipeline_url.clone(),
            job_url: job_url.clone(),
        };
        Self { client, prompts, language, target, pipeline_url, job_url, status, status_note_id: None }
    }

    /// Makes the status note the one of the work note `note_id` asked for: a re-run of that
    /// request edits it again, another note on the same issue or MR gets its own. Call before
    /// [`Reporter::start`].
    pub fn for_note(&mut self, note_id: u64) {
        self.status.marker = Marker::status(&format!("{}-note-{note_id}", subject(self.target.on)));
    }

    /// Renders a message in the run's language.
    pub fn render(&self, context: &impl MessageContext) -> Result<String, ReportError> {
        self.prompts
            .render_message(self.language, context)
            .map_err(|source| ReportError::Render { message: context.message().name(), source })
    }

    /// Puts 👀 on the note (or the issue/MR itself) that started the work. An award that is
    /// already there (a re-run, or the webhook service's own award) is fine.
    pub async fn acknowledge(&self, note_id: Option<u64>) -> Result<(), ReportError> {
        let target = match (self.target.on, note_id) {
            (on, Some(note_id)) => Awardable::Note { on, note_id },
            (Noteable::Issue(iid), None) => Awardable::Issue(iid),
            (Noteable::MergeRequest(iid), None) => Awardable::MergeRequest(iid),
        };
        self.client.award_emoji(self.target.project_id, target, "eyes").await?;
        Ok(())
    }

    /// Sets the checklist and posts the status note, or finds and edits the one an earlier run
    /// of the same subject posted.
    pub async fn start(&mut self, requester: Option<&str>, steps: &[Step]) -> Result<(), ReportError> {
        self.status.requester = requester.map(Username::new);
        self.status.checklist =
            steps.iter().map(|step| ChecklistItem { step: *step, state: StepState::Pending }).collect();
        let notes = self.client.notes(self.target.project_id, self.target.on).await?;
        self.status_note_id = notes
            .iter()
            .rev()
            .find(|note| {
                note.author.as_ref().is_some_and(|author| author.id == self.target.agent_user_id)
                    && self.status.marker.is_in(&note.body)
            })
            .map(|note| note.id);
        self.publish().await
    }

    /// Marks a step and edits the status note.
    pub async fn step(&mut self, step: Step, state: StepState) -> Result<(), ReportError> {
        match self.status.checklist.iter_mut().find(|item| item.step == step) {
            Some(item) => item.state = state,
            None => self.status.checklist.push(ChecklistItem { step, state }),
        }
        self.publish().await
    }

    /// Adds `step` to the checklist before `before` (or at the end), unless it is there already.
    /// Shown with the next edit.
    pub fn insert_before(&mut self, before: Step, step: Step) {
        if self.status.checklist.iter().any(|item| item.step == step) {
            return;
        }
        let item = ChecklistItem { step, state: StepState::Pending };
        match self.status.checklist.iter().position(|item| item.step == before) {
            Some(index) => self.status.checklist.insert(index, item),
            None => self.status.checklist.push(item),
        }
    }

    /// Marks the first unfinished step as failed (the failure note says why).
    pub async fn fail_current(&mut self) -> Result<Option<Step>, ReportError> {
        let current = self
            .status
            .checklist
            .iter()
            .find(|item| matches!(item.state, StepState::Running))
            .or_else(|| self.status.checklist.iter().find(|item| matches!(item.state, StepState::Pending)))
            .map(|item| item.step);
        if let Some(step) = current {
            self.step(step, StepState::Failed).await?;
        }
        Ok(current)
    }

    /// Posts a note (final, failure, refusal, …).
    pub async fn post(&self, context: &impl MessageContext) -> Result<u64, ReportError> {
        let body = self.render(context)?;
        Ok(self.client.create_note(self.target.project_id, self.target.on, &body).await?.id)
    }

    /// The status note's id once posted.
    pub fn status_note_id(&self) -> Option<u64> {
        self.status_note_id
    }

    async fn publish(&mut self) -> Result<(), ReportError> {
        let body = self.render(&self.status)?;
        match self.status_note_id {
            Some(id) => {
                self.client.edit_note(self.target.project_id, self.target.on, id, &body).await?;
            }
            None => {
                let note = self.client.create_note(self.target.project_id, self.target.on, &body).await?;
                self.status_note_id = Some(note.id);
            }
        }
        Ok(())
    }
}

/// The status note's subject for an issue or MR: `issue-12`, `mr-34`.
fn subject(on: Noteable) -> String {
    match on {
        Noteable::Issue(iid) => format!("issue-{iid}"),
        Noteable::MergeRequest(iid) => format!("mr-{iid}"),
    }
}
