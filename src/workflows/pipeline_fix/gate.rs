//! Who stands behind a `pipeline_failed` job. The trigger names a pipeline (and perhaps a merge
//! request); before the loop spends a model call or pushes a commit, the job confirms from the
//! API that the pipeline ran for that merge request's source branch or its merge ref, that the
//! merge request was opened by the agent in this project (not from a fork), and that the person
//! whose request led to it still may ask: the one who assigned the issue or wrote the note the
//! branch was named after, or, when that cannot be found, one of the merge request's assignees
//! or reviewers.

use std::fmt;

use anyhow::Context as _;

use super::super::Job;
use crate::gitlab::{MergeRequest, Noteable, Pipeline, UserBasic};

/// Why the loop will not run for a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The pipeline ran for another ref than the merge request's.
    ForeignPipeline { git_ref: String, source_branch: String },
    /// Someone other than the agent opened the merge request.
    NotTheAgents { author: String },
    /// The merge request's source branch lives in another project.
    FromFork,
    /// The person who asked for the work no longer has the access to ask.
    RequesterLacksAccess { requester: String },
    /// No requester was found, and no assignee or reviewer has the access to ask.
    NoOneWithAccess,
    /// The project used `COPILOT_MONTHLY_PREMIUM_REQUESTS` this month.
    MonthlyCap { month: String, used: String, cap: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ForeignPipeline { git_ref, source_branch } => write!(
                f,
                "the pipeline ran for `{git_ref}`, not for the merge request's branch `{source_branch}` or its \
                 merge ref; trigger the job with the pipeline of that merge request"
            ),
            Self::NotTheAgents { author } => write!(
                f,
                "the merge request was opened by `{author}`, not by the agent; the agent fixes pipelines only of \
                 its own merge requests (ask in a note on the merge request instead)"
            ),
            Self::FromFork => f.write_str(
                "the merge request comes from a fork; the agent fixes pipelines only of its own branches in this project",
            ),
            Self::RequesterLacksAccess { requester } => write!(
                f,
                "`{requester}`, who asked for this work, no longer has the role `COPILOT_MIN_ACCESS_LEVEL` requires \
                 (or is blocked, or their membership expired); a member with that role can ask again"
            ),
            Self::NoOneWithAccess => f.write_str(
                "the request behind this merge request cannot be traced, and none of its assignees or reviewers has \
                 the role `COPILOT_MIN_ACCESS_LEVEL` requires; assign a member with that role, or ask in a note",
            ),
            Self::MonthlyCap { month, used, cap } => write!(
                f,
                "the project used {used} premium requests in {month}, and `COPILOT_MONTHLY_PREMIUM_REQUESTS` is {cap}"
            ),
        }
    }
}

/// `Some` reason when the loop must not run for `pipeline` on `mr`: the checks of who asked, then
/// the project's monthly spending.
pub(super) async fn check(
    job: &Job,
    project_id: u64,
    pipeline: &Pipeline,
    mr: &MergeRequest,
) -> anyhow::Result<Option<Refusal>> {
    if let Some(refusal) = check_request(job, project_id, pipeline, mr).await? {
        return Ok(Some(refusal));
    }
    let Some(actor) = &mr.author else { return Ok(None) };
    Ok(job
        .monthly_cap_reached(project_id, actor, job.settings.spend.monthly_premium_requests)
        .await?
        .map(|note| Refusal::MonthlyCap { month: note.month, used: note.used.to_string(), cap: note.cap.to_string() }))
}

async fn check_request(
    job: &Job,
    project_id: u64,
    pipeline: &Pipeline,
    mr: &MergeRequest,
) -> anyhow::Result<Option<Refusal>> {
    let merge_refs = [format!("refs/merge-requests/{}/head", mr.iid), format!("refs/merge-requests/{}/merge", mr.iid)];
    if pipeline.git_ref != mr.source_branch && !merge_refs.contains(&pipeline.git_ref) {
        let refusal =
            Refusal::ForeignPipeline { git_ref: pipeline.git_ref.clone(), source_branch: mr.source_branch.clone() };
        return Ok(Some(refusal));
    }
    let author = mr.author.as_ref();
    if author.is_none_or(|author| author.id != job.agent_user.id) {
        let author = author.map_or_else(|| "an unknown user".to_owned(), |author| author.username.clone());
        return Ok(Some(Refusal::NotTheAgents { author }));
    }
    if mr.source_project_id != Some(project_id) || mr.target_project_id.is_some_and(|id| id != project_id) {
        return Ok(Some(Refusal::FromFork));
    }
    if let Some(requester) = requester(job, project_id, mr).await? {
        if job.may_start_work(project_id, &requester).await.context("while checking the requester's access")? {
            return Ok(None);
        }
        return Ok(Some(Refusal::RequesterLacksAccess { requester: requester.username }));
    }
    for person in mr.assignees.iter().chain(&mr.reviewers).filter(|person| !job.ignores(person)) {
        if job.may_start_work(project_id, person).await.context("while checking an assignee's access")? {
            return Ok(None);
        }
    }
    Ok(Some(Refusal::NoOneWithAccess))
}

/// The person whose request led to `mr`, traced through the issue its branch is named after:
/// `<prefix>issue-<iid>` was asked for by whoever assigned the agent to the issue,
/// `<prefix>issue-<iid>-<slug>` by the author of the issue's note the slug was made from. A
/// numbered name (`…-2`, chosen when another's merge request had the first) is traced the same.
async fn requester(job: &Job, project_id: u64, mr: &MergeRequest) -> anyhow::Result<Option<UserBasic>> {
    let Some((issue_iid, slug)) = issue_of_branch(&mr.source_branch, &job.settings.workflow.branch_prefix) else {
        return Ok(None);
    };
    // `issue-7-2`: the assignment's branch, renumbered; `issue-7-add-x-2` perhaps a note's.
    let renumbered = slug.as_deref().and_then(|slug| match slug.rsplit_once('-') {
        Some((rest, number)) if number.parse::<u32>().is_ok() => Some(rest.to_owned()),
        None if slug.parse::<u32>().is_ok() => Some(String::new()),
        _ => None,
    });
    let Some(slug) = slug.filter(|_| renumbered.as_deref() != Some("")) else {
        return super::super::issue::assigner(job, project_id, issue_iid).await;
    };
    let notes = match job.client.notes(project_id, Noteable::Issue(issue_iid)).await {
        Ok(notes) => notes,
        Err(crate::gitlab::Error::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(anyhow::Error::new(error).context("while reading the issue's notes")),
    };
    // The agent's status note for a note's request carries that note's id in its marker.
    let answered = |note_id: u64| {
        let marker = crate::prompts::markers::Marker::status(&format!("issue-{issue_iid}-note-{note_id}"));
        notes.iter().any(|status| {
            status.author.as_ref().is_some_and(|author| author.id == job.agent_user.id) && marker.is_in(&status.body)
        })
    };
    Ok(notes
        .iter()
        .rev()
        .filter(|note| !note.system && answered(note.id))
        .filter(|note| {
            let made = crate::request::instruction::slug(&note.body, &job.settings.access.agent_username);
            made == slug || renumbered.as_ref().is_some_and(|renumbered| made == *renumbered)
        })
        .find_map(|note| note.author.clone()))
}

/// The issue iid (and the slug, for a note's request) an agent branch is named after.
fn issue_of_branch(branch: &str, prefix: &str) -> Option<(u64, Option<String>)> {
    let rest = branch.strip_prefix(prefix)?.strip_prefix("issue-")?;
    let (iid, slug) = match rest.split_once('-') {
        Some((iid, slug)) => (iid, Some(slug.to_owned())),
        None => (rest, None),
    };
    Some((iid.parse().ok()?, slug))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_name_their_issue_and_slug() {
        assert_eq!(issue_of_branch("copilot/issue-12", "copilot/"), Some((12, None)));
        assert_eq!(issue_of_branch("copilot/issue-3-add-a-flag", "copilot/"), Some((3, Some("add-a-flag".into()))));
        assert_eq!(issue_of_branch("copilot/mr-3", "copilot/"), None);
        assert_eq!(issue_of_branch("feature/issue-3", "copilot/"), None);
    }
}
