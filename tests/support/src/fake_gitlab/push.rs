//! What a push does inside GitLab: every updated branch gets a pipeline (source `push`), and
//! every open merge request whose source branch moved gets a new version with its diffs
//! recomputed from the repository (base = merge-base with the target, start = target head).
//! With merged-results pipelines on (`CiScript::merged_results`), a branch with an open merge
//! request gets the merge request's pipeline instead: on a real merge commit of the branch
//! into the target, kept at `refs/merge-requests/<iid>/merge` (source `merge_request_event`).
//!
//! Pushes over smart HTTP, branches created through the API and server-side commits made by
//! tests all come through here, so they behave alike.

use super::api::add_system_note;
use super::ci::{PipelineStart, create_pipeline};
use super::clock::now;
use super::model::{MrVersion, Noteable};
use super::repo::Repo;
use super::server::Shared;

/// One branch that moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub branch: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// The branches that differ between two snapshots of `(branch, sha)`.
pub fn ref_updates(before: &[(String, String)], after: &[(String, String)]) -> Vec<RefUpdate> {
    let mut updates = Vec::new();
    for (branch, sha) in after {
        let old = before.iter().find(|(b, _)| b == branch).map(|(_, s)| s.clone());
        if old.as_deref() != Some(sha.as_str()) {
            updates.push(RefUpdate { branch: branch.clone(), old, new: Some(sha.clone()) });
        }
    }
    for (branch, sha) in before {
        if !after.iter().any(|(b, _)| b == branch) {
            updates.push(RefUpdate { branch: branch.clone(), old: Some(sha.clone()), new: None });
        }
    }
    updates
}

/// Runs GitLab's push side effects for `updates` made by `user_id`.
pub async fn after_ref_updates(shared: &Shared, project_id: u64, updates: &[RefUpdate], user_id: u64) {
    let Some(path) = shared.state().project_by_id(project_id).map(|p| p.path_with_namespace.clone()) else { return };
    let repo = shared.repo_for(&path);
    let merged_results = shared.state().project_by_id(project_id).is_some_and(|p| p.ci.merged_results);
    for update in updates {
        let Some(new) = &update.new else { continue };
        let open_mrs: Vec<(u64, String)> = shared
            .state()
            .merge_requests
            .iter()
            .filter(|m| {
                m.project_id == project_id
                    && m.source_project_id == project_id
                    && m.state == "opened"
                    && m.source_branch == update.branch
            })
            .map(|m| (m.iid, m.target_branch.clone()))
            .collect();
        if !merged_results || open_mrs.is_empty() {
            let mut state = shared.state();
            create_pipeline(
                &mut state,
                PipelineStart {
                    project_id,
                    git_ref: update.branch.clone(),
                    sha: new.clone(),
                    before_sha: update.old.clone().unwrap_or_else(|| "0".repeat(40)),
                    source: "push".to_owned(),
                    user_id,
                    variables: Vec::new(),
                    inputs: Vec::new(),
                },
            );
        }
        for (iid, target) in open_mrs {
            let Ok(Some(version)) = compute_version(shared, &repo, &update.branch, &target).await else { continue };
            let recorded = record_version(shared, &repo, (project_id, iid), version, user_id).await;
            if recorded && merged_results {
                merge_request_pipeline(shared, &repo, project_id, iid, user_id).await;
            }
        }
        fork_merge_requests(shared, project_id, &repo, update, new, user_id).await;
    }
}

/// A push to a fork's branch moves the head of every open merge request from it, which GitLab
/// keeps in the target project at `refs/merge-requests/<iid>/head`, and gives each a new version.
async fn fork_merge_requests(shared: &Shared, fork_id: u64, fork: &Repo, update: &RefUpdate, new: &str, user_id: u64) {
    let fork_mrs: Vec<(u64, u64, String)> = shared
        .state()
        .merge_requests
        .iter()
        .filter(|m| {
            m.source_project_id == fork_id
                && m.project_id != fork_id
                && m.state == "opened"
                && m.source_branch == update.branch
        })
        .map(|m| (m.project_id, m.iid, m.target_branch.clone()))
        .collect();
    for (target_id, iid, target_branch) in fork_mrs {
        let Some(path) = shared.state().project_by_id(target_id).map(|p| p.path_with_namespace.clone()) else {
            continue;
        };
        let target = shared.repo_for(&path);
        let head_ref = format!("refs/merge-requests/{iid}/head");
        if target.fetch_ref(fork, &format!("refs/heads/{}", update.branch), &head_ref).await.is_err() {
            continue;
        }
        let Ok(Some(version)) = version_at(shared, &target, new.to_owned(), &target_branch).await else { continue };
        record_version(shared, &target, (target_id, iid), version, user_id).await;
    }
}

/// Adds `version` to the merge request unless its head is the latest one already, with GitLab's
/// "added N commits" system note; `repo` is the target project's. Whether it was added.
async fn record_version(
    shared: &Shared,
    repo: &Repo,
    (project_id, iid): (u64, u64),
    version: MrVersion,
    user_id: u64,
) -> bool {
    let previous_head = shared
        .state()
        .merge_request(project_id, iid)
        .and_then(|mr| mr.latest_version().map(|v| v.head_commit_sha.clone()));
    if previous_head.as_deref() == Some(version.head_commit_sha.as_str()) {
        return false;
    }
    let added = match &previous_head {
        Some(old) => repo.rev_list(old, &version.head_commit_sha).await.unwrap_or_default(),
        None => Vec::new(),
    };
    let mut lines = Vec::new();
    for sha in &added {
        if let Ok(info) = repo.commit_info(sha).await {
            lines.push(format!("<li>{} - {}</li>", info.short_id, info.title));
        }
    }
    let mut state = shared.state();
    if let Some(mr) = state.merge_request_mut(project_id, iid) {
        mr.versions.push(version);
        mr.updated_at = now();
    }
    if !added.is_empty() {
        let noun = if added.len() == 1 { "commit" } else { "commits" };
        let body = format!("added {} {noun}\n\n<ul>{}</ul>", added.len(), lines.join(""));
        add_system_note(&mut state, Noteable::MergeRequest { project_id, iid }, user_id, &body);
    }
    true
}

/// Runs merge request `iid`'s pipeline: with merged results on, on its source head merged into
/// its target head at `refs/merge-requests/<iid>/merge`; without them, or when the two conflict,
/// a detached one on the source head at `refs/merge-requests/<iid>/head`. Returns its id.
pub async fn merge_request_pipeline(
    shared: &Shared,
    repo: &Repo,
    project_id: u64,
    iid: u64,
    user_id: u64,
) -> Option<u64> {
    let mr = shared.state().merge_request(project_id, iid).cloned()?;
    let source = repo.rev_parse(&format!("refs/heads/{}", mr.source_branch)).await?;
    let target = repo.rev_parse(&format!("refs/heads/{}", mr.target_branch)).await?;
    let merge_ref = format!("refs/merge-requests/{iid}/merge");
    let message = format!("Merge branch '{}' into '{}'", mr.source_branch, mr.target_branch);
    let merged_results = shared.state().project_by_id(project_id).is_some_and(|p| p.ci.merged_results);
    let merge = if merged_results {
        repo.merge_commit(&target, &source, &merge_ref, &message).await.ok().flatten()
    } else {
        None
    };
    let (git_ref, sha) = match merge {
        Some(merge) => (merge_ref, merge),
        None => (format!("refs/merge-requests/{iid}/head"), source),
    };
    let start = PipelineStart {
        project_id,
        git_ref,
        sha,
        before_sha: "0".repeat(40),
        source: "merge_request_event".to_owned(),
        user_id,
        variables: Vec::new(),
        inputs: Vec::new(),
    };
    create_pipeline(&mut shared.state(), start)
}

/// A new MR version for `source` against `target`, or `None` when a branch is missing.
pub async fn compute_version(
    shared: &Shared,
    repo: &Repo,
    source: &str,
    target: &str,
) -> anyhow::Result<Option<MrVersion>> {
    let Some(head) = repo.rev_parse(&format!("refs/heads/{source}")).await else { return Ok(None) };
    version_at(shared, repo, head, target).await
}

/// A new MR version for the commit `head` against `target`, or `None` when it is missing.
pub async fn version_at(shared: &Shared, repo: &Repo, head: String, target: &str) -> anyhow::Result<Option<MrVersion>> {
    let Some(start) = repo.rev_parse(&format!("refs/heads/{target}")).await else { return Ok(None) };
    let base = repo.merge_base(&start, &head).await.unwrap_or_else(|| start.clone());
    let files = repo.diff(&base, &head).await?;
    let id = shared.state().allocate("mr_version");
    Ok(Some(MrVersion {
        id,
        head_commit_sha: head,
        base_commit_sha: base,
        start_commit_sha: start,
        created_at: now(),
        files,
    }))
}
