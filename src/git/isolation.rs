//! The git dir of a workspace, kept apart from the work tree and put back as the clone left it
//! before every `git` command the binary runs.
//!
//! The agent edits the work tree between our git operations, and whatever it may have written
//! must not steer the commits, fetches, rebases and pushes that follow, which carry the token.
//! So:
//! - the git dir is a sibling of the work tree (`project-1/` and `project-1.git/`), and the
//!   work tree's `.git` is only a gitfile for the agent's own tools. Our commands name the git
//!   dir and the work tree in `GIT_DIR`/`GIT_WORK_TREE` and never read the gitfile, which the
//!   agent can point anywhere. The sandbox can then let the agent write the tree and not the
//!   git dir;
//! - the repository's configuration is the one the clone wrote, kept in memory: before each of
//!   our commands a changed `config` is replaced by it, so no `insteadOf`, proxy, `sslVerify`,
//!   `followTags`, include, hook path, fsmonitor, credential helper or filter, diff or merge
//!   driver written there (by the agent, when no sandbox stops it) ever applies;
//! - what else in a git dir can run a program or reroute a transfer and that a clone never
//!   writes is removed: hooks, `config.worktree`, `commondir`, `info/attributes`, object
//!   alternates, grafts, legacy `remotes/` and `branches/` files, submodule repositories, and
//!   the private `HOME` of our `git` children.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt as _;

use super::GitError;

/// Where the private `HOME` of our `git` children lives: in the git dir, out of the work tree.
const PRIVATE_HOME: &str = "copilot-runner-home";

/// Files of a git dir that a clone never writes and that change what git runs or where it
/// connects.
const FOREIGN_FILES: &[&str] = &[
    "config.worktree",
    "commondir",
    "info/attributes",
    "info/grafts",
    "objects/info/alternates",
    "objects/info/http-alternates",
];

/// Folders of a git dir that a clone never needs and that hold programs or remote definitions.
const FOREIGN_DIRS: &[&str] = &["hooks", "modules", "remotes", "branches", PRIVATE_HOME];

/// A work tree, its separate git dir, and the configuration the clone wrote there.
#[derive(Debug)]
pub(crate) struct GitDir {
    work_tree: PathBuf,
    path: PathBuf,
    config: Vec<u8>,
}

impl GitDir {
    /// Where the git dir of the work tree `work_tree` lives: `<work_tree>.git` beside it.
    pub(crate) fn beside(work_tree: &Path) -> Result<PathBuf, GitError> {
        let absolute = std::path::absolute(work_tree)
            .map_err(|source| GitError::Io { context: "while locating the work tree", source })?;
        let name = absolute.file_name().ok_or_else(|| GitError::Io {
            context: "while naming the git dir",
            source: std::io::Error::new(ErrorKind::InvalidInput, "the work tree has no folder name"),
        })?;
        let mut name = name.to_owned();
        name.push(".git");
        Ok(absolute.with_file_name(name))
    }

    /// Takes the git dir of a clone made in `work_tree`: already [`GitDir::beside`] it (a clone
    /// with `--separate-git-dir`), or a `.git` folder moved there and replaced by a gitfile.
    /// Drops the sample hooks and remembers the configuration.
    pub(crate) async fn separate(work_tree: &Path) -> Result<Self, GitError> {
        let work_tree = std::path::absolute(work_tree)
            .map_err(|source| GitError::Io { context: "while locating the work tree", source })?;
        let path = Self::beside(&work_tree)?;
        let inside = work_tree.join(".git");
        if tokio::fs::symlink_metadata(&inside).await.is_ok_and(|kind| kind.is_dir()) {
            tokio::fs::rename(&inside, &path)
                .await
                .map_err(|source| GitError::Io { context: "while moving the git dir out of the work tree", source })?;
        }
        let config = tokio::fs::read(path.join("config"))
            .await
            .map_err(|source| GitError::Io { context: "while reading the clone's configuration", source })?;
        let git_dir = Self { work_tree, path, config };
        git_dir.restore().await?;
        Ok(git_dir)
    }

    /// The git dir.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The work tree.
    pub(crate) fn work_tree(&self) -> &Path {
        &self.work_tree
    }

    /// The `HOME` of our `git` children: a path in the git dir that [`GitDir::restore`] keeps
    /// missing, so no file of a person's or the agent's making is read from it.
    pub(crate) fn private_home(&self) -> PathBuf {
        self.path.join(PRIVATE_HOME)
    }

    /// Puts the git dir back as the clone left it, as far as anything could steer git: the
    /// clone's configuration, none of the foreign files and folders, and the gitfile of the work
    /// tree pointing here. Refs, objects and the index stay: they are the work.
    pub(crate) async fn restore(&self) -> Result<(), GitError> {
        let kind = tokio::fs::symlink_metadata(&self.path)
            .await
            .map_err(|source| GitError::Io { context: "while checking the git dir", source })?;
        if !kind.is_dir() {
            return Err(GitError::Io {
                context: "while checking the git dir",
                source: std::io::Error::new(ErrorKind::InvalidData, "the git dir was replaced by something else"),
            });
        }
        if replace_unless_equal(&self.path.join("config"), &self.config).await? {
            tracing::warn!(git_dir = %self.path.display(), "the repository's configuration was changed; restored the clone's");
        }
        for file in FOREIGN_FILES {
            if remove(&self.path.join(file)).await? {
                tracing::warn!(git_dir = %self.path.display(), %file, "removed a file the clone did not write");
            }
        }
        for dir in FOREIGN_DIRS {
            remove(&self.path.join(dir)).await?;
        }
        let gitfile = format!("gitdir: {}\n", self.path.display());
        replace_unless_equal(&self.work_tree.join(".git"), gitfile.as_bytes()).await?;
        Ok(())
    }
}

/// Makes `path` a regular file holding `content`, unless it already is. A symlink or folder in
/// its place is removed, never written through. Returns whether anything changed.
async fn replace_unless_equal(path: &Path, content: &[u8]) -> Result<bool, GitError> {
    let io = |source| GitError::Io { context: "while restoring the git dir", source };
    match tokio::fs::symlink_metadata(path).await {
        Ok(kind) if kind.is_file() && tokio::fs::read(path).await.map_err(io)? == content => return Ok(false),
        Ok(_) => {
            remove(path).await?;
        }
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(error) => return Err(io(error)),
    }
    let mut options = tokio::fs::OpenOptions::new();
    let mut file = options.write(true).create_new(true).open(path).await.map_err(io)?;
    file.write_all(content).await.map_err(io)?;
    // tokio finishes a write in the background unless flushed: git must read it complete.
    file.flush().await.map_err(io)?;
    Ok(true)
}

/// Removes whatever is at `path` (file, symlink or folder); returns whether there was anything.
async fn remove(path: &Path) -> Result<bool, GitError> {
    let io = |source| GitError::Io { context: "while restoring the git dir", source };
    let removed = match tokio::fs::symlink_metadata(path).await {
        Ok(kind) if kind.is_dir() => tokio::fs::remove_dir_all(path).await,
        Ok(_) => tokio::fs::remove_file(path).await,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(io(error)),
    };
    removed.map(|()| true).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_git_dir_is_a_sibling_named_after_the_work_tree() {
        assert_eq!(GitDir::beside(Path::new("/work/project-7")).unwrap(), Path::new("/work/project-7.git"));
        assert_eq!(GitDir::beside(Path::new("/work/project-7/")).unwrap(), Path::new("/work/project-7.git"));
    }

    #[tokio::test]
    async fn restoring_undoes_a_poisoned_config_hooks_alternates_and_a_redirected_gitfile() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("project-1");
        std::fs::create_dir_all(tree.join(".git/hooks")).unwrap();
        std::fs::create_dir_all(tree.join(".git/objects/info")).unwrap();
        std::fs::write(tree.join(".git/config"), "[core]\n\tbare = false\n").unwrap();
        std::fs::write(tree.join(".git/hooks/pre-push.sample"), "#!/bin/sh\n").unwrap();
        let git_dir = GitDir::separate(&tree).await.unwrap();
        assert_eq!(git_dir.path(), dir.path().join("project-1.git"));
        assert!(!git_dir.path().join("hooks").exists());
        let gitfile = std::fs::read_to_string(tree.join(".git")).unwrap();
        assert_eq!(gitfile, format!("gitdir: {}\n", git_dir.path().display()));

        let poisoned =
            "[core]\n\tbare = false\n\thooksPath = /tmp/evil\n[url \"http://evil/\"]\n\tinsteadOf = http://\n";
        std::fs::write(git_dir.path().join("config"), poisoned).unwrap();
        std::fs::create_dir_all(git_dir.path().join("hooks")).unwrap();
        std::fs::write(git_dir.path().join("hooks/pre-push"), "#!/bin/sh\n").unwrap();
        std::fs::write(git_dir.path().join("objects/info/alternates"), "/tmp/evil/objects\n").unwrap();
        std::fs::write(git_dir.path().join("config.worktree"), "[core]\n\tfsmonitor = evil\n").unwrap();
        std::fs::remove_file(tree.join(".git")).unwrap();
        std::fs::write(tree.join(".git"), "gitdir: /tmp/evil.git\n").unwrap();
        assert_ne!(std::fs::read(git_dir.path().join("config")).unwrap(), git_dir.config);

        git_dir.restore().await.unwrap();
        assert_eq!(std::fs::read_to_string(git_dir.path().join("config")).unwrap(), "[core]\n\tbare = false\n");
        for gone in ["hooks", "objects/info/alternates", "config.worktree"] {
            assert!(!git_dir.path().join(gone).exists(), "{gone}");
        }
        assert_eq!(std::fs::read_to_string(tree.join(".git")).unwrap(), gitfile);
    }

    #[tokio::test]
    async fn a_symlinked_config_is_replaced_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("project-2");
        std::fs::create_dir_all(tree.join(".git")).unwrap();
        std::fs::write(tree.join(".git/config"), "[core]\n").unwrap();
        let git_dir = GitDir::separate(&tree).await.unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me\n").unwrap();
        std::fs::remove_file(git_dir.path().join("config")).unwrap();
        std::os::unix::fs::symlink(&victim, git_dir.path().join("config")).unwrap();

        git_dir.restore().await.unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
        assert!(std::fs::symlink_metadata(git_dir.path().join("config")).unwrap().is_file());
    }
}
