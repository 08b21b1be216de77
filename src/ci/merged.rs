//! Which branch commit a pipeline tested, so that the loop can tell whether it is still current.
//!
//! A branch pipeline runs on the branch head: its `sha` is that commit. A merged-results
//! pipeline runs on `refs/merge-requests/<iid>/merge`, and its `sha` is a merge commit GitLab
//! made of the target head (first parent) and the source branch head (second parent), so the
//! branch commit it tested is that merge commit's second parent. Comparing the branch head with
//! `sha` alone would take every merged-results pipeline for one the branch moved past.

use crate::gitlab::{self, Client};

/// Whether `git_ref` is a merge request's merged-results ref, `refs/merge-requests/<iid>/merge`
/// (pure).
pub fn is_merge_ref(git_ref: &str) -> bool {
    git_ref
        .strip_prefix("refs/merge-requests/")
        .and_then(|rest| rest.strip_suffix("/merge"))
        .is_some_and(|iid| !iid.is_empty() && iid.bytes().all(|byte| byte.is_ascii_digit()))
}

/// The source-branch commit a pipeline on `git_ref` at `sha` tested: `sha` itself, or for a
/// merged-results pipeline its merge commit's second parent.
pub async fn source_sha(client: &Client, project_id: u64, git_ref: &str, sha: &str) -> Result<String, gitlab::Error> {
    if !is_merge_ref(git_ref) {
        return Ok(sha.to_owned());
    }
    let commit = client.commit(project_id, sha).await?;
    // A merge ref GitLab could not merge into holds the source head itself (one parent).
    Ok(match commit.parent_ids.as_slice() {
        [_, source, ..] => source.clone(),
        _ => sha.to_owned(),
    })
}

/// Whether a pipeline on `git_ref` at `sha` tested `head`, the source branch's head now.
pub async fn is_current(
    client: &Client,
    project_id: u64,
    git_ref: &str,
    sha: &str,
    head: &str,
) -> Result<bool, gitlab::Error> {
    if sha == head {
        return Ok(true);
    }
    Ok(source_sha(client, project_id, git_ref, sha).await? == head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_merged_results_refs_are_merge_refs() {
        assert!(is_merge_ref("refs/merge-requests/12/merge"));
        assert!(!is_merge_ref("refs/merge-requests/12/head"));
        assert!(!is_merge_ref("refs/merge-requests//merge"));
        assert!(!is_merge_ref("refs/merge-requests/x/merge"));
        assert!(!is_merge_ref("copilot/issue-1"));
    }
}
