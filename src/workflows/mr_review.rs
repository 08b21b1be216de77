//! mr_reviewer: the agent reviews a merge request with inline comments that land on the lines
//! they are about, committable suggestions, and a summary; a later review covers only what
//! changed since and never repeats itself.
//!
//! The story: read the MR and who asked (the person who added the agent as a reviewer, or the
//! author of a review-like note) → check their access → 👀 and the status note → the latest
//! version's SHAs and every file's diff (a file GitLab left out is filled from the checkout's
//! `git diff`) → the line map, each file's length read from the checkout without following a
//! symbolic link (a file over the size cap is skipped) → when an earlier summary names a reviewed
//! head, only the files changed since → prompts within the byte budget, one per chunk of files → the agent's findings
//! (validated, one retry) → each new finding inline at a position GitLab accepts, unless it is
//! pre-existing, below the severity threshold or beyond the limit (`review::noise`), else in the
//! summary; as discussions, or as draft notes published at once (`publish.rs`) → the Code
//! Quality report → the summary note with the reviewed head's marker → `summary.json`.
//!
//! Before the agent runs, the review reads people's 👍, 👎 and "false positive" replies on its own
//! threads, records suppressions for new 👎 and "false positive" feedback, and holds back this
//! review's findings of the kinds the project's suppressions name (`feedback.rs`).
//!
//! A job reads the merge request's notes once and its versions once, at the top, and passes them
//! down: who asked, the status note, the earlier review's head all come from the same read.

use std::path::Path;

use anyhow::Context as _;

use super::Job;
use super::fail;
use crate::exit::Code;
use crate::gitlab::types::{DiffRefs, Discussion, FileDiff, MergeRequest, Note};
use crate::gitlab::{Noteable, UserBasic};
use crate::prompts::Stage;
use crate::prompts::message::{Step, StepState, UnsupportedNote, UnsupportedReason};
use crate::prompts::stage::{ReviewPrompt, Task, Workspace as PromptWorkspace};
use crate::report::Reporter;
use crate::review::chunks::{self, ChunkLimits, SkipReason, SkippedFile};
use crate::review::diff::LineMap;
use crate::review::findings::{self, Finding, parse_findings};
use crate::review::noise::{self, NoiseRules};
use crate::review::post;
use crate::review::quality;
use crate::review::resolve::{Changes, Resolution};
use crate::review::suppress;
use crate::stages::{CallUsage, CheckedCall, StageError};
use crate::untrusted::{UntrustedLine, UntrustedText, Username};
use crate::workflows::repo_config::ReviewRules;

/// The artifacts folder of the review prompts (`<n>-review/` each, below the artifacts root).
const REVIEW_ARTIFACTS: &str = "review";

/// The file each review prompt asks the agent to write.
const FINDINGS_FILE: &str = "findings.json";

mod feedback;
mod instructions;
mod publish;
mod resolve;

pub(super) use feedback::forget as forget_suppressions;

/// Runs the review workflow for `mr_reviewer`: the agent was added as a reviewer.
pub async fn run(job: &Job, project_id: u64, mr_iid: u64) -> anyhow::Result<Code> {
    let on = Noteable::MergeRequest(mr_iid);
    let mr = job.client.merge_request(project_id, mr_iid).await.context("while reading the merge request")?;
    let notes = read_notes(job, project_id, mr_iid).await?;
    // Nobody asked: `serve` started an automatic review (the project opted in), which answers to
    // the merge request's author.
    let requester = review_requester(job, &notes);
    let automatic = requester.is_none();
    let actor = requester.or_else(|| mr.author.clone());
    if automatic && let Some(author) = &actor {
        tracing::info!(author = %author.username, "an automatic review: nobody asked for it");
        // A refusal would answer a request the author never made: an automatic review of an
        // author who may not start work (someone outside the project, say) just does not happen.
        if !job.ignores(author) && !job.may_start_work(project_id, author).await.context("while checking the author")? {
            tracing::info!(author = %author.username, "the author may not start work; no automatic review");
            return Ok(Code::Done);
        }
    }
    let Some(mut reporter) = job.reporter_for(project_id, on, actor.as_ref(), false).await? else {
        return Ok(Code::Done);
    };
    reporter.acknowledge(None).await.context("while acknowledging the request")?;
    let asked = Asked { request: None, actor: actor.as_ref(), notes: &notes, automatic };
    review_among(job, &mut reporter, project_id, &mr, asked).await
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
    let notes = read_notes(job, project_id, mr.iid).await?;
    review_among(job, reporter, project_id, mr, Asked { request, actor, notes: &notes, automatic: false }).await
}

/// Who asked for a review, and the merge request's notes as the job read them.
#[derive(Clone, Copy)]
struct Asked<'n> {
    /// The review-like note that asked, if one did.
    request: Option<&'n Note>,
    actor: Option<&'n UserBasic>,
    /// Every note of the merge request, oldest first: read once per job.
    notes: &'n [Note],
    /// Nobody asked: an automatic review, which says nothing when there is nothing new.
    automatic: bool,
}

/// The merge request's notes, all pages: the one read of them in a review job.
async fn read_notes(job: &Job, project_id: u64, mr_iid: u64) -> anyhow::Result<Vec<Note>> {
    job.client
        .notes(project_id, Noteable::MergeRequest(mr_iid))
        .await
        .context("while reading the merge request's notes")
}

async fn review_among(
    job: &Job,
    reporter: &mut Reporter<'_>,
    project_id: u64,
    mr: &MergeRequest,
    asked: Asked<'_>,
) -> anyhow::Result<Code> {
    let actor = asked.actor;
    if mr.state != "opened" {
        let note = UnsupportedNote {
            reason: UnsupportedReason::Closed,
            actor: actor.map(|a| Username::new(&a.username)),
            follow_up: false,
        };
        reporter.post(&note).await?;
        return Ok(Code::Done);
    }
    let versions = job
        .client
        .merge_request_versions(project_id, mr.iid)
        .await
        .context("while reading the merge request's versions")?;
    let latest = versions.first();
    let previous_head = findings::previous_review_head(asked.notes, job.agent_user.id);
    // Asking again without a new commit gets a short note instead of a second, empty summary.
    let reviewed = previous_head.is_some() && previous_head.as_deref() == latest.map(|v| v.head_commit_sha.as_str());
    if reviewed {
        // This job's report still lists the open findings, not an empty list that reads as fixed.
        let posted = agent_findings(job, project_id, mr.iid).await?;
        write_quality_report(&job.settings.artifacts_dir, &quality::open_earlier_issues(&posted, &[]))?;
        if asked.automatic {
            // Another event for a head already reviewed (labelled after a push, say): no second note.
            tracing::info!(head = ?previous_head, "this head was reviewed already; nothing to add");
            return Ok(Code::Done);
        }
        let note = UnsupportedNote {
            reason: UnsupportedReason::AlreadyReviewed,
            actor: actor.map(|a| Username::new(&a.username)),
            follow_up: false,
        };
        reporter.post(&note).await.context("while saying the head was already reviewed")?;
        return Ok(Code::Done);
    }
    let requester = actor.map(|actor| actor.username.as_str());
    reporter.start_among(requester, &[Step::Prepare, Step::Stage(Stage::Review)], asked.notes).await?;
    let read = Read { refs: latest.map(crate::gitlab::types::MergeRequestVersion::diff_refs), previous_head };
    match review_steps(job, reporter, project_id, mr, asked.request, read).await {
        Ok(code) => Ok(code),
        Err(error) => fail(reporter, &error).await,
    }
}

/// What the job read before the review steps: the latest version's SHAs and the head an earlier
/// review summary names.
struct Read {
    /// `None` when GitLab has no diff version yet.
    refs: Option<DiffRefs>,
    previous_head: Option<String>,
}

/// The findings earlier reviews posted as discussions.
async fn agent_findings(job: &Job, project_id: u64, mr_iid: u64) -> anyhow::Result<Vec<findings::PostedFinding>> {
    Ok(findings::posted_findings(&read_discussions(job, project_id, mr_iid).await?, job.agent_user.id))
}

/// The merge request's discussions, all pages.
async fn read_discussions(job: &Job, project_id: u64, mr_iid: u64) -> anyhow::Result<Vec<Discussion>> {
    job.client
        .merge_request_discussions(project_id, mr_iid)
        .await
        .context("while reading the merge request's discussions")
}

/// What the review reads before the agent runs.
struct Prepared {
    refs: DiffRefs,
    files: Vec<FileDiff>,
    map: LineMap,
    /// The diff since the head an earlier review covered, when there was one and it is known.
    since: Option<(String, LineMap)>,
    posted: Vec<findings::PostedFinding>,
    /// The agent's unresolved finding threads, and the diff from each one's head to the reviewed head.
    threads: Vec<crate::review::resolve::OpenThread>,
    thread_diffs: std::collections::HashMap<String, LineMap>,
    /// Changed files over [`chunks::MAX_REVIEWED_FILE_BYTES`] in the checkout.
    too_large: Vec<SkippedFile>,
    /// The feedback on the agent's threads and the project's suppressions.
    learned: feedback::Learned,
    workspace: crate::git::Workspace,
    /// The project context, without instruction files from the checkout (the merge request's).
    project: crate::prompts::stage::ProjectContext,
    /// The review instructions of the default branch.
    instructions: instructions::ReviewInstructions,
}

async fn review_steps(
    job: &Job,
    reporter: &mut Reporter<'_>,
    project_id: u64,
    mr: &MergeRequest,
    request: Option<&Note>,
    read: Read,
) -> anyhow::Result<Code> {
    reporter.step(Step::Prepare, StepState::Running).await?;
    let rules = crate::workflows::repo_config::for_project(job, reporter, project_id).await?;
    reporter.language = rules.language;
    let prepared = prepare(job, project_id, mr, read).await?;
    reporter.step(Step::Prepare, StepState::Done).await?;

    reporter.step(Step::Stage(Stage::Review), StepState::Running).await?;
    // Prompts and transcripts of an earlier review in the same folder would be mistaken for this one's.
    let review_artifacts = job.settings.artifacts_dir.join(REVIEW_ARTIFACTS);
    if review_artifacts.exists() {
        tokio::fs::remove_dir_all(&review_artifacts).await.context("while clearing an earlier review's artifacts")?;
    }
    let (candidates, mut skipped) = reviewable_files(&prepared, &rules.review);
    let limits = chunk_limits(job.settings.review.prompt_bytes);
    let plan = chunks::plan_chunks(&candidates, limits);
    skipped.extend(plan.skipped.iter().cloned());
    tracing::info!(
        files = candidates.len(),
        chunks = plan.chunks.len(),
        skipped = skipped.len(),
        since = prepared.since.as_ref().map(|(sha, _)| sha.as_str()),
        "reviewing"
    );
    let mut found = Vec::new();
    let mut usage = CallUsage::default();
    let mut out_of_time = false;
    for (index, chunk) in plan.chunks.iter().enumerate() {
        let chunk_files = || chunk.files.iter().filter_map(|at| candidates.get(*at));
        if job.out_of_time() {
            out_of_time = true;
            let reason = SkipReason::OutOfTime;
            skipped
                .extend(chunk_files().map(|file| SkippedFile { path: file.new_path.clone(), reason: reason.clone() }));
            continue;
        }
        match review_chunk(job, &prepared, mr, request, &candidates, chunk, index).await {
            Ok(checked) => {
                usage.add(&checked.usage);
                found.extend(checked.output);
            }
            Err(StageError::OutOfTime { .. }) => {
                out_of_time = true;
                skipped.extend(
                    chunk_files()
                        .map(|file| SkippedFile { path: file.new_path.clone(), reason: SkipReason::OutOfTime }),
                );
            }
            Err(StageError::InvalidOutput { problem, .. }) => {
                tracing::warn!(chunk = index + 1, %problem, "the agent's findings were invalid twice");
                skipped.extend(
                    chunk_files()
                        .map(|file| SkippedFile { path: file.new_path.clone(), reason: SkipReason::InvalidFindings }),
                );
            }
            Err(error) => return Err(anyhow::Error::new(error).context("while reviewing the changes")),
        }
    }
    let reported = resolve::reported(&found);
    if let Some((since_sha, since_map)) = &prepared.since {
        let (current, earlier) = post::split_by_changes_since(found, since_map);
        if !earlier.is_empty() {
            tracing::info!(count = earlier.len(), since = %since_sha, "findings about code an earlier review covered");
        }
        found = current;
    }
    let (found, suppressed) = suppress::hold_back_suppressed(found, &prepared.learned.rules);
    if !suppressed.is_empty() {
        tracing::info!(count = suppressed.len(), "findings of kinds people called wrong are held back");
    }
    let mut review_plan = post::plan_review(found, &prepared.map, &prepared.refs, &prepared.posted);
    let noise_rules =
        NoiseRules { min_severity: rules.review.min_severity, max_inline: rules.review.max_inline_comments };
    let triage = noise::hold_back(&mut review_plan, &prepared.map, &prepared.refs, noise_rules);
    let report_findings: Vec<Finding> = review_plan
        .inline
        .iter()
        .map(|comment| comment.finding.clone())
        .chain(review_plan.unplaced.iter().map(|comment| comment.finding.clone()))
        .chain(review_plan.repeated.iter().cloned())
        .chain(triage.held_back.iter().map(|held| held.finding.clone()))
        .collect();
    // Replies in an internal review's threads would be public; they wait for a public review.
    let resolutions = if reporter.target.internal {
        Vec::new()
    } else {
        let changes = Changes { map: &prepared.map, since: &prepared.thread_diffs, reported: &reported };
        crate::review::resolve::plan_resolutions(&prepared.threads, &changes)
    };
    let mut issues = quality::code_quality_report(&report_findings, &prepared.map);
    let still_open = still_open(&prepared, &resolutions);
    issues.extend(quality::open_earlier_issues(&still_open, &report_findings));
    write_quality_report(&job.settings.artifacts_dir, &issues)?;
    let target = publish::Target { reporter, project_id, mr_iid: mr.iid, inline: inline_enabled(job, reporter) };
    let (posted_inline, mut unplaced) = publish::post_inline(job, &target, &review_plan).await?;
    unplaced.extend(review_plan.summary_unplaced());
    let resolved = resolve::resolve_threads(job, (project_id, mr.iid), &resolutions, &prepared.refs.head_sha).await?;
    let state = if out_of_time { StepState::Failed } else { StepState::Done };
    reporter.step(Step::Stage(Stage::Review), state).await?;

    let since_sha = prepared.since.as_ref().map(|(sha, _)| sha.as_str());
    let mut summary = review_plan.summary(posted_inline, &prepared.refs.head_sha, since_sha);
    summary.unplaced = unplaced;
    summary.inline_enabled = inline_enabled(job, reporter);
    summary.skipped = skipped.iter().map(SkippedFile::for_summary).collect();
    triage.fill_summary(&mut summary);
    summary.usage = Some(job.spend.table());
    summary.resolved_count = resolved;
    summary.suppressed_count = u32::try_from(suppressed.len()).unwrap_or(u32::MAX);
    reporter.post(&summary).await.context("while posting the review summary")?;
    write_summary(job, &prepared.learned, summary.suppressed_count)?;
    tracing::info!(
        inline = posted_inline,
        unplaced = summary.unplaced.len(),
        repeated = review_plan.repeated.len(),
        held_back = triage.held_back.len(),
        resolved,
        agent_calls = usage.agent_calls,
        "review posted"
    );
    drop(prepared.workspace);
    if out_of_time {
        let left = skipped.iter().filter(|file| file.reason == SkipReason::OutOfTime).count();
        tracing::error!(not_reviewed = left, "`TOTAL_TIMEOUT` ran out; the summary names the files not reviewed");
        return Ok(Code::WorkFailed);
    }
    Ok(Code::Done)
}

/// The earlier findings less those whose threads this review resolves: the Code Quality report
/// no longer lists them as open.
fn still_open(prepared: &Prepared, resolutions: &[Resolution]) -> Vec<findings::PostedFinding> {
    let resolved: Vec<&findings::Fingerprint> = prepared
        .threads
        .iter()
        .filter(|thread| resolutions.iter().any(|resolution| resolution.discussion_id == thread.discussion_id))
        .map(|thread| &thread.fingerprint)
        .collect();
    prepared
        .posted
        .iter()
        .filter(|posted| !posted.fingerprint.as_ref().is_some_and(|fingerprint| resolved.contains(&fingerprint)))
        .cloned()
        .collect()
}

/// Reads the diffs, the earlier findings and the checkout.
async fn prepare(job: &Job, project_id: u64, mr: &MergeRequest, read: Read) -> anyhow::Result<Prepared> {
    let Read { refs, previous_head } = read;
    let refs = refs.ok_or_else(|| anyhow::anyhow!("merge request !{} has no diff version", mr.iid))?;
    let mut files =
        job.client.merge_request_diffs(project_id, mr.iid).await.context("while reading the merge request's diffs")?;
    let discussions = read_discussions(job, project_id, mr.iid).await?;
    let posted = findings::posted_findings(&discussions, job.agent_user.id);
    let threads = crate::review::resolve::open_threads(&discussions, job.agent_user.id);
    let learned = feedback::learn(job, project_id, mr.iid, &discussions).await;

    let (workspace, branch) = checkout(job, project_id, mr).await?;
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
    let too_large = measure_checkout(&mut map, workspace.dir()).await;

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
    let known = since.as_ref().map(|(sha, map)| (sha.as_str(), map));
    let thread_diffs = resolve::diffs_since(&workspace, &threads, &refs.head_sha, known).await?;
    let understood = job.understand_under_review(project_id, &workspace, &branch, &mr.target_branch).await?;
    let mut project = understood.prompt_context();
    // The checkout is the merge request's head: its instruction files are the branch's word, not
    // the project's. The review reads the default branch's instead.
    project.agent_instructions.clear();
    let instructions = instructions::read(job, project_id).await?;
    Ok(Prepared {
        refs,
        files,
        map,
        since,
        posted,
        threads,
        thread_diffs,
        too_large,
        learned,
        workspace,
        project,
        instructions,
    })
}

/// A clone of the project holding `mr`'s head, and the name its understanding is kept under. The
/// source branch of a merge request from a fork lives in the fork, which the agent may not be
/// able to read (and a branch of the same name here is another one): the target project keeps
/// the head at `refs/merge-requests/<iid>/head`, so the clone takes the target branch and that.
async fn checkout(job: &Job, project_id: u64, mr: &MergeRequest) -> anyhow::Result<(crate::git::Workspace, String)> {
    if mr.source_project_id.is_none_or(|source| source == project_id) {
        let workspace = super::work::clone_project(job, project_id, Some(&mr.source_branch)).await?;
        return Ok((workspace, mr.source_branch.clone()));
    }
    let workspace = super::work::clone_project(job, project_id, Some(&mr.target_branch)).await?;
    let head = workspace
        .fetch_merge_request_head(mr.iid)
        .await
        .with_context(|| format!("while fetching the head of merge request !{} from a fork", mr.iid))?;
    tracing::info!(%head, source_project_id = ?mr.source_project_id, "reviewing a merge request from a fork");
    Ok((workspace, format!("merge-requests/{}", mr.iid)))
}

/// Records each changed file's length from the checkout, so unchanged lines after the last hunk
/// can be commented on too, and returns the files over [`chunks::MAX_REVIEWED_FILE_BYTES`], which
/// the review skips. Nothing is read through a symbolic link: a link is one line, its target
/// (which may be `/dev/zero` or a file outside the checkout), as git stores and diffs it.
async fn measure_checkout(map: &mut LineMap, root: &Path) -> Vec<SkippedFile> {
    let paths: Vec<String> = map
        .files()
        .iter()
        .filter(|file| !file.deleted_file && !file.binary)
        .map(|file| file.new_path.clone())
        .collect();
    let mut too_large = Vec::new();
    for path in paths {
        let lines = match checkout_file(root, &path).await {
            Some(CheckoutFile::Link { target_empty }) => u32::from(!target_empty),
            Some(CheckoutFile::Regular { bytes }) if bytes > chunks::MAX_REVIEWED_FILE_BYTES => {
                let reason = SkipReason::FileTooLarge {
                    bytes: usize::try_from(bytes).unwrap_or(usize::MAX),
                    limit: usize::try_from(chunks::MAX_REVIEWED_FILE_BYTES).unwrap_or(usize::MAX),
                };
                too_large.push(SkippedFile { path, reason });
                continue;
            }
            Some(CheckoutFile::Regular { .. }) => match count_lines(&root.join(&path)).await {
                Ok(lines) => lines,
                Err(error) => {
                    tracing::warn!(%path, %error, "a changed file could not be read from the checkout");
                    continue;
                }
            },
            None => continue,
        };
        if let Some(file) = map.file_mut(&path) {
            file.set_new_line_count(lines);
        }
    }
    too_large
}

/// A changed file in the checkout, as `lstat` sees it.
enum CheckoutFile {
    Link { target_empty: bool },
    Regular { bytes: u64 },
}

/// What `path` is in the checkout at `root`, without following a link; `None` for anything else
/// (a folder, a submodule, a missing file, a path whose folders lead outside the checkout).
async fn checkout_file(root: &Path, path: &str) -> Option<CheckoutFile> {
    let full = root.join(path);
    let root = tokio::fs::canonicalize(root).await.ok()?;
    let folder = tokio::fs::canonicalize(full.parent()?).await.ok()?;
    if !folder.starts_with(&root) {
        tracing::warn!(%path, "a changed file's folder leads outside the checkout; not read");
        return None;
    }
    let metadata = tokio::fs::symlink_metadata(&full).await.ok()?;
    if metadata.file_type().is_symlink() {
        let target = tokio::fs::read_link(&full).await.ok()?;
        return Some(CheckoutFile::Link { target_empty: target.as_os_str().is_empty() });
    }
    metadata.is_file().then_some(CheckoutFile::Regular { bytes: metadata.len() })
}

/// The lines of a regular file, reading at most [`chunks::MAX_REVIEWED_FILE_BYTES`] of it.
async fn count_lines(file: &Path) -> std::io::Result<u32> {
    use tokio::io::AsyncReadExt as _;
    let mut text = Vec::new();
    tokio::fs::File::open(file).await?.take(chunks::MAX_REVIEWED_FILE_BYTES).read_to_end(&mut text).await?;
    let breaks = text.iter().filter(|byte| **byte == b'\n').count();
    let unterminated = usize::from(!text.is_empty() && !text.ends_with(b"\n"));
    Ok(u32::try_from(breaks + unterminated).unwrap_or(u32::MAX))
}

/// The files this review reads: every changed file, or on a re-review those changed since the
/// earlier reviewed head (the others were covered before), less those too large to read, which
/// come back to be named in the summary.
fn reviewable_files(prepared: &Prepared, rules: &ReviewRules) -> (Vec<FileDiff>, Vec<SkippedFile>) {
    let changed = prepared.files.iter().filter(|file| match &prepared.since {
        Some((_, since)) => since.file(&file.new_path).is_some() || since.file(&file.old_path).is_some(),
        None => true,
    });
    let mut skipped = Vec::new();
    let mut files = Vec::new();
    for file in changed {
        if rules.excludes(&file.new_path) {
            skipped.push(SkippedFile { path: file.new_path.clone(), reason: SkipReason::Excluded });
            continue;
        }
        match prepared.too_large.iter().find(|skip| skip.path == file.new_path) {
            Some(skip) => skipped.push(skip.clone()),
            None => files.push(file.clone()),
        }
    }
    (files, skipped)
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
    let runner = job.stage_runner(prepared.workspace.dir(), REVIEW_ARTIFACTS);
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
            default_branch: prepared.instructions.default_branch.clone(),
            review_instructions: prepared.instructions.files.clone(),
            workspace: PromptWorkspace {
                repo_dir: runner.repo_dir.display().to_string(),
                scratch_dir: scratch.display().to_string(),
                branch: mr.source_branch.clone(),
            },
            base_sha: prepared.refs.base_sha.clone(),
            head_sha: prepared.refs.head_sha.clone(),
            since_sha: prepared.since.as_ref().map(|(sha, _)| sha.clone()),
            changed_files: chunks::changed_files(chunk_map.files()),
            diff: UntrustedText::source(&diff, diff.len() + 1),
            known_findings: findings::known_findings(&prepared.posted),
            output_path: output.map(|path| path.display().to_string()).unwrap_or_default(),
        };
        job.prompts
            .render_stage(job.language(), &context)
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

/// Whether findings become inline discussions: the setting, unless the request was internal.
fn inline_enabled(job: &Job, reporter: &Reporter<'_>) -> bool {
    job.settings.review.inline_comments && !reporter.target.internal
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

/// Writes `summary.json` at the root of the artifacts folder: what the job spent and how people
/// received the agent's findings.
fn write_summary(job: &Job, learned: &feedback::Learned, suppressed: u32) -> anyhow::Result<()> {
    let report = feedback::FeedbackReport { findings_suppressed: suppressed, ..learned.report.clone() };
    let summary = crate::stages::Summary {
        spend: Some(job.spend.report()),
        review_feedback: Some(serde_json::to_value(&report).context("while writing the feedback report")?),
        ..crate::stages::Summary::default()
    };
    summary.write(&job.settings.artifacts_dir).context("while writing `summary.json`")
}

/// Who added the agent as a reviewer: the author of the newest system note that says so.
fn review_requester(job: &Job, notes: &[Note]) -> Option<UserBasic> {
    notes
        .iter()
        .rev()
        .filter(|note| {
            note.system
                && note.body.starts_with("requested review from")
                && crate::request::mention::mentions(&note.body, &job.agent_user.username)
        })
        .find_map(|note| note.author.clone())
}
