//! The GitHub Copilot CLI backend.
//!
//! One stage is one non-interactive CLI session: the prompt goes in on stdin (never argv, which
//! has length limits and shows in `ps`), `--output-format json` streams JSONL events that we
//! read live into a transcript in the job log, and the tool policy allows everything except
//! what could leak or push (`git push`, `git remote`, `git config`, `git credential` plus
//! `COPILOT_DENY_TOOLS`): the binary pushes, the agent never does. The environment comes from
//! an allowlist, our own tokens are never in it, and the Copilot token is hidden from the
//! agent's shell with `--secret-env-vars`.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::events::{self, EventRecord};
use super::mcp::{self, McpConfig, McpProblem};
use super::{Agent, AgentError, AgentOutcome, STAGE_GRACE, StageRequest};
use crate::config::{AgentSettings, Env, SandboxSettings};
use crate::process::{self, ProcessError, ProcessSpec, Stream};
use crate::sandbox::Sandbox;
use crate::{env_vars, telemetry};

/// Tool patterns always denied (pattern syntax of `copilot help permissions`: `shell(git push)`
/// matches the `git push` first-level subcommand).
pub const DEFAULT_DENY_TOOLS: &[&str] =
    &["shell(git push)", "shell(git remote)", "shell(git config)", "shell(git credential)"];

/// Variables the CLI reads its GitHub token from, in its order of precedence.
pub const TOKEN_VARS: &[&str] = &["COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN"];

/// Variables whose values the CLI strips from its tools' environments and redacts from output.
pub const SECRET_ENV_VARS: &[&str] =
    &["COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN", "COPILOT_PROVIDER_API_KEY", "COPILOT_PROVIDER_BEARER_TOKEN"];

/// Keeps the CLI from loading `AGENTS.md`, `.github/copilot-instructions.md` and the like from
/// the checkout by itself: every stage prompt already carries the instructions that apply, read
/// by copilot-runner (a review's from the default branch, never from the merge request's).
pub const NO_CUSTOM_INSTRUCTIONS: &str = "--no-custom-instructions";

/// File names inside a stage's artifacts folder.
pub const EVENTS_FILE: &str = "copilot-events.jsonl";
pub const USAGE_FILE: &str = "copilot-usage.json";
pub const TRANSCRIPT_FILE: &str = "transcript.txt";
pub const LOG_DIR: &str = "copilot-logs";
/// The chosen MCP servers, secrets resolved, in the call's private folder while it runs.
pub const MCP_CONFIG_FILE: &str = "mcp-config.json";

/// Runs stages through the Copilot CLI.
#[derive(Clone)]
pub struct CopilotAgent {
    cli: PathBuf,
    model: Option<String>,
    deny_tools: Vec<String>,
    env: Arc<Vec<(String, String)>>,
    sandbox: Arc<Sandbox>,
    grace: Duration,
    /// The admin's MCP servers, the ones chosen for this run, and the values of the masked
    /// variables they name.
    mcp_admin: Arc<McpConfig>,
    mcp: Arc<McpConfig>,
    mcp_env: Arc<Env>,
}

impl fmt::Debug for CopilotAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The environment holds the Copilot token: names only.
        f.debug_struct("CopilotAgent")
            .field("cli", &self.cli)
            .field("model", &self.model)
            .field("deny_tools", &self.deny_tools)
            .field("env", &self.env.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .finish()
    }
}

impl CopilotAgent {
    /// Finds the CLI (`COPILOT_CLI_PATH`, else `copilot` on `PATH`) and builds the child
    /// environment from `env`; its calls run confined as `sandbox` says.
    pub fn new(settings: &AgentSettings, sandbox: &SandboxSettings, env: &Env) -> Result<Self, AgentError> {
        let cli = match &settings.copilot_cli_path {
            Some(path) => path.clone(),
            None => process::find_program("copilot", env, Path::new(".")).ok_or_else(|| AgentError::NotInstalled {
                message: format!(
                    "`copilot` is not on `PATH`; install `@github/copilot` or set `{}`",
                    env_vars::COPILOT_CLI_PATH
                ),
            })?,
        };
        let mut deny_tools: Vec<String> = DEFAULT_DENY_TOOLS.iter().map(|&pattern| pattern.to_owned()).collect();
        for pattern in &settings.deny_tools {
            if !deny_tools.contains(pattern) {
                deny_tools.push(pattern.clone());
            }
        }
        let child_env = child_env(settings, env);
        let mcp_env = Env::from_pairs(
            settings.mcp.variables().into_iter().filter_map(|name| Some((name.clone(), env.get(&name)?.to_owned()))),
        );
        let sandbox = Sandbox::new(sandbox, env, &child_env).with_read_paths(settings.mcp.program_dirs());
        let agent = Self {
            cli,
            model: settings.copilot_model.clone(),
            deny_tools,
            sandbox: Arc::new(sandbox),
            env: Arc::new(child_env),
            grace: STAGE_GRACE,
            mcp_admin: Arc::new(settings.mcp.clone()),
            mcp: Arc::new(settings.mcp.clone()),
            mcp_env: Arc::new(mcp_env),
        };
        // The servers' secrets are masked wherever our logs and artifacts could show them.
        let (_, secrets) = agent.mcp_json()?;
        secrets.iter().for_each(|secret| crate::redact::register(secret));
        Ok(agent)
    }

    /// Uses only the admin's MCP servers the repository picked (`wanted`); the names the admin
    /// does not allow are returned as problems and not added.
    #[must_use]
    pub fn with_mcp_servers(mut self, wanted: Option<&[String]>) -> (Self, Vec<McpProblem>) {
        let (chosen, problems) = mcp::servers_for_run(&self.mcp_admin, wanted);
        self.mcp = Arc::new(chosen);
        (self, problems)
    }

    /// The chosen servers' `--additional-mcp-config` JSON and the secrets in it.
    fn mcp_json(&self) -> Result<(String, Vec<String>), AgentError> {
        self.mcp.resolve(&self.mcp_env).map_err(|reason| AgentError::NotInstalled {
            message: format!("`{}`: {reason}", env_vars::COPILOT_MCP_CONFIG),
        })
    }

    /// The CLI's MCP arguments: the chosen servers, and every server the checkout's own files
    /// name (loaded by a CLI that trusts the folder) and the built-in ones disabled.
    fn mcp_args(&self, request: &StageRequest) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        if !self.mcp.is_empty() {
            args.push("--additional-mcp-config".into());
            args.push(format!("@{}", request.private_dir.join(MCP_CONFIG_FILE).display()).into());
        }
        for name in mcp::workspace_servers(&request.repo_dir, &self.mcp) {
            args.push("--disable-mcp-server".into());
            args.push(name.into());
        }
        if !self.mcp.builtin {
            args.push("--disable-builtin-mcps".into());
        }
        args
    }

    /// Starts the sandbox helper from `launcher` (a `copilot-runner` binary) instead of this
    /// program: for tests that drive the backend in-process.
    #[must_use]
    pub fn with_sandbox_launcher(mut self, launcher: impl Into<std::path::PathBuf>) -> Self {
        self.sandbox = Arc::new(self.sandbox.as_ref().clone().with_launcher(launcher.into()));
        self
    }

    /// Overrides the time between SIGTERM and SIGKILL on a timeout.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The tool patterns this agent denies.
    pub fn deny_tools(&self) -> &[String] {
        &self.deny_tools
    }

    /// The CLI's arguments for one stage (the prompt is not among them: it goes on stdin).
    pub fn args(&self, request: &StageRequest) -> Vec<OsString> {
        let mut args: Vec<OsString> = [
            "--output-format",
            "json",
            "--allow-all-tools",
            "--no-ask-user",
            "--no-auto-update",
            NO_CUSTOM_INSTRUCTIONS,
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        for pattern in &self.deny_tools {
            args.push(format!("--deny-tool={pattern}").into());
        }
        args.push("--secret-env-vars".into());
        args.push(SECRET_ENV_VARS.join(",").into());
        // The CLI writes its logs and usage into the call's own folder (the agent may write
        // there); the runner copies them into the artifacts afterwards, masked.
        args.push("--log-dir".into());
        args.push(request.private_dir.join(LOG_DIR).into());
        args.push("--usage-output-file".into());
        args.push(request.private_dir.join(USAGE_FILE).into());
        args.push("--add-dir".into());
        args.push(request.scratch_dir.clone().into());
        args.extend(self.mcp_args(request));
        if let Some(model) = &self.model {
            args.push("--model".into());
            args.push(model.into());
        }
        args
    }

    /// The names of the variables the CLI is given.
    pub fn env_names(&self) -> Vec<&str> {
        self.env.iter().map(|(name, _)| name.as_str()).collect()
    }
}

/// The CLI's environment: the shell basics, `COPILOT_*` settings of the CLI itself (offline
/// mode, BYOK provider, home) and the Copilot token; nothing else of ours.
fn child_env(settings: &AgentSettings, env: &Env) -> Vec<(String, String)> {
    use secrecy::ExposeSecret as _;
    let mut vars = super::child_env_base(env);
    // `COPILOT_ALLOW_ALL=true` makes the CLI trust the checkout and load its own MCP servers.
    vars.retain(|(name, _)| name != "COPILOT_ALLOW_ALL");
    if let Some(token) = &settings.github_token {
        vars.retain(|(name, _)| name != env_vars::COPILOT_GITHUB_TOKEN);
        vars.push((env_vars::COPILOT_GITHUB_TOKEN.to_owned(), token.expose_secret().to_owned()));
    }
    for (name, value) in &vars {
        if SECRET_ENV_VARS.contains(&name.as_str()) {
            crate::redact::register(value);
        }
    }
    vars
}

impl Agent for CopilotAgent {
    async fn run_stage(&self, request: StageRequest) -> Result<AgentOutcome, AgentError> {
        super::prepare_dirs(&request).await?;
        let stage = request.stage.as_str();
        let usage_path = request.private_dir.join(USAGE_FILE);
        // A usage file from an earlier attempt would be read as this run's.
        let _ = tokio::fs::remove_file(&usage_path).await;
        let mcp_path = request.private_dir.join(MCP_CONFIG_FILE);
        if !self.mcp.is_empty() {
            let (json, _) = self.mcp_json()?;
            write_private(&mcp_path, json.as_bytes()).await.map_err(|source| AgentError::Io {
                stage: stage.to_owned(),
                context: format!("while writing `{}`", mcp_path.display()),
                source,
            })?;
        }

        let spec = ProcessSpec::new(&self.cli)
            .label(format!("copilot ({stage})"))
            .args(self.args(&request))
            .cwd(&request.repo_dir)
            .envs(self.env.iter().cloned())
            .stdin(request.prompt.clone().into_bytes())
            .timeout(request.timeout)
            .grace(self.grace)
            // Events are read line by line as they arrive; only stderr is kept for errors.
            .caps(64 * 1024, 256 * 1024);
        let spec = super::sandboxed(&self.sandbox, spec, &request).await?;

        let mut record = EventRecord::default();
        let mut raw = Vec::new();
        let mut transcript = vec![format!("stage `{stage}`: prompt of {} characters", request.prompt.chars().count())];
        let section = telemetry::section(&format!("agent_{stage}"), &format!("Copilot: stage `{stage}`"));
        let mut mcp_file_read = self.mcp.is_empty();
        let result = process::run_with_lines(spec, |stream, line| {
            if !mcp_file_read {
                // The CLI reads the file while it starts, before its first event: from then on
                // the agent's shell must not find the servers' secrets there.
                mcp_file_read = true;
                let _ = std::fs::remove_file(&mcp_path);
            }
            let shown = match stream {
                Stream::Stdout => {
                    raw.extend_from_slice(line.as_bytes());
                    raw.push(b'\n');
                    record.push_line(line)
                }
                Stream::Stderr => (!line.trim().is_empty()).then(|| format!("! {line}")),
            };
            if let Some(shown) = shown {
                telemetry::write_job_log(&format!("{shown}\n"));
                transcript.push(shown);
            }
        })
        .await;
        drop(section);
        // The file holds the servers' secrets: gone as soon as the CLI is.
        let _ = tokio::fs::remove_file(&mcp_path).await;

        let events_path = request.artifacts_dir.join(EVENTS_FILE);
        let transcript_path = request.artifacts_dir.join(TRANSCRIPT_FILE);
        super::write_artifact(stage, &events_path, &raw).await?;
        super::write_artifact(stage, &transcript_path, format!("{}\n", transcript.join("\n")).as_bytes()).await?;
        let usage = match tokio::fs::read_to_string(&usage_path).await {
            Ok(text) => events::parse_usage(&text),
            Err(_) => None,
        };
        if let Ok(text) = tokio::fs::read(&usage_path).await {
            super::write_artifact(stage, &request.artifacts_dir.join(USAGE_FILE), &text).await?;
        }
        super::copy_masked(stage, &request.private_dir.join(LOG_DIR), &request.artifacts_dir.join(LOG_DIR)).await?;

        let mut outcome = AgentOutcome {
            final_message: record.messages.last().cloned(),
            messages: record.messages.clone(),
            tools: record.tools.clone(),
            premium_requests: record.result.as_ref().map(|result| result.premium_requests),
            code_changes: record.result.as_ref().map(|result| result.code_changes.clone()),
            usage,
            session_id: record.result.as_ref().and_then(|result| result.session_id.clone()),
            exit_status: None,
            duration: Duration::ZERO,
            raw_output_path: Some(events_path),
            transcript_path: Some(transcript_path),
        };
        let output = match result {
            Ok(output) => output,
            Err(ProcessError::Timeout { after, output, .. }) => {
                outcome.exit_status = Some(output.status);
                outcome.duration = output.duration;
                return Err(AgentError::Timeout { stage: stage.to_owned(), after, outcome: Box::new(outcome) });
            }
            Err(error) => return Err(AgentError::from_process(stage, error)),
        };
        outcome.exit_status = Some(output.status);
        outcome.duration = output.duration;
        let denied: Vec<&str> = record.denied().map(|tool| tool.summary.as_str()).collect();
        if !denied.is_empty() {
            // Not a failure by itself (the agent may find another way), but worth seeing.
            tracing::warn!(stage, denied = ?denied, "the tool policy denied {} tool call(s)", denied.len());
        }
        judge(stage, &record, &output.stderr.text(), outcome)
    }
}

/// Writes a file only its owner may read.
async fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut file = tokio::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).await?;
    file.write_all(bytes).await?;
    file.flush().await
}

/// Decides from the events, not the exit code alone, whether the stage succeeded.
fn judge(stage: &str, record: &EventRecord, stderr: &str, outcome: AgentOutcome) -> Result<AgentOutcome, AgentError> {
    let status = outcome.exit_status;
    let failed =
        |reason: String| AgentError::Failed { stage: stage.to_owned(), reason, outcome: Box::new(outcome.clone()) };
    if let Some(error) = record.errors.last() {
        if record.transport_failures > 0 {
            return Err(AgentError::ModelUnreachable { stage: stage.to_owned(), message: error.message.clone() });
        }
        return Err(failed(format!("the session reported an error ({}): {}", error.error_type, error.message)));
    }
    let Some(result) = &record.result else {
        let status = status.map_or_else(|| "unknown status".to_owned(), |status| status.to_string());
        let stderr = super::tail(stderr, 600);
        return Err(failed(if stderr.is_empty() {
            format!("the CLI ended ({status}) without a result event")
        } else {
            format!("the CLI ended ({status}) without a result event: {stderr}")
        }));
    };
    if result.exit_code != 0 || status.is_some_and(|status| !status.success()) {
        let status = status.map_or_else(|| "unknown status".to_owned(), |status| status.to_string());
        return Err(failed(format!("the session ended with exit code {} ({status})", result.exit_code)));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Flags, Settings};

    fn agent(env: &Env) -> CopilotAgent {
        let settings = Settings::resolve(env, &Flags::default()).unwrap();
        CopilotAgent::new(&settings.agent, &settings.sandbox, env).unwrap()
    }

    #[test]
    fn the_child_environment_holds_no_token_of_ours() {
        let env = Env::from_pairs([
            ("PATH", "/usr/bin"),
            ("HOME", "/home/agent"),
            ("LC_ALL", "C.UTF-8"),
            ("https_proxy", "http://proxy:3128"),
            ("COPILOT_OFFLINE", "true"),
            ("COPILOT_PROVIDER_BASE_URL", "http://127.0.0.1:9/v1"),
            ("GH_TOKEN", "gho_copilot_token"),
            ("GITLAB_TOKEN", "glpat-never-leaks"),
            ("PIPELINE_TRIGGER_TOKEN", "trigger-never-leaks"),
            ("WEBHOOK_SECRET_TOKEN", "webhook-never-leaks"),
            ("AZURE_STORAGE_CONNECTION_STRING", "AccountKey=never-leaks"),
            ("CI_JOB_TOKEN", "job-token-never-leaks"),
            ("COPILOT_LANGUAGE", "en"),
            ("COPILOT_CLI_PATH", "/opt/copilot"),
        ]);
        let agent = agent(&env);
        let mut names = agent.env_names();
        names.sort_unstable();
        assert_eq!(
            names,
            ["COPILOT_OFFLINE", "COPILOT_PROVIDER_BASE_URL", "GH_TOKEN", "HOME", "LC_ALL", "PATH", "https_proxy"]
        );
        assert!(!format!("{agent:?}").contains("gho_copilot_token"));
    }

    fn finished(status: i32) -> AgentOutcome {
        AgentOutcome { exit_status: Some(process::ExitStatus::Code(status)), ..AgentOutcome::default() }
    }

    #[test]
    fn a_cli_that_never_started_a_session_fails_with_its_error_output() {
        let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/copilot-cli/run_noauth_json.txt");
        let stderr = std::fs::read_to_string(capture).unwrap();
        let error = judge("analysis", &EventRecord::default(), &stderr, finished(1)).unwrap_err();
        let AgentError::Failed { reason, .. } = &error else { panic!("{error:?}") };
        assert!(reason.contains("without a result event") && reason.contains("COPILOT_GITHUB_TOKEN"), "{reason}");
    }

    #[test]
    fn exit_code_zero_is_not_success_without_a_clean_result() {
        let mut record = EventRecord::default();
        record
            .push_line(r#"{"type":"session.error","data":{"errorType":"model","message":"context window exceeded"}}"#);
        record.push_line(r#"{"type":"result","exitCode":0,"usage":{"premiumRequests":1}}"#);
        let error = judge("analysis", &record, "", finished(0)).unwrap_err();
        assert!(error.to_string().contains("context window exceeded"), "{error}");

        let mut record = EventRecord::default();
        record.push_line(r#"{"type":"result","exitCode":1,"usage":{}}"#);
        assert!(matches!(judge("analysis", &record, "", finished(0)), Err(AgentError::Failed { .. })));

        let mut record = EventRecord::default();
        record.push_line(r#"{"type":"result","exitCode":0,"usage":{"premiumRequests":2}}"#);
        assert!(judge("analysis", &record, "", finished(0)).is_ok());
    }

    #[test]
    fn the_invocation_denies_pushing_and_takes_the_prompt_on_stdin() {
        let env = Env::from_pairs([
            ("COPILOT_CLI_PATH", "/opt/copilot"),
            ("COPILOT_MODEL", "gpt-4.1"),
            ("COPILOT_DENY_TOOLS", "shell(curl), shell(git push)"),
        ]);
        let agent = agent(&env);
        let request = StageRequest {
            stage: "implementation".to_owned(),
            prompt: "do the secret task".to_owned(),
            repo_dir: "/srv/checkout".into(),
            scratch_dir: "/tmp/scratch".into(),
            private_dir: "/tmp/work/implementation/agent".into(),
            artifacts_dir: "/tmp/artifacts/implementation".into(),
            timeout: Duration::from_secs(60),
        };
        let args: Vec<String> = agent.args(&request).iter().map(|arg| arg.to_string_lossy().into_owned()).collect();
        let joined = args.join(" ");
        for expected in [
            "--output-format json",
            "--allow-all-tools",
            "--no-ask-user",
            "--no-auto-update",
            "--no-custom-instructions",
            "--deny-tool=shell(git push) --deny-tool=shell(git remote) --deny-tool=shell(git config) \
             --deny-tool=shell(git credential) --deny-tool=shell(curl)",
            "--log-dir /tmp/work/implementation/agent/copilot-logs",
            "--usage-output-file /tmp/work/implementation/agent/copilot-usage.json",
            "--add-dir /tmp/scratch",
            "--model gpt-4.1",
            "--secret-env-vars COPILOT_GITHUB_TOKEN,GH_TOKEN,GITHUB_TOKEN",
        ] {
            assert!(joined.contains(expected), "missing `{expected}` in {joined}");
        }
        assert!(!joined.contains("secret task"), "the prompt must not be in argv");
        assert_eq!(args.iter().filter(|arg| arg.as_str() == "--deny-tool=shell(git push)").count(), 1);
    }
}
