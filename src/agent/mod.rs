//! Agent backends: what runs one stage's prompt against the repository.
//!
//! Two real implementations share the [`Agent`] trait: [`copilot::CopilotAgent`] drives the
//! GitHub Copilot CLI (tool policy, JSONL events, usage) and [`command::CommandAgent`] runs any
//! other agent CLI from a command template. Both run through `process` with a per-stage
//! deadline and an environment built from an allowlist, so no secret of ours (the GitLab token
//! above all) ever reaches the agent, its tools or the model.

pub mod command;
pub mod copilot;
pub mod events;
pub use crate::config::mcp;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{AgentKind, AgentSettings, Env, SandboxSettings};
use crate::exit::{Classify, Code};
use crate::process::{ExitStatus, ProcessError};
pub use events::{CodeChanges, SessionError, TokenUsage, ToolExecution, ToolOutcome};

/// Variables every agent may see besides [`process::NETWORK_ENV`](crate::process::NETWORK_ENV):
/// the basics of a working shell and the trust roots of Node and curl.
pub const BASE_ENV: &[&str] = &["PATH", "HOME", "LANG", "TZ", "NODE_EXTRA_CA_CERTS", "CURL_CA_BUNDLE"];

/// Prefixes every agent may see (locale settings).
pub const BASE_ENV_PREFIXES: &[&str] = &["LC_"];

/// An agent's environment: [`BASE_ENV`], the Copilot CLI's token variables and `COPILOT_*` from
/// ours, and `NODE_EXTRA_CA_CERTS` naming `COPILOT_CA_BUNDLE` when one is installed, so a
/// Node-based agent trusts the same certificate authorities as we do.
pub(crate) fn child_env_base(env: &Env) -> Vec<(String, String)> {
    let allowed: Vec<&str> =
        BASE_ENV.iter().chain(crate::process::NETWORK_ENV).chain(copilot::TOKEN_VARS).copied().collect();
    let prefixes: Vec<&str> = BASE_ENV_PREFIXES.iter().copied().chain(["COPILOT_"]).collect();
    let mut vars = crate::process::env_allowlist(env, &allowed, &prefixes);
    if let Some(bundle) = crate::tls::bundle_path() {
        vars.retain(|(name, _)| name != "NODE_EXTRA_CA_CERTS");
        vars.push(("NODE_EXTRA_CA_CERTS".to_owned(), bundle.display().to_string()));
    }
    vars
}

/// Time between SIGTERM and SIGKILL when a stage overruns.
pub const STAGE_GRACE: Duration = Duration::from_secs(10);

/// One stage for an agent to run.
#[derive(Debug, Clone)]
pub struct StageRequest {
    /// The stage's name (`analysis`, `implementation`, …), for logs and errors.
    pub stage: String,
    pub prompt: String,
    /// The checkout the agent works in (its working directory).
    pub repo_dir: PathBuf,
    /// A folder the agent may write notes and stage outputs to, outside the repository.
    pub scratch_dir: PathBuf,
    /// A folder of this call's own, outside the repository and the artifacts: the agent's
    /// private temporary folder and the CLI's own logs live there until they are copied out.
    pub private_dir: PathBuf,
    /// Where this call's logs, raw events and transcript are kept.
    pub artifacts_dir: PathBuf,
    pub timeout: Duration,
}

/// What a finished stage left behind.
#[derive(Debug, Clone, Default)]
pub struct AgentOutcome {
    /// The agent's last message (the Copilot CLI's final answer, the command's stdout).
    pub final_message: Option<String>,
    /// Every assistant message, in order.
    pub messages: Vec<String>,
    /// Every tool execution, in order.
    pub tools: Vec<ToolExecution>,
    /// Premium requests the session consumed (Copilot only).
    pub premium_requests: Option<f64>,
    pub code_changes: Option<CodeChanges>,
    /// Token counts (Copilot only, from `--usage-output-file`).
    pub usage: Option<TokenUsage>,
    pub session_id: Option<String>,
    pub exit_status: Option<ExitStatus>,
    pub duration: Duration,
    /// Raw output kept as an artifact (JSONL events or the command's output).
    pub raw_output_path: Option<PathBuf>,
    pub transcript_path: Option<PathBuf>,
}

impl AgentOutcome {
    /// Tool executions the tool policy refused.
    pub fn denied_tools(&self) -> impl Iterator<Item = &ToolExecution> {
        self.tools.iter().filter(|tool| matches!(tool.outcome, ToolOutcome::Denied { .. }))
    }
}

/// Why a stage did not produce an outcome.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The agent program is missing or misconfigured.
    #[error("the agent cannot start: {message}")]
    NotInstalled { message: String },
    /// The model (or the service behind the CLI) could not be reached.
    #[error("stage `{stage}`: the model could not be reached: {message}")]
    ModelUnreachable { stage: String, message: String },
    /// The stage ran past its deadline; the agent's whole process group was stopped.
    #[error("stage `{stage}` did not finish within {}s and was stopped", after.as_secs())]
    Timeout { stage: String, after: Duration, outcome: Box<AgentOutcome> },
    /// The agent ran but did not succeed (error event, missing result, failing exit status).
    #[error("stage `{stage}` failed: {reason}")]
    Failed { stage: String, reason: String, outcome: Box<AgentOutcome> },
    /// The sandbox the settings require cannot be had, so the agent was not started.
    #[error("stage `{stage}`: {source}")]
    Sandbox {
        stage: String,
        #[source]
        source: crate::sandbox::SandboxError,
    },
    /// Artifacts could not be written or the child could not be driven.
    #[error("stage `{stage}`: {context}")]
    Io {
        stage: String,
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for AgentError {
    fn exit_code(&self) -> Code {
        match self {
            Self::NotInstalled { .. } => Code::Usage,
            Self::ModelUnreachable { .. } => Code::Unreachable,
            Self::Timeout { .. } | Self::Failed { .. } | Self::Io { .. } | Self::Sandbox { .. } => Code::WorkFailed,
        }
    }
}

impl AgentError {
    /// What the agent did before it failed, when it ran at all (its cost counts all the same).
    pub fn outcome(&self) -> Option<&AgentOutcome> {
        match self {
            Self::Timeout { outcome, .. } | Self::Failed { outcome, .. } => Some(outcome),
            Self::NotInstalled { .. } | Self::ModelUnreachable { .. } | Self::Sandbox { .. } | Self::Io { .. } => None,
        }
    }

    fn from_process(stage: &str, error: ProcessError) -> Self {
        match error {
            ProcessError::Spawn { .. } => Self::NotInstalled { message: error.to_string() },
            ProcessError::Timeout { after, output, .. } => Self::Timeout {
                stage: stage.to_owned(),
                after,
                outcome: Box::new(AgentOutcome {
                    exit_status: Some(output.status),
                    duration: output.duration,
                    ..AgentOutcome::default()
                }),
            },
            ProcessError::Io { source, .. } => {
                Self::Io { stage: stage.to_owned(), context: "while running the agent".to_owned(), source }
            }
        }
    }
}

/// Runs one stage; implemented by each backend.
pub trait Agent {
    fn run_stage(
        &self,
        request: StageRequest,
    ) -> impl std::future::Future<Output = Result<AgentOutcome, AgentError>> + Send;
}

/// The backend chosen by `COPILOT_AGENT`.
#[derive(Debug, Clone)]
pub enum ConfiguredAgent {
    Copilot(copilot::CopilotAgent),
    Command(command::CommandAgent),
}

impl ConfiguredAgent {
    /// Builds the configured backend, confined as `sandbox` says; fails when its program cannot
    /// be found.
    pub fn new(settings: &AgentSettings, sandbox: &SandboxSettings, env: &Env) -> Result<Self, AgentError> {
        match settings.kind {
            AgentKind::Copilot => copilot::CopilotAgent::new(settings, sandbox, env).map(Self::Copilot),
            AgentKind::Command => command::CommandAgent::new(settings, sandbox, env).map(Self::Command),
        }
    }

    /// The same backend offering only the admin's MCP servers named in `servers` (a command
    /// backend has none to offer, so it stays as it is).
    #[must_use]
    pub fn with_mcp_servers(&self, servers: &[String]) -> Self {
        match self {
            Self::Copilot(agent) => {
                let (agent, problems) = agent.clone().with_mcp_servers(Some(servers));
                for problem in problems {
                    tracing::warn!(%problem, "an MCP server the agent project does not offer is left out");
                }
                Self::Copilot(agent)
            }
            Self::Command(agent) => Self::Command(agent.clone()),
        }
    }
}

impl Agent for ConfiguredAgent {
    async fn run_stage(&self, request: StageRequest) -> Result<AgentOutcome, AgentError> {
        match self {
            Self::Copilot(agent) => agent.run_stage(request).await,
            Self::Command(agent) => agent.run_stage(request).await,
        }
    }
}

/// Starts `spec` for `request` inside `sandbox`: supervised, and confined to the request's
/// folders as the settings ask.
async fn sandboxed(
    sandbox: &crate::sandbox::Sandbox,
    spec: crate::process::ProcessSpec,
    request: &StageRequest,
) -> Result<crate::process::ProcessSpec, AgentError> {
    let area = crate::sandbox::StageArea {
        repo_dir: request.repo_dir.clone(),
        scratch_dir: request.scratch_dir.clone(),
        private_dir: request.private_dir.clone(),
    };
    sandbox.wrap(spec, &area).await.map_err(|source| AgentError::Sandbox { stage: request.stage.clone(), source })
}

/// Copies the files of `from` (the agent's own folder, which it could have written anything
/// into) to `to` in the artifacts, masked; a missing folder copies nothing.
async fn copy_masked(stage: &str, from: &std::path::Path, to: &std::path::Path) -> Result<(), AgentError> {
    let Ok(mut entries) = tokio::fs::read_dir(from).await else { return Ok(()) };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let is_file = entry.file_type().await.is_ok_and(|kind| kind.is_file());
        if let (true, Ok(bytes)) = (is_file, tokio::fs::read(entry.path()).await) {
            write_artifact(stage, &to.join(entry.file_name()), &bytes).await?;
        }
    }
    Ok(())
}

/// Writes an artifact file, creating its folder.
async fn write_artifact(stage: &str, path: &std::path::Path, bytes: &[u8]) -> Result<(), AgentError> {
    let io_error = |source| AgentError::Io {
        stage: stage.to_owned(),
        context: format!("while writing `{}`", path.display()),
        source,
    };
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io_error)?;
    }
    tokio::fs::write(path, crate::redact::redact_bytes(bytes)).await.map_err(io_error)
}

/// Creates the folders a stage needs before its agent starts.
async fn prepare_dirs(request: &StageRequest) -> Result<(), AgentError> {
    for dir in [&request.scratch_dir, &request.private_dir, &request.artifacts_dir] {
        tokio::fs::create_dir_all(dir).await.map_err(|source| AgentError::Io {
            stage: request.stage.clone(),
            context: format!("while creating `{}`", dir.display()),
            source,
        })?;
    }
    Ok(())
}

/// The last `max` characters of a text, on a char boundary, for error messages.
fn tail(text: &str, max: usize) -> &str {
    let text = text.trim();
    match text.char_indices().rev().nth(max) {
        Some((cut, _)) => &text[cut..],
        None => text,
    }
}
