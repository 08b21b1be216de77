//! The short commands in a note that start no work of their own: `help` lists the commands,
//! `stop` cancels the agent's running work on the issue or merge request, `retry` runs the last
//! request that failed there again, and on an issue `plan` and `proceed` (see `plan.rs`) hand the
//! work to the issue workflow in the mode they ask for.
//!
//! Stop: every status note names the pipeline its work runs in ([`Marker::run`]). The stop
//! request cancels those still running through GitLab and says so; each job learns it from
//! GitLab within one poll interval (`RETRY_INTERVAL_TIME`), ends its agent call, pushes nothing
//! more and leaves its status note alone. After that interval the stop request puts who stopped
//! the work and when atop each stopped status note.
//!
//! Retry: every note that says a request failed names that request ([`Marker::failed`]); the
//! newest one on the issue or merge request is run again through its own workflow, which finds
//! its branch, status and outcome notes as any re-run does.

use std::time::Duration;

use anyhow::Context as _;

use super::Job;
use crate::exit::Code;
use crate::gitlab::{Note, Noteable, Status};
use crate::prompts::markers::{self, Marker};
use crate::prompts::message::{CommandNote, CommandReply};
use crate::report::Reporter;
use crate::request::intent::Intent;
use crate::untrusted::Username;

/// How a command was answered.
#[derive(Debug)]
pub(super) enum Answer {
    /// Answered; the job ends with this code.
    Done(Code),
    /// The caller runs this request again.
    Retry(Request),
    /// The caller posts the issue's plan; `note_id` is the note that asked, if any, else `by`.
    Plan { note_id: Option<u64>, by: Option<crate::gitlab::UserBasic> },
    /// The caller runs this stored plan, for `by`.
    Proceed { stored: Box<super::plan::StoredPlan>, by: crate::gitlab::UserBasic },
}

/// Answers note `note_id` on `on` when it is one of the commands here; `None` when it asks for
/// something else.
pub(super) async fn answer_note(
    job: &Job,
    project_id: u64,
    on: Noteable,
    note_id: u64,
) -> anyhow::Result<Option<Answer>> {
    let note = job.client.note(project_id, on, note_id).await.context("while reading the note")?;
    let intent = crate::request::intent::intent(&note.body, &job.settings.access.agent_username);
    if !matches!(intent, Intent::Help | Intent::Stop | Intent::Retry | Intent::Plan | Intent::Proceed) {
        return Ok(None);
    }
    let internal = note.internal == Some(true);
    let Some(mut reporter) = job.reporter_for(project_id, on, note.author.as_ref(), internal).await? else {
        return Ok(Some(Answer::Done(Code::Done)));
    };
    // The answer speaks the project's language; the agent file's problems are noted once.
    let notes = job.client.notes(project_id, on).await.context("while reading the notes")?;
    reporter.remember_own(&notes);
    match crate::workflows::repo_config::for_project(job, &reporter, project_id).await {
        Ok(rules) => reporter.language = rules.language,
        Err(error) => return super::fail(&mut reporter, &error).await.map(|code| Some(Answer::Done(code))),
    }
    let (web_url, issue) = match on {
        Noteable::Issue(iid) => {
            let issue = job.client.issue(project_id, iid).await.context("while reading the issue")?;
            (issue.web_url.clone(), Some(issue))
        }
        Noteable::MergeRequest(iid) => {
            let mr = job.client.merge_request(project_id, iid).await.context("while reading the merge request")?;
            (mr.web_url, None)
        }
    };
    match (intent, issue) {
        (Intent::Plan, Some(_)) => Ok(Some(Answer::Plan { note_id: Some(note_id), by: None })),
        (Intent::Proceed, Some(issue)) => proceed(job, &mut reporter, &notes, &note, &issue).await.map(Some),
        // Plans are for issues: on a merge request, the commands there.
        (Intent::Plan | Intent::Proceed, None) => {
            let asked = Asked { on, web_url: &web_url, note: &note, notes: &notes };
            answer(job, &mut reporter, project_id, &asked, Intent::Help).await.map(Some)
        }
        _ => {
            let asked = Asked { on, web_url: &web_url, note: &note, notes: &notes };
            answer(job, &mut reporter, project_id, &asked, intent).await.map(Some)
        }
    }
}

/// `proceed`: the stored plan when it may run; otherwise says why and plans again.
async fn proceed(
    job: &Job,
    reporter: &mut Reporter<'_>,
    notes: &[Note],
    note: &Note,
    issue: &crate::gitlab::Issue,
) -> anyhow::Result<Answer> {
    reporter.acknowledge(Some(note.id)).await.context("while acknowledging the request")?;
    let by = note.author.clone().context("the proceed note has no author")?;
    let unusable = match super::plan::stored(notes, job.agent_user.id, issue) {
        Ok(stored) => return Ok(Answer::Proceed { stored: Box::new(stored), by }),
        Err(super::plan::Unusable::Missing) => CommandReply::NoPlan,
        Err(super::plan::Unusable::Changed) => CommandReply::PlanChanged,
    };
    let actor = Some(Username::new(&by.username));
    reporter.post(&CommandNote { actor, reply: unusable }).await?;
    Ok(Answer::Plan { note_id: None, by: Some(by) })
}

/// A command note, where it was written and the notes around it.
struct Asked<'n> {
    on: Noteable,
    /// The page of the issue or merge request.
    web_url: &'n str,
    note: &'n Note,
    /// The notes of the issue or merge request, read once the command was known.
    notes: &'n [Note],
}

/// Answers the command `intent` of the note `asked`; `reporter` has checked the note's author.
async fn answer(
    job: &Job,
    reporter: &mut Reporter<'_>,
    project_id: u64,
    asked: &Asked<'_>,
    intent: Intent,
) -> anyhow::Result<Answer> {
    let Asked { on, web_url, note, notes } = *asked;
    reporter.acknowledge(Some(note.id)).await.context("while acknowledging the request")?;
    let actor = note.author.as_ref().map(|author| Username::new(&author.username));
    let reply = |reply| CommandNote { actor: actor.clone(), reply };
    match intent {
        Intent::Stop => stop(job, reporter, project_id, on, note).await.map(Answer::Done),
        Intent::Retry => {
            let Some(request) = last_failed(job, on, notes) else {
                reporter.post(&reply(CommandReply::NothingToRetry)).await?;
                return Ok(Answer::Done(Code::Done));
            };
            tracing::info!(?request, "running the last failed request again");
            let link = request.note_id.map(|id| format!("{web_url}#note_{id}"));
            reporter.post(&reply(CommandReply::Retrying { request: link })).await?;
            Ok(Answer::Retry(request))
        }
        _ => {
            let on_merge_request = matches!(on, Noteable::MergeRequest(_));
            reporter.post(&reply(CommandReply::Help { on_merge_request })).await?;
            Ok(Answer::Done(Code::Done))
        }
    }
}

/// Cancels the agent's running work on `on`, says so, and marks each stopped status note.
async fn stop(job: &Job, reporter: &Reporter<'_>, project_id: u64, on: Noteable, note: &Note) -> anyhow::Result<Code> {
    let notes = job.client.notes(project_id, on).await.context("while reading the notes")?;
    let mut runs: Vec<(u64, u64)> = notes
        .iter()
        .filter(|note| is_agents(job, note))
        .filter_map(|note| markers::run_pipeline(&note.body))
        .filter(|run| Some(*run) != job.own_pipeline)
        .collect();
    runs.sort_unstable();
    runs.dedup();
    let mut stopped = Vec::new();
    for (agent_project, pipeline_id) in runs {
        let pipeline =
            job.client.pipeline(agent_project, pipeline_id).await.context("while reading a run's pipeline")?;
        if !running(&pipeline.status) {
            continue;
        }
        tracing::info!(pipeline = pipeline_id, "cancelling the agent's running work");
        job.client.cancel_pipeline(agent_project, pipeline_id).await.context("while cancelling a run's pipeline")?;
        let link = pipeline.web_url.clone().unwrap_or_else(|| format!("pipeline {pipeline_id}"));
        stopped.push(((agent_project, pipeline_id), link));
    }
    let actor = note.author.as_ref().map(|author| Username::new(&author.username));
    if stopped.is_empty() {
        reporter.post(&CommandNote { actor, reply: CommandReply::NothingToStop }).await?;
        return Ok(Code::Done);
    }
    let pipelines = stopped.iter().map(|(_, link)| link.clone()).collect();
    reporter.post(&CommandNote { actor: actor.clone(), reply: CommandReply::Stopping { pipelines } }).await?;

    // Each stopped job stops editing its status note once it sees the cancel: within one poll.
    let interval = job.settings.pipeline_fix.retry_interval;
    tokio::time::sleep(interval + interval / 2 + Duration::from_secs(1)).await;
    let at = chrono::Utc::now().format("%Y-%m-%d %H:%M").to_string();
    let line = CommandNote { actor, reply: CommandReply::StatusLine { marker: Marker::stopped(), at } };
    let line = reporter.render(&line)?;
    let notes = job.client.notes(project_id, on).await.context("while reading the status notes again")?;
    for status in notes.iter().filter(|note| is_agents(job, note)) {
        let Some(run) = markers::run_pipeline(&status.body) else { continue };
        if !stopped.iter().any(|(stopped, _)| *stopped == run) || Marker::stopped().is_in(&status.body) {
            continue;
        }
        let body = format!("{}\n\n{}", line.trim_end(), status.body);
        job.client.edit_note(project_id, on, status.id, &body).await.context("while marking a stopped status note")?;
    }
    Ok(Code::Done)
}

/// Whether a pipeline in `status` may still run the agent's work.
fn running(status: &Status) -> bool {
    matches!(
        status,
        Status::Created | Status::WaitingForResource | Status::Preparing | Status::Pending | Status::Running
    )
}

fn is_agents(job: &Job, note: &Note) -> bool {
    !note.system && note.author.as_ref().is_some_and(|author| author.id == job.agent_user.id)
}

/// A request a retry runs again: the note that asked, or none for an assignment or a review
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Request {
    pub on: Noteable,
    pub note_id: Option<u64>,
}

/// The newest request on `on` whose failure the agent's notes tell.
fn last_failed(job: &Job, on: Noteable, notes: &[Note]) -> Option<Request> {
    notes
        .iter()
        .rev()
        .filter(|note| is_agents(job, note))
        .filter_map(|note| markers::failed_subject(&note.body))
        .find_map(|subject| request_of(on, subject))
}

/// The request a status subject names (`issue-12`, `issue-12-note-56`, `mr-3`, `mr-3-note-9`),
/// when it is about `on`.
fn request_of(on: Noteable, subject: &str) -> Option<Request> {
    let own = match on {
        Noteable::Issue(iid) => format!("issue-{iid}"),
        Noteable::MergeRequest(iid) => format!("mr-{iid}"),
    };
    let rest = subject.strip_prefix(&own)?;
    let note_id = match rest {
        "" => None,
        rest => Some(rest.strip_prefix("-note-")?.parse().ok()?),
    };
    Some(Request { on, note_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_subject_names_a_request_on_its_own_issue_or_merge_request_only() {
        let issue = Noteable::Issue(12);
        assert_eq!(request_of(issue, "issue-12"), Some(Request { on: issue, note_id: None }));
        assert_eq!(request_of(issue, "issue-12-note-56"), Some(Request { on: issue, note_id: Some(56) }));
        assert_eq!(request_of(issue, "issue-123-note-56"), None);
        assert_eq!(request_of(issue, "mr-12"), None);
        let mr = Noteable::MergeRequest(3);
        assert_eq!(request_of(mr, "mr-3-note-9"), Some(Request { on: mr, note_id: Some(9) }));
        assert_eq!(request_of(mr, "mr-3-note-x"), None);
        assert_eq!(request_of(mr, "failure"), None);
    }

    #[test]
    fn only_work_that_may_still_run_is_cancelled() {
        assert!(running(&Status::Running) && running(&Status::Pending) && running(&Status::Created));
        assert!(!running(&Status::Success) && !running(&Status::Canceled) && !running(&Status::Failed));
    }
}
