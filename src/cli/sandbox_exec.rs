//! `copilot-runner sandbox-exec`: the hidden helper every agent call is started through.
//!
//! It runs before any runtime or thread exists: `--probe` reports what the kernel enforces,
//! the plain form supervises one agent call, and `--inner` confines itself and execs the agent.
//! See `sandbox` for what each step does.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::sandbox::{self, Enforcement, Policy};

#[derive(Debug, Args)]
pub(super) struct SandboxExecArgs {
    /// Print what the kernel enforces, as JSON, and exit
    #[arg(long, conflicts_with_all = ["inner", "policy"])]
    probe: bool,
    /// Confine this process and exec the command (the step the supervisor starts)
    #[arg(long)]
    inner: bool,
    /// The stage's policy, as JSON
    #[arg(long, value_name = "JSON")]
    policy: Option<String>,
    /// The agent's program and its arguments
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Runs the helper; never returns to the caller's runtime.
pub(super) fn run(args: &SandboxExecArgs) -> ExitCode {
    if args.probe {
        let support = sandbox::probe_self();
        let json = serde_json::to_string(&support).unwrap_or_default();
        let _ = writeln!(std::io::stdout(), "{json}");
        return ExitCode::SUCCESS;
    }
    let failed = |message: String| {
        let _ = writeln!(std::io::stderr(), "{}{message}", sandbox::FAILURE_PREFIX);
        ExitCode::from(sandbox::EXIT_SANDBOX_FAILED)
    };
    let Some(json) = &args.policy else { return failed("`--policy` is missing".to_owned()) };
    let policy: Policy = match serde_json::from_str(json) {
        Ok(policy) => policy,
        Err(error) => return failed(format!("the policy is not valid JSON: {error}")),
    };
    let Some((program, rest)) = args.command.split_first() else { return failed("no command given".to_owned()) };
    let program = PathBuf::from(program);
    if !args.inner {
        let launcher = match std::env::current_exe() {
            Ok(path) => path,
            Err(error) => return failed(format!("cannot find this program's own path: {error}")),
        };
        return sandbox::supervise(&launcher, &policy, json, &program, rest);
    }
    if policy.confine {
        match sandbox::confine(&policy) {
            Ok(Enforcement::None) if policy.require => {
                return failed("Landlock is required but this kernel enforces none of it".to_owned());
            }
            Ok(_) => {}
            Err(reason) if policy.require => return failed(reason),
            Err(_) => {}
        }
    }
    let error = crate::process::exec_replacing(&program, rest);
    failed(format!("cannot start `{}`: {error}", program.display()))
}
