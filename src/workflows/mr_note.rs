//! mr_note: a person asks the agent, in a merge request comment, to change the merge request.
//!
//! The story: read the MR and the note → check who asked → 👀 and the status note → clone the
//! MR's own source branch (never the default branch) → run the instruction (multi-stage when
//! `USE_ORCHESTRATED_MR_NOTE` is on) → commit → push fast-forward only; when a person pushed
//! meanwhile, rebase once, and on a conflict stop and explain: their commits stay untouched and
//! the job exits 1 (`WorkFailed`), since the requested change was not delivered.
//! Review-like requests ("@copilot-agent review") go to the review workflow, and so does
//! "@copilot-agent forget suppressions", which clears what reviews learned from feedback; a
//! request to address the review threads ("@copilot-agent address the review comments") goes to
//! [`address`], which changes the code in one commit and replies on (and resolves) the threads.
//!
//! The source branch is pushed to only as [`push_rule`] allows; otherwise the reply says why and
//! the change goes to a new agent branch cut from the source branch, with a Draft merge request
//! into it, linked in the final note. A request to fix the pipeline is then declined.

mod address;
mod push_rule;

use anyhow::Context as _;

use super::Job;
use super::fail;
use super::work::{self, Branch};
use crate::exit::Code;
use crate::gitlab::{MergeRequest, NewMergeRequest, Noteable};
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
    let internal = note.internal == Some(true);
    let Some(mut reporter) = job.reporter_for(project_id, on, note.author.as_ref(), internal).await? else {
        return Ok(Code::Done);
    };
    let Some(actor) = note.author.clone() else { return Ok(Code::Done) };
    let intent = intent(&note.body, &job.settings.access.agent_username);
    if intent == Intent::Review {
        reporter.acknowledge(Some(note_id)).await.context("while acknowledging the request")?;
        reporter.for_note(note_id);
        return super::mr_review::review(job, &mut reporter, project_id, &mr, Some(&note), Some(&actor)).await;
    }
    if intent == Intent::ForgetSuppressions {
        reporter.acknowledge(Some(note_id)).await.context("while acknowledging the request")?;
        reporter.for_note(note_id);
        return match super::mr_review::forget_suppressions(job, &mut reporter, project_id, &note, &actor).await {
            Ok(()) => Ok(Code::Done),
            Err(error) => fail(&mut reporter, &error).await,
        };
    }
    let unsupported = if mr.state != "opened" {
        Some(UnsupportedReason::Closed)
    } else if mr.source_project_id.is_some_and(|source| source != project_id) {
        Some(UnsupportedReason::ForkMergeRequest)
    } else if instruction(&note.body, &job.settings.access.agent_username).is_empty() {
        Some(UnsupportedReason::EmptyRequest)
    } else {
        None
    };
    if let Some(reason) = unsupported {
        reporter.acknowledge(Some(note_id)).await.context("while acknowledging the request")?;
        reporter
            .post(&UnsupportedNote { reason, actor: Some(Username::new(&actor.username)), follow_up: false })
            .await?;
        return Ok(Code::Done);
    }
    let blocked = push_rule::blocked(job, project_id, &mr, &actor).await?;
    if let Some(reason) = blocked {
        tracing::info!(branch = %mr.source_branch, ?reason, "not pushing to the merge request's source branch");
    }
    if matches!(intent, Intent::FixPipeline | Intent::AllowTestChanges) {
        let asked = super::pipeline_fix::Asked { internal, test_changes: intent == Intent::AllowTestChanges };
        reporter.acknowledge(Some(note_id)).await.context("while acknowledging the request")?;
        let Some(reason) = blocked else {
            return super::pipeline_fix::on_request(job, project_id, &mr, mr.clone(), asked).await;
        };
        // The fix goes to a branch of the agent's own, cut from the source branch, with a Draft
        // merge request into it; the loop works there on the source branch's failed pipeline.
        let requester = Some(Username::new(&actor.username));
        reporter.post(&UnsupportedNote { reason, actor: requester, follow_up: true }).await?;
        let branch = push_rule::follow_up_branch(job, mr_iid, note_id);
        if job.client.branch(project_id, &branch).await.context("while reading the follow-up branch")?.is_none() {
            job.client
                .create_branch(project_id, &branch, &mr.source_branch)
                .await
                .context("while creating the follow-up branch")?;
        }
        let follow_up = open_follow_up(job, project_id, &mr, &branch, actor.id).await?;
        return super::pipeline_fix::on_request(job, project_id, &mr, follow_up, asked).await;
    }

    reporter.acknowledge(Some(note_id)).await.context("while acknowledging the request")?;
    if let Some(reason) = blocked {
        let actor = Some(Username::new(&actor.username));
        reporter.post(&UnsupportedNote { reason, actor, follow_up: true }).await?;
    }
    reporter.for_note(note_id);
    if intent == Intent::AddressThreads {
        let follow_up = push_rule::follow_up_branch(job, mr_iid, note_id);
        let request = address::Request { project_id, mr: &mr, note: &note, actor: &actor, blocked, follow_up };
        return address::run(job, &mut reporter, request).await;
    }
    let steps: &[Step] = match blocked {
        None => &[Step::Prepare, Step::Plan, Step::Push],
        Some(_) => &[Step::Prepare, Step::Plan, Step::Push, Step::MergeRequest],
    };
    let notes = job.client.notes(project_id, on).await.context("while reading the merge request's notes")?;
    if let Some(edited) = job.edited_text(project_id, mr.author.as_ref(), &notes).await? {
        reporter.warn_edited(edited);
    }
    reporter.start_among(Some(&actor.username), steps, &notes).await?;
    let rules = match crate::workflows::repo_config::for_project(job, &reporter, project_id).await {
        Ok(rules) => rules,
        Err(error) => return fail(&mut reporter, &error).await,
    };
    reporter.language = rules.language;
    if let Some(refusal) = crate::workflows::repo_config::apply_caps(job, project_id, &actor, &rules).await? {
        reporter.post(&refusal).await?;
        return Ok(Code::Done);
    }
    let task = Task {
        reference: format!("!{mr_iid}"),
        title: UntrustedLine::new(&mr.title),
        body: UntrustedText::bounded(mr.description.as_deref().unwrap_or_default()),
        url: Some(mr.web_url.clone()),
    };
    let request = Some(UntrustedText::bounded(&note.body));
    let name = match blocked {
        None => mr.source_branch.clone(),
        Some(_) => push_rule::follow_up_branch(job, mr_iid, note_id),
    };
    let branch = Branch { name, from: Some(mr.source_branch.clone()), commit_title: None };
    let options = PlanOptions::merge_request_note(job.settings.workflow.orchestrated_mr_note);
    let worked = match work::run(
        job,
        &mut reporter,
        project_id,
        &branch,
        work::Asked { task, request, options, stored: None, rules },
    )
    .await
    {
        Ok(worked) => worked,
        Err(error) => {
            if let Some(code) = work::report_stopped(job, &mut reporter, &error).await? {
                return Ok(code);
            }
            return fail(&mut reporter, &error).await;
        }
    };
    let changed = if blocked.is_some() { worked.branch_ahead } else { worked.commit.is_some() };
    if !changed {
        let summary = worked.summary.stages.last().map(|stage| MarkdownText::new(&stage.output));
        let note = NothingChangedNote {
            marker: Marker::status("nothing-changed"),
            agent_summary: summary,
            job_url: job.job_url.clone(),
            usage: Some(job.spend.table()),
        };
        reporter.post(&note).await?;
        return Ok(Code::Done);
    }
    let (shown_iid, shown_url) = if blocked.is_some() {
        reporter.step(Step::MergeRequest, crate::prompts::message::StepState::Running).await?;
        let follow_up = open_follow_up(job, project_id, &mr, &branch.name, actor.id)
            .await
            .with_context(|| format!("the change is pushed to `{}`, but no merge request shows it yet", branch.name));
        let follow_up = match follow_up {
            Ok(follow_up) => follow_up,
            Err(error) => return fail(&mut reporter, &error).await,
        };
        reporter.step(Step::MergeRequest, crate::prompts::message::StepState::Done).await?;
        (follow_up.iid, follow_up.web_url)
    } else {
        (mr_iid, mr.web_url.clone())
    };
    let note = worked.final_note(&format!("final-note-{note_id}"), shown_iid, &shown_url, &branch.name);
    reporter.post(&note).await?;
    Ok(Code::Done)
}

/// The agent's open Draft merge request from `branch` into `mr`'s source branch (a re-run finds
/// it again), with the requester as reviewer.
async fn open_follow_up(
    job: &Job,
    project_id: u64,
    mr: &MergeRequest,
    branch: &str,
    reviewer_id: u64,
) -> anyhow::Result<MergeRequest> {
    let open = job
        .client
        .merge_requests_by_source_branch(project_id, branch, Some("opened"))
        .await
        .context("while looking for an earlier follow-up merge request")?;
    if let Some(existing) = open.into_iter().find(|open| super::issue::is_own_merge_request(job, project_id, open)) {
        return Ok(existing);
    }
    let new = NewMergeRequest {
        source_branch: branch.to_owned(),
        target_branch: mr.source_branch.clone(),
        title: format!("Follow-up to !{}: {}", mr.iid, mr.title.replace(['\r', '\n'], " ")),
        description: Some(format!("Follow-up to !{}: the change requested there, on a branch of its own.", mr.iid)),
        draft: true,
        reviewer_ids: vec![reviewer_id],
        ..Default::default()
    };
    job.client.create_merge_request(project_id, &new).await.context("while opening the follow-up merge request")
}
