//! A checked-out clone of the target project that the agent edits and the binary publishes.
//!
//! The story of one job: [`Workspace::clone`] (`git clone`, shallow, its git dir beside the
//! work tree), [`Workspace::checkout_or_create_branch`] (continue the agent's branch if it
//! exists, else start it from the default branch), the agent edits files,
//! [`Workspace::commit_all`] (as the agent, with trailers), [`Workspace::push`] (the agent's
//! branch only, fast-forward only, never a tag). When a person pushed meanwhile,
//! [`Workspace::push_rebasing_once`] fetches, rebases the agent's commits once and pushes again;
//! a conflict aborts the rebase and leaves the remote as the person left it. History the
//! shallow clone cut off comes on demand, when a rebase needs a merge base or a diff an older
//! commit (`transfer::deepen_until`). Every `git`
//! command here runs on the git dir as the clone left it (`isolation`), and every transfer
//! names the remote's URL, never a remote of the repository's configuration.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::auth::Remote;
use super::command::GitCommand;
use super::isolation::GitDir;
use super::porcelain::{self, PushedRef};
use super::transfer::{self, LS_REMOTE_NO_MATCH, Need, REMOTE_NAME, validate_branch};
use super::{GitError, history};

/// How a push ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The remote branch now points at `head`.
    Pushed { head: String },
    /// A person had pushed; our commits were rebased once onto theirs and then pushed.
    PushedAfterRebase { head: String },
}

/// A clone with a work tree, bound to its remote and the `git` command that acts on it.
#[derive(Debug, Clone)]
pub struct Workspace {
    dir: PathBuf,
    repository: Arc<GitDir>,
    remote: Remote,
    git: GitCommand,
    depth: Option<NonZeroU32>,
    default_branch: String,
}

impl Workspace {
    /// Clones `remote` into `dest` (which must be missing or empty) and checks out `branch`, or
    /// the remote's default branch. `depth` makes the clone shallow (`Some(1)`: only the tip).
    /// The git dir is [`Workspace::git_dir_beside`] `dest` (which must be missing), and `dest/.git`
    /// a gitfile pointing there. The token stays in the `git` child's environment: the
    /// configuration holds the plain URL and no header.
    pub async fn clone(
        git: GitCommand,
        remote: Remote,
        dest: &Path,
        depth: Option<u32>,
        branch: Option<&str>,
    ) -> Result<Self, GitError> {
        if let Some(branch) = branch {
            validate_branch(branch)?;
        }
        let depth = depth.and_then(NonZeroU32::new);
        tracing::info!(url = %remote.url(), depth = ?depth, branch = ?branch, "cloning");
        let git_dir = GitDir::beside(dest)?;
        if tokio::fs::symlink_metadata(&git_dir).await.is_ok() {
            return Err(GitError::Io {
                context: "while preparing the clone",
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!("`{}` already exists", git_dir.display()),
                ),
            });
        }
        let dest = std::path::absolute(dest)
            .map_err(|source| GitError::Io { context: "while locating the work tree", source })?;
        transfer::clone(&git, &remote, &dest, &git_dir, depth, branch).await?;
        let repository = Arc::new(GitDir::separate(&dest).await?);
        let git = git.in_repository(Arc::clone(&repository));
        let dir = repository.work_tree().to_owned();
        let default_branch = history::current_branch(&git, &dir)
            .await
            .ok_or_else(|| GitError::Internal { reason: "the clone left a detached `HEAD`".to_owned() })?;
        let head = history::head(&git, &dir).await;
        tracing::info!(branch = %default_branch, head = ?head, git_dir = %repository.path().display(), "cloned");
        Ok(Self { dir, repository, remote, git, depth, default_branch })
    }

    /// Where [`Workspace::clone`] puts the git dir of a work tree at `dest`: `<dest>.git`.
    pub fn git_dir_beside(dest: &Path) -> Result<PathBuf, GitError> {
        GitDir::beside(dest)
    }

    /// The work tree (absolute).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The git dir, outside the work tree. Every command of this workspace uses it; the work
    /// tree's `.git` gitfile is only for the agent's tools.
    pub fn git_dir(&self) -> &Path {
        self.repository.path()
    }

    /// The remote this workspace pushes to.
    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// The git command this workspace runs (no remote, no token).
    pub fn git(&self) -> &GitCommand {
        &self.git
    }

    /// The branch checked out by the clone: the remote's default unless one was asked for.
    pub fn default_branch(&self) -> &str {
        &self.default_branch
    }

    /// Fetches `branch` from the remote into `refs/remotes/origin/<branch>` and returns its tip,
    /// or `None` when the remote has no such branch.
    ///
    /// A branch never fetched comes `depth` commits deep into a shallow clone; a known one is
    /// fetched without moving the shallow boundary, so that its history still meets ours for a
    /// rebase. No tag and no submodule comes along.
    pub async fn fetch(&self, branch: &str) -> Result<Option<String>, GitError> {
        validate_branch(branch)?;
        let [tip] = self.remote_tips([branch]).await?;
        match tip {
            Some(tip) => Ok(Some(self.fetch_listed(branch, &tip).await?)),
            None => Ok(None),
        }
    }

    /// Fetches merge request `iid`'s head as GitLab keeps it in the target project,
    /// `refs/merge-requests/<iid>/head` (the way to the changes of a merge request from a fork,
    /// whose branch lives in a project the agent may not read), into the same ref here, and
    /// returns its tip. It comes `depth` commits deep into a shallow clone; deepening fetches it
    /// further along with the branches.
    pub async fn fetch_merge_request_head(&self, iid: u64) -> Result<String, GitError> {
        let reference = transfer::merge_request_head(iid);
        let shallow = transfer::is_shallow(self.git_dir());
        let depth = self.depth.filter(|_| shallow).map(|depth| format!("--depth={depth}"));
        let tip = self.fetch_ref(&reference, &reference, depth.as_deref()).await?;
        tip.ok_or_else(|| GitError::NotFound { what: format!("`{reference}`") })
    }

    /// Fetches the remote's `source` into `local` (forced, so that `local` follows the remote
    /// wherever it went, as `git fetch` moves a remote-tracking ref), `depth` deep when given;
    /// no tag, no submodule, no local branch moves. Returns where `local` now points.
    async fn fetch_ref(&self, source: &str, local: &str, depth: Option<&str>) -> Result<Option<String>, GitError> {
        let refspec = format!("+{source}:{local}");
        let mut args = vec!["fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--no-write-fetch-head"];
        args.extend(depth);
        args.extend([self.remote.url(), refspec.as_str()]);
        self.git.run(&self.dir, &args, Some(&self.remote)).await?;
        self.resolve(local).await
    }

    /// The tips the remote lists for `branches`, in one request.
    async fn remote_tips<const N: usize>(&self, branches: [&str; N]) -> Result<[Option<String>; N], GitError> {
        let sources = branches.map(|branch| format!("refs/heads/{branch}"));
        let mut listing = vec!["ls-remote", "--exit-code", self.remote.url()];
        listing.extend(sources.iter().map(String::as_str));
        let listed = self.git.output(&self.dir, &listing, Some(&self.remote)).await?;
        if listed.status == crate::process::ExitStatus::Code(LS_REMOTE_NO_MATCH) {
            return Ok(sources.map(|_| None));
        }
        if !listed.success() {
            return Err(super::command::failure(&listing, &listed, Some(&self.remote)));
        }
        let stdout = listed.stdout.text();
        Ok(sources.map(|source| porcelain::listed_tip(&stdout, &source).map(str::to_owned)))
    }

    /// Fetches `branch`, which the remote just listed at `tip`, unless its remote-tracking ref is
    /// already there (a fresh clone's branch). Returns the tip.
    async fn fetch_listed(&self, branch: &str, tip: &str) -> Result<String, GitError> {
        let tracking = format!("refs/remotes/{REMOTE_NAME}/{branch}");
        let known = self.resolve(&tracking).await?;
        if known.as_deref() == Some(tip) {
            return Ok(tip.to_owned());
        }
        let shallow = transfer::is_shallow(self.git_dir());
        let depth = match self.depth {
            Some(depth) if shallow && known.is_none() => Some(format!("--depth={depth}")),
            _ => None,
        };
        // Into its remote-tracking ref only; nothing is pushed.
        let tip = self.fetch_ref(&format!("refs/heads/{branch}"), &tracking, depth.as_deref()).await?;
        tip.ok_or_else(|| GitError::NotFound { what: format!("branch `{branch}`") })
    }

    /// The commit a ref points at, if it exists.
    async fn resolve(&self, reference: &str) -> Result<Option<String>, GitError> {
        let spec = format!("{reference}^{{commit}}");
        let output = self.git.output(&self.dir, &["rev-parse", "--verify", "--quiet", &spec], None).await?;
        Ok(output.success().then(|| output.stdout.text().trim().to_owned()))
    }

    /// Checks out `name`: the remote branch of that name when it exists (a re-run continues its
    /// own branch), else a new branch from `from` (the default branch when `None`). Returns the
    /// commit checked out. One request asks the remote for both branches; a branch the clone
    /// already has at the listed tip is not fetched again.
    pub async fn checkout_or_create_branch(&self, name: &str, from: Option<&str>) -> Result<String, GitError> {
        validate_branch(name)?;
        let from = from.unwrap_or(&self.default_branch);
        validate_branch(from)?;
        let start = match self.remote_tips([name, from]).await? {
            [Some(tip), _] => {
                let tip = self.fetch_listed(name, &tip).await?;
                tracing::info!(branch = %name, %tip, "continuing the existing remote branch");
                tip
            }
            [None, Some(tip)] => {
                let tip = self.fetch_listed(from, &tip).await?;
                tracing::info!(branch = %name, %from, %tip, "creating a new branch");
                tip
            }
            [None, None] => return Err(GitError::NotFound { what: format!("branch `{from}`") }),
        };
        self.git.run(&self.dir, &["checkout", "-q", "-B", name, &start], None).await?;
        Ok(start)
    }

    /// The commit `HEAD` points at.
    pub async fn head_sha(&self) -> Result<String, GitError> {
        head_sha(&self.git, &self.dir).await
    }

    /// The branch `HEAD` is on, if any.
    pub async fn current_branch(&self) -> Result<Option<String>, GitError> {
        let output = self.git.output(&self.dir, &["symbolic-ref", "-q", "--short", "HEAD"], None).await?;
        Ok(output.success().then(|| output.stdout.text().trim().to_owned()))
    }

    /// Paths with uncommitted changes, untracked files included (ignored files excluded).
    pub async fn changed_paths(&self) -> Result<Vec<String>, GitError> {
        let args = ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"];
        let output = self.git.run(&self.dir, &args, None).await?;
        Ok(porcelain::status_paths(&output.stdout.bytes))
    }

    /// Whether anything in the work tree differs from `HEAD`.
    pub async fn has_changes(&self) -> Result<bool, GitError> {
        Ok(!self.changed_paths().await?.is_empty())
    }

    /// Stages everything and commits it as the agent, with `message` and the given trailers
    /// (`("Copilot-Stage", "implementation")`, `("Pipeline", url)`). Returns the new commit, or
    /// `None` when there was nothing to commit.
    pub async fn commit_all(&self, message: &str, trailers: &[(&str, &str)]) -> Result<Option<String>, GitError> {
        commit_all(&self.git, &self.dir, message, trailers).await
    }

    /// Pushes the local `branch` to the remote branch of the same name, fast-forward only. A
    /// remote that moved on is [`GitError::NonFastForward`]: nothing is forced, ever, and no
    /// other ref (no tag) goes along.
    pub async fn push(&self, branch: &str) -> Result<String, GitError> {
        validate_branch(branch)?;
        let target = format!("refs/heads/{branch}");
        // No `+`, no `--force`: git refuses anything but a fast-forward on its own. One explicit
        // refspec and `--no-follow-tags`: only this branch is pushed.
        let refspec = format!("{target}:{target}");
        let args = [
            "push",
            "--porcelain",
            "--no-verify",
            "--no-follow-tags",
            "--recurse-submodules=no",
            self.remote.url(),
            refspec.as_str(),
        ];
        let output = self.git.output(&self.dir, &args, Some(&self.remote)).await?;
        match porcelain::push_status(&output.stdout.text(), &target) {
            Some(PushedRef::Accepted) if output.success() => {}
            Some(PushedRef::NeedsForce { reason }) => {
                tracing::warn!(%branch, %reason, "push rejected: the remote branch moved on");
                return Err(GitError::NonFastForward { branch: branch.to_owned() });
            }
            Some(PushedRef::RemoteRejected { reason }) => {
                return Err(GitError::PushRejected { branch: branch.to_owned(), reason });
            }
            _ => return Err(super::command::failure(&args, &output, Some(&self.remote))),
        }
        let head =
            self.resolve(&target).await?.ok_or_else(|| GitError::NotFound { what: format!("branch `{branch}`") })?;
        // Pushing to a URL does not move the remote-tracking ref; keep it true for later diffs
        // and rebases.
        let tracking = format!("refs/remotes/{REMOTE_NAME}/{branch}");
        self.git.run(&self.dir, &["update-ref", &tracking, &head], None).await?;
        tracing::info!(%branch, %head, "pushed");
        Ok(head)
    }

    /// Fetches `branch` and rebases the local commits onto it, once. On a conflict the rebase is
    /// aborted (the local branch is as before, the remote untouched) and
    /// [`GitError::Conflict`] names the conflicting paths. Returns the new `HEAD`.
    pub async fn rebase_onto_remote(&self, branch: &str) -> Result<String, GitError> {
        let Some(tip) = self.fetch(branch).await? else {
            return Err(GitError::NotFound { what: format!("branch `{branch}`") });
        };
        // A rebase of a shallow clone without the merge base would replay the whole cut-off
        // history; with unrelated histories it goes on and fails as git decides.
        if !self.deepen_until(Need::MergeBase("HEAD", &tip)).await? {
            tracing::warn!(%branch, onto = %tip, "no merge base with the remote branch, even with all the history");
        }
        let output = self.git.output(&self.dir, &["rebase", "--quiet", "--no-autostash", &tip], None).await?;
        if !output.success() {
            if !self.rebase_in_progress() {
                return Err(super::command::failure(&["rebase", &tip], &output, None));
            }
            let conflicts = self.git.run(&self.dir, &["diff", "--name-only", "-z", "--diff-filter=U"], None).await?;
            let paths = porcelain::name_only_paths(&conflicts.stdout.bytes);
            self.git.run(&self.dir, &["rebase", "--abort"], None).await?;
            tracing::warn!(%branch, ?paths, "rebase conflicts; aborted");
            return Err(GitError::Conflict { branch: branch.to_owned(), paths });
        }
        let head = self.head_sha().await?;
        tracing::info!(%branch, onto = %tip, %head, "rebased onto the remote branch");
        Ok(head)
    }

    /// Pushes `branch`; if a person pushed meanwhile, rebases once onto their commits and pushes
    /// again. A second rejection or a conflict is returned as is: nobody's commit is lost.
    pub async fn push_rebasing_once(&self, branch: &str) -> Result<PushOutcome, GitError> {
        match self.push(branch).await {
            Ok(head) => Ok(PushOutcome::Pushed { head }),
            Err(GitError::NonFastForward { .. }) => {
                self.rebase_onto_remote(branch).await?;
                let head = self.push(branch).await?;
                Ok(PushOutcome::PushedAfterRebase { head })
            }
            Err(err) => Err(err),
        }
    }

    /// Paths changed between `sha` and `HEAD`.
    pub async fn diff_since(&self, sha: &str) -> Result<Vec<String>, GitError> {
        validate_revision(sha)?;
        let output =
            self.git.run(&self.dir, &["diff", "--name-only", "-z", "--no-renames", sha, "HEAD", "--"], None).await?;
        Ok(porcelain::name_only_paths(&output.stdout.bytes))
    }

    /// The full `git diff` between two commits (default `a/` `b/` prefixes, renames found), as
    /// a review reads it when GitLab left a file's diff out.
    /// Commits a shallow clone cut off are fetched first.
    pub async fn diff_text(&self, from: &str, to: &str) -> Result<String, GitError> {
        validate_revision(from)?;
        validate_revision(to)?;
        for sha in [from, to] {
            self.deepen_until(Need::Commit(sha)).await?;
        }
        let args = ["diff", "--no-color", "--no-ext-diff", "-M", "--src-prefix=a/", "--dst-prefix=b/", from, to, "--"];
        let output = self.git.run(&self.dir, &args, None).await?;
        Ok(output.stdout.text())
    }

    /// `src/lib.rs +2 -1, tests/a.rs +5 -0` for what commit `sha` changed against its first
    /// parent, at most `files` files (then `… N more`); `None` when the parent is not in the
    /// clone.
    pub async fn commit_summary(&self, sha: &str, files: usize) -> Result<Option<String>, GitError> {
        validate_revision(sha)?;
        let parent = format!("{sha}^");
        if !self.git.output(&self.dir, &["cat-file", "-e", &format!("{parent}{{commit}}")], None).await?.success() {
            return Ok(None);
        }
        let output = self.git.run(&self.dir, &["diff", "--numstat", "--no-renames", &parent, sha, "--"], None).await?;
        let text = output.stdout.text();
        let lines: Vec<String> = text
            .lines()
            .filter_map(|line| {
                let mut parts = line.splitn(3, '\t');
                let (added, removed, path) = (parts.next()?, parts.next()?, parts.next()?);
                Some(format!("{path} +{added} -{removed}"))
            })
            .collect();
        let mut summary = lines.iter().take(files).cloned().collect::<Vec<_>>().join(", ");
        if lines.len() > files {
            summary.push_str(&format!(", … {} more", lines.len() - files));
        }
        Ok(Some(summary))
    }

    /// The last `count` commits of `HEAD` (fewer in a shallow clone), newest first: each one's
    /// SHA, author email and whole message.
    pub async fn recent_commits(&self, count: u32) -> Result<Vec<CommitMessage>, GitError> {
        let limit = format!("--max-count={count}");
        let args = ["log", limit.as_str(), "--format=%H%x1f%ae%x1f%B%x1e", "HEAD", "--"];
        let text = self.git.run(&self.dir, &args, None).await?.stdout.text();
        Ok(text
            .split('\u{1e}')
            .filter_map(|entry| {
                let mut parts = entry.trim_start_matches('\n').splitn(3, '\u{1f}');
                let sha = parts.next()?.trim().to_owned();
                let author_email = parts.next()?.to_owned();
                let message = parts.next()?.to_owned();
                (!sha.is_empty()).then_some(CommitMessage { sha, author_email, message })
            })
            .collect())
    }

    /// Makes `HEAD`, the index and the work tree `sha`'s again, untracked files removed: a change
    /// that was rejected before it was pushed is gone.
    pub async fn reset_hard(&self, sha: &str) -> Result<(), GitError> {
        validate_revision(sha)?;
        self.git.run(&self.dir, &["reset", "-q", "--hard", sha], None).await?;
        self.git.run(&self.dir, &["clean", "-q", "-f", "-d"], None).await?;
        Ok(())
    }

    /// Whether the clone has commit `sha` (an earlier head may be gone after a force push). A
    /// shallow clone is first deepened, in bounded steps, to look for it.
    pub async fn has_commit(&self, sha: &str) -> Result<bool, GitError> {
        validate_revision(sha)?;
        self.deepen_until(Need::Commit(sha)).await
    }

    /// Whether the clone is shallow (history below its cut comes on demand).
    pub fn is_shallow(&self) -> bool {
        transfer::is_shallow(self.git_dir())
    }

    /// Fetches `commits` more of the history of the branches the clone follows (nothing for a
    /// clone that is not shallow).
    pub async fn deepen_by(&self, commits: u32) -> Result<(), GitError> {
        if !self.is_shallow() {
            return Ok(());
        }
        transfer::deepen(&self.git, &self.remote, &self.dir, &format!("--deepen={commits}")).await
    }

    async fn deepen_until(&self, need: Need<'_>) -> Result<bool, GitError> {
        transfer::deepen_until(&self.git, &self.remote, &self.dir, self.git_dir(), need).await
    }

    /// Checks out `sha` without a branch (a review reads the exact head it reviews).
    pub async fn checkout_detached(&self, sha: &str) -> Result<(), GitError> {
        validate_revision(sha)?;
        self.git.run(&self.dir, &["checkout", "-q", "--detach", sha], None).await?;
        Ok(())
    }

    fn rebase_in_progress(&self) -> bool {
        let git_dir = self.git_dir();
        git_dir.join("rebase-merge").exists() || git_dir.join("rebase-apply").exists()
    }
}

/// A commit as [`Workspace::recent_commits`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitMessage {
    pub sha: String,
    pub author_email: String,
    pub message: String,
}

/// Stages everything in the work tree at `dir` and commits it as `git`'s identity, with the
/// trailers; `None` when there was nothing to commit. Shared by [`Workspace::commit_all`] and
/// `copilot-runner local`, which works on a checkout without a remote.
pub async fn commit_all(
    git: &GitCommand,
    dir: &Path,
    message: &str,
    trailers: &[(&str, &str)],
) -> Result<Option<String>, GitError> {
    git.run(dir, &["add", "--all"], None).await?;
    let staged = git.output(dir, &["diff", "--cached", "--quiet"], None).await?;
    if staged.success() {
        return Ok(None);
    }
    let trailer_args: Vec<String> = trailers.iter().map(|(key, value)| format!("{key}: {value}")).collect();
    let mut args = vec!["commit", "--quiet", "--no-verify", "--no-gpg-sign", "--cleanup=strip", "-m", message];
    for trailer in &trailer_args {
        args.extend(["--trailer", trailer.as_str()]);
    }
    git.run(dir, &args, None).await?;
    let head = head_sha(git, dir).await?;
    tracing::info!(%head, trailers = trailers.len(), "committed");
    Ok(Some(head))
}

/// The commit `HEAD` of the checkout at `dir` points at.
async fn head_sha(git: &GitCommand, dir: &Path) -> Result<String, GitError> {
    let args = ["rev-parse", "--verify", "HEAD^{commit}"];
    Ok(git.run(dir, &args, None).await?.stdout.text().trim().to_owned())
}

/// Checks out `name` in the checkout at `dir`, creating it from `HEAD` when it does not exist.
pub async fn switch_or_create_branch(git: &GitCommand, dir: &Path, name: &str) -> Result<(), GitError> {
    validate_branch(name)?;
    let exists = git.output(dir, &["rev-parse", "--verify", "--quiet", &format!("refs/heads/{name}")], None).await?;
    let args: &[&str] = if exists.success() { &["checkout", "-q", name] } else { &["checkout", "-q", "-b", name] };
    git.run(dir, args, None).await?;
    Ok(())
}

/// Accepts only an object name in hex, so a "sha" cannot be an option.
fn validate_revision(sha: &str) -> Result<(), GitError> {
    if !sha.is_empty() && sha.len() <= 64 && sha.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(GitError::InvalidBranch { name: sha.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_that_could_force_or_inject_are_refused() {
        for name in ["+main", "-f", "a:b", "a b", "a..b", "x.lock", "", "main~1", "a@{1}"] {
            assert!(validate_branch(name).is_err(), "{name}");
        }
        for name in ["main", "copilot/issue-12", "copilot/issue-12-fix-the-thing", "release/1.2"] {
            assert!(validate_branch(name).is_ok(), "{name}");
        }
        assert!(validate_revision("--output=x").is_err());
        assert!(validate_revision("0123abcd").is_ok());
    }
}
