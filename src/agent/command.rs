//! The command backend: any other agent CLI, run from a command template.
//!
//! `COPILOT_AGENT_COMMAND` is split into arguments the way a shell would split words, but no
//! shell ever runs it (no expansion, no injection through a path); `{prompt_file}`,
//! `{workdir}` and `{scratch_dir}` are replaced inside each argument. The prompt goes to a file
//! in the scratch folder. The same deadline and environment allowlist as for Copilot apply.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Agent, AgentError, AgentOutcome, STAGE_GRACE, StageRequest};
use crate::config::{AgentSettings, Env, SandboxSettings};
use crate::process::{self, ProcessError, ProcessSpec, Stream};
use crate::sandbox::Sandbox;
use crate::{env_vars, telemetry};

/// File names inside a stage's scratch and artifacts folders.
pub const PROMPT_FILE: &str = "prompt.md";
pub const OUTPUT_FILE: &str = "agent-output.txt";
pub const TRANSCRIPT_FILE: &str = "transcript.txt";

/// Runs stages through a command template.
#[derive(Clone)]
pub struct CommandAgent {
    program: PathBuf,
    template: Vec<String>,
    env: Arc<Vec<(String, String)>>,
    sandbox: Arc<Sandbox>,
    grace: Duration,
}

impl fmt::Debug for CommandAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandAgent")
            .field("program", &self.program)
            .field("template", &self.template)
            .field("env", &self.env.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .finish()
    }
}

impl CommandAgent {
    /// Parses `COPILOT_AGENT_COMMAND` and finds its program on the child's `PATH`; its calls
    /// run confined as `sandbox` says.
    pub fn new(settings: &AgentSettings, sandbox: &SandboxSettings, env: &Env) -> Result<Self, AgentError> {
        let not_usable =
            |why: &str| AgentError::NotInstalled { message: format!("`{}` {why}", env_vars::COPILOT_AGENT_COMMAND) };
        let template = settings.command.as_deref().ok_or_else(|| not_usable("is not set"))?;
        let words = shlex::split(template).ok_or_else(|| not_usable("has an unclosed quote"))?;
        let (program, args) = words.split_first().ok_or_else(|| not_usable("is empty"))?;
        let program = if program.contains('/') {
            PathBuf::from(program)
        } else {
            process::find_program(program, env, Path::new(".")).ok_or_else(|| AgentError::NotInstalled {
                message: format!("`{program}` (from `{}`) is not on `PATH`", env_vars::COPILOT_AGENT_COMMAND),
            })?
        };
        let child_env = super::child_env_base(env);
        Ok(Self {
            program,
            template: args.to_vec(),
            sandbox: Arc::new(Sandbox::new(sandbox, env, &child_env)),
            env: Arc::new(child_env),
            grace: STAGE_GRACE,
        })
    }

    /// Starts the sandbox helper from `launcher` (a `copilot-runner` binary) instead of this
    /// program: for tests that drive the backend in-process.
    #[must_use]
    pub fn with_sandbox_launcher(mut self, launcher: impl Into<PathBuf>) -> Self {
        self.sandbox = Arc::new(self.sandbox.as_ref().clone().with_launcher(launcher.into()));
        self
    }

    /// Overrides the time between SIGTERM and SIGKILL on a timeout.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The arguments for one stage, placeholders replaced.
    pub fn args(&self, request: &StageRequest, prompt_file: &Path) -> Vec<String> {
        self.template
            .iter()
            .map(|arg| {
                arg.replace("{prompt_file}", &prompt_file.display().to_string())
                    .replace("{workdir}", &request.repo_dir.display().to_string())
                    .replace("{scratch_dir}", &request.scratch_dir.display().to_string())
            })
            .collect()
    }
}

impl Agent for CommandAgent {
    async fn run_stage(&self, request: StageRequest) -> Result<AgentOutcome, AgentError> {
        super::prepare_dirs(&request).await?;
        let stage = request.stage.as_str();
        let prompt_file = request.scratch_dir.join(PROMPT_FILE);
        super::write_artifact(stage, &prompt_file, request.prompt.as_bytes()).await?;

        let spec = ProcessSpec::new(&self.program)
            .label(format!("agent ({stage})"))
            .args(self.args(&request, &prompt_file))
            .cwd(&request.repo_dir)
            .envs(self.env.iter().cloned())
            .timeout(request.timeout)
            .grace(self.grace);
        let spec = super::sandboxed(&self.sandbox, spec, &request).await?;
        let mut transcript = Vec::new();
        let section = telemetry::section(&format!("agent_{stage}"), &format!("Agent command: stage `{stage}`"));
        let result = process::run_with_lines(spec, |stream, line| {
            let shown = match stream {
                Stream::Stdout => line.to_owned(),
                Stream::Stderr => format!("! {line}"),
            };
            telemetry::write_job_log(&format!("{shown}\n"));
            transcript.push(shown);
        })
        .await;
        drop(section);

        let transcript_path = request.artifacts_dir.join(TRANSCRIPT_FILE);
        super::write_artifact(stage, &transcript_path, format!("{}\n", transcript.join("\n")).as_bytes()).await?;
        let output = match result {
            Ok(output) => output,
            Err(ProcessError::Timeout { after, output, .. }) => {
                let outcome = AgentOutcome {
                    exit_status: Some(output.status),
                    duration: output.duration,
                    transcript_path: Some(transcript_path),
                    ..AgentOutcome::default()
                };
                return Err(AgentError::Timeout { stage: stage.to_owned(), after, outcome: Box::new(outcome) });
            }
            Err(error) => return Err(AgentError::from_process(stage, error)),
        };
        let output_path = request.artifacts_dir.join(OUTPUT_FILE);
        super::write_artifact(stage, &output_path, &output.stdout.bytes).await?;
        let stdout = output.stdout.text();
        let final_message = (!stdout.trim().is_empty()).then(|| stdout.trim().to_owned());
        let outcome = AgentOutcome {
            final_message: final_message.clone(),
            messages: final_message.into_iter().collect(),
            exit_status: Some(output.status),
            duration: output.duration,
            raw_output_path: Some(output_path),
            transcript_path: Some(transcript_path),
            ..AgentOutcome::default()
        };
        if !output.success() {
            let stderr = output.stderr.text();
            let reason = format!("the agent command ended with {}: {}", output.status, super::tail(&stderr, 600));
            return Err(AgentError::Failed { stage: stage.to_owned(), reason, outcome: Box::new(outcome) });
        }
        Ok(outcome)
    }
}
