//! mr_note: a person asks the agent, in a merge request comment, to change the merge request.
//!
//! The story: read the MR and the note → check who asked → 👀 and the status note → clone the
//! MR's own source branch (never the default branch) → run the instruction (multi-stage when
//! `USE_ORCHESTRATED_MR_NOTE` is on) → commit → push fast-forward only; when a person pushed
//! meanwhile, rebase once, and on a conflict stop and explain: their commits stay untouched and
//! the job exits 1 (`WorkFailed`), since the requested change was not delivered.
//! Review-like requests ("@copilot-agent review") go to the review workflow.

use anyhow::Context as _;

use super::Job;
use super::fail;
use super::work::{self, Branch};
use crate::exit::Code;
use crate::gitlab::Noteable;
use crate::planner::PlanOptions;
use crate::prompts::markers::Marker;
use crate::prompts::message::{NothingChangedNote, Step, UnsupportedNote, UnsupportedReason};
use crate::prompts::stage::Task;
use crate::request::instruction::instruction;
use crate::request::intent::{Intent, intent};

use crate::untrusted::{MarkdownText, UntrustedLine, UntrustedText, Username};

/// Runs the MR-note workflow. A conflict with a person's push ends it with exit 1 (`WorkFailed`):
/// the requested change was not delivered.
pub async fn run(job: &Job, project_id: u64, mr_iid: u64, note_id: u64) -> anyhow::Result<Code> {
    let on = Noteable::MergeRequest(mr_iid);
    let mr = job.client.merge_request(project_id, mr_iid).await.context("while reading the merge request")?;
    let note = job.client.note(project_id, on, note_id).await.context("while reading the note")?;
    let Some(mut reporter) = job.reporter_for(project_id, on, note.author.as_ref()).await? else {
        return Ok(Code::Done);
    };
    let Some(actor) = note.author.clone() else { return Ok(Code::Done) };
    let intent = intent(&note.body, &job.settings.agent_username);
    if intent == Intent::Review {
        reporter.acknowledge(Some(note_id)).await.context("while acknowledging the request")?;
        reporter.for_note(note_id);
        return super::mr_review::review(job, &mut reporter, project_id, &mr, Some(&note), Some(&actor)).await;
    }
    let unsupported = if mr.state != "opened" {
        Some(UnsupportedReason::Closed)
    } else if mr.source_project_id.is_some_and(|source| source != project_id) {
        Some(UnsupportedReason::ForkMergeRequest)
    } else if instruction(&note.body, &job.settings.agent_username).is_empty() {
        Some(UnsupportedReason::EmptyRequest)
    } else {
        None
    };
    if let Some(reason) = unsupported {
        reporter.acknowledge(Some(note_id)).await.context("while acknowledging the request")?;
        reporter.post(&UnsupportedNote { reason, actor: Some(Username::new(&actor.username)) }).await?;
        return Ok(Code::Done);
    }
    if intent == Intent::FixPipeline {
        reporter.acknowledge(Some(note_id)).await.context("while acknowledging the request")?;
        return super::pipeline_fix::on_request(job, project_id, mr).await;
    }

    reporter.acknowledge(Some(note_id)).await.context("while acknowledging the request")?;
    reporter.for_note(note_id);
    reporter.start(Some(&actor.username), &[Step::Prepare, Step::Plan, Step::Push]).await?;
    let task = Task {
        reference: format!("!{mr_iid}"),
        title: UntrustedLine::new(&mr.title),
        body: UntrustedText::bounded(mr.description.as_deref().unwrap_or_default()),
        url: Some(mr.web_url.clone()),
    };
    let request = Some(UntrustedText::bounded(&note.body));
    let branch = Branch { name: mr.source_branch.clone(), from: Some(mr.source_branch.clone()) };
    let options = PlanOptions::merge_request_note(job.settings.orchestrated_mr_note);
    let worked = match work::run(job, &mut reporter, project_id, &branch, task, request, options).await {
        Ok(worked) => worked,
        Err(error) => {
            if let Some(code) = work::report_push_conflict(job, &mut reporter, &error).await? {
                return Ok(code);
            }
            return fail(&mut reporter, &error).await;
        }
    };
    if worked.commit.is_none() {
        let summary = worked.summary.stages.last().map(|stage| MarkdownText::new(&stage.output));
        let note = NothingChangedNote {
            marker: Marker::status("nothing-changed"),
            agent_summary: summary,
            job_url: job.job_url.clone(),
        };
        reporter.post(&note).await?;
        return Ok(Code::Done);
    }
    let note = worked.final_note(&format!("final-note-{note_id}"), mr_iid, &mr.web_url, &branch.name);
    reporter.post(&note).await?;
    Ok(Code::Done)
}
