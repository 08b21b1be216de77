//! issue_assignee and issue_note: from an issue to a Draft merge request that closes it.
//!
//! The story: read the issue (and the note) from the API → find who asked and check their access
//! → 👀 and one status note → clone, branch `copilot/issue-{iid}` (or `…-{slug}` for a note) →
//! plan and stages → commit and push (never forced) → find or open the Draft MR → final note.
//! A re-run finds its branch, MR and status note again; it never makes a second of either.

use anyhow::Context as _;

use super::work::{self, Branch};
use super::{Job, fail};
use crate::exit::Code;
use crate::gitlab::{NewMergeRequest, Noteable, UserBasic};
use crate::planner::PlanOptions;
use crate::prompts::markers::Marker;
use crate::prompts::message::{
    ChangeLine, MrDescription, NothingChangedNote, Step, UnsupportedNote, UnsupportedReason,
};
use crate::prompts::stage::Task;
use crate::report::Reporter;
use crate::request::instruction::slug;
use crate::request::mention::mentions;
use crate::untrusted::{MarkdownCodeSpan, MarkdownText, UntrustedLine, UntrustedText, Username};

/// How many numbered branch names (`…-2`, `…-3`) are tried when others' merge requests come
/// from the agent's branch name.
const BRANCH_SUFFIX_MAX: u32 = 5;

/// How the story ended: early, with an exit code, or with the merge request it opened or
/// brought up to date (what `Job::run` may go on to watch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ended(Code),
    MergeRequest(u64),
}

/// How the issue workflow goes about a request.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Do the work (or, with `COPILOT_REQUIRE_PLAN_APPROVAL`, post its plan).
    Work,
    /// Post the plan and push nothing (`@agent plan`; the note is the command, not a request).
    /// `by` asked, when no note or assignment tells who did (a `proceed` that plans again).
    Plan { by: Option<UserBasic> },
    /// Run a plan a person approved, for `by` (who said `proceed`).
    Planned { stored: Box<super::plan::StoredPlan>, by: UserBasic },
}

/// Runs the issue workflow; `note_id` is set when a note (not an assignment) asked.
pub async fn run(job: &Job, project_id: u64, issue_iid: u64, note_id: Option<u64>) -> anyhow::Result<Outcome> {
    run_as(job, project_id, issue_iid, note_id, Mode::Work).await
}

/// Runs the issue workflow in `mode`.
pub async fn run_as(
    job: &Job,
    project_id: u64,
    issue_iid: u64,
    note_id: Option<u64>,
    mode: Mode,
) -> anyhow::Result<Outcome> {
    let issue = job.client.issue(project_id, issue_iid).await.context("while reading the issue")?;
    let on = Noteable::Issue(issue_iid);
    let (actor, note) = match (note_id, &mode) {
        (Some(id), _) => {
            let note = job.client.note(project_id, on, id).await.context("while reading the note")?;
            (note.author.clone(), Some(note))
        }
        (None, Mode::Planned { by, .. } | Mode::Plan { by: Some(by) }) => (Some(by.clone()), None),
        (None, _) => (assigner(job, project_id, issue_iid).await?, None),
    };
    // The words of `@agent plan` are a command, not a request.
    let command = note.as_ref().is_some_and(|note| {
        let intent = crate::request::intent::intent(&note.body, &job.settings.access.agent_username);
        matches!(intent, crate::request::intent::Intent::Plan | crate::request::intent::Intent::Proceed)
    });
    let internal = note.as_ref().is_some_and(|note| note.internal == Some(true));
    let Some(mut reporter) = job.reporter_for(project_id, on, actor.as_ref(), internal).await? else {
        return Ok(Outcome::Ended(Code::Done));
    };
    let Some(actor) = actor else { return Ok(Outcome::Ended(Code::Done)) };

    reporter.acknowledge(note_id).await.context("while acknowledging the request")?;
    if issue.confidential && !job.settings.access.allow_confidential {
        tracing::info!(issue = issue_iid, "refused: the issue is confidential and `COPILOT_ALLOW_CONFIDENTIAL` is off");
        let actor = Some(Username::new(&actor.username));
        reporter.post(&UnsupportedNote { reason: UnsupportedReason::Confidential, actor, follow_up: false }).await?;
        return Ok(Outcome::Ended(Code::Done));
    }
    if let Some(note_id) = note_id {
        reporter.for_note(note_id);
    }
    let notes = job.client.notes(project_id, on).await.context("while reading the issue's notes")?;
    if let Some(edited) = job.edited_text(project_id, issue.author.as_ref(), &notes).await? {
        reporter.warn_edited(edited);
    }
    reporter.remember_own(&notes);
    let rules = match crate::workflows::repo_config::for_project(job, &reporter, project_id).await {
        Ok(rules) => rules,
        Err(error) => return fail(&mut reporter, &error).await.map(Outcome::Ended),
    };
    reporter.language = rules.language;
    if let Some(refusal) = crate::workflows::repo_config::apply_caps(job, project_id, &actor, &rules).await? {
        reporter.post(&refusal).await?;
        return Ok(Outcome::Ended(Code::Done));
    }
    let mode = match mode {
        Mode::Work if rules.require_plan_approval => Mode::Plan { by: None },
        mode => mode,
    };
    let steps: &[Step] = match mode {
        Mode::Plan { .. } => &[Step::Prepare, Step::Plan],
        _ => &[Step::Prepare, Step::Plan, Step::Push, Step::MergeRequest],
    };
    reporter.start_among(Some(&actor.username), steps, &notes).await?;

    let request = note.as_ref().filter(|_| !command).map(|note| UntrustedText::bounded(&note.body));
    // The slug comes from the text people see: nothing hidden in the note names the branch. A
    // confidential issue's text names nothing that everyone with access to the code sees.
    let branch_name = match (&request, note_id) {
        (Some(_), Some(note_id)) if issue.confidential => {
            format!("{}issue-{issue_iid}-note-{note_id}", job.settings.workflow.branch_prefix)
        }
        (Some(request), _) => format!(
            "{}issue-{issue_iid}-{}",
            job.settings.workflow.branch_prefix,
            slug(request.as_str(), &job.settings.access.agent_username)
        ),
        (None, _) => format!("{}issue-{issue_iid}", job.settings.workflow.branch_prefix),
    };
    let branch_name = match unclaimed_branch(job, project_id, &branch_name).await {
        Ok(name) => name,
        Err(error) => return fail(&mut reporter, &error).await.map(Outcome::Ended),
    };
    let task = Task {
        reference: format!("#{issue_iid}"),
        title: UntrustedLine::new(&issue.title),
        body: UntrustedText::bounded(issue.description.as_deref().unwrap_or_default()),
        url: Some(issue.web_url.clone()),
    };
    let branch = Branch {
        name: branch_name,
        from: None,
        commit_title: issue.confidential.then(|| format!("Resolve #{issue_iid}")),
    };
    let options = PlanOptions::issue(job.settings.workflow.orchestrated_issue);
    let asked = work::Asked { task, request, options, stored: None, rules };
    let outcome = match mode {
        Mode::Plan { .. } => {
            let request_note = note_id.filter(|_| !command);
            post_plan(job, &mut reporter, project_id, &issue, &actor, &branch, asked, request_note).await
        }
        Mode::Planned { stored, .. } => {
            let asked = work::Asked { stored: Some(stored.plan), ..asked };
            deliver(job, &mut reporter, project_id, &issue, &actor, branch, asked).await
        }
        Mode::Work => deliver(job, &mut reporter, project_id, &issue, &actor, branch, asked).await,
    };
    match outcome {
        Ok(outcome) => Ok(outcome),
        Err(error) => fail(&mut reporter, &error).await.map(Outcome::Ended),
    }
}

/// Plans the work and posts the plan for a person to approve; nothing is pushed.
#[expect(clippy::too_many_arguments, reason = "the story's nouns, passed once")]
async fn post_plan(
    job: &Job,
    reporter: &mut Reporter<'_>,
    project_id: u64,
    issue: &crate::gitlab::Issue,
    actor: &UserBasic,
    branch: &Branch,
    asked: work::Asked,
    request_note: Option<u64>,
) -> anyhow::Result<Outcome> {
    let (plan, analysis) = work::plan_only(job, reporter, project_id, branch, asked).await?;
    let stored = super::plan::StoredPlan { plan, request_note, issue: super::plan::issue_hash(issue) };
    reporter.post(&stored.note(Some(&actor.username), analysis.as_ref())).await?;
    Ok(Outcome::Ended(Code::Done))
}

/// Everything after the checks: the work, the merge request and the final note.
async fn deliver(
    job: &Job,
    reporter: &mut Reporter<'_>,
    project_id: u64,
    issue: &crate::gitlab::Issue,
    actor: &UserBasic,
    branch: Branch,
    asked: work::Asked,
) -> anyhow::Result<Outcome> {
    let worked = match work::run(job, reporter, project_id, &branch, asked).await {
        Ok(worked) => worked,
        Err(error) => match work::report_stopped(job, reporter, &error).await? {
            Some(code) => return Ok(Outcome::Ended(code)),
            None => return Err(error),
        },
    };
    if !worked.branch_ahead {
        reporter.step(Step::MergeRequest, crate::prompts::message::StepState::Done).await?;
        let summary = worked.summary.stages.last().map(|stage| MarkdownText::new(&stage.output));
        reporter
            .post(&NothingChangedNote {
                marker: Marker::status("nothing-changed"),
                agent_summary: summary,
                job_url: job.job_url.clone(),
                usage: Some(job.spend.table()),
            })
            .await?;
        return Ok(Outcome::Ended(Code::Done));
    }

    reporter.step(Step::MergeRequest, crate::prompts::message::StepState::Running).await?;
    // A confidential issue's title and text (and the analysis of it) stay on the issue: the
    // merge request, seen by everyone with access to the code, only links it.
    let description = reporter.render(&MrDescription {
        issue_iid: issue.iid,
        issue_title: (!issue.confidential).then(|| MarkdownText::new(&issue.title)),
        confidential: issue.confidential,
        requester: Some(Username::new(&actor.username)),
        complexity: worked.plan.complexity,
        stages: worked.plan.stages.iter().map(|planned| Step::Stage(planned.stage)).collect(),
        summary: if issue.confidential { None } else { analysis_summary(&worked.summary) },
        changes: worked
            .changed_paths
            .iter()
            .map(|path| ChangeLine { path: MarkdownCodeSpan::new(path), summary: None })
            .collect(),
    })?;
    let title = if issue.confidential {
        format!("Resolve #{}", issue.iid)
    } else {
        format!("Resolve \"{}\"", issue.title.replace(['\r', '\n'], " "))
    };
    let target = &worked.default_branch;
    let mr = open_or_update_merge_request(job, project_id, &branch.name, target, title, description, actor.id)
        .await
        .with_context(|| format!("the changes are pushed to `{}`, but no merge request shows them yet", branch.name))?;
    reporter.step(Step::MergeRequest, crate::prompts::message::StepState::Done).await?;
    let note = worked.final_note(&format!("final-{}", mr.iid), mr.iid, &mr.web_url, &branch.name);
    reporter.post(&note).await?;
    Ok(Outcome::MergeRequest(mr.iid))
}

/// `name`, or the first of `name-2`, `name-3`, … from which no open merge request comes that
/// the agent did not open in this project: a person's merge request, or one from a fork whose
/// branch has the same name, is never continued or rewritten.
async fn unclaimed_branch(job: &Job, project_id: u64, name: &str) -> anyhow::Result<String> {
    for number in 1..=BRANCH_SUFFIX_MAX {
        let candidate = if number == 1 { name.to_owned() } else { format!("{name}-{number}") };
        let open = job
            .client
            .merge_requests_by_source_branch(project_id, &candidate, Some("opened"))
            .await
            .context("while looking for merge requests from the branch")?;
        if open.iter().all(|mr| is_own_merge_request(job, project_id, mr)) {
            return Ok(candidate);
        }
        tracing::info!(branch = %candidate, "another's merge request comes from this branch; choosing another name");
    }
    anyhow::bail!(
        "merge requests not opened by the agent come from `{name}` and `{name}-2` to `{name}-{BRANCH_SUFFIX_MAX}`; \
         close them or rename their branches, then ask again"
    )
}

/// Whether the agent opened `mr` from a branch of this project (not from a fork).
pub(super) fn is_own_merge_request(job: &Job, project_id: u64, mr: &crate::gitlab::MergeRequest) -> bool {
    mr.author.as_ref().is_some_and(|author| author.id == job.agent_user.id) && mr.source_project_id == Some(project_id)
}

/// The agent's own open merge request from `branch` with its description brought up to date
/// (a re-run), or a new Draft one into `target` with `reviewer_id` as reviewer.
async fn open_or_update_merge_request(
    job: &Job,
    project_id: u64,
    branch: &str,
    target: &str,
    title: String,
    description: String,
    reviewer_id: u64,
) -> anyhow::Result<crate::gitlab::MergeRequest> {
    let existing = job
        .client
        .merge_requests_by_source_branch(project_id, branch, Some("opened"))
        .await
        .context("while looking for an earlier merge request")?
        .into_iter()
        .find(|mr| mr.state == "opened" && is_own_merge_request(job, project_id, mr));
    if let Some(mr) = existing {
        tracing::info!(mr = mr.iid, "continuing on the existing merge request");
        let update = crate::gitlab::MergeRequestUpdate { description: Some(description), ..Default::default() };
        return job
            .client
            .update_merge_request(project_id, mr.iid, &update)
            .await
            .context("while updating the merge request");
    }
    let new = NewMergeRequest {
        source_branch: branch.to_owned(),
        target_branch: target.to_owned(),
        title,
        description: Some(description),
        draft: true,
        reviewer_ids: vec![reviewer_id],
        ..Default::default()
    };
    job.client.create_merge_request(project_id, &new).await.context("while opening the merge request")
}

/// The analysis stage's summary, for the MR description.
fn analysis_summary(summary: &crate::stages::Summary) -> Option<MarkdownText> {
    summary.analysis().map(|analysis| MarkdownText::new(&analysis.summary))
}

/// Who assigned the agent: the author of the newest system note that says so.
pub(super) async fn assigner(job: &Job, project_id: u64, issue_iid: u64) -> anyhow::Result<Option<UserBasic>> {
    let notes =
        job.client.notes(project_id, Noteable::Issue(issue_iid)).await.context("while reading the issue's notes")?;
    Ok(notes
        .into_iter()
        .rev()
        .filter(|note| {
            note.system && note.body.starts_with("assigned to") && mentions(&note.body, &job.agent_user.username)
        })
        .find_map(|note| note.author))
}
