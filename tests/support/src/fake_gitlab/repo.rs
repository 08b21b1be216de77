//! A project's bare repository, read and written with the real `git` CLI: creating it with an
//! initial commit, server-side commits (a person pushing meanwhile), branch heads, merge bases,
//! diffs and commit metadata for the REST responses.
//!
//! Every command runs with a scrubbed git environment (no system or global config, `LC_ALL=C`)
//! so the developer's own git setup cannot change what the fake serves.
#![expect(clippy::disallowed_methods, reason = "the fake GitLab drives the real `git` CLI on its own repositories")]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, bail};
use serde::Serialize;
use tokio::io::AsyncWriteExt as _;

use super::diff::{DiffFile, parse_git_diff};

/// Git environment variables that would redirect or reconfigure a child `git`.
const INHERITED_GIT_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
];

/// A `git` command with the fake's scrubbed environment.
pub fn git_command(home: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("git");
    for var in INHERITED_GIT_VARS {
        command.env_remove(var);
    }
    command
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", home)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Commit metadata in the shape of GitLab's `commit/basic` entity.
#[derive(Debug, Clone, Serialize)]
pub struct CommitInfo {
    pub id: String,
    pub short_id: String,
    pub title: String,
    pub message: String,
    pub parent_ids: Vec<String>,
    pub author_name: String,
    pub author_email: String,
    pub authored_date: String,
    pub committer_name: String,
    pub committer_email: String,
    pub committed_date: String,
}

/// One file to write in a server-side commit; `content: None` deletes it. A symbolic link
/// (`symlink`) holds its target as content, as git stores it (mode `120000`).
#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: String,
    pub content: Option<String>,
    pub symlink: bool,
}

/// A bare repository on disk.
#[derive(Debug, Clone)]
pub struct Repo {
    dir: PathBuf,
    home: PathBuf,
}

impl Repo {
    pub fn new(dir: PathBuf, home: PathBuf) -> Self {
        Self { dir, home }
    }

    async fn run(&self, args: &[&str], envs: &[(&str, &str)], stdin: Option<&[u8]>) -> anyhow::Result<String> {
        let mut command = git_command(&self.home);
        command.arg("--git-dir").arg(&self.dir).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (key, value) in envs {
            command.env(key, value);
        }
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command.spawn().with_context(|| format!("while spawning `git {}`", args.join(" ")))?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(data).await.context("while writing to git's stdin")?;
            drop(pipe);
        }
        let output = child.wait_with_output().await.context("while waiting for git")?;
        if !output.status.success() {
            bail!("`git {}` failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Creates the bare repository with `files` committed on `branch`.
    pub async fn create(
        dir: PathBuf,
        home: PathBuf,
        branch: &str,
        files: &[FileChange],
        author: (&str, &str),
    ) -> anyhow::Result<Self> {
        let repo = Self::init(dir, home, branch).await?;
        repo.commit(branch, None, files, "Initial commit", author).await?;
        Ok(repo)
    }

    /// Creates an empty bare repository whose `HEAD` names `branch`, as GitLab creates a
    /// project's repository without an initial commit.
    pub async fn init(dir: PathBuf, home: PathBuf, branch: &str) -> anyhow::Result<Self> {
        let parent = dir.parent().context("repository dir has no parent")?;
        tokio::fs::create_dir_all(parent).await.context("while creating the repository folder")?;
        let status = git_command(&home)
            .args(["init", "--quiet", "--bare", "--initial-branch", branch])
            .arg(&dir)
            .status()
            .await
            .context("while running `git init`")?;
        if !status.success() {
            bail!("`git init --bare` failed for {}", dir.display());
        }
        let repo = Self::new(dir, home);
        // Allow pushes over HTTP for authenticated users (git http-backend checks this).
        repo.run(&["config", "http.receivepack", "true"], &[], None).await?;
        Ok(repo)
    }

    /// Commits `files` on top of `parent` (or the branch head when `None`, or as a root commit
    /// when the branch does not exist) and moves `branch` there. Returns the new commit's SHA.
    pub async fn commit(
        &self,
        branch: &str,
        parent: Option<&str>,
        files: &[FileChange],
        message: &str,
        author: (&str, &str),
    ) -> anyhow::Result<String> {
        let reference = format!("refs/heads/{branch}");
        let current = self.rev_parse(&reference).await;
        let parent = parent.map(str::to_owned).or_else(|| current.clone());
        let index = tempfile::NamedTempFile::new_in(&self.home).context("while creating a temporary index")?;
        let index_path = index.path().to_string_lossy().into_owned();
        let envs = [
            ("GIT_INDEX_FILE", index_path.as_str()),
            ("GIT_AUTHOR_NAME", author.0),
            ("GIT_AUTHOR_EMAIL", author.1),
            ("GIT_COMMITTER_NAME", author.0),
            ("GIT_COMMITTER_EMAIL", author.1),
        ];
        match &parent {
            Some(sha) => self.run(&["read-tree", sha], &envs, None).await?,
            None => self.run(&["read-tree", "--empty"], &envs, None).await?,
        };
        for change in files {
            match &change.content {
                Some(content) => {
                    let blob = self.run(&["hash-object", "-w", "--stdin"], &envs, Some(content.as_bytes())).await?;
                    let mode = if change.symlink { "120000" } else { "100644" };
                    let info = format!("{mode},{},{}", blob.trim(), change.path);
                    self.run(&["update-index", "--add", "--cacheinfo", &info], &envs, None).await?;
                }
                None => {
                    self.run(&["update-index", "--force-remove", &change.path], &envs, None).await?;
                }
            }
        }
        let tree = self.run(&["write-tree"], &envs, None).await?;
        let mut args = vec!["commit-tree", tree.trim(), "-m", message];
        if let Some(sha) = &parent {
            args.extend(["-p", sha.as_str()]);
        }
        let commit = self.run(&args, &envs, None).await?.trim().to_owned();
        let old = current.unwrap_or_else(|| "0".repeat(40));
        self.run(&["update-ref", &reference, &commit, &old], &envs, None).await?;
        Ok(commit)
    }

    /// The SHA a revision resolves to, if it does.
    pub async fn rev_parse(&self, rev: &str) -> Option<String> {
        let spec = format!("{rev}^{{commit}}");
        self.run(&["rev-parse", "--verify", "--quiet", &spec], &[], None).await.ok().map(|s| s.trim().to_owned())
    }

    /// Copies `source_ref` of the repository `other` (and the objects it needs) to `local_ref`.
    pub async fn fetch_ref(&self, other: &Repo, source_ref: &str, local_ref: &str) -> anyhow::Result<()> {
        let other_dir = other.dir.display().to_string();
        self.run(&["fetch", "--quiet", &other_dir, &format!("+{source_ref}:{local_ref}")], &[], None).await.map(|_| ())
    }

    /// Every branch with its head SHA.
    pub async fn branches(&self) -> anyhow::Result<Vec<(String, String)>> {
        let out =
            self.run(&["for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads"], &[], None).await?;
        Ok(out
            .lines()
            .filter_map(|line| line.rsplit_once(' ').map(|(name, sha)| (name.to_owned(), sha.to_owned())))
            .collect())
    }

    /// Every ref name.
    pub async fn ref_names(&self) -> anyhow::Result<Vec<String>> {
        let out = self.run(&["for-each-ref", "--format=%(refname)"], &[], None).await?;
        Ok(out.lines().map(str::to_owned).collect())
    }

    /// Creates `branch` at `sha`; fails when it exists.
    pub async fn create_branch(&self, branch: &str, sha: &str) -> anyhow::Result<()> {
        let reference = format!("refs/heads/{branch}");
        self.run(&["update-ref", &reference, sha, &"0".repeat(40)], &[], None).await.map(|_| ())
    }

    pub async fn delete_branch(&self, branch: &str) -> anyhow::Result<()> {
        let reference = format!("refs/heads/{branch}");
        self.run(&["update-ref", "-d", &reference], &[], None).await.map(|_| ())
    }

    /// Merges `source` into `target` without a work tree (`git merge-tree --write-tree`),
    /// commits the result with the parents `[target, source]` and points `reference` at it, as
    /// GitLab prepares a merge request's merge ref. `None` when the two conflict.
    pub async fn merge_commit(
        &self,
        target: &str,
        source: &str,
        reference: &str,
        message: &str,
    ) -> anyhow::Result<Option<String>> {
        // Exit status 1 with conflicts: no merge commit.
        let Ok(out) = self.run(&["merge-tree", "--write-tree", target, source], &[], None).await else {
            return Ok(None);
        };
        let tree = out.lines().next().context("`git merge-tree` printed no tree")?.trim().to_owned();
        let envs = [
            ("GIT_AUTHOR_NAME", "GitLab"),
            ("GIT_AUTHOR_EMAIL", "gitlab@example.com"),
            ("GIT_COMMITTER_NAME", "GitLab"),
            ("GIT_COMMITTER_EMAIL", "gitlab@example.com"),
        ];
        let args = ["commit-tree", tree.as_str(), "-p", target, "-p", source, "-m", message];
        let commit = self.run(&args, &envs, None).await?.trim().to_owned();
        self.run(&["update-ref", reference, &commit], &[], None).await?;
        Ok(Some(commit))
    }

    pub async fn merge_base(&self, a: &str, b: &str) -> Option<String> {
        self.run(&["merge-base", a, b], &[], None).await.ok().map(|s| s.trim().to_owned())
    }

    /// Commits reachable from `head` but not from `base`, newest first.
    pub async fn rev_list(&self, base: &str, head: &str) -> anyhow::Result<Vec<String>> {
        let range = format!("{base}..{head}");
        let out = self.run(&["rev-list", &range], &[], None).await?;
        Ok(out.lines().map(str::to_owned).collect())
    }

    /// Whether `ancestor` is reachable from `descendant`.
    pub async fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        self.run(&["merge-base", "--is-ancestor", ancestor, descendant], &[], None).await.is_ok()
    }

    /// The changed files between two commits, as GitLab lists an MR version's diffs.
    pub async fn diff(&self, base: &str, head: &str) -> anyhow::Result<Vec<DiffFile>> {
        let out = self
            .run(
                &[
                    "-c",
                    "core.quotePath=false",
                    "diff",
                    "--no-color",
                    "--no-ext-diff",
                    "--full-index",
                    "-M",
                    base,
                    head,
                ],
                &[],
                None,
            )
            .await?;
        Ok(parse_git_diff(&out))
    }

    /// Lines added and deleted by commit `sha` against its first parent (against nothing for a
    /// root commit), as GitLab counts a commit's `stats`.
    pub async fn stats(&self, sha: &str) -> anyhow::Result<(u64, u64)> {
        let out = self
            .run(
                &["diff-tree", "--numstat", "-r", "--root", "--diff-merges=first-parent", "--no-commit-id", sha],
                &[],
                None,
            )
            .await?;
        let mut totals = (0, 0);
        for line in out.lines() {
            let mut counts = line.split('\t').map(|count| count.parse::<u64>().unwrap_or(0));
            totals.0 += counts.next().unwrap_or(0);
            totals.1 += counts.next().unwrap_or(0);
        }
        Ok(totals)
    }

    /// How many lines a file has at a revision; `None` when it does not exist there.
    pub async fn line_count(&self, rev: &str, path: &str) -> Option<u64> {
        let spec = format!("{rev}:{path}");
        let content = self.run(&["cat-file", "blob", &spec], &[], None).await.ok()?;
        Some(content.lines().count() as u64)
    }

    /// A file's content at a revision.
    pub async fn read_file(&self, rev: &str, path: &str) -> Option<String> {
        let spec = format!("{rev}:{path}");
        self.run(&["cat-file", "blob", &spec], &[], None).await.ok()
    }

    pub async fn commit_info(&self, sha: &str) -> anyhow::Result<CommitInfo> {
        let format = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B";
        let out = self.run(&["show", "-s", &format!("--format={format}"), sha], &[], None).await?;
        let fields: Vec<&str> = out.splitn(9, '\0').collect();
        let [id, parents, an, ae, ad, cn, ce, cd, message] = fields.as_slice() else {
            bail!("unexpected `git show` output for {sha}");
        };
        let message = message.trim_end_matches('\n').to_owned();
        Ok(CommitInfo {
            id: (*id).to_owned(),
            short_id: id.chars().take(8).collect(),
            title: message.lines().next().unwrap_or_default().to_owned(),
            message: format!("{message}\n"),
            parent_ids: parents.split_whitespace().map(str::to_owned).collect(),
            author_name: (*an).to_owned(),
            author_email: (*ae).to_owned(),
            authored_date: (*ad).to_owned(),
            committer_name: (*cn).to_owned(),
            committer_email: (*ce).to_owned(),
            committed_date: (*cd).to_owned(),
        })
    }

    /// Whether the repository holds this object (to prove a refused push stored nothing).
    pub async fn has_object(&self, sha: &str) -> bool {
        self.run(&["cat-file", "-e", sha], &[], None).await.is_ok()
    }

    /// Every object in the repository, loose or packed.
    pub async fn object_count(&self) -> anyhow::Result<u64> {
        let out = self.run(&["count-objects", "-v"], &[], None).await?;
        let field = |name: &str| -> u64 {
            out.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
        };
        Ok(field("count:") + field("in-pack:"))
    }
}
