//! The git workspace the agent works in: clone, branch, commit, push, rebase.
//!
//! The `git` CLI clones, fetches, commits, pushes and rebases, always through one shared
//! command builder (`command`); the clone is shallow and deepens on demand (`transfer`). The
//! token travels only as an HTTP `Authorization` header in the child's environment, scoped to
//! the GitLab origin, never in a URL, an argument, the repository's configuration or a log. The clone's git dir lives beside its work tree and is
//! put back as the clone left it before each of our commands (`isolation`), so nothing the
//! agent wrote steers them. Pushes send the agent's branch alone, fast-forward only; a
//! rejection is a typed error, never a reason to force.

mod auth;
mod command;
pub mod history;
mod isolation;
mod porcelain;
mod transfer;
mod workspace;

pub use auth::Remote;
pub use command::{GitCommand, Identity};
pub use workspace::{CommitMessage, PushOutcome, Workspace, commit_all, switch_or_create_branch};

use crate::exit::{self, Classify};

/// Why a git operation failed, with a variant wherever the caller reacts differently.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// Someone else pushed to the branch; fetch and rebase, or stop and say so.
    #[error("pushing `{branch}` was rejected because the remote branch has commits we do not have (non-fast-forward)")]
    NonFastForward { branch: String },
    /// The server refused the push for another reason (a protected branch, a hook).
    #[error("the remote refused the push to `{branch}`: {reason}")]
    PushRejected { branch: String, reason: String },
    /// Rebasing our commits onto the remote branch conflicted; the rebase was aborted and the
    /// local branch is as it was.
    #[error("rebasing onto the remote `{branch}` conflicts in {}; the rebase was aborted", paths.join(", "))]
    Conflict { branch: String, paths: Vec<String> },
    /// The server refused our credentials, or wanted some and we had none.
    #[error("authentication to `{url}` failed: the token is missing, expired or lacks the repository scope")]
    AuthFailed { url: String },
    /// The repository or branch does not exist (or the token may not see it).
    #[error("{what} was not found on the remote")]
    NotFound { what: String },
    /// The remote URL cannot be used.
    #[error("invalid remote URL: {reason}")]
    InvalidUrl { reason: String },
    /// A branch name we refuse to pass to `git` (it could be read as an option or a forced refspec).
    #[error("invalid branch name `{name}`")]
    InvalidBranch { name: String },
    /// A `git` command failed in a way no other variant covers; `stderr` is redacted.
    #[error("`git {args}` failed ({}): {stderr}", code.map_or_else(|| "killed".to_owned(), |code| format!("exit code {code}")))]
    Command { args: String, code: Option<i32>, stderr: String },
    /// The `git` child could not be run or did not finish in time.
    #[error("could not run `git`")]
    Process(#[from] crate::process::ProcessError),
    /// The workspace's files could not be read or written.
    #[error("{context}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The clone did not finish in time; `git` was stopped and left nothing the job uses.
    #[error("{what} did not finish within {} s; it was stopped", after.as_secs())]
    TimedOut { what: &'static str, after: std::time::Duration },
    /// `git` left the workspace in a state it never should (a clone without a branch).
    #[error("internal error in the git workspace: {reason}")]
    Internal { reason: String },
}

impl Classify for GitError {
    fn exit_code(&self) -> exit::Code {
        match self {
            // A token without access or a malformed URL is configuration, not failed work.
            Self::AuthFailed { .. } | Self::InvalidUrl { .. } => exit::Code::Usage,
            Self::TimedOut { .. } => exit::Code::Unreachable,
            _ => exit::Code::WorkFailed,
        }
    }
}
