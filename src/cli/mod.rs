//! The command line: global flags, one file per subcommand, dispatch in one place.
//!
//! `main` resolves the settings once (flags > environment > file > defaults), starts logging,
//! runs the subcommand on a tokio runtime and turns its outcome into an exit code, printing the
//! whole error chain and any known hint.

mod cache;
mod config;
pub mod doctor;
mod exit_code;
mod local;
mod plan;
mod run;
mod sandbox_exec;
pub mod serve;
pub mod setup;
mod usage;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Env, Flags, LogFormat, Settings};
use crate::env_vars;
use crate::exit::{self, Code};

pub use exit_code::exit_code;

/// A GitHub-Copilot-powered coding agent for GitLab.
#[derive(Debug, Parser)]
#[command(name = "copilot-runner", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every subcommand accepts; each overrides the environment variable of the same meaning.
#[derive(Debug, Args)]
struct GlobalArgs {
    /// YAML configuration file [env: COPILOT_RUNNER_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log format on stderr [env: COPILOT_RUNNER_LOG_FORMAT]
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    /// GitLab base URL [env: GITLAB_API_BASE]
    #[arg(long, global = true, value_name = "URL")]
    gitlab_api_base: Option<String>,
    /// Language of prompts and comments: en, zh, ja, ko, hi, th [env: COPILOT_LANGUAGE]
    #[arg(long, global = true, value_name = "LANG")]
    language: Option<String>,
    /// Folder for logs and reports kept as job artifacts [env: COPILOT_ARTIFACTS_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    artifacts_dir: Option<PathBuf>,
}

impl GlobalArgs {
    fn flags(&self) -> Flags {
        let mut flags = Flags::default();
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        flags.set(env_vars::COPILOT_RUNNER_CONFIG, "--config", path(&self.config));
        let format = self.log_format.map(|f| if f == LogFormat::Json { "json" } else { "human" });
        flags.set(env_vars::COPILOT_RUNNER_LOG_FORMAT, "--log-format", format);
        flags.set(env_vars::GITLAB_API_BASE, "--gitlab-api-base", self.gitlab_api_base.clone());
        flags.set(env_vars::COPILOT_LANGUAGE, "--language", self.language.clone());
        flags.set(env_vars::COPILOT_ARTIFACTS_DIR, "--artifacts-dir", path(&self.artifacts_dir));
        flags
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the workflow a triggered pipeline asks for (`TRIGGER_TYPE` and `TARGET_*`)
    Run(run::RunArgs),
    /// Run the plan and stages on a local checkout and commit on a branch (no GitLab needed)
    Local(local::LocalArgs),
    /// Print the effective settings with their sources (secrets masked) and check them
    Config(config::ConfigArgs),
    /// Check the installation: token, agent user, project access, trigger, Copilot CLI, cache
    Doctor(doctor::DoctorArgs),
    /// Print the plan for a task (complexity, stages, prompts) without changing anything
    Plan(plan::PlanArgs),
    /// Serve GitLab webhooks and trigger the agent's pipeline (see docs/webhook.md)
    Serve(serve::ServeArgs),
    /// Set GitLab up for the agent: agent project, CI file, trigger token, variables, memberships, webhooks
    Setup(setup::SetupArgs),
    /// Look into the context cache: the level a job would hit, an entry, pruning
    Cache(cache::CacheArgs),
    /// Print what the jobs spent (premium requests, tokens) per project and month
    Usage(usage::UsageArgs),
    /// Run one agent call in the sandbox (started by the runner itself)
    #[command(name = "sandbox-exec", hide = true)]
    SandboxExec(sandbox_exec::SandboxExecArgs),
}

/// Parses the command line, runs the subcommand and maps its outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` are not errors.
            let code = if error.use_stderr() { Code::Usage } else { Code::Done };
            let _ = error.print();
            return code.into();
        }
    };
    // Before anything else, and before any thread exists: the helper's steps must run
    // single-threaded, and read no settings.
    if let Command::SandboxExec(args) = &cli.command {
        return sandbox_exec::run(args);
    }
    // No other process of this uid may read our memory or `/proc/<pid>/environ` (the agent is
    // kept out by the sandbox in any case; this covers everything else on the machine).
    let _ = nix::sys::prctl::set_dumpable(false);
    let env = Env::capture();
    let flags = cli.global.flags();
    if let Command::Config(args) = cli.command {
        return config::run(&args, &env, &flags).into();
    }
    let settings = match Settings::resolve(&env, &flags) {
        Ok(settings) => settings,
        Err(errors) => return report(&anyhow::Error::new(errors)).into(),
    };
    let log_dir = matches!(cli.command, Command::Run(_) | Command::Local(_)).then(|| settings.artifacts_dir.clone());
    let _guard = match crate::telemetry::init(settings.log.format, &settings.log.filter, log_dir.as_deref()) {
        Ok(guard) => guard,
        Err(error) => {
            // The error names the folder; the usage error in front says what could not start.
            return report(&anyhow::Error::new(error).context(exit::Usage("cannot start logging".into()))).into();
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return report(&anyhow::Error::new(error).context("while starting the async runtime")).into(),
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => run::run(args, settings, env).await,
            Command::Doctor(args) => doctor::run(args, settings, env).await,
            Command::Plan(args) => plan::run(args, settings, env).await,
            Command::Local(args) => local::run(args, settings, env).await,
            Command::Serve(args) => serve::run(args, settings, env).await,
            Command::Setup(args) => setup::run(args, settings, env).await,
            Command::Cache(args) => cache::run(args, settings, env).await,
            Command::Usage(args) => usage::run(args, settings, env).await,
            Command::Config(_) | Command::SandboxExec(_) => unreachable!("handled before the runtime starts"),
        }
    });
    // A blocking task left behind (a clone stopped at its timeout while a read hangs) must not
    // keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(code) => code.into(),
        Err(error) => report(&error).into(),
    }
}

/// Prints an error chain with its hints to stderr and returns its exit code.
fn report(error: &anyhow::Error) -> Code {
    let mut text = format!("error: {error}\n");
    for cause in error.chain().skip(1) {
        if let Some(hint) = cause.downcast_ref::<exit::Hint>() {
            text.push_str(&format!("hint: {hint}\n"));
        } else {
            text.push_str(&format!("  caused by: {cause}\n"));
        }
    }
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(crate::redact::redact(&text).as_bytes());
    exit_code(error)
}
