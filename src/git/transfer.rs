//! The clone, with gix, in-process, over smart HTTP.
//!
//! gix is blocking, so the clone runs on tokio's blocking pool. The token reaches gix only as an
//! in-memory `http.extraHeader` override (gix marks such values as coming from the API and never
//! writes them to `.git/config`). The clone starts isolated: no system or user configuration,
//! no `GIT_*` variables, no credential helpers, no prompts, and no repository configuration yet.
//! A credentials callback that refuses makes an authentication challenge fail at once and tells
//! us, without reading any error text, that the server wanted credentials we did not have or it
//! refused.
//!
//! Only the clone uses gix: gix sends `http.extraHeader` to whatever URL it connects to and has
//! no per-URL `http.<url>.*` settings, so every later fetch goes through the `git` CLI, whose
//! header is scoped to the GitLab origin.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gix::bstr::BString;
use gix::remote::fetch::Shallow;
use secrecy::ExposeSecret;

use super::GitError;
use super::auth::Remote;

/// The name the clone gives the remote, as `git clone` does.
pub(crate) const REMOTE_NAME: &str = "origin";

/// How long an interrupted clone gets to stop before the caller goes on without it.
const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

/// What a finished clone tells its caller.
#[derive(Debug)]
pub(crate) struct Cloned {
    /// The branch checked out (the remote's default branch unless one was asked for).
    pub(crate) branch: String,
    /// The commit checked out.
    pub(crate) head: String,
}

/// Clones `remote` into `dest` with a checkout of `branch` (or the remote's default branch),
/// `depth` commits deep when given. A clone still running after `timeout` is interrupted (gix
/// checks the flag between packets and files) and fails with [`GitError::TimedOut`].
pub(crate) async fn clone(
    remote: Remote,
    dest: PathBuf,
    depth: Option<NonZeroU32>,
    branch: Option<String>,
    timeout: Duration,
) -> Result<Cloned, GitError> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupt);
    let mut work =
        std::pin::pin!(run_blocking(move || clone_blocking(&remote, &dest, depth, branch.as_deref(), &flag)));
    match tokio::time::timeout(timeout, &mut work).await {
        Ok(cloned) => cloned,
        Err(_elapsed) => {
            interrupt.store(true, Ordering::SeqCst);
            // gix notices between packets and files; a read the server never answers it does not
            // notice, and that thread is left behind (the job ends with this error anyway).
            let _ = tokio::time::timeout(INTERRUPT_GRACE, work).await;
            Err(GitError::TimedOut { what: "the clone", after: timeout })
        }
    }
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
    interrupt: &AtomicBool,
) -> Result<Cloned, GitError> {
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
            trust_extra_roots(connection)?;
            Ok(())
        }
    });
    if let Some(branch) = branch {
        prepare =
            prepare.with_ref_name(Some(branch)).map_err(|err| gix_error("while naming the branch to clone", err))?;
    }
    let result = prepare.fetch_then_checkout(gix::progress::Discard, interrupt);
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
        .main_worktree(gix::progress::Discard, interrupt)
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

/// Lets gix's HTTP client trust `COPILOT_CA_BUNDLE` beside the system's roots. gix reads no CA
/// setting for its reqwest backend, so the options it would derive from the configuration are
/// taken as they are and given a client hook that merges the certificates in.
fn trust_extra_roots<T: gix::protocol::transport::client::blocking_io::Transport>(
    connection: &mut gix::remote::Connection<'_, '_, '_, T>,
) -> Result<(), gix::Error> {
    use gix::protocol::transport::client::blocking_io::http;

    let roots = crate::tls::extra_roots();
    if roots.is_empty() {
        return Ok(());
    }
    let remote = connection.remote();
    let Some(url) = remote.url(gix::remote::Direction::Fetch).map(|url| url.to_bstring()) else {
        return Ok(());
    };
    let Some(options) = remote.repo().transport_options(gix::bstr::BStr::new(&url), None)? else {
        return Ok(());
    };
    let Ok(mut options) = options.downcast::<http::Options>() else {
        return Ok(());
    };
    let backend = http::reqwest::Options {
        configure_client: Some(Box::new(move |builder| Ok(builder.tls_certs_merge(roots.clone())))),
        configure_request: None,
    };
    options.backend = Some(Arc::new(std::sync::Mutex::new(backend)));
    connection.set_transport_options(options);
    Ok(())
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
