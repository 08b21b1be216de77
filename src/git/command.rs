//! The one way this program runs the `git` CLI.
//!
//! Every invocation gets the same hardened shape, so no caller can forget a part of it:
//! - an environment built from scratch: `PATH` from ours, a private `HOME`, `LC_ALL=C`, no
//!   prompts, no system or global configuration, and none of our `GIT_*` variables;
//! - for a workspace, the repository named explicitly (`GIT_DIR`, `GIT_WORK_TREE`) and its git
//!   dir put back as the clone left it before every command (`isolation`), so nothing the agent
//!   wrote into the checkout steers the command;
//! - argv options that turn off, on top of that, what a repository's configuration could
//!   smuggle in: credential helpers, hooks, fsmonitor, signing, tag following, submodules,
//!   background maintenance, and every transport but HTTP(S);
//! - the token, when the command talks to the remote, only as `GIT_CONFIG_COUNT`/
//!   `GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0` = `http.<origin>/.extraHeader` in the child's
//!   environment: not in argv (which every process on the machine can read), not in a URL, not
//!   in `.git/config`, and scoped to the remote's origin so a rewritten URL never receives it;
//! - the certificate authorities of `COPILOT_CA_BUNDLE` beside the system's (`GIT_SSL_CAINFO`,
//!   a file holding both: git's own setting replaces the system's bundle rather than adding);
//! - stdin closed and a timeout.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::GitError;
use super::auth::Remote;
use super::isolation::GitDir;
use crate::config::Env;
use crate::process::{self, Output, ProcessSpec};
use crate::redact;

/// Default limit for one `git` command; pushes and fetches of large repositories stay below.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// How much of a failed command's stderr goes into its error.
const STDERR_EXCERPT: usize = 2000;

/// Options placed before every subcommand. They are not secrets, so argv is the right place.
const HARDENING: &[&str] = &[
    "-c",
    "credential.helper=",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.askPass=",
    "-c",
    "core.attributesFile=/dev/null",
    "-c",
    "commit.gpgSign=false",
    "-c",
    "push.followTags=false",
    "-c",
    "submodule.recurse=false",
    "-c",
    "gc.auto=0",
    "-c",
    "maintenance.auto=false",
    "-c",
    "protocol.allow=never",
    "-c",
    "protocol.http.allow=always",
    "-c",
    "protocol.https.allow=always",
    "-c",
    "advice.detachedHead=false",
];

/// The author and committer of the agent's commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

/// Builds and runs `git` commands with the hardened environment.
#[derive(Clone)]
pub struct GitCommand {
    program: PathBuf,
    path: String,
    passed_through: Vec<(String, String)>,
    home: PathBuf,
    identity: Identity,
    timeout: Duration,
    /// The workspace's repository, when the command acts on one.
    repository: Option<Arc<GitDir>>,
}

impl fmt::Debug for GitCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitCommand")
            .field("program", &self.program)
            .field("home", &self.home)
            .field("identity", &self.identity)
            .field("timeout", &self.timeout)
            .field("git_dir", &self.repository.as_ref().map(|repository| repository.path()))
            .finish_non_exhaustive()
    }
}

impl GitCommand {
    /// A builder that runs `git` found on `env`'s `PATH`, with `home` as the child's `HOME`
    /// (a private directory: nothing of a person's configuration applies), committing as
    /// `identity`.
    pub fn new(env: &Env, home: impl Into<PathBuf>, identity: Identity) -> Self {
        let path = env.get("PATH").unwrap_or("/usr/local/bin:/usr/bin:/bin").to_owned();
        let passed_through = process::env_allowlist(env, process::NETWORK_ENV, &[]);
        Self {
            program: PathBuf::from("git"),
            path,
            passed_through,
            home: home.into(),
            identity,
            timeout: DEFAULT_TIMEOUT,
            repository: None,
        }
    }

    /// The same builder bound to a workspace's repository: every command names its git dir and
    /// work tree, runs with a `HOME` inside the git dir, and first restores the git dir.
    #[must_use]
    pub(crate) fn in_repository(mut self, repository: Arc<GitDir>) -> Self {
        self.home = repository.private_home();
        self.repository = Some(repository);
        self
    }

    /// The same builder with another limit per command.
    #[must_use]
    /// How long one command (or a clone) may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The identity commits are made with.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The child spec for `git <args>` in `dir`; with `remote`, the child may authenticate to it.
    pub fn spec(&self, dir: &Path, args: &[&str], remote: Option<&Remote>) -> ProcessSpec {
        let mut spec = ProcessSpec::new(&self.program)
            .args(HARDENING.iter().copied())
            .args(args.iter().copied())
            .cwd(dir)
            .timeout(self.timeout)
            .label(format!("git {}", args.first().copied().unwrap_or_default()))
            .envs(self.passed_through.iter().cloned())
            .env("PATH", &self.path)
            .env("HOME", self.home.display().to_string())
            .env("LC_ALL", "C")
            .env("LANG", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_ATTR_NOSYSTEM", "1")
            .env("GIT_NO_REPLACE_OBJECTS", "1")
            .env("GIT_AUTHOR_NAME", &self.identity.name)
            .env("GIT_AUTHOR_EMAIL", &self.identity.email)
            .env("GIT_COMMITTER_NAME", &self.identity.name)
            .env("GIT_COMMITTER_EMAIL", &self.identity.email);
        if let Some(ca_file) = crate::tls::git_ca_file() {
            spec = spec.env("GIT_SSL_CAINFO", ca_file.display().to_string());
        }
        if let Some(repository) = &self.repository {
            spec = spec
                .env("GIT_DIR", repository.path().display().to_string())
                .env("GIT_WORK_TREE", repository.work_tree().display().to_string());
        }
        if let Some(header) = remote.and_then(Remote::authorization_header) {
            let key = format!("http.{}.extraHeader", remote.map(Remote::header_scope).unwrap_or_default());
            spec = spec
                .env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", key)
                .env("GIT_CONFIG_VALUE_0", header.expose_secret());
        }
        spec
    }

    /// Runs `git <args>` in `dir` and returns its output whatever the exit code. In a workspace,
    /// its git dir is restored first.
    pub async fn output(&self, dir: &Path, args: &[&str], remote: Option<&Remote>) -> Result<Output, GitError> {
        if let Some(repository) = &self.repository {
            repository.restore().await?;
        }
        let output = process::run(self.spec(dir, args, remote)).await?;
        tracing::debug!(args = %redact::redact(&args.join(" ")), status = %output.status, "git finished");
        Ok(output)
    }

    /// Runs `git <args>` in `dir` and fails with a classified error unless it succeeded.
    pub async fn run(&self, dir: &Path, args: &[&str], remote: Option<&Remote>) -> Result<Output, GitError> {
        let output = self.output(dir, args, remote).await?;
        if output.success() { Ok(output) } else { Err(failure(args, &output, remote)) }
    }
}

/// The error for a failed command. With `LC_ALL=C` git's messages are fixed; the few phrases
/// read here are those git's HTTP layer prints for a status code, which carry the code itself.
pub(crate) fn failure(args: &[&str], output: &Output, remote: Option<&Remote>) -> GitError {
    let stderr = output.stderr.text();
    if let Some(remote) = remote {
        let url = remote.url().to_owned();
        if stderr.contains("returned error: 401")
            || stderr.contains("returned error: 403")
            || stderr.contains("terminal prompts disabled")
            || stderr.contains("Authentication failed")
        {
            return GitError::AuthFailed { url };
        }
        // A 404 on the first request is git's `repository '<url>' not found`.
        if stderr.contains("returned error: 404") || stderr.contains("' not found") {
            return GitError::NotFound { what: format!("repository `{url}`") };
        }
    }
    GitError::Command {
        args: redact::redact(&args.join(" ")).into_owned(),
        code: match output.status {
            process::ExitStatus::Code(code) => Some(code),
            process::ExitStatus::Signal(_) => None,
        },
        stderr: excerpt(&redact::redact(&stderr)),
    }
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    if text.len() <= STDERR_EXCERPT {
        return text.to_owned();
    }
    let mut start = text.len() - STDERR_EXCERPT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> GitCommand {
        let env = Env::from_pairs([
            ("PATH", "/usr/bin:/bin"),
            ("GIT_DIR", "/elsewhere"),
            ("GIT_CONFIG_PARAMETERS", "'core.pager=evil'"),
            ("GITLAB_TOKEN", "glpat-should-never-pass"),
            ("HTTPS_PROXY", "http://proxy.example.com:3128"),
        ]);
        GitCommand::new(&env, "/tmp/private-home", Identity { name: "Agent".into(), email: "agent@example.com".into() })
    }

    #[test]
    fn the_environment_is_an_allowlist_and_inherits_no_git_variables() {
        let spec = builder().spec(Path::new("/repo"), &["status"], None);
        let names: Vec<&str> = spec.env.iter().map(|(name, _)| name.as_str()).collect();
        assert!(!names.contains(&"GIT_DIR") && !names.contains(&"GIT_CONFIG_PARAMETERS"));
        assert!(!names.contains(&"GITLAB_TOKEN") && !names.contains(&"GIT_CONFIG_COUNT"));
        let get = |name: &str| spec.env.iter().find(|(known, _)| known == name).map(|(_, value)| value.as_str());
        assert_eq!(get("LC_ALL"), Some("C"));
        assert_eq!(get("GIT_TERMINAL_PROMPT"), Some("0"));
        assert_eq!(get("GIT_CONFIG_NOSYSTEM"), Some("1"));
        assert_eq!(get("GIT_CONFIG_GLOBAL"), Some("/dev/null"));
        assert_eq!(get("HOME"), Some("/tmp/private-home"));
        assert_eq!(get("PATH"), Some("/usr/bin:/bin"));
        assert_eq!(get("HTTPS_PROXY"), Some("http://proxy.example.com:3128"));
        assert!(spec.stdin.is_none());
        let args: Vec<String> = spec.args.iter().map(|arg| arg.to_string_lossy().into_owned()).collect();
        assert!(args.windows(2).any(|pair| pair == ["-c", "credential.helper="]));
        assert!(args.windows(2).any(|pair| pair == ["-c", "core.hooksPath=/dev/null"]));
        assert_eq!(args.last().map(String::as_str), Some("status"));
    }

    #[test]
    fn the_token_is_only_in_the_scoped_environment_entry() {
        let remote =
            Remote::new("https://gitlab.example.com/group/project.git", Some("glpat-command-test".into())).unwrap();
        let spec = builder().spec(Path::new("/repo"), &["push", "--porcelain", remote.url()], Some(&remote));
        let get = |name: &str| spec.env.iter().find(|(known, _)| known == name).map(|(_, value)| value.as_str());
        assert_eq!(get("GIT_CONFIG_COUNT"), Some("1"));
        assert_eq!(get("GIT_CONFIG_KEY_0"), Some("http.https://gitlab.example.com/.extraHeader"));
        // base64("oauth2:glpat-command-test")
        assert_eq!(get("GIT_CONFIG_VALUE_0"), Some("Authorization: Basic b2F1dGgyOmdscGF0LWNvbW1hbmQtdGVzdA=="));
        for arg in &spec.args {
            let arg = arg.to_string_lossy();
            assert!(!arg.contains("glpat-command-test") && !arg.contains("b2F1dGgy"), "{arg}");
        }
        assert!(!format!("{:?}", builder()).contains("glpat"));
    }

    #[test]
    fn a_long_stderr_keeps_its_tail() {
        let long = format!("{}fatal: the end", "x".repeat(5000));
        let cut = excerpt(&long);
        assert!(cut.starts_with('…') && cut.ends_with("fatal: the end") && cut.len() < 2100);
    }
}
