//! Whose branch a request on a merge request may change. The agent pushes to a merge request's
//! source branch only when it is the agent's own (its prefix, a merge request it opened in this
//! project), or when the person who asked could push there themselves: a same-project branch
//! that is not the default branch, the requester at least a Developer, and every protection rule
//! matching the branch allowing the requester's pushes. Otherwise the change goes to a new agent
//! branch and a follow-up merge request into that source branch.

use anyhow::Context as _;

use super::super::Job;
use crate::gitlab::{AccessLevel, MergeRequest, UserBasic};
use crate::prompts::message::UnsupportedReason;

/// `None` when the agent may push to `mr`'s source branch for `requester`; otherwise why not.
pub(super) async fn blocked(
    job: &Job,
    project_id: u64,
    mr: &MergeRequest,
    requester: &UserBasic,
) -> anyhow::Result<Option<UnsupportedReason>> {
    let branch = &mr.source_branch;
    if branch.starts_with(&job.settings.workflow.branch_prefix)
        && super::super::issue::is_own_merge_request(job, project_id, mr)
    {
        return Ok(None);
    }
    let project = job.project(project_id).await.context("while reading the project")?;
    if project.default_branch.as_deref() == Some(branch.as_str()) {
        return Ok(Some(UnsupportedReason::DefaultBranch));
    }
    let level =
        job.client.access_level(project_id, requester.id).await.context("while checking the requester's access")?;
    if level < AccessLevel::DEVELOPER {
        return Ok(Some(UnsupportedReason::NoPushAccess));
    }
    let rules = job.client.protected_branches(project_id).await.context("while reading the protected branches")?;
    if rules.iter().filter(|rule| rule.matches(branch)).any(|rule| !rule.allows_push(requester.id, level)) {
        return Ok(Some(UnsupportedReason::ProtectedBranch));
    }
    Ok(None)
}

/// The agent branch a follow-up to note `note_id` on merge request `mr_iid` is made on.
pub(super) fn follow_up_branch(job: &Job, mr_iid: u64, note_id: u64) -> String {
    format!("{}mr-{mr_iid}-note-{note_id}", job.settings.workflow.branch_prefix)
}
