//! Progress on GitLab: 👀 on what started the work, one status note edited in place as steps
//! finish (with what the job's agent calls cost so far), and the final, failure and other
//! notes, all in the configured language.
//!
//! The status note carries a hidden marker naming its subject (`issue-12`, `mr-34`, or
//! `mr-34-note-56` for the work one note asked for); a re-run finds the note by that marker (only
//! among the agent's own notes: anyone can type a marker) and edits it, so a retried job never
//! posts a second status note, while a new request gets its own note next to it. The outcome
//! note (final, failure, nothing changed) carries an outcome marker of the same subject, so a
//! re-run edits it too: one outcome note per request, saying how the latest run ended.
//!
//! The reporter reads the subject's notes at most once, when the work starts
//! ([`Reporter::start`]), or takes the notes the workflow already read
//! ([`Reporter::start_among`]): the markers it looks for later are all among them.

use crate::config::Language;
use std::sync::Mutex;

use crate::gitlab::types::Note;
use crate::gitlab::{self, Awardable, Client, Noteable};
use crate::prompts::markers::Marker;
use crate::prompts::message::{ChecklistItem, EditedText, StatusNote, Step, StepState};
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
    /// The request came in an internal note: every note in reply is internal too.
    pub internal: bool,
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
    /// What the markers name: `issue-12`, `mr-34`, `mr-34-note-56`.
    subject: String,
    status: StatusNote,
    status_note_id: Option<u64>,
    /// The job's spending, shown in the status note from its first agent call on.
    spend: Option<&'a crate::stages::Spend>,
    /// A person's stop request: once it came, the status note is theirs to edit.
    stop: Option<&'a crate::stages::Stop>,
    /// The agent's own notes on the subject when the work started (id, body), plus the outcome
    /// note this run posted: where an earlier outcome note is found.
    earlier: Mutex<Vec<(u64, String)>>,
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
        let subject = subject(target.on);
        let status = StatusNote {
            marker: Marker::status(&subject),
            requester: None,
            checklist: Vec::new(),
            pipeline_url: pipeline_url.clone(),
            job_url: job_url.clone(),
            edited_text: None,
            usage: None,
            run: None,
        };
        Self {
            client,
            prompts,
            language,
            target,
            pipeline_url,
            job_url,
            subject,
            status,
            status_note_id: None,
            spend: None,
            stop: None,
            earlier: Mutex::new(Vec::new()),
        }
    }

    /// Makes the status note the one of the work note `note_id` asked for: a re-run of that
    /// request edits it again, another note on the same issue or MR gets its own. Call before
    /// [`Reporter::start`].
    pub fn for_note(&mut self, note_id: u64) {
        self.subject = format!("{}-note-{note_id}", subject(self.target.on));
        self.status.marker = Marker::status(&self.subject);
    }

    /// Says in the status note who wrote the description the agent follows, since its last
    /// editor may not start work. Call before [`Reporter::start`].
    pub fn warn_edited(&mut self, edited: EditedText) {
        self.status.edited_text = Some(edited);
    }

    /// Shows what the job's agent calls cost so far in every edit of the status note.
    pub fn follow_spend(&mut self, spend: &'a crate::stages::Spend) {
        self.spend = Some(spend);
    }

    /// Names the job's pipeline (agent project, pipeline) in the status note, so a stop request
    /// finds it, and leaves the status note alone once `stop` is set.
    pub fn follow_stop(&mut self, stop: &'a crate::stages::Stop, pipeline: Option<(u64, u64)>) {
        self.stop = Some(stop);
        self.status.run = pipeline.map(|(project_id, pipeline_id)| Marker::run(project_id, pipeline_id));
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
    /// of the same subject posted. Reads the subject's notes; a workflow that has read them
    /// already calls [`Reporter::start_among`] instead.
    pub async fn start(&mut self, requester: Option<&str>, steps: &[Step]) -> Result<(), ReportError> {
        let notes = self.client.notes(self.target.project_id, self.target.on).await?;
        self.start_among(requester, steps, &notes).await
    }

    /// [`Reporter::start`] with the subject's notes (all of them, oldest first) the caller read.
    pub async fn start_among(
        &mut self,
        requester: Option<&str>,
        steps: &[Step],
        notes: &[Note],
    ) -> Result<(), ReportError> {
        self.status.requester = requester.map(Username::new);
        self.status.checklist =
            steps.iter().map(|step| ChecklistItem { step: *step, state: StepState::Pending }).collect();
        self.remember_own(notes);
        self.status_note_id = self.earlier_note(&self.status.marker);
        self.publish().await
    }

    /// Remembers the agent's own notes among `notes` (the subject's, as read), so that an outcome
    /// note edits the one an earlier run of the same request posted; for a workflow that answers
    /// without a status note.
    pub fn remember_own(&mut self, notes: &[Note]) {
        let own: Vec<(u64, String)> = notes
            .iter()
            .filter(|note| {
                !note.system && note.author.as_ref().is_some_and(|author| author.id == self.target.agent_user_id)
            })
            .map(|note| (note.id, note.body.clone()))
            .collect();
        *self.earlier.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = own;
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

    /// Posts a note (final, failure, refusal, …). An outcome note (see [`Message::is_outcome`])
    /// edits the outcome note an earlier run of the same request posted, when the notes read at
    /// [`Reporter::start`] hold one.
    ///
    /// [`Message::is_outcome`]: crate::prompts::message::Message::is_outcome
    pub async fn post(&self, context: &impl MessageContext) -> Result<u64, ReportError> {
        let mut body = self.render(context)?;
        if context.message().is_failure() {
            // A retry finds the request this note is about by it.
            if !body.ends_with('\n') {
                body.push('\n');
            }
            body.push_str(Marker::failed(&self.subject).as_str());
        }
        if !context.message().is_outcome() {
            return Ok(self
                .client
                .create_note_visible(self.target.project_id, self.target.on, &body, self.target.internal)
                .await?
                .id);
        }
        let marker = Marker::outcome(&self.subject);
        if !body.ends_with('\n') {
            body.push('\n');
        }
        body.push_str(marker.as_str());
        self.edit_or_create(body, &marker).await
    }

    /// The issue or merge request the notes go on, as markers name it: `issue-12`, `mr-34`.
    pub fn noteable_subject(&self) -> String {
        subject(self.target.on)
    }

    /// Posts a note that carries `marker`, or edits the agent's earlier note carrying it (among
    /// the notes read at [`Reporter::start`]): one such note per subject however often it runs.
    pub async fn post_marked(&self, context: &impl MessageContext, marker: &Marker) -> Result<u64, ReportError> {
        let body = self.render(context)?;
        self.edit_or_create(body, marker).await
    }

    /// Edits the agent's earlier note carrying `marker` to `body`, or posts `body` as a new one.
    async fn edit_or_create(&self, body: String, marker: &Marker) -> Result<u64, ReportError> {
        let id = match self.earlier_note(marker) {
            Some(id) => {
                self.client.edit_note(self.target.project_id, self.target.on, id, &body).await?;
                id
            }
            None => {
                self.client
                    .create_note_visible(self.target.project_id, self.target.on, &body, self.target.internal)
                    .await?
                    .id
            }
        };
        self.earlier.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((id, body));
        Ok(id)
    }

    /// The newest of the agent's known notes carrying `marker`.
    fn earlier_note(&self, marker: &Marker) -> Option<u64> {
        let earlier = self.earlier.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        earlier.iter().rev().find(|(_, body)| marker.is_in(body)).map(|(id, _)| *id)
    }

    /// The status note's id once posted.
    pub fn status_note_id(&self) -> Option<u64> {
        self.status_note_id
    }

    async fn publish(&mut self) -> Result<(), ReportError> {
        if self.stop.is_some_and(crate::stages::Stop::is_stopped) {
            return Ok(());
        }
        self.status.usage = self.spend.map(crate::stages::Spend::table).filter(|usage| !usage.stages.is_empty());
        let body = self.render(&self.status)?;
        match self.status_note_id {
            Some(id) => {
                self.client.edit_note(self.target.project_id, self.target.on, id, &body).await?;
            }
            None => {
                let note = self
                    .client
                    .create_note_visible(self.target.project_id, self.target.on, &body, self.target.internal)
                    .await?;
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
