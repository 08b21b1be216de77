//! The clone and the deepening of a shallow clone, both through the hardened `git` command.
//!
//! `git clone` is the fastest clone there is (threaded `index-pack`, a checkout that writes an
//! index `git` trusts afterwards), and going through [`GitCommand`] gives it the same token rule
//! as every fetch and push: the header only in the child's environment, scoped to the origin.
//! The clone is shallow, of one branch, without tags; history below it comes on demand. When a
//! rebase needs the merge base of two commits, or a diff needs a commit the clone cut off,
//! [`deepen_until`] fetches deeper in growing steps (`--deepen`), checking after each; for a
//! merge base its last step unshallows the clone (a rebase without one would replay history
//! that is not ours), while a missing commit is given up after the steps (it is most often gone
//! after a force push, and the caller has a way on without it).
//! Branch names are checked here too ([`validate_branch`]): every ref a transfer names passes it.

use std::num::NonZeroU32;
use std::path::Path;

use super::GitError;
use super::auth::Remote;
use super::command::{GitCommand, failure};
use crate::process::{ExitStatus, ProcessError};

/// The name the clone gives the remote, as `git clone` does.
pub(crate) const REMOTE_NAME: &str = "origin";

/// `git ls-remote --exit-code` exits with this when no ref matched.
pub(crate) const LS_REMOTE_NO_MATCH: i32 = 2;

/// How many commits each deepening adds, before the last step fetches all of the history.
/// Most merge bases are a few commits deep; a long-lived branch needs the bigger steps.
const DEEPEN_STEPS: &[u32] = &[64, 512];

/// Clones `remote` into the work tree `dest` with its git dir at `git_dir` (`dest/.git` is a
/// gitfile), checking out `branch` or the remote's default branch; `depth` commits deep when
/// given, otherwise with all of its history. Only that branch, no tag, no hook template.
pub(crate) async fn clone(
    git: &GitCommand,
    remote: &Remote,
    dest: &Path,
    git_dir: &Path,
    depth: Option<NonZeroU32>,
    branch: Option<&str>,
) -> Result<(), GitError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    let depth = depth.map(|depth| format!("--depth={depth}"));
    let branch_arg = branch.map(|branch| format!("--branch={branch}"));
    let separate = format!("--separate-git-dir={}", git_dir.display());
    let dest_arg = dest.display().to_string();
    let mut args = vec!["clone", "--quiet", "--no-tags", "--single-branch", "--template=", "--no-recurse-submodules"];
    args.extend(depth.as_deref());
    args.extend(branch_arg.as_deref());
    args.extend([separate.as_str(), "--", remote.url(), dest_arg.as_str()]);
    let output = match git.output(parent, &args, Some(remote)).await {
        Ok(output) => output,
        Err(GitError::Process(ProcessError::Timeout { after, .. })) => {
            return Err(GitError::TimedOut { what: "the clone", after });
        }
        Err(err) => return Err(err),
    };
    if output.success() {
        return Ok(());
    }
    let err = failure(&args, &output, Some(remote));
    match (err, branch) {
        // A branch the remote lacks is told apart by asking the remote, not by reading the text.
        (err @ GitError::Command { .. }, Some(branch)) => {
            let source = format!("refs/heads/{branch}");
            let listing = ["ls-remote", "--exit-code", remote.url(), source.as_str()];
            let listed = git.output(parent, &listing, Some(remote)).await?;
            if listed.status == ExitStatus::Code(LS_REMOTE_NO_MATCH) {
                Err(GitError::NotFound { what: format!("branch `{branch}`") })
            } else {
                Err(err)
            }
        }
        (err, _) => Err(err),
    }
}

/// What a deepening is for; checked before the first step and after each.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Need<'a> {
    /// The commit exists in the clone.
    Commit(&'a str),
    /// The two commits have a merge base in the clone.
    MergeBase(&'a str, &'a str),
}

/// Whether the clone at `dir` (whose git dir is `git_dir`) is shallow.
pub(crate) fn is_shallow(git_dir: &Path) -> bool {
    git_dir.join("shallow").exists()
}

/// Fetches deeper history of every remote-tracking branch of the clone until `need` is met or
/// the steps are done (for a merge base: until the clone holds all the history); returns
/// whether it is met. A clone that is not shallow is only checked.
pub(crate) async fn deepen_until(
    git: &GitCommand,
    remote: &Remote,
    dir: &Path,
    git_dir: &Path,
    need: Need<'_>,
) -> Result<bool, GitError> {
    if met(git, dir, need).await? {
        return Ok(true);
    }
    let last = matches!(need, Need::MergeBase(..)).then(|| "--unshallow".to_owned());
    let steps = DEEPEN_STEPS.iter().map(|step| format!("--deepen={step}")).chain(last);
    for step in steps {
        if !is_shallow(git_dir) {
            return Ok(false);
        }
        tracing::info!(?need, %step, "deepening the shallow clone");
        deepen(git, remote, dir, &step).await?;
        if met(git, dir, need).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Fetches every remote-tracking branch of the clone `step` deeper (`--deepen=N` or
/// `--unshallow`).
pub(crate) async fn deepen(git: &GitCommand, remote: &Remote, dir: &Path, step: &str) -> Result<(), GitError> {
    let refspecs = tracking_refspecs(git, dir).await?;
    let mut args = vec!["fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--no-write-fetch-head"];
    args.extend([step, remote.url()]);
    args.extend(refspecs.iter().map(String::as_str));
    git.run(dir, &args, Some(remote)).await?;
    Ok(())
}

async fn met(git: &GitCommand, dir: &Path, need: Need<'_>) -> Result<bool, GitError> {
    let output = match need {
        Need::Commit(sha) => git.output(dir, &["cat-file", "-e", &format!("{sha}^{{commit}}")], None).await?,
        Need::MergeBase(ours, theirs) => git.output(dir, &["merge-base", ours, theirs], None).await?,
    };
    Ok(output.success())
}

/// Where GitLab keeps merge request `iid`'s head in the target project (and where the clone
/// keeps it too): `refs/merge-requests/<iid>/head`.
pub(crate) fn merge_request_head(iid: u64) -> String {
    format!("{MERGE_REQUEST_REFS}{iid}/head")
}

const MERGE_REQUEST_REFS: &str = "refs/merge-requests/";

/// `+refs/heads/<b>:refs/remotes/origin/<b>` for every remote-tracking branch, and
/// `+refs/merge-requests/<iid>/head` onto itself for every merge request head fetched: deepening
/// asks for the refs the clone already follows, and moves them as a fetch would.
async fn tracking_refspecs(git: &GitCommand, dir: &Path) -> Result<Vec<String>, GitError> {
    let prefix = format!("refs/remotes/{REMOTE_NAME}/");
    let listing = git.run(dir, &["for-each-ref", "--format=%(refname)", &prefix, MERGE_REQUEST_REFS], None).await?;
    let text = listing.stdout.text();
    let branches = text
        .lines()
        .filter_map(|name| name.strip_prefix(&prefix))
        .filter(|branch| *branch != "HEAD" && validate_branch(branch).is_ok())
        .map(|branch| format!("+refs/heads/{branch}:{prefix}{branch}"));
    let heads = text
        .lines()
        .filter_map(|name| name.strip_prefix(MERGE_REQUEST_REFS)?.strip_suffix("/head")?.parse::<u64>().ok())
        .map(|iid| format!("+{0}:{0}", merge_request_head(iid)));
    Ok(branches.chain(heads).collect())
}

/// Refuses names `git` could read as an option, a forced refspec or a range.
pub(crate) fn validate_branch(name: &str) -> Result<(), GitError> {
    let bad = name.is_empty()
        || name.starts_with(['-', '+', '/'])
        || name.ends_with(['/', '.'])
        || name.ends_with(".lock")
        || name.contains("..")
        || name.contains("@{")
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ':' | '~' | '^' | '?' | '*' | '[' | '\\'));
    if bad { Err(GitError::InvalidBranch { name: name.to_owned() }) } else { Ok(()) }
}
