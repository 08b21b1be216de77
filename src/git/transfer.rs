//! Clone and fetch with gix, in-process, over smart HTTP.
//!
//! gix is blocking, so every call here runs on tokio's blocking pool. The token reaches gix
//! only as an in-memory `http.extraHeader` override (gix marks such values as coming from the
//! API and never writes them to `.git/config`). Repositories are opened isolated: no system or
//! user configuration, no `GIT_*` variables, no credential helpers, no prompts. A credentials
//! callback that refuses makes an authentication challenge fail at once and tells us, without
//! reading any error text, that the server wanted credentials we did not have or it refused.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gix::bstr::BString;
use gix::remote::Direction;
use gix::remote::fetch::Shallow;
use secrecy::ExposeSecret;

use super::GitError;
use super::auth::Remote;

/// The name the clone gives the remote, as `git clone` does.
pub(crate) const REMOTE_NAME: &str = "origin";

/// What a finished clone tells its caller.
#[derive(Debug)]
pub(crate) struct Cloned {
    /// The branch checked out (the remote's default branch unless one was asked for).
    pub(crate) branch: String,
    /// The commit checked out.
    pub(crate) head: String,
}

/// Clones `remote` into `dest` with a checkout of `branch` (or the remote's default branch),
/// `depth` commits deep when given.
pub(crate) async fn clone(
    remote: Remote,
    dest: PathBuf,
    depth: Option<NonZeroU32>,
    branch: Option<String>,
) -> Result<Cloned, GitError> {
    run_blocking(move || clone_blocking(&remote, &dest, depth, branch.as_deref())).await
}

/// Fetches `refs/heads/<branch>` into `refs/remotes/origin/<branch>`. Returns the fetched tip,
/// or `None` when the remote has no such branch. A branch we have never fetched comes `depth`
/// commits deep in a shallow repository; a known one is fetched without moving the shallow
/// boundary, so that its history still meets ours for a rebase.
pub(crate) async fn fetch_branch(
    remote: Remote,
    dir: PathBuf,
    branch: String,
    depth: Option<NonZeroU32>,
) -> Result<Option<String>, GitError> {
    run_blocking(move || fetch_blocking(&remote, &dir, &branch, depth)).await
}

/// The commit `HEAD` points at.
pub(crate) async fn head_sha(dir: PathBuf) -> Result<String, GitError> {
    run_blocking(move || {
        let repo = open(&dir, &[])?;
        let id = repo.head_id().map_err(|err| gix_error("while reading `HEAD`", err))?;
        Ok(id.detach().to_string())
    })
    .await
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, GitError> {
    // gix builds its own (blocking) reqwest client; with our lean rustls build it needs the
    // process-wide crypto provider. Installing it is idempotent: a second call is refused.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    tokio::task::spawn_blocking(work).await.map_err(|err| GitError::Internal { reason: err.to_string() })?
}

fn clone_blocking(
    remote: &Remote,
    dest: &Path,
    depth: Option<NonZeroU32>,
    branch: Option<&str>,
) -> Result<Cloned, GitError> {
    let interrupt = AtomicBool::new(false);
    let challenged = Arc::new(AtomicBool::new(false));
    let mut prepare = gix::clone::PrepareFetch::new(
        remote.url(),
        dest,
        gix::create::Kind::WithWorktree,
        gix::create::Options::default(),
        gix::open::Options::isolated(),
    )
    .map_err(|err| gix_error("while preparing the clone", err))?
    .with_in_memory_config_overrides(header_overrides(remote))
    .with_shallow(depth.map_or(Shallow::NoChange, Shallow::DepthAtRemote))
    .configure_connection({
        let challenged = Arc::clone(&challenged);
        move |connection| {
            let challenged = Arc::clone(&challenged);
            connection.set_credentials(move |_action| {
                challenged.store(true, Ordering::SeqCst);
                Err(gix::error::message!("credentials were asked for; only the configured token is offered").into())
            });
            Ok(())
        }
    });
    if let Some(branch) = branch {
        prepare =
            prepare.with_ref_name(Some(branch)).map_err(|err| gix_error("while naming the branch to clone", err))?;
    }
    let result = prepare.fetch_then_checkout(gix::progress::Discard, &interrupt);
    let (mut checkout, _) = result.map_err(|err| {
        let err = transfer_error(err, &challenged, remote, "while cloning");
        match (err, branch) {
            // gix classifies a requested branch the remote lacks as "not found"; nothing else
            // in a clone that got past the handshake is.
            (GitError::Gix { source, .. }, Some(branch)) if source.classify().is_not_found() => {
                GitError::NotFound { what: format!("branch `{branch}`") }
            }
            (err, _) => err,
        }
    })?;
    let (repo, _) = checkout
        .main_worktree(gix::progress::Discard, &interrupt)
        .map_err(|err| gix_error("while checking out the clone", err))?;
    let head =
        repo.head_id().map_err(|err| gix_error("while reading `HEAD` after the clone", err))?.detach().to_string();
    let branch = repo
        .head_name()
        .map_err(|err| gix_error("while reading the branch after the clone", err))?
        .map(|name| name.shorten().to_string())
        .ok_or_else(|| GitError::Internal { reason: "the clone left a detached `HEAD`".to_owned() })?;
    Ok(Cloned { branch, head })
}

fn fetch_blocking(
    remote: &Remote,
    dir: &Path,
    branch: &str,
    depth: Option<NonZeroU32>,
) -> Result<Option<String>, GitError> {
    let overrides = header_overrides(remote);
    let mut repo = open(dir, &overrides)?;
    // Reflog entries of the remote-tracking ref need a committer; the repository is opened
    // isolated, so no configured one is visible.
    repo.committer_or_set_generic_fallback().map_err(|err| gix_error("while setting the reflog identity", err))?;
    let tracking = format!("refs/remotes/{REMOTE_NAME}/{branch}");
    let known =
        repo.try_find_reference(tracking.as_str()).map_err(|err| gix_error("while reading a reference", err))?;
    let shallow = match depth {
        Some(depth)
            if known.is_none()
                && repo.is_shallow().map_err(|err| gix_error("while reading `.git/shallow`", err))? =>
        {
            Shallow::DepthAtRemote(depth)
        }
        _ => Shallow::NoChange,
    };
    // Fetching a single branch into its remote-tracking ref. The `+` lets that ref follow the
    // remote wherever it went (as `git fetch` does); it never touches a local branch, and
    // nothing here pushes.
    let spec = format!("+refs/heads/{branch}:{tracking}");
    let remote_handle = repo
        .remote_at(remote.url())
        .map_err(|err| gix_error("while configuring the remote", err))?
        .with_refspecs(Some(spec.as_str()), Direction::Fetch)
        .map_err(|err| gix_error("while configuring the refspec", err))?
        .with_fetch_tags(gix::remote::fetch::Tags::None);
    let challenged = AtomicBool::new(false);
    let interrupt = AtomicBool::new(false);
    let connection = remote_handle
        .connect(Direction::Fetch)
        .map_err(|err| transfer_error(err, &challenged, remote, "while connecting for a fetch"))?
        .with_credentials(|_action| {
            challenged.store(true, Ordering::SeqCst);
            Err(gix::error::message!("credentials were asked for; only the configured token is offered").into())
        });
    let prepared = connection
        .prepare_fetch(gix::progress::Discard, gix::remote::ref_map::Options::default())
        .map_err(|err| transfer_error(err, &challenged, remote, "while listing the remote's branches"))?;
    let Some(tip) =
        prepared.ref_map().mappings.first().and_then(|mapping| mapping.remote.as_id()).map(ToOwned::to_owned)
    else {
        return Ok(None);
    };
    prepared
        .with_shallow(shallow)
        .receive(gix::progress::Discard, &interrupt)
        .map_err(|err| transfer_error(err, &challenged, remote, "while fetching"))?;
    Ok(Some(tip.to_string()))
}

fn open(dir: &Path, overrides: &[BString]) -> Result<gix::Repository, GitError> {
    let options = gix::open::Options::isolated().config_overrides(overrides.iter().cloned());
    gix::open_opts(dir, options).map_err(|err| gix_error("while opening the repository", err))
}

fn header_overrides(remote: &Remote) -> Vec<BString> {
    remote
        .authorization_header()
        .map(|header| format!("http.extraHeader={}", header.expose_secret()).into())
        .into_iter()
        .collect()
}

fn transfer_error(
    err: impl Into<gix::Error>,
    challenged: &AtomicBool,
    remote: &Remote,
    context: &'static str,
) -> GitError {
    let err = err.into();
    // A 401 reaches our refusing credentials callback; a 403 or 404 is read from the HTTP
    // client's own error, by type.
    let status =
        err.downcast_any_ref::<reqwest::Error>().and_then(reqwest::Error::status).map(|status| status.as_u16());
    if challenged.load(Ordering::SeqCst) || matches!(status, Some(401 | 403)) || err.classify().is_permission_denied() {
        return GitError::AuthFailed { url: remote.url().to_owned() };
    }
    if status == Some(404) {
        return GitError::NotFound { what: format!("repository `{}`", remote.url()) };
    }
    gix_error(context, err)
}

fn gix_error(context: &'static str, err: impl Into<gix::Error>) -> GitError {
    GitError::Gix { context, source: Box::new(err.into()) }
}
