//! mr_reviewer: the agent reviews a merge request with inline comments that land on the lines
//! they are about, committable suggestions, and a summary; a later review covers only what
//! changed since and never repeats itself.
//!
//! The story: read the MR and who asked (the person who added the agent as a reviewer, or the
//! author of a review-like note) → check their access → 👀 and the status note → the latest
//! version's SHAs and every file's diff (a file GitLab left out is filled from the checkout's
//! `git diff`) → the line map → when an earlier summary names a reviewed head, only the files
//! changed since → prompts within the byte budget, one per chunk of files → the agent's findings
//! (validated, one retry) → each new finding inline at a position GitLab accepts, or in the
//! summary → the Code Quality report → the summary note with the reviewed head's marker.

use anyhow::Context as _;

use super::Job;
use super::issue::fail;
use crate::exit::Code;
use crate::gitlab::types::{DiffRefs, FileDiff, MergeRequest, Note};
use crate::gitlab::{Noteable, UserBasic};
use crate::prompts::message::{Step, StepState, UnplacedFinding, UnsupportedNote, UnsupportedReason};
use crate::prompts::stage::{ReviewPrompt, Task, Workspace as PromptWorkspace};
use crate::report::Reporter;
use crate::review::chunks::{self, ChunkLimits, SkipReason, SkippedFile};
use crate::review::diff::LineMap;
use crate::review::findings::{self, Finding, parse_findings};
use crate::review::post::{self, ReviewPlan};
use crate::review::quality;
use crate::stages::{CallUsage, CheckedCall, StageError, StageRunner};
use crate::untrusted::{UntrustedLine, UntrustedText, Username};

/// The artifacts folder of the review prompts (`<n>-review/` each, below the artifacts root).
const REVIEW_ARTIFACTS: &str = "review";

/// The file each review prompt asks the agent to write.
const FINDINGS_FILE: &str = "findings.json";

/// Runs the review workflow for `mr_reviewer`: the agent was added as a reviewer.
pub async fn run(job: &Job, project_id: u64, mr_iid: u64) -> anyhow::Result<Code> {
    let on = Noteable::MergeRequest(mr_iid);
    let mr = job.client.merge_request(project_id, mr_iid).await.context("while reading the merge request")?;
    let actor = review_requester(job, project_id, mr_iid).await?;
    let Some(mut reporter) = job.reporter_for(project_id, on, actor.as_ref()).await? else {
        return Ok(Code::Done);
    };
    reporter.acknowledge(None).await.context("while acknowledging the request")?;
    review(job, &mut reporter, project_id, &mr, None, actor.as_ref()).await
}

/// Reviews `mr` for a request the caller already checked and acknowledged (`request`: the
/// review-like note that asked, if one did).
pub(super) async fn review(
    job: &Job,
    reporter: &mut Reporter<'_>,
    project_id: u64,
    mr: &MergeRequest,
    request: Option<&Note>,
    actor: Option<&UserBasic>,
) -> anyhow::Result<Code> {
    if mr.state != "opened" {
        let note = UnsupportedNote {
            reason: UnsupportedReason::Closed,
            actor: actor.map(|a| Username::new(&a.username)),
            follow_up: false,
        };
        reporter.post(&note).await?;
        return Ok(Code::Done);
    }
    if head_already_reviewed(job, project_id, mr).await? {
        // This job's pipeline still reports the open findings, or the widget would call them fixed.
        let posted = agent_findings(job, project_id, mr.iid).await?;
        write_quality_report(&job.settings.artifacts_dir, &quality::open_earlier_issues(&posted, &[]))?;
        let note = UnsupportedNote {
            reason: UnsupportedReason::AlreadyReviewed,
            actor: actor.map(|a| Username::new(&a.username)),
            follow_up: false,
        };
        reporter.post(&note).await.context("while saying the head was already reviewed")?;
        return Ok(Code::Done);
    }
    reporter.start(actor.map(|actor| actor.username.as_str()), &[Step::Prepare, Step::Review]).await?;
    match review_steps(job, reporter, project_id, mr, request).await {
        Ok(code) => Ok(code),
        Err(error) => fail(reporter, &error).await,
    }
}

/// Whether the agent's latest review summary names the merge request's current head: asking
/// again without a new commit gets a short note instead of a second, empty summary.
async fn head_already_reviewed(job: &Job, project_id: u64, mr: &MergeRequest) -> anyhow::Result<bool> {
    let notes =
        job.client.notes(project_id, Noteable::MergeRequest(mr.iid)).await.context("while reading the notes")?;
    let Some(previous_head) = findings::previous_review_head(&notes, job.agent_user.id) else {
        return Ok(false);
    };
    let versions = job
        .client
        .merge_request_versions(project_id, mr.iid)
        .await
        .context("while reading the merge request's versions")?;
    Ok(versions.first().is_some_and(|version| version.head_commit_sha == previous_head))
}

/// The findings earlier reviews posted as discussions.
async fn agent_findings(job: &Job, project_id: u64, mr_iid: u64) -> anyhow::Result<Vec<findings::PostedFinding>> {
    let discussions = job
        .client
        .merge_request_discussions(project_id, mr_iid)
        .await
        .context("while reading the merge request's discussions")?;
    Ok(findings::posted_findings(&discussions, job.agent_user.id))
}

/// What the review reads before the agent runs.
struct Prepared {
    refs: DiffRefs,
    files: Vec<FileDiff>,
    map: LineMap,
    /// The diff since the head an earlier review covered, when there was one and it is known.
    since: Option<(String, LineMap)>,
    posted: Vec<findings::PostedFinding>,
    workspace: crate::git::Workspace,
    project: crate::prompts::stage::ProjectContext,
}

async fn review_steps(
    job: &Job,
    reporter: &mut Reporter<'_>,
    project_id: u64,
    mr: &MergeRequest,
    request: Option<&Note>,
) -> anyhow::Result<Code> {
    reporter.step(Step::Prepare, StepState::Running).await?;
    let prepared = prepare(job, project_id, mr).await?;
    reporter.step(Step::Prepare, StepState::Done).await?;

    reporter.step(Step::Review, StepState::Running).await?;
    // Prompts and transcripts of an earlier review in the same folder would be mistaken for this one's.
    let review_artifacts = job.settings.artifacts_dir.join(REVIEW_ARTIFACTS);
    if review_artifacts.exists() {
        tokio::fs::remove_dir_all(&review_artifacts).await.context("while clearing an earlier review's artifacts")?;
    }
    let candidates = reviewable_files(&prepared);
    let limits = chunk_limits(job.settings.review_prompt_bytes);
    let plan = chunks::plan_chunks(&candidates, limits);
    let mut skipped = plan.skipped.clone();
    tracing::info!(
        files = candidates.len(),
        chunks = plan.chunks.len(),
        skipped = skipped.len(),
        since = prepared.since.as_ref().map(|(sha, _)| sha.as_str()),
        "reviewing"
    );
    let mut found = Vec::new();
    let mut usage = CallUsage::default();
    for (index, chunk) in plan.chunks.iter().enumerate() {
        match review_chunk(job, &prepared, mr, request, &candidates, chunk, index).await {
            Ok(checked) => {
                usage.add(&checked.usage);
                found.extend(checked.output);
            }
            Err(StageError::InvalidOutput { problem, .. }) => {
                tracing::warn!(chunk = index + 1, %problem, "the agent's findings were invalid twice");
                skipped.extend(
                    chunk
                        .files
                        .iter()
                        .filter_map(|at| candidates.get(*at))
                        .map(|file| SkippedFile { path: file.new_path.clone(), reason: SkipReason::InvalidFindings }),
                );
            }
            Err(error) => return Err(anyhow::Error::new(error).context("while reviewing the changes")),
        }
    }
    if let Some((since_sha, since_map)) = &prepared.since {
        let (current, earlier) = post::split_by_changes_since(found, since_map);
        if !earlier.is_empty() {
            tracing::info!(count = earlier.len(), since = %since_sha, "findings about code an earlier review covered");
        }
        found = current;
    }
    let review_plan = post::plan_review(found, &prepared.map, &prepared.refs, &prepared.posted);
    let report_findings: Vec<Finding> = review_plan
        .inline
        .iter()
        .map(|comment| comment.finding.clone())
        .chain(review_plan.unplaced.iter().map(|comment| comment.finding.clone()))
        .chain(review_plan.repeated.iter().cloned())
        .collect();
    let mut issues = quality::code_quality_report(&report_findings, &prepared.map);
    issues.extend(quality::open_earlier_issues(&prepared.posted, &report_findings));
    write_quality_report(&job.settings.artifacts_dir, &issues)?;
    let (posted_inline, mut unplaced) = post_inline(job, reporter, project_id, mr.iid, &review_plan).await?;
    unplaced.extend(review_plan.summary_unplaced());
    reporter.step(Step::Review, StepState::Done).await?;

    let since_sha = prepared.since.as_ref().map(|(sha, _)| sha.as_str());
    let mut summary = review_plan.summary(posted_inline, &prepared.refs.head_sha, since_sha);
    summary.unplaced = unplaced;
    summary.inline_enabled = job.settings.inline_review_comments;
    summary.skipped = skipped.iter().map(SkippedFile::for_summary).collect();
    reporter.post(&summary).await.context("while posting the review summary")?;
    tracing::info!(
        inline = posted_inline,
        unplaced = summary.unplaced.len(),
        repeated = review_plan.repeated.len(),
        agent_calls = usage.agent_calls,
        "review posted"
    );
    drop(prepared.workspace);
    Ok(Code::Done)
}

/// Reads the version, the diffs, the earlier review and the checkout.
async fn prepare(job: &Job, project_id: u64, mr: &MergeRequest) -> anyhow::Result<Prepared> {
    let versions = job
        .client
        .merge_request_versions(project_id, mr.iid)
        .await
        .context("while reading the merge request's versions")?;
    let version = versions.first().ok_or_else(|| anyhow::anyhow!("merge request !{} has no diff version", mr.iid))?;
    let refs = version.diff_refs();
    let mut files =
        job.client.merge_request_diffs(project_id, mr.iid).await.context("while reading the merge request's diffs")?;
    let posted = agent_findings(job, project_id, mr.iid).await?;
    let notes =
        job.client.notes(project_id, Noteable::MergeRequest(mr.iid)).await.context("while reading the notes")?;
    let previous_head = findings::previous_review_head(&notes, job.agent_user.id);

    let workspace = super::work::clone_project(job, project_id, None, Some(&mr.source_branch)).await?;
    workspace.checkout_detached(&refs.head_sha).await.context("while checking out the reviewed head")?;
    if files.iter().any(|file| file.diff.trim().is_empty()) {
        match workspace.diff_text(&refs.base_sha, &refs.head_sha).await {
            Ok(text) => match chunks::fill_missing_diffs(&mut files, &text) {
                Ok(filled) => tracing::info!(filled, "diffs GitLab left out were read from the checkout"),
                Err(error) => tracing::warn!(%error, "the checkout's diff could not be read"),
            },
            Err(error) => tracing::warn!(%error, "the checkout's diff could not be computed"),
        }
    }
    let mut map = LineMap::from_file_diffs(&files).context("while reading the merge request's diffs")?;
    count_new_lines(&mut map, workspace.dir()).await;

    let since = match previous_head {
        Some(previous) if workspace.has_commit(&previous).await.unwrap_or(false) => {
            let text = workspace
                .diff_text(&previous, &refs.head_sha)
                .await
                .context("while diffing since the earlier review")?;
            let since_map = LineMap::from_git_diff(&text).context("while reading the diff since the earlier review")?;
            Some((previous, since_map))
        }
        Some(previous) => {
            tracing::warn!(%previous, "the earlier reviewed head is gone (force push?); reviewing everything");
            None
        }
        None => None,
    };
    let understood = job.understand(project_id, &workspace, &mr.source_branch, &mr.target_branch).await?;
    let project = understood.prompt_context();
    Ok(Prepared { refs, files, map, since, posted, workspace, project })
}

/// Records each file's length from the checkout, so unchanged lines after the last hunk can be
/// commented on too.
async fn count_new_lines(map: &mut LineMap, root: &std::path::Path) {
    let paths: Vec<String> = map
        .files()
        .iter()
        .filter(|file| !file.deleted_file && !file.binary)
        .map(|file| file.new_path.clone())
        .collect();
    for path in paths {
        let Ok(text) = tokio::fs::read(root.join(&path)).await else { continue };
        let breaks = text.iter().filter(|byte| **byte == b'\n').count();
        let unterminated = usize::from(!text.is_empty() && !text.ends_with(b"\n"));
        let lines = u32::try_from(breaks + unterminated).unwrap_or(u32::MAX);
        if let Some(file) = map.file_mut(&path) {
            file.set_new_line_count(lines);
        }
    }
}

/// The files this review reads: every changed file, or on a re-review those changed since the
/// earlier reviewed head (the others were covered before).
fn reviewable_files(prepared: &Prepared) -> Vec<FileDiff> {
    match &prepared.since {
        Some((_, since)) => prepared
            .files
            .iter()
            .filter(|file| since.file(&file.new_path).is_some() || since.file(&file.old_path).is_some())
            .cloned()
            .collect(),
        None => prepared.files.clone(),
    }
}

/// The chunk limits for a prompt budget: a single file may take two thirds of it.
fn chunk_limits(budget_bytes: usize) -> ChunkLimits {
    ChunkLimits { budget_bytes, max_file_bytes: budget_bytes / 3 * 2 }
}

/// Asks the agent about one chunk of files and reads its findings back.
async fn review_chunk(
    job: &Job,
    prepared: &Prepared,
    mr: &MergeRequest,
    request: Option<&Note>,
    files: &[FileDiff],
    chunk: &chunks::Chunk,
    index: usize,
) -> Result<crate::stages::Checked<Vec<Finding>>, StageError> {
    let runner = StageRunner {
        agent: &job.agent,
        prompts: &job.prompts,
        language: job.settings.language,
        repo_dir: prepared.workspace.dir().to_owned(),
        artifacts_dir: job.settings.artifacts_dir.join(REVIEW_ARTIFACTS),
        work_dir: job.work_dir.join(REVIEW_ARTIFACTS),
        stage_timeout: job.settings.stage_timeout,
    };
    let diff = chunks::chunk_diff_text(files, chunk);
    let chunk_map = LineMap::from_git_diff(&diff).unwrap_or_default();
    let call = CheckedCall {
        name: "review",
        dir: runner.artifacts_dir.join(format!("{}-review", index + 1)),
        work: runner.work_dir.join(format!("{}-review", index + 1)),
        output_file: Some(FINDINGS_FILE),
    };
    let prompt = |scratch: &std::path::Path, output: Option<&std::path::Path>| {
        let context = ReviewPrompt {
            merge_request: Task {
                reference: format!("!{}", mr.iid),
                title: UntrustedLine::new(&mr.title),
                body: UntrustedText::bounded(mr.description.as_deref().unwrap_or_default()),
                url: Some(mr.web_url.clone()),
            },
            request: request.map(|note| UntrustedText::bounded(&note.body)),
            project: prepared.project.clone(),
            workspace: PromptWorkspace {
                repo_dir: runner.repo_dir.display().to_string(),
                scratch_dir: scratch.display().to_string(),
                branch: mr.source_branch.clone(),
            },
            base_sha: prepared.refs.base_sha.clone(),
            head_sha: prepared.refs.head_sha.clone(),
            since_sha: prepared.since.as_ref().map(|(sha, _)| sha.clone()),
            changed_files: chunks::changed_files(chunk_map.files()),
            diff: UntrustedText::new(&diff, diff.len() + 1),
            known_findings: findings::known_findings(&prepared.posted),
            output_path: output.map(|path| path.display().to_string()).unwrap_or_default(),
        };
        job.prompts
            .render_stage(job.settings.language, &context)
            .map_err(|source| StageError::Prompt { stage: "review", source })
    };
    let check = |_: &crate::agent::AgentOutcome, written: Option<&str>| {
        let Some(text) = written else {
            return Err(format!("the file `{FINDINGS_FILE}` was not written; write it at the path given above"));
        };
        let parsed = parse_findings(text);
        match parsed.retry_request(FINDINGS_FILE) {
            Some(problem) => Err(problem),
            None => Ok(parsed.findings),
        }
    };
    runner.run_checked(&call, prompt, check).await
}

/// Posts every placeable new finding as an inline discussion (when enabled). A position GitLab
/// refuses after all moves that finding to the summary instead of failing the review.
async fn post_inline(
    job: &Job,
    reporter: &Reporter<'_>,
    project_id: u64,
    mr_iid: u64,
    plan: &ReviewPlan,
) -> anyhow::Result<(u32, Vec<UnplacedFinding>)> {
    let mut unplaced = Vec::new();
    if !job.settings.inline_review_comments {
        unplaced.extend(plan.inline.iter().map(|comment| post::summary_finding(&comment.finding)));
        return Ok((0, unplaced));
    }
    let mut posted = 0;
    for comment in &plan.inline {
        let body = comment.body(&job.prompts, job.settings.language).context("while rendering a finding")?;
        match reporter.client.create_diff_discussion(project_id, mr_iid, &body, &comment.position).await {
            Ok(_) => posted += 1,
            Err(error @ crate::gitlab::Error::Status { code: 400 | 422, .. }) => {
                tracing::warn!(file = %comment.finding.file, line = comment.finding.line, %error, "GitLab refused the position; the finding goes to the summary");
                unplaced.push(post::summary_finding(&comment.finding));
            }
            Err(error) => return Err(anyhow::Error::new(error).context("while posting a review discussion")),
        }
    }
    Ok((posted, unplaced))
}

/// Writes `gl-code-quality-report.json` at the root of the artifacts folder, where the CI
/// template's `artifacts:reports:codequality` reads it.
fn write_quality_report(artifacts: &std::path::Path, issues: &[quality::CodeQualityIssue]) -> anyhow::Result<()> {
    std::fs::create_dir_all(artifacts)
        .with_context(|| format!("while creating the artifacts folder `{}`", artifacts.display()))?;
    let path = artifacts.join(quality::REPORT_FILE_NAME);
    std::fs::write(&path, quality::code_quality_json_of(issues))
        .with_context(|| format!("while writing `{}`", path.display()))
}

/// Who added the agent as a reviewer: the author of the newest system note that says so.
async fn review_requester(job: &Job, project_id: u64, mr_iid: u64) -> anyhow::Result<Option<UserBasic>> {
    let notes = job
        .client
        .notes(project_id, Noteable::MergeRequest(mr_iid))
        .await
        .context("while reading the merge request's notes")?;
    let mention = format!("@{}", job.agent_user.username);
    Ok(notes
        .into_iter()
        .rev()
        .filter(|note| {
            note.system
                && note.body.starts_with("requested review from")
                && super::issue::mentions(&note.body, &mention)
        })
        .find_map(|note| note.author))
}
