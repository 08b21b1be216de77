//! pipeline_failed: a failed pipeline on an agent branch gets fixed without anyone asking, in a
//! loop that always ends.
//!
//! The story: find the merge request of the pipeline's branch → read the ledger from the loop's
//! status note (another job holding it, a pipeline already handled or every attempt used: nothing
//! to do) → take the lease → watch the pipeline until it ends (blocked on a manual job, or never
//! picked up by a runner: say so and stop) → sort the failed jobs: infrastructure failures are
//! retried (up to `RETRY_MAX_TIME` per merge request, over every job), script failures are read
//! for their failure signature → before the first fix, re-run them once unchanged
//! (`COPILOT_FLAKY_CHECK`): passing then means flaky, reported and not fixed → two fix attempts
//! in a row that end in the same failure stop the loop ("the same failure twice") →
//! the fix stage gets the log excerpts, the merge request's changes and every earlier attempt's
//! signature and diff → its change is checked by [`crate::ci::guard`]: one that deletes, skips or
//! loosens tests or makes CI tolerate failure is undone and the agent told why, once; a second
//! such change ends the loop with the lines named (unless a person allowed test changes on the
//! merge request) → commit → push, fast-forward only (someone else pushed: stop at once) → wait
//! for the new pipeline → again, until it passes, `DEBUG_MAX_TIME` fix attempts are used (counted
//! per merge request over every job) or `TOTAL_TIMEOUT` runs out. The status note shows each
//! attempt as it happens; the end note says fixed, flaky, or that a human is needed with the
//! attempts and the last log excerpt. The loop never opens a merge request.
//!
//! Three ways in: the webhook's `pipeline_failed` ([`run`]), a note asking to fix the pipeline
//! ([`on_request`]), and `COPILOT_AUTO_FIX_PIPELINE` right after the issue workflow pushed
//! ([`after_issue`]).

mod fix_stage;
mod gate;
mod ledger;
mod status;

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::time::Instant;

use super::Job;
use super::work::clone_project;
use crate::ci::failures::{self, Failures, Hidden};
use crate::ci::guard::{self, Weakening};
use crate::ci::merged;
use crate::ci::signature::Signature;
use crate::ci::watch::{self, WatchOptions, Watched};
use crate::exit::Code;
use crate::git::{GitError, Workspace};
use crate::gitlab::{Job as CiJob, MergeRequest, Note, Noteable, Pipeline, Status};
use crate::prompts::markers::Marker;
use crate::prompts::message::{AttemptResult, PipelineFixOutcome, StopReason};
use crate::prompts::stage::{EarlierAttempt, PipelineFixPrompt, Task, Workspace as PromptWorkspace};
use crate::report::Reporter;
use crate::request::intent::{Intent, intent};
use crate::request::mention::mentions;
use crate::untrusted::{MarkdownCode, UntrustedLine, UntrustedText};
use fix_stage::Evidence;
use ledger::Ledger;

/// Longest log excerpt the end note shows.
const NOTE_EXCERPT_CHARS: usize = 4000;

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Fixed,
    Flaky,
    NeedsHuman(StopReason),
    Superseded,
    Blocked,
    NotPickedUp,
}

/// Whether the loop continues an earlier count or starts a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Episode {
    /// A failed pipeline the webhook reported: the count over earlier jobs goes on.
    Continue,
    /// A person asked, or the issue workflow just pushed: a new count.
    Fresh,
}

/// Runs the loop for pipeline `pipeline_id` (the `pipeline_failed` trigger).
pub async fn run(job: &Job, project_id: u64, pipeline_id: u64, mr_iid: Option<u64>) -> anyhow::Result<Code> {
    let pipeline = job.client.pipeline(project_id, pipeline_id).await.context("while reading the pipeline")?;
    if pipeline.source.as_deref() == Some("parent_pipeline") {
        tracing::info!(pipeline = pipeline_id, "a child pipeline; the loop follows it from its parent; nothing done");
        return Ok(Code::Done);
    }
    let Some(mr) = merge_request_of(job, project_id, &pipeline, mr_iid).await? else {
        tracing::info!(pipeline = pipeline_id, git_ref = %pipeline.git_ref, "no open merge request of the agent; nothing done");
        return Ok(Code::Done);
    };
    if !mr.source_branch.starts_with(&job.settings.workflow.branch_prefix) {
        tracing::info!(branch = %mr.source_branch, "not an agent branch; nothing done");
        return Ok(Code::Done);
    }
    if let Some(refusal) = gate::check(job, project_id, &pipeline, &mr).await? {
        tracing::warn!(mr = mr.iid, pipeline = pipeline_id, "refused to fix the pipeline: {refusal}");
        return Ok(Code::Done);
    }
    let Some(mut fixer) =
        Box::pin(Fixer::start(job, project_id, mr, Episode::Continue, Some(&pipeline), Asked::default())).await?
    else {
        return Ok(Code::Done);
    };
    Box::pin(fixer.drive(pipeline.id, None)).await
}

/// Runs the loop because a person asked in a note on merge request `mr` (already checked and
/// acknowledged by the MR-note workflow): on the newest pipeline of the merge request.
///
/// `failed_on` is the merge request whose newest pipeline is to be fixed; `mr`, where the loop
/// works and pushes: the same one, or the agent's follow-up merge request into its branch when
/// the requester may not push there. `asked`: how the request was made.
pub async fn on_request(
    job: &Job,
    project_id: u64,
    failed_on: &MergeRequest,
    mr: MergeRequest,
    asked: Asked,
) -> anyhow::Result<Code> {
    let pipelines = job
        .client
        .merge_request_pipelines(project_id, failed_on.iid)
        .await
        .context("while listing the MR's pipelines")?;
    let Some(newest) = watch::newest(pipelines) else {
        tracing::info!(mr = mr.iid, "the merge request has no pipeline");
        let Some(mut fixer) = Box::pin(Fixer::start(job, project_id, mr, Episode::Fresh, None, asked)).await? else {
            return Ok(Code::Done);
        };
        return Box::pin(fixer.finish(Ending::NeedsHuman(StopReason::NoPipeline))).await;
    };
    let Some(mut fixer) = Box::pin(Fixer::start(job, project_id, mr, Episode::Fresh, None, asked)).await? else {
        return Ok(Code::Done);
    };
    Box::pin(fixer.drive(newest.id, None)).await
}

/// With `COPILOT_AUTO_FIX_PIPELINE` on: watches the pipeline of the issue workflow's push to
/// merge request `mr_iid` and runs the loop when it fails. Quiet when it passes. The issue's
/// work is done by then, so a failure here is logged and reported, never raised.
pub async fn after_issue(job: &Job, project_id: u64, mr_iid: u64) -> Code {
    if !job.settings.pipeline_fix.auto_fix {
        return Code::Done;
    }
    match Box::pin(watch_then_fix(job, project_id, mr_iid)).await {
        Ok(code) => code,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "the automatic pipeline fix failed");
            Code::WorkFailed
        }
    }
}

async fn watch_then_fix(job: &Job, project_id: u64, mr_iid: u64) -> anyhow::Result<Code> {
    let mr = job.client.merge_request(project_id, mr_iid).await.context("while reading the merge request")?;
    let head = job
        .client
        .branch(project_id, &mr.source_branch)
        .await
        .context("while reading the branch")?
        .map(|branch| branch.commit.id)
        .unwrap_or_default();
    let options =
        WatchOptions::from_interval(job.settings.pipeline_fix.retry_interval, Instant::from_std(job.deadline));
    let Some(pipeline) =
        watch::pipeline_for_push(&job.client, project_id, &mr.source_branch, Some(mr.iid), &head, &options)
            .await
            .context("while waiting for the pipeline of the push")?
    else {
        tracing::info!(branch = %mr.source_branch, "no pipeline for the push; nothing to fix");
        return Ok(Code::Done);
    };
    let watched =
        watch::watch(&job.client, project_id, pipeline.id, &options).await.context("while watching the pipeline")?;
    if matches!(&watched, Watched::Ended(pipeline) if pipeline.status == Status::Success) {
        tracing::info!(pipeline = pipeline.id, "the pipeline passed");
        return Ok(Code::Done);
    }
    let Some(mut fixer) = Box::pin(Fixer::start(job, project_id, mr, Episode::Fresh, None, Asked::default())).await?
    else {
        return Ok(Code::Done);
    };
    Box::pin(fixer.drive(pipeline.id, Some(watched))).await
}

/// How a person asked for the loop in a note.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked {
    /// The request was an internal note: the loop's notes are internal too.
    pub internal: bool,
    /// The request allowed test changes (`allow test changes`): the guard against weakening
    /// tests stands aside on this merge request.
    pub test_changes: bool,
}

/// Whether a note on the merge request, mentioning the agent, by a person who may ask for work,
/// allows test changes.
async fn test_changes_allowed(job: &Job, project_id: u64, notes: &[Note]) -> anyhow::Result<bool> {
    let agent = &job.settings.access.agent_username;
    for note in notes.iter().filter(|note| !note.system && mentions(&note.body, agent)) {
        let Some(author) = note.author.as_ref().filter(|author| !job.ignores(author)) else { continue };
        if intent(&note.body, agent) == Intent::AllowTestChanges
            && job.may_start_work(project_id, author).await.context("while checking who allowed test changes")?
        {
            tracing::info!(by = %author.username, note = note.id, "test changes are allowed on this merge request");
            return Ok(true);
        }
    }
    Ok(false)
}

/// The open merge request a pipeline belongs to.
async fn merge_request_of(
    job: &Job,
    project_id: u64,
    pipeline: &Pipeline,
    mr_iid: Option<u64>,
) -> anyhow::Result<Option<MergeRequest>> {
    if let Some(iid) = mr_iid {
        let mr = job.client.merge_request(project_id, iid).await.context("while reading the merge request")?;
        return Ok((mr.state == "opened").then_some(mr));
    }
    // A merge request pipeline runs on `refs/merge-requests/<iid>/head` (or `/merge`).
    let merge_ref_iid = pipeline
        .git_ref
        .strip_prefix("refs/merge-requests/")
        .and_then(|rest| rest.strip_suffix("/head").or_else(|| rest.strip_suffix("/merge")))
        .and_then(|iid| iid.parse().ok());
    if let Some(iid) = merge_ref_iid {
        let mr = job.client.merge_request(project_id, iid).await.context("while reading the merge request")?;
        return Ok((mr.state == "opened").then_some(mr));
    }
    let found = job
        .client
        .merge_requests_by_source_branch(project_id, &pipeline.git_ref, Some("opened"))
        .await
        .context("while finding the branch's merge request")?;
    Ok(found.into_iter().find(|mr| mr.state == "opened" && mr.source_project_id.is_none_or(|id| id == project_id)))
}

/// How long the loop's lease holds without a renewal: the longest the loop goes without editing
/// its status note (an agent call, tried twice, and the commit and push after it). A job killed
/// at any point blocks the merge request's next job for at most this long.
fn lease_ttl(job: &Job) -> std::time::Duration {
    job.settings.agent.stage_timeout.saturating_mul(2) + std::time::Duration::from_secs(LEASE_MARGIN_SECS)
}

/// What the lease allows beyond the agent calls: a commit, a push, a status edit.
const LEASE_MARGIN_SECS: u64 = 30;

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// One run of the loop on one merge request.
struct Fixer<'a> {
    job: &'a Job,
    project_id: u64,
    mr: MergeRequest,
    subject: String,
    ledger: Ledger,
    note_id: Option<u64>,
    reporter: Reporter<'a>,
    options: WatchOptions,
    workspace: Option<Workspace>,
    /// The excerpt of the last failed job, for the end note.
    last_excerpt: Option<String>,
    /// A person allowed test changes on the merge request: no guard.
    test_changes_allowed: bool,
    /// Changes the guard rejected in this job.
    rejections: u32,
    /// The lines of the last rejected change, for the end note.
    rejected_lines: Vec<String>,
    /// Whether the failed jobs were re-run unchanged once already.
    flaky_checked: bool,
    /// The jobs re-run for the flaky check and their re-runs, while that check is pending.
    reruns: Option<Vec<(CiJob, CiJob)>>,
    /// Jobs found flaky, for the end note.
    flaky_jobs: Vec<(CiJob, CiJob)>,
    /// The failure that came back, for the end note.
    came_back: Option<String>,
    /// Failed downstream pipelines the agent cannot read, for the end note.
    hidden: Vec<Hidden>,
    /// The newest pipeline seen ending; when the loop ends, it is acted on.
    concluded: u64,
}

impl<'a> Fixer<'a> {
    /// Reads the ledger and takes the lease; `None` when there is nothing to do: another job
    /// holds the loop, or (for a reported pipeline) it was handled already, every attempt is
    /// used, or the branch moved past it.
    async fn start(
        job: &'a Job,
        project_id: u64,
        mr: MergeRequest,
        episode: Episode,
        reported: Option<&Pipeline>,
        asked: Asked,
    ) -> anyhow::Result<Option<Self>> {
        let subject = format!("mr-{}", mr.iid);
        let on = Noteable::MergeRequest(mr.iid);
        let notes = job.client.notes(project_id, on).await.context("while reading the merge request's notes")?;
        let marker = Marker::pipeline_fix(&subject);
        let status = notes.iter().rev().find(|note| {
            note.author.as_ref().is_some_and(|author| author.id == job.agent_user.id) && marker.is_in(&note.body)
        });
        let note_id = status.map(|note| note.id);
        let mut ledger = status.and_then(|note| Ledger::read(&note.body, &subject)).unwrap_or_default();
        if ledger.leased_at(unix_now()) {
            tracing::info!(mr = mr.iid, "another job is fixing this merge request's pipeline; nothing done");
            return Ok(None);
        }
        if let Some(pipeline) = reported {
            if pipeline.id <= ledger.acted {
                tracing::info!(pipeline = pipeline.id, "this pipeline was handled already; nothing done");
                return Ok(None);
            }
            if ledger.fixes >= job.settings.pipeline_fix.debug_max {
                tracing::info!(fixes = ledger.fixes, "every fix attempt on this merge request is used; nothing done");
                return Ok(None);
            }
            let head = job.client.branch(project_id, &mr.source_branch).await.context("while reading the branch")?;
            let current = match head {
                Some(head) => {
                    merged::is_current(&job.client, project_id, &pipeline.git_ref, &pipeline.sha, &head.commit.id)
                        .await
                        .context("while reading the pipeline's commit")?
                }
                None => true,
            };
            if !current {
                tracing::info!(pipeline = pipeline.id, "the branch moved past this pipeline; nothing done");
                return Ok(None);
            }
        }
        if episode == Episode::Fresh {
            ledger = Ledger { acted: ledger.acted, ..Ledger::default() };
        }
        let test_changes_allowed = asked.test_changes || test_changes_allowed(job, project_id, &notes).await?;
        let mut reporter = job.reporter(project_id, on);
        // The request was an internal note: the loop's notes are internal too.
        reporter.target.internal = asked.internal;
        reporter.remember_own(&notes);
        let rules = crate::workflows::repo_config::for_project(job, &reporter, project_id).await?;
        reporter.language = rules.language;
        if let Some(cap) = rules.max_premium_requests {
            job.spend.lower_cap(cap);
        }
        if let (Episode::Continue, Some(author)) = (episode, &mr.author) {
            // A reported pipeline passed the admin's monthly cap at the gate; the project's own
            // lower one is checked here. A person's request was checked by its workflow.
            if crate::workflows::repo_config::apply_caps(job, project_id, author, &rules).await?.is_some() {
                tracing::warn!(
                    mr = mr.iid,
                    "refused to fix the pipeline: the project used its monthly premium requests"
                );
                return Ok(None);
            }
        }
        ledger.lease_until = unix_now() + lease_ttl(job).as_secs();
        let options =
            WatchOptions::from_interval(job.settings.pipeline_fix.retry_interval, Instant::from_std(job.deadline));
        let mut fixer = Self {
            job,
            project_id,
            mr,
            subject,
            ledger,
            note_id,
            reporter,
            options,
            workspace: None,
            last_excerpt: None,
            test_changes_allowed,
            rejections: 0,
            rejected_lines: Vec::new(),
            flaky_checked: false,
            reruns: None,
            flaky_jobs: Vec::new(),
            came_back: None,
            hidden: Vec::new(),
            concluded: 0,
        };
        fixer.publish(PipelineFixOutcome::Running, None).await?;
        Ok(Some(fixer))
    }

    /// Watches, retries and fixes until the loop ends; then reports. `first` is pipeline
    /// `pipeline_id` already watched.
    async fn drive(&mut self, pipeline_id: u64, first: Option<Watched>) -> anyhow::Result<Code> {
        let ending = match self.attempts(pipeline_id, first).await {
            Ok(ending) => ending,
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "the pipeline-fix loop failed");
                self.ledger.lease_until = 0;
                if let Err(report_error) = self.publish(PipelineFixOutcome::NeedsHuman, None).await {
                    tracing::error!(error = %format!("{report_error:#}"), "could not update the status note");
                }
                return super::fail(&mut self.reporter, &error).await;
            }
        };
        self.finish(ending).await
    }

    /// The loop itself.
    async fn attempts(&mut self, mut pipeline_id: u64, mut first: Option<Watched>) -> anyhow::Result<Ending> {
        loop {
            let watched = match first.take() {
                Some(watched) => watched,
                None => self.watch(pipeline_id).await?,
            };
            let pipeline = match watched {
                Watched::Blocked(_) => return Ok(Ending::Blocked),
                Watched::NotPickedUp(_) => return Ok(Ending::NotPickedUp),
                Watched::OutOfTime(_) => return Ok(Ending::NeedsHuman(StopReason::OutOfTime)),
                Watched::Ended(pipeline) => {
                    self.concluded = self.concluded.max(pipeline.id);
                    pipeline
                }
            };
            let reruns = self.reruns.take();
            if pipeline.status == Status::Success {
                if let Some(reruns) = reruns {
                    self.settle_rerun(AttemptResult::Flaky);
                    self.flaky_jobs = reruns;
                    return Ok(Ending::Flaky);
                }
                self.settle_row(pipeline.id, AttemptResult::Passed);
                return Ok(Ending::Fixed);
            }
            if reruns.is_some() {
                // Failed again unchanged: broken, not flaky.
                self.settle_rerun(AttemptResult::Failed);
            }
            self.settle_row(pipeline.id, AttemptResult::Failed);
            if pipeline.status != Status::Failed {
                // Canceled or skipped: a person stopped it; nothing for the loop to fix.
                return Ok(Ending::NeedsHuman(StopReason::NotFixable));
            }
            if self.moved_on(&pipeline).await? {
                return Ok(Ending::Superseded);
            }
            let failures = failures::failures(&self.job.client, self.project_id, pipeline.id)
                .await
                .context("while listing the failed jobs")?;
            let mut evidence = Vec::with_capacity(failures.fix.len());
            for job in &failures.fix {
                evidence.push(fix_stage::evidence(&self.job.client, self.project_id, job).await);
            }
            if let Some(last) = evidence.last() {
                self.last_excerpt = Some(last.excerpt.clone());
            } else if let Some(last) = failures.all().last() {
                self.last_excerpt = Some(fix_stage::evidence(&self.job.client, self.project_id, last).await.excerpt);
            }
            if !failures.hidden.is_empty() {
                self.hidden = failures.hidden;
                return Ok(Ending::NeedsHuman(StopReason::DownstreamHidden));
            }
            if !failures.person.is_empty() || failures.is_empty() {
                return Ok(Ending::NeedsHuman(StopReason::NotFixable));
            }
            if failures.fix.is_empty() {
                if self.ledger.retries >= self.job.settings.pipeline_fix.retry_max {
                    return Ok(Ending::NeedsHuman(StopReason::RetriesUsed));
                }
                self.retry(&pipeline, &failures).await?;
                continue;
            }
            let signature = Signature::new(evidence.iter().map(|evidence| evidence.signature.clone()).collect());
            // Attempt n addressed the failure attempt n - 1 ended in; ending in it again is the
            // same failure twice (the first attempt addressed the original failure, no ending).
            if let Some(fix) = self.ledger.fix_that_produced(pipeline.id)
                && fix.signature.as_deref() == Some(signature.digest().as_str())
                && self.ledger.rows.iter().any(|row| row.commit.is_some() && row.number < fix.number)
            {
                tracing::info!(attempt = fix.number, signature = %signature.describe(), "the same failure twice");
                self.came_back = Some(signature.describe());
                return Ok(Ending::NeedsHuman(StopReason::SameFailureTwice));
            }
            if self.job.settings.pipeline_fix.flaky_check && !self.flaky_checked && self.ledger.fixes == 0 {
                self.rerun(&pipeline, &failures.fix).await?;
                continue;
            }
            if self.ledger.fixes >= self.job.settings.pipeline_fix.debug_max {
                return Ok(Ending::NeedsHuman(StopReason::AttemptsUsed));
            }
            if Instant::now() >= self.options.deadline {
                return Ok(Ending::NeedsHuman(StopReason::OutOfTime));
            }
            match self.fix(&pipeline, &failures, &evidence, &signature).await? {
                Fixed::Pushed(next) => pipeline_id = next,
                Fixed::Ended(ending) => return Ok(ending),
            }
        }
    }

    /// Watches pipeline `pipeline_id` until it ends, renewing the lease at least every half of
    /// its time to live, so a job killed while watching blocks the next one only so long.
    async fn watch(&mut self, pipeline_id: u64) -> anyhow::Result<Watched> {
        loop {
            let renew_by = Instant::now() + lease_ttl(self.job) / 2;
            let options = WatchOptions { deadline: self.options.deadline.min(renew_by), ..self.options };
            let watched = watch::watch(&self.job.client, self.project_id, pipeline_id, &options)
                .await
                .context("while watching the pipeline")?;
            match watched {
                Watched::OutOfTime(_) if Instant::now() < self.options.deadline => {
                    self.publish(PipelineFixOutcome::Running, None).await?;
                }
                watched => return Ok(watched),
            }
        }
    }

    /// Retries the infrastructure failures of `pipeline` and records it.
    async fn retry(&mut self, pipeline: &Pipeline, failures: &Failures) -> anyhow::Result<()> {
        failures::retry(&self.job.client, self.project_id, &failures.retry).await.context("while retrying jobs")?;
        self.ledger.retries += 1;
        self.ledger.push(AttemptResult::Retried, pipeline.id, job_labels(&failures.retry));
        self.publish(PipelineFixOutcome::Running, None).await
    }

    /// Re-runs the script failures of `pipeline` once, unchanged, to tell flaky from broken.
    async fn rerun(&mut self, pipeline: &Pipeline, jobs: &[CiJob]) -> anyhow::Result<()> {
        self.flaky_checked = true;
        let reruns = failures::retry(&self.job.client, self.project_id, jobs).await.context("while re-running jobs")?;
        self.reruns = Some(jobs.iter().cloned().zip(reruns).collect());
        self.ledger.push(AttemptResult::Rerun, pipeline.id, job_labels(jobs));
        self.publish(PipelineFixOutcome::Running, None).await
    }

    /// Sets the result of the flaky check's row.
    fn settle_rerun(&mut self, result: AttemptResult) {
        if let Some(row) = self.ledger.rows.iter_mut().rev().find(|row| row.result == AttemptResult::Rerun) {
            row.result = result;
        }
    }

    /// One fix attempt on `pipeline`: fix stage (with the failed jobs' `evidence`) → guard →
    /// commit → push → the new pipeline.
    async fn fix(
        &mut self,
        pipeline: &Pipeline,
        failures: &Failures,
        evidence: &[Evidence],
        signature: &Signature,
    ) -> anyhow::Result<Fixed> {
        let attempt = self.ledger.fixes + 1;
        let row = self.ledger.push(AttemptResult::Running, pipeline.id, job_labels(&failures.fix));
        self.ledger.rows[row].signature = Some(signature.digest());
        self.ledger.rows[row].failure = Some(signature.describe());
        self.publish(PipelineFixOutcome::Running, None).await?;
        let workspace = match self.workspace.take() {
            Some(workspace) => workspace,
            None => {
                let workspace = clone_project(self.job, self.project_id, None).await?;
                let branch = &self.mr.source_branch;
                workspace.checkout_or_create_branch(branch, Some(branch)).await.context("while checking out")?;
                workspace
            }
        };
        let head = workspace.head_sha().await.context("while reading the checkout's head")?;
        if !merged::is_current(&self.job.client, self.project_id, &pipeline.git_ref, &pipeline.sha, &head)
            .await
            .context("while reading the pipeline's commit")?
        {
            return Ok(Fixed::Ended(Ending::Superseded));
        }
        let failed_jobs =
            failures.fix.iter().zip(evidence).map(|(job, read)| fix_stage::failed_job(job, &read.excerpt));
        let mut prompt = self.prompt(&workspace, attempt, pipeline, failed_jobs.collect()).await?;
        // The attempt counts once its change stands (an undone change counts too, below); the
        // pipeline is acted on once the fix is pushed. A job killed before either leaves the
        // ledger as it found it, so the next job takes the pipeline up again.
        let message = format!("Fix the failing pipeline (!{}, attempt {attempt})", self.mr.iid);
        let mut trailers = vec![("Copilot-Stage", "pipeline_fix")];
        if let Some(url) = &self.job.pipeline_url {
            trailers.push(("Pipeline", url.as_str()));
        }
        let commit = loop {
            // The clone and the prompt took their time; the agent call takes at most two stage
            // timeouts (a try and a retry): the lease is renewed for it.
            self.publish(PipelineFixOutcome::Running, None).await?;
            let summary = fix_stage::run(self.job, workspace.dir(), &prompt).await?;
            self.ledger.rows[row].change = summary.lines().find(|line| !line.trim().is_empty()).map(str::to_owned);
            let Some(commit) = workspace.commit_all(&message, &trailers).await.context("while committing")? else {
                self.ledger.rows[row].result = AttemptResult::NoChange;
                return Ok(Fixed::Ended(Ending::NeedsHuman(StopReason::NoChange)));
            };
            self.ledger.fixes = attempt;
            let weakenings = self.weakenings(&workspace, &head, &commit).await?;
            if weakenings.is_empty() {
                break commit;
            }
            self.rejections += 1;
            self.rejected_lines = weakenings.iter().map(Weakening::describe).collect();
            tracing::warn!(attempt, rejections = self.rejections, lines = ?self.rejected_lines, "the fix weakens tests or CI; undone");
            workspace.reset_hard(&head).await.context("while undoing the rejected change")?;
            if self.rejections >= 2 {
                self.ledger.rows[row].result = AttemptResult::Rejected;
                return Ok(Fixed::Ended(Ending::NeedsHuman(StopReason::WeakenedTests)));
            }
            prompt.rejected = self.rejected_lines.iter().map(|line| UntrustedLine::new(line)).collect();
        };
        self.ledger.rows[row].commit = Some(commit.clone());
        match workspace.push(&self.mr.source_branch).await {
            Ok(_) => {}
            Err(GitError::NonFastForward { .. }) => {
                self.ledger.rows[row].result = AttemptResult::Failed;
                return Ok(Fixed::Ended(Ending::Superseded));
            }
            Err(error) => return Err(anyhow::Error::new(error).context("while pushing the fix")),
        }
        self.ledger.acted = self.ledger.acted.max(pipeline.id);
        self.workspace = Some(workspace);
        let branch = &self.mr.source_branch;
        let next = watch::pipeline_for_push(
            &self.job.client,
            self.project_id,
            branch,
            Some(self.mr.iid),
            &commit,
            &self.options,
        )
        .await
        .context("while waiting for the pipeline of the fix")?;
        let Some(next) = next else {
            self.ledger.rows[row].result = AttemptResult::NoChange;
            return Ok(Fixed::Ended(Ending::NeedsHuman(StopReason::NoPipeline)));
        };
        self.ledger.rows[row].pipeline_id = next.id;
        self.publish(PipelineFixOutcome::Running, None).await?;
        Ok(Fixed::Pushed(next.id))
    }

    /// What the guard finds in the change from `base` to `commit`; nothing when a person allowed
    /// test changes.
    async fn weakenings(&self, workspace: &Workspace, base: &str, commit: &str) -> anyhow::Result<Vec<Weakening>> {
        if self.test_changes_allowed {
            return Ok(Vec::new());
        }
        let diff = workspace.diff_text(base, commit).await.context("while reading the fix's diff")?;
        Ok(guard::inspect(&diff))
    }

    /// The `pipeline_fix` prompt of attempt `attempt`.
    async fn prompt(
        &self,
        workspace: &Workspace,
        attempt: u32,
        pipeline: &Pipeline,
        failed_jobs: Vec<crate::prompts::stage::FailedJob>,
    ) -> anyhow::Result<PipelineFixPrompt> {
        let understood =
            self.job.understand(self.project_id, workspace, &self.mr.source_branch, &self.mr.target_branch).await?;
        let diffs = self
            .job
            .client
            .merge_request_diffs(self.project_id, self.mr.iid)
            .await
            .context("while reading the merge request's changes")?;
        let maps: Vec<_> =
            diffs.iter().filter_map(|diff| crate::review::diff::FileMap::from_file_diff(diff).ok()).collect();
        let scratch = self.job.work_dir.join("stages").join(format!("pipeline-fix-{attempt}/scratch"));
        let mut earlier_attempts = Vec::new();
        for row in &self.ledger.rows {
            let Some(commit) = row.commit.clone() else { continue };
            let diff_summary = workspace.commit_summary(&commit, 10).await.unwrap_or_else(|error| {
                tracing::debug!(%commit, %error, "no summary of an earlier attempt's commit");
                None
            });
            earlier_attempts.push(EarlierAttempt {
                number: row.number,
                summary: UntrustedLine::new(row.change.as_deref().unwrap_or_default()),
                failure: row.failure.as_deref().map(UntrustedLine::new),
                diff_summary: diff_summary.as_deref().map(UntrustedLine::new),
                commit_sha: commit,
            });
        }
        Ok(PipelineFixPrompt {
            merge_request: Some(Task {
                reference: format!("!{}", self.mr.iid),
                title: UntrustedLine::new(&self.mr.title),
                body: UntrustedText::bounded(self.mr.description.as_deref().unwrap_or_default()),
                url: Some(self.mr.web_url.clone()),
            }),
            project: understood.prompt_context(),
            workspace: PromptWorkspace {
                repo_dir: workspace.dir().display().to_string(),
                scratch_dir: scratch.display().to_string(),
                branch: self.mr.source_branch.clone(),
            },
            attempt,
            max_attempts: self.job.settings.pipeline_fix.debug_max,
            pipeline_url: pipeline.web_url.clone().unwrap_or_else(|| self.pipeline_url(pipeline.id)),
            failed_jobs,
            changed_files: crate::review::chunks::changed_files(&maps),
            earlier_attempts,
            rejected: Vec::new(),
        })
    }

    /// Whether someone else pushed to the branch since `pipeline`'s commit.
    async fn moved_on(&self, pipeline: &Pipeline) -> anyhow::Result<bool> {
        let branch = self
            .job
            .client
            .branch(self.project_id, &self.mr.source_branch)
            .await
            .context("while reading the branch")?;
        let Some(branch) = branch else { return Ok(true) };
        let current =
            merged::is_current(&self.job.client, self.project_id, &pipeline.git_ref, &pipeline.sha, &branch.commit.id)
                .await
                .context("while reading the pipeline's commit")?;
        Ok(!current)
    }

    /// Sets the result of the row whose pipeline just ended.
    fn settle_row(&mut self, pipeline_id: u64, result: AttemptResult) {
        if let Some(row) = self.ledger.rows.iter_mut().rev().find(|row| row.pipeline_id == pipeline_id)
            && matches!(row.result, AttemptResult::Running | AttemptResult::Retried)
            && row.commit.is_some()
        {
            row.result = result;
        }
    }

    /// Ends the loop: releases the lease in the status note and posts the end note.
    async fn finish(&mut self, ending: Ending) -> anyhow::Result<Code> {
        let (outcome, reason) = match ending {
            Ending::Fixed => (PipelineFixOutcome::Fixed, None),
            Ending::Flaky => (PipelineFixOutcome::Flaky, None),
            Ending::NeedsHuman(reason) => (PipelineFixOutcome::NeedsHuman, Some(reason)),
            Ending::Superseded => (PipelineFixOutcome::Superseded, None),
            Ending::Blocked => (PipelineFixOutcome::Blocked, None),
            Ending::NotPickedUp => (PipelineFixOutcome::NotPickedUp, None),
        };
        tracing::info!(?ending, fixes = self.ledger.fixes, "the pipeline-fix loop ended");
        // Fixed, flaky or superseded: the newest pipeline's story is over, and a job for it again
        // does nothing. A limit that ran out is not: with a higher one, a job for it goes on.
        if matches!(ending, Ending::Fixed | Ending::Flaky | Ending::Superseded) {
            self.ledger.acted = self.ledger.acted.max(self.concluded);
        }
        for row in &mut self.ledger.rows {
            if row.result == AttemptResult::Running {
                row.result = AttemptResult::Failed;
            }
        }
        self.ledger.lease_until = 0;
        self.publish(outcome, reason).await?;
        let excerpt = self
            .last_excerpt
            .as_deref()
            .filter(|_| outcome == PipelineFixOutcome::NeedsHuman)
            .map(|text| MarkdownCode::new(text, NOTE_EXCERPT_CHARS));
        let end = self.note(outcome, reason, excerpt, None);
        self.reporter.post(&end).await?;
        Ok(match ending {
            Ending::Fixed | Ending::Flaky | Ending::Superseded | Ending::Blocked => Code::Done,
            Ending::NeedsHuman(_) | Ending::NotPickedUp => Code::WorkFailed,
        })
    }
}

/// What a fix attempt led to.
enum Fixed {
    /// A commit was pushed; the id of its pipeline.
    Pushed(u64),
    Ended(Ending),
}

/// `name: failure_reason` of each job, for the attempts table.
fn job_labels(jobs: &[CiJob]) -> Vec<String> {
    jobs.iter()
        .map(|job| format!("{}: {}", job.name, job.failure_reason.as_deref().unwrap_or("unknown_failure")))
        .collect()
}
