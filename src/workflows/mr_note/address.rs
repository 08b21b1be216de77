//! A request to address the review threads ("@copilot-agent address the review comments"): the
//! agent reads every unresolved thread of the merge request, from people and its own, changes the
//! code in one commit, replies on each thread with what it did or why it left it, and resolves
//! the threads it fixed (never one it left).
//!
//! The story: read the threads → 👀 and the status note → clone the branch the change goes to
//! (the source branch, or the follow-up branch when the requester may not push there, as for any
//! change requested in a note) → the address-threads stage writes the code and `answers.json`
//! (checked by [`crate::review::answers`], one retry) → one commit whose message carries the
//! answers, pushed fast-forward only → a reply on each thread and a resolve of the fixed ones.
//!
//! Exactly once: the commit carries a `Copilot-Request` trailer naming the request, and each
//! reply a hidden marker naming the request and what it reported. A job run again after being
//! stopped finds its commit on the branch and takes the answers from its message instead of
//! asking the agent again; it skips a thread it already replied on, and resolves one whose reply
//! says fixed but which is still open.

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::super::Job;
use super::super::thread_replies::{ThreadReply, reply_then_resolve};
use super::super::work::{self, Branch};
use crate::exit::Code;
use crate::gitlab::types::{Discussion, MergeRequest, Note};
use crate::gitlab::{Noteable, UserBasic};
use crate::prompts::Stage;
use crate::prompts::markers::{Marker, addressed_outcome};
use crate::prompts::message::{
    FinalNote, NothingChangedNote, RunStats, Step, StepState, ThreadAnswer, ThreadOutcome, UnsupportedReason,
};
use crate::prompts::stage::{
    AddressThreadsPrompt, OpenThreadPrompt, Task, ThreadNotePrompt, Workspace as PromptWorkspace, limits,
};
use crate::report::Reporter;
use crate::review::answers::{self, Answer, Outcome};
use crate::review::chunks::file_diff_text;
use crate::stages::{CheckedCall, StageError};
use crate::untrusted::{MarkdownCodeSpan, MarkdownText, UntrustedLine, UntrustedText};

/// The file the stage writes its answers to.
const ANSWERS_FILE: &str = "answers.json";
/// The trailer that names the request a commit answers.
const REQUEST_TRAILER: &str = "Copilot-Request";
/// How many recent commits of the branch a re-run looks through for its own.
const COMMITS_LOOKED_AT: u32 = 30;

/// What the caller read and decided: the request, who asked, and why the source branch is not
/// pushed to (then the change goes to `follow_up`).
pub(super) struct Request<'a> {
    pub project_id: u64,
    pub mr: &'a MergeRequest,
    pub note: &'a Note,
    pub actor: &'a UserBasic,
    pub blocked: Option<UnsupportedReason>,
    pub follow_up: String,
}

/// An unresolved thread as this request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OpenThread<'d> {
    pub discussion: &'d Discussion,
    pub by_agent: bool,
    /// What the agent's earlier reply for this request reported (`fixed`, `left`), if it replied.
    pub answered: Option<String>,
}

/// Every resolvable, unresolved thread of the merge request (a plain comment is not one), with
/// the agent's earlier reply for `subject` when there is one. Only the agent's replies count.
pub(super) fn open_threads<'d>(
    discussions: &'d [Discussion],
    agent_user_id: u64,
    subject: &str,
) -> Vec<OpenThread<'d>> {
    discussions
        .iter()
        .filter(|discussion| !discussion.individual_note)
        .filter_map(|discussion| {
            let first = discussion.notes.first()?;
            if first.system || !first.resolvable || first.resolved.unwrap_or(false) {
                return None;
            }
            let answered = discussion
                .notes
                .iter()
                .skip(1)
                .filter(|note| note.author_id() == Some(agent_user_id))
                .find_map(|note| addressed_outcome(&note.body, subject))
                .map(str::to_owned);
            Some(OpenThread { discussion, by_agent: first.author_id() == Some(agent_user_id), answered })
        })
        .collect()
}

/// What one thread gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PlannedReply {
    pub discussion_id: String,
    /// The reply's outcome and the agent's reason; `None` when the earlier reply stands.
    pub reply: Option<(ThreadOutcome, Option<String>)>,
    pub resolve: bool,
}

/// The replies to make. `answers` is `None` when this run asked nobody (every thread was
/// answered before); `from_commit` when they came from an earlier run's commit, which answered
/// only the threads it lists (a thread opened since waits for a request of its own).
pub(super) fn plan_replies(
    threads: &[OpenThread<'_>],
    answers: Option<&BTreeMap<String, Answer>>,
    from_commit: bool,
    commit: Option<&str>,
    follow_up: Option<&str>,
) -> Vec<PlannedReply> {
    threads
        .iter()
        .filter_map(|thread| {
            let discussion_id = thread.discussion.id.clone();
            if let Some(earlier) = &thread.answered {
                // Replied before: only a fixed thread a stopped job did not resolve is left to do.
                let resolve = earlier == Outcome::Fixed.name();
                return resolve.then_some(PlannedReply { discussion_id, reply: None, resolve });
            }
            let answer = answers?.get(&discussion_id);
            if answer.is_none() && from_commit {
                return None;
            }
            let reason = answer.map(|answer| answer.reason.clone());
            let outcome = match (answer.map(|answer| answer.outcome), commit, follow_up) {
                (Some(Outcome::Fixed), Some(_), None) => ThreadOutcome::Fixed,
                (Some(Outcome::Fixed), Some(_), Some(_)) => ThreadOutcome::FixedInFollowUp,
                (Some(Outcome::Fixed), None, _) => ThreadOutcome::NoChange,
                (Some(Outcome::Left), ..) => ThreadOutcome::Left,
                (None, ..) => ThreadOutcome::NoAnswer,
            };
            let resolve = outcome == ThreadOutcome::Fixed;
            Some(PlannedReply { discussion_id, reply: Some((outcome, reason)), resolve })
        })
        .collect()
}

/// Runs the request. The caller has acknowledged it and said why the source branch is not
/// pushed to, when it is not.
pub(super) async fn run(job: &Job, reporter: &mut Reporter<'_>, request: Request<'_>) -> anyhow::Result<Code> {
    let Request { project_id, mr, note, actor, blocked, follow_up } = request;
    let subject = format!("mr-{}-note-{}", mr.iid, note.id);
    let discussions = job
        .client
        .merge_request_discussions(project_id, mr.iid)
        .await
        .context("while reading the merge request's discussions")?;
    let threads = open_threads(&discussions, job.agent_user.id, &subject);
    let notes =
        job.client.notes(project_id, Noteable::MergeRequest(mr.iid)).await.context("while reading the notes")?;
    let mut steps = vec![Step::Prepare, Step::Stage(Stage::AddressThreads), Step::Push];
    if blocked.is_some() {
        steps.push(Step::MergeRequest);
    }
    reporter.start_among(Some(&actor.username), &steps, &notes).await?;
    let branch = Branch {
        name: if blocked.is_some() { follow_up } else { mr.source_branch.clone() },
        from: Some(mr.source_branch.clone()),
        commit_title: None,
    };
    let done = match address(job, reporter, (project_id, mr, note), &branch, &threads, &subject).await {
        Ok(done) => done,
        Err(error) => {
            if let Some(code) = work::report_stopped(job, reporter, &error).await? {
                return Ok(code);
            }
            return super::super::fail(reporter, &error).await;
        }
    };
    let mut shown = (mr.iid, mr.web_url.clone());
    let mut follow_up_ref = None;
    if blocked.is_some() && done.commit.is_some() {
        reporter.step(Step::MergeRequest, StepState::Running).await?;
        let opened = super::open_follow_up(job, project_id, mr, &branch.name, actor.id)
            .await
            .with_context(|| format!("the change is pushed to `{}`, but no merge request shows it yet", branch.name));
        let opened = match opened {
            Ok(opened) => opened,
            Err(error) => return super::super::fail(reporter, &error).await,
        };
        reporter.step(Step::MergeRequest, StepState::Done).await?;
        follow_up_ref = Some(format!("!{}", opened.iid));
        shown = (opened.iid, opened.web_url);
    }
    let planned = plan_replies(
        &threads,
        done.answers.as_ref(),
        done.from_commit,
        done.commit.as_deref(),
        follow_up_ref.as_deref(),
    );
    let mut replies = Vec::new();
    for PlannedReply { discussion_id, reply, resolve } in planned {
        let body = match reply {
            None => None,
            Some((outcome, reason)) => {
                let answer = ThreadAnswer {
                    outcome,
                    reason: reason.as_deref().map(MarkdownText::line),
                    commit_sha: done.commit.clone().filter(|_| outcome != ThreadOutcome::NoChange),
                    follow_up: follow_up_ref.clone(),
                    marker: Marker::addressed(&subject, if resolve { "fixed" } else { "left" }),
                };
                let rendered = job.prompts.render_message(job.language(), &answer);
                Some(rendered.context("while rendering a thread's reply")?)
            }
        };
        replies.push(ThreadReply { discussion_id, body, resolve });
    }
    let resolved = reply_then_resolve(job, (project_id, mr.iid), &replies).await;
    tracing::info!(threads = threads.len(), replied = replies.len(), resolved, "addressed the review threads");
    let marker = Marker::status(&format!("final-note-{}", note.id));
    match &done.commit {
        Some(_) => {
            let stats = RunStats {
                stages: 1,
                agent_calls: done.agent_calls,
                premium_requests: job.spend.table().total.premium_requests,
                duration_secs: done.duration_secs,
            };
            let note = FinalNote {
                marker,
                merge_request_reference: format!("!{}", shown.0),
                merge_request_url: shown.1,
                branch: MarkdownCodeSpan::new(&branch.name),
                stats,
                usage: job.spend.table(),
            };
            reporter.post(&note).await?;
        }
        None => {
            let note = NothingChangedNote {
                marker,
                agent_summary: done.summary.as_deref().map(MarkdownText::new),
                job_url: job.job_url.clone(),
                usage: Some(job.spend.table()),
            };
            reporter.post(&note).await?;
        }
    }
    Ok(Code::Done)
}

/// What the work produced: the answers (`None` when nobody was asked), the commit that holds the
/// change (this run's or the one an earlier run pushed), and the agent's closing words.
struct Addressed {
    answers: Option<BTreeMap<String, Answer>>,
    /// Whether the answers came from an earlier run's commit.
    from_commit: bool,
    commit: Option<String>,
    summary: Option<String>,
    agent_calls: u32,
    duration_secs: u64,
}

/// Clones, finds an earlier run's commit or runs the stage, commits and pushes.
async fn address(
    job: &Job,
    reporter: &mut Reporter<'_>,
    (project_id, mr, note): (u64, &MergeRequest, &Note),
    branch: &Branch,
    threads: &[OpenThread<'_>],
    subject: &str,
) -> anyhow::Result<Addressed> {
    let started = std::time::Instant::now();
    reporter.step(Step::Prepare, StepState::Running).await?;
    let workspace = work::clone_project(job, project_id, Some(&mr.source_branch)).await?;
    workspace
        .checkout_or_create_branch(&branch.name, branch.from.as_deref())
        .await
        .context("while checking out the branch")?;
    workspace.deepen_by(COMMITS_LOOKED_AT).await.context("while reading the branch's recent history")?;
    let own_email = work::identity(job).email;
    let trailer = format!("{REQUEST_TRAILER}: {subject}");
    let earlier = workspace
        .recent_commits(COMMITS_LOOKED_AT)
        .await
        .context("while reading the branch's recent commits")?
        .into_iter()
        .find(|commit| commit.author_email == own_email && commit.message.lines().any(|line| line.trim() == trailer));
    reporter.step(Step::Prepare, StepState::Done).await?;
    let unanswered: Vec<&OpenThread<'_>> = threads.iter().filter(|thread| thread.answered.is_none()).collect();
    let mut done =
        Addressed { answers: None, from_commit: false, commit: None, summary: None, agent_calls: 0, duration_secs: 0 };
    if let Some(earlier) = earlier {
        tracing::info!(commit = %earlier.sha, "an earlier run already pushed this request's change");
        for step in [Step::Stage(Stage::AddressThreads), Step::Push] {
            reporter.step(step, StepState::Done).await?;
        }
        done.answers = Some(answers::from_commit(&earlier.message));
        done.from_commit = true;
        done.commit = Some(earlier.sha);
        return Ok(done);
    }
    if unanswered.is_empty() {
        for step in [Step::Stage(Stage::AddressThreads), Step::Push] {
            reporter.step(step, StepState::Done).await?;
        }
        return Ok(done);
    }
    reporter.step(Step::Stage(Stage::AddressThreads), StepState::Running).await?;
    let files =
        job.client.merge_request_diffs(project_id, mr.iid).await.context("while reading the merge request's diffs")?;
    let diff: String = files.iter().map(file_diff_text).collect();
    let head_sha = workspace.head_sha().await.context("while reading the checked-out head")?;
    let understood = job.understand(project_id, &workspace, &branch.name, &mr.source_branch).await?;
    let prompt = AddressThreadsPrompt {
        merge_request: Task::merge_request(
            mr.iid,
            &mr.title,
            mr.description.as_deref().unwrap_or_default(),
            Some(mr.web_url.clone()),
        ),
        request: UntrustedText::bounded(&note.body),
        project: understood.prompt_context(),
        workspace: PromptWorkspace { repo_dir: String::new(), scratch_dir: String::new(), branch: branch.name.clone() },
        head_sha,
        diff: UntrustedText::source(&diff, limits::DIFF),
        threads: unanswered.iter().map(|thread| thread_prompt(thread)).collect(),
        output_path: String::new(),
    };
    let ids: Vec<&str> = unanswered.iter().map(|thread| thread.discussion.id.as_str()).collect();
    let (answers, summary, agent_calls) = run_stage(job, workspace.dir(), prompt, &ids).await?;
    reporter.step(Step::Stage(Stage::AddressThreads), StepState::Done).await?;

    reporter.step(Step::Push, StepState::Running).await?;
    let mut message = format!("Address review threads (!{})\n\n", mr.iid);
    for line in answers::commit_lines(&answers) {
        message.push_str(&line);
        message.push('\n');
    }
    let mut trailers = vec![("Copilot-Stage", Stage::AddressThreads.as_str()), (REQUEST_TRAILER, subject)];
    if let Some(url) = &job.pipeline_url {
        trailers.push(("Pipeline", url.as_str()));
    }
    let commit = workspace.commit_all(&message, &trailers).await.context("while committing")?;
    if commit.is_some() {
        done.commit = Some(work::push(&workspace, &branch.name).await?);
    }
    reporter.step(Step::Push, StepState::Done).await?;
    done.answers = Some(answers);
    done.summary = summary;
    done.agent_calls = agent_calls;
    done.duration_secs = started.elapsed().as_secs();
    Ok(done)
}

/// The prompt's view of one thread.
fn thread_prompt(thread: &OpenThread<'_>) -> OpenThreadPrompt {
    let position = thread.discussion.notes.first().and_then(|note| note.position.as_ref());
    let file = position.and_then(|position| position.new_path.as_deref().or(position.old_path.as_deref()));
    OpenThreadPrompt {
        id: thread.discussion.id.clone(),
        file: file.map(UntrustedLine::new),
        old_line: position.and_then(|position| position.old_line),
        new_line: position.and_then(|position| position.new_line),
        by_agent: thread.by_agent,
        notes: thread
            .discussion
            .notes
            .iter()
            .filter(|note| !note.system)
            .map(|note| ThreadNotePrompt {
                author: UntrustedLine::new(note.author.as_ref().map_or("", |author| author.username.as_str())),
                body: UntrustedText::bounded(&note.body),
            })
            .collect(),
    }
}

/// Runs the address-threads stage in `repo_dir` and reads its answers about `ids`. Answers that
/// stay broken after the one retry are dropped (their threads get "no answer"); the code the
/// agent changed is kept either way.
async fn run_stage(
    job: &Job,
    repo_dir: &std::path::Path,
    mut prompt: AddressThreadsPrompt,
    ids: &[&str],
) -> anyhow::Result<(BTreeMap<String, Answer>, Option<String>, u32)> {
    let runner = job.stage_runner(repo_dir, "stages");
    let name = Stage::AddressThreads.as_str();
    let call = CheckedCall {
        name,
        dir: runner.artifacts_dir.join(format!("1-{name}")),
        work: runner.work_dir.join(format!("1-{name}")),
        output_file: Some(ANSWERS_FILE),
    };
    prompt.workspace.repo_dir = runner.repo_dir.display().to_string();
    let render = |scratch: &std::path::Path, output: Option<&std::path::Path>| {
        let mut prompt = prompt.clone();
        prompt.workspace.scratch_dir = scratch.display().to_string();
        prompt.output_path = output.map(|path| path.display().to_string()).unwrap_or_default();
        job.prompts.render_stage(job.language(), &prompt).map_err(|source| StageError::Prompt { stage: name, source })
    };
    let check = |outcome: &crate::agent::AgentOutcome, written: Option<&str>| {
        let Some(text) = written else {
            return Err(format!("the file `{ANSWERS_FILE}` was not written; write it at the path given above"));
        };
        let parsed = answers::parse_answers(text, ids);
        match parsed.retry_request(ANSWERS_FILE) {
            Some(problem) => Err(problem),
            None => Ok((parsed.answers, outcome.final_message.clone())),
        }
    };
    match runner.run_checked(&call, render, check).await {
        Ok(checked) => Ok((checked.output.0, checked.output.1, checked.usage.agent_calls)),
        Err(StageError::InvalidOutput { problem, usage, .. }) => {
            tracing::warn!(%problem, "the agent's answers were invalid twice; threads without one get \"no answer\"");
            let written = std::fs::read_to_string(call.work.join("scratch").join(ANSWERS_FILE)).unwrap_or_default();
            Ok((answers::parse_answers(&written, ids).answers, None, usage.agent_calls))
        }
        Err(StageError::CapReached { cap, .. }) => {
            // Nothing is committed: the spend-cap note says what ran and what remains.
            let remaining = vec![Stage::AddressThreads];
            Err(super::work::WorkError::CapReached { cap, done: Vec::new(), remaining }.into())
        }
        Err(error) => Err(anyhow::Error::new(error).context("while the agent addressed the threads")),
    }
}

#[cfg(test)]
#[path = "address_tests.rs"]
mod tests;
