//! What the context cache asks git about a checkout: the commit it is at, the commits before it
//! (candidates for a level 2 hit) and which files changed since a cached commit (so only they
//! are analysed again). Every answer is optional: a checkout git cannot describe just means a
//! lower cache level, never a failed job.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::GitCommand;

/// One file that changed between an earlier commit (the one cached facts describe) and the checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Relative to the root. A rename is two changes: the old path (gone) and the new one.
    pub path: PathBuf,
    /// The file's size before the change, `None` when it did not exist (added). Git gives it
    /// cheaply (`git ls-tree -l`), and it is what lets the totals be adjusted without a walk.
    pub previous_bytes: Option<u64>,
}

/// How many ancestors of `HEAD` a lookup considers for level 2.
pub const MAX_ANCESTORS: usize = 32;

/// The commit `HEAD` points at, `None` when git cannot say (no commit yet).
pub async fn head(git: &GitCommand, dir: &Path) -> Option<String> {
    let output = git.output(dir, &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], None).await.ok()?;
    let sha = output.stdout.text().trim().to_owned();
    (output.success() && is_commit_id(&sha)).then_some(sha)
}

/// The branch checked out, `None` on a detached `HEAD`.
pub async fn current_branch(git: &GitCommand, dir: &Path) -> Option<String> {
    let output = git.output(dir, &["symbolic-ref", "-q", "--short", "HEAD"], None).await.ok()?;
    let branch = output.stdout.text().trim().to_owned();
    (output.success() && !branch.is_empty()).then_some(branch)
}

/// The commit branch `name` points at: the remote-tracking branch of a clone, else the local
/// branch; `None` when neither exists.
pub async fn branch_tip(git: &GitCommand, dir: &Path, name: &str) -> Option<String> {
    for reference in [format!("refs/remotes/origin/{name}"), format!("refs/heads/{name}")] {
        let revision = format!("{reference}^{{commit}}");
        let Ok(output) = git.output(dir, &["rev-parse", "--verify", "--quiet", &revision], None).await else {
            continue;
        };
        let sha = output.stdout.text().trim().to_owned();
        if output.success() && is_commit_id(&sha) {
            return Some(sha);
        }
    }
    None
}

/// Whether commit `sha` is in the checkout (a shallow clone may not have it).
pub async fn has_commit(git: &GitCommand, dir: &Path, sha: &str) -> bool {
    if !is_commit_id(sha) {
        return false;
    }
    let object = format!("{sha}^{{commit}}");
    git.output(dir, &["cat-file", "-e", &object], None).await.is_ok_and(|output| output.success())
}

/// The ancestors of `HEAD`, nearest first, at most [`MAX_ANCESTORS`] (empty for a root commit).
pub async fn ancestors(git: &GitCommand, dir: &Path) -> Vec<String> {
    let count = format!("--max-count={MAX_ANCESTORS}");
    let Ok(output) = git.output(dir, &["rev-list", "--first-parent", &count, "HEAD~1", "--"], None).await else {
        return Vec::new();
    };
    if !output.success() {
        return Vec::new();
    }
    output.stdout.text().lines().map(str::trim).filter(|sha| is_commit_id(sha)).map(str::to_owned).collect()
}

/// The files that differ between commit `since` and `HEAD`, each with its size at `since`;
/// `None` when `since` is not a commit of this checkout (an entry from another history).
pub async fn changes_since(git: &GitCommand, dir: &Path, since: &str) -> Option<Vec<Change>> {
    if !is_commit_id(since) {
        return None;
    }
    let diff = git.output(dir, &["diff", "--name-only", "-z", "--no-renames", since, "HEAD", "--"], None).await.ok()?;
    if !diff.success() {
        return None;
    }
    let paths: Vec<String> = split_nul(&diff.stdout.bytes).collect();
    if paths.is_empty() {
        return Some(Vec::new());
    }
    let tree = git.output(dir, &["ls-tree", "-r", "-l", "-z", "--full-tree", since], None).await.ok()?;
    if !tree.success() {
        return None;
    }
    let sizes = tree_sizes(&tree.stdout.bytes);
    Some(
        paths
            .into_iter()
            .map(|path| Change { previous_bytes: sizes.get(path.as_str()).copied(), path: PathBuf::from(path) })
            .collect(),
    )
}

/// Whether the work tree has no uncommitted change: only then do the facts describe `HEAD`
/// and may be cached under its commit.
pub async fn is_clean(git: &GitCommand, dir: &Path) -> bool {
    let args = ["status", "--porcelain=v1", "-z", "--untracked-files=normal"];
    git.output(dir, &args, None).await.is_ok_and(|output| output.success() && output.stdout.bytes.is_empty())
}

/// A full hexadecimal object name (SHA-1 or SHA-256): anything else read from the store is
/// never handed to git, which could take it for an option or a range.
pub fn is_commit_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn split_nul(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    bytes
        .split(|byte| *byte == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
}

/// `git ls-tree -l -z` lines (`<mode> <type> <object> <size>\t<path>`) as sizes by path; trees
/// and submodules (size `-`) are left out.
fn tree_sizes(bytes: &[u8]) -> HashMap<String, u64> {
    split_nul(bytes)
        .filter_map(|line| {
            let (meta, path) = line.split_once('\t')?;
            let size = meta.split_whitespace().last()?.parse().ok()?;
            Some((path.to_owned(), size))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_object_names_reach_git() {
        assert!(is_commit_id(&"a".repeat(40)));
        assert!(is_commit_id(&"0".repeat(64)));
        assert!(!is_commit_id("--output=/tmp/x"));
        assert!(!is_commit_id("HEAD"));
        assert!(!is_commit_id(&"g".repeat(40)));
    }

    #[test]
    fn tree_listing_gives_blob_sizes_by_path() {
        let listing = b"100644 blob 3b18e512dba79e4c8300dd08aeb37f8e728b8dad      12\tREADME.md\0\
160000 commit 3b18e512dba79e4c8300dd08aeb37f8e728b8dad       -\tvendor/lib\0\
100644 blob 3b18e512dba79e4c8300dd08aeb37f8e728b8dad    1024\tsrc/a b.rs\0";
        let sizes = tree_sizes(listing);
        assert_eq!(sizes.get("README.md"), Some(&12));
        assert_eq!(sizes.get("src/a b.rs"), Some(&1024));
        assert!(!sizes.contains_key("vendor/lib"));
    }
}
