//! The agent sandbox: every agent process tree runs confined, and nothing of it outlives its stage.
//!
//! The runner holds secrets (the GitLab token above all) and the agent runs code a model wrote,
//! so the two never share a view of the machine. Each agent call is started through
//! `copilot-runner sandbox-exec`, a small re-exec of this binary (the caller is multi-threaded,
//! so no sandboxing code may run between its fork and exec):
//! - the **supervisor** ([`supervise`]) stays outside the sandbox, holds nothing secret, becomes
//!   the child subreaper of everything the agent starts, and ends every process that remains
//!   once the agent's main process has exited (a `setsid` or a double fork does not escape it);
//! - the **inner** step ([`confine`]) applies the stage's Landlock ruleset to itself, with
//!   `no_new_privs`, and execs the agent: files it may read or write, TCP ports it may connect
//!   to, and (ABI 6) no signals or abstract sockets outside. Landlock's ptrace scoping keeps
//!   `/proc/<pid>/environ` and `/proc/<pid>/mem` of every process outside the sandbox unreadable.
//!
//! [`Sandbox`] is the runner's side: from the settings it decides what a stage may reach
//! ([`policy`]) and turns the agent's [`ProcessSpec`] into the `sandbox-exec` invocation.

mod confine;
pub mod policy;
mod supervise;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use confine::{Enforcement, confine, probe_self};
pub use policy::{Policy, StageArea};
pub use supervise::supervise;

use crate::config::{Env, SandboxMode, SandboxSettings};
use crate::process::{self, ProcessSpec};

/// The hidden subcommand that runs an agent inside the sandbox.
pub const SUBCOMMAND: &str = "sandbox-exec";

/// The exit code of `sandbox-exec` when it could not start the agent (as `env` uses 125); its
/// stderr then has a line starting with [`FAILURE_PREFIX`].
pub const EXIT_SANDBOX_FAILED: u8 = 125;

/// How `sandbox-exec` starts the line that says why it failed.
pub const FAILURE_PREFIX: &str = "copilot-runner sandbox-exec: ";

/// Writes one failure line of `sandbox-exec` to stderr.
fn say(message: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{FAILURE_PREFIX}{message}");
}

/// A fresh folder for one job's clones and stage folders when `COPILOT_WORK_DIR` is not set:
/// outside the artifacts and the agent project's checkout, unique to this process.
pub fn fresh_work_dir() -> PathBuf {
    std::env::temp_dir().join(format!("copilot-runner-{}", std::process::id()))
}

/// Why an agent was not started.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// `COPILOT_SANDBOX=require` on a kernel that does not enforce Landlock.
    #[error(
        "the agent sandbox is required (`COPILOT_SANDBOX=require`) but this kernel ({kernel}) does not enforce Landlock: \
         {reason}; run the job on nodes with Linux 5.13 or later with `landlock` in the kernel's LSM list, \
         or set `COPILOT_SANDBOX=best-effort` to run the agent unconfined with a warning"
    )]
    Unavailable { kernel: String, reason: String },
    /// The sandbox helper could not be run, or a folder of the stage could not be made.
    #[error("the agent sandbox could not be set up: {reason}")]
    Setup { reason: String },
}

/// What the kernel enforces, as `sandbox-exec --probe` reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Support {
    /// The Landlock ABI the kernel offers (0: none).
    pub abi: u8,
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// Why Landlock is unavailable, when it is.
    pub reason: Option<String>,
}

impl Support {
    /// What a sandbox on this kernel enforces, in words, for `doctor` and the job log.
    pub fn describe(&self) -> Vec<&'static str> {
        let mut enforced = Vec::new();
        if self.abi >= 1 {
            enforced
                .push("files: writes only in the worktree, scratch, home and temp folders; reads only where granted");
            enforced.push("processes: `/proc/<pid>/environ` and `mem` of processes outside the sandbox are unreadable");
        }
        if self.abi >= 4 {
            enforced.push("network: TCP connections only to the allowed ports");
        }
        if self.abi >= 6 {
            enforced.push("signals and abstract unix sockets: nothing outside the sandbox");
        }
        enforced
    }

    /// What this kernel cannot enforce, in words.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.abi < 1 {
            missing.push("file and process confinement (Landlock ABI 1, Linux 5.13)");
        }
        if self.abi < 4 {
            missing.push("TCP port rules (Landlock ABI 4, Linux 6.7)");
        }
        if self.abi < 6 {
            missing.push("signal and abstract socket scoping (Landlock ABI 6, Linux 6.12)");
        }
        missing
    }
}

/// The runner's side of the sandbox: what every stage may reach, and how to start an agent in it.
#[derive(Debug, Clone)]
pub struct Sandbox {
    mode: SandboxMode,
    /// This binary, which runs `sandbox-exec`.
    launcher: PathBuf,
    /// Folders every stage may read and execute from.
    read: Vec<PathBuf>,
    /// TCP ports every stage may connect to.
    ports: Vec<u16>,
    /// Paths no stage may reach, whatever else is granted.
    protected: Vec<PathBuf>,
    support: OnceLock<Result<Support, String>>,
    /// Set once the job log said what this kernel does not enforce.
    warned: OnceLock<()>,
}

impl Sandbox {
    /// The sandbox the settings ask for; `agent_env` is the agent's own environment (its `PATH`,
    /// `HOME`, model endpoint and proxy decide what it may reach).
    pub fn new(settings: &SandboxSettings, env: &Env, agent_env: &[(String, String)]) -> Self {
        let launcher = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("copilot-runner"));
        let get = |name: &str| agent_env.iter().find(|(known, _)| known == name).map(|(_, value)| value.as_str());
        let mut read = policy::system_read_paths();
        read.extend(get("PATH").into_iter().flat_map(std::env::split_paths));
        read.extend(settings.read_paths.iter().cloned());
        // The agent is told to trust this bundle (`NODE_EXTRA_CA_CERTS`), so it must read it.
        read.extend(crate::tls::bundle_path().map(std::path::Path::to_owned));
        let mut ports = policy::default_ports(get);
        ports.extend(&settings.ports);
        ports.sort_unstable();
        ports.dedup();
        Self {
            mode: settings.mode,
            launcher,
            read,
            ports,
            protected: policy::protected_paths(settings, env),
            support: OnceLock::new(),
            warned: OnceLock::new(),
        }
    }

    /// The same sandbox, the agent also allowed to read and execute from `paths`.
    #[must_use]
    pub fn with_read_paths(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.read.extend(paths);
        self
    }

    /// The same sandbox, its helper started from another `copilot-runner` binary (tests that
    /// drive an agent backend in-process name the built binary here).
    #[must_use]
    pub fn with_launcher(mut self, launcher: PathBuf) -> Self {
        self.launcher = launcher;
        self.support = OnceLock::new();
        self
    }

    /// What the kernel enforces, probed once through `sandbox-exec --probe`.
    pub async fn support(&self) -> Result<Support, SandboxError> {
        if let Some(known) = self.support.get() {
            return known.clone().map_err(|reason| SandboxError::Setup { reason });
        }
        let spec = ProcessSpec::new(&self.launcher)
            .args([SUBCOMMAND, "--probe"])
            .timeout(Duration::from_secs(30))
            .label("sandbox probe");
        let probed = match process::run(spec).await {
            Ok(output) if output.success() => {
                serde_json::from_slice::<Support>(&output.stdout.bytes).map_err(|error| {
                    format!("`{} {SUBCOMMAND} --probe` answered garbage: {error}", self.launcher.display())
                })
            }
            Ok(output) => Err(format!(
                "`{} {SUBCOMMAND} --probe` failed ({}): {}",
                self.launcher.display(),
                output.status,
                output.stderr.text().trim()
            )),
            Err(error) => Err(error.to_string()),
        };
        let known = self.support.get_or_init(|| probed);
        known.clone().map_err(|reason| SandboxError::Setup { reason })
    }

    /// Checks, before an agent starts, that the sandbox can be what the settings require.
    pub async fn check(&self) -> Result<(), SandboxError> {
        if self.mode == SandboxMode::Off {
            return Ok(());
        }
        let support = self.support().await?;
        if support.abi == 0 && self.mode == SandboxMode::Require {
            return Err(SandboxError::Unavailable {
                kernel: support.kernel,
                reason: support.reason.unwrap_or_else(|| "Landlock is not available".to_owned()),
            });
        }
        let missing = support.missing();
        if !missing.is_empty() && self.warned.set(()).is_ok() {
            tracing::warn!(
                kernel = %support.kernel,
                abi = support.abi,
                missing = %missing.join("; "),
                "the agent sandbox runs with what this kernel enforces"
            );
        }
        Ok(())
    }

    /// Turns the agent's child `spec` into its sandboxed start: `sandbox-exec` supervises it and
    /// confines it to `area`. The agent's environment gets `TMPDIR` in its private folder.
    pub async fn wrap(&self, spec: ProcessSpec, area: &StageArea) -> Result<ProcessSpec, SandboxError> {
        self.check().await?;
        if self.mode != SandboxMode::Off {
            self.refuse_protected(area)?;
        }
        let tmp = area.private_dir.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|error| SandboxError::Setup {
            reason: format!("cannot create the agent's temporary folder `{}`: {error}", tmp.display()),
        })?;
        // A state folder the agent's program would create on its first run must exist before
        // it can be granted.
        for name in ["HOME", "COPILOT_HOME"] {
            if let Some((_, dir)) = spec.env.iter().find(|(known, _)| known == name) {
                let _ = std::fs::create_dir_all(dir);
            }
        }
        let policy = self.policy(&spec, area, &tmp);
        let json = serde_json::to_string(&policy).map_err(|error| SandboxError::Setup { reason: error.to_string() })?;
        let mut args =
            vec![SUBCOMMAND.into(), "--policy".into(), json.into(), "--".into(), spec.program.clone().into()];
        args.extend(spec.args.iter().cloned());
        let mut wrapped = spec.env("TMPDIR", tmp.display().to_string());
        wrapped.program = self.launcher.clone();
        wrapped.args = args;
        Ok(wrapped)
    }

    /// A stage whose own folders lie inside a protected path (a work folder inside the agent
    /// project's checkout or the artifacts) cannot be granted them: say so instead of starting
    /// an agent that may not touch its own work tree.
    fn refuse_protected(&self, area: &StageArea) -> Result<(), SandboxError> {
        for folder in [&area.repo_dir, &area.scratch_dir, &area.private_dir] {
            if let Some(protected) = policy::protecting(folder, &self.protected) {
                return Err(SandboxError::Setup {
                    reason: format!(
                        "the stage folder `{}` is inside `{}`, which the agent may never reach; \
                         set `COPILOT_WORK_DIR` to a folder outside the agent project's checkout and the artifacts",
                        folder.display(),
                        protected.display()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The policy of one stage: what `spec`'s program may read, write and connect to.
    pub fn policy(&self, spec: &ProcessSpec, area: &StageArea, tmp: &Path) -> Policy {
        let get = |name: &str| spec.env.iter().find(|(known, _)| known == name).map(|(_, value)| PathBuf::from(value));
        let mut read = self.read.clone();
        read.push(policy::program_root(&spec.program));
        read.extend(policy::trusted_git_dir(&area.repo_dir));
        let mut write = vec![area.repo_dir.clone(), area.scratch_dir.clone(), area.private_dir.clone(), tmp.to_owned()];
        write.extend(get("HOME"));
        write.extend(get("COPILOT_HOME"));
        Policy {
            confine: self.mode != SandboxMode::Off,
            require: self.mode == SandboxMode::Require,
            read: policy::carve(read, &self.protected),
            write: policy::carve(write, &self.protected),
            devices: policy::DEVICES.iter().map(PathBuf::from).collect(),
            ports: self.ports.clone(),
            grace_ms: u64::try_from(spec.grace.saturating_sub(Duration::from_secs(2)).as_millis()).unwrap_or(u64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Flags, Settings};

    fn sandbox(mode: &str, support: Support) -> Sandbox {
        let env = Env::from_pairs([("COPILOT_SANDBOX", mode)]);
        let settings = Settings::resolve(&env, &Flags::default()).unwrap();
        let sandbox = Sandbox::new(&settings.sandbox, &env, &[]);
        sandbox.support.set(Ok(support)).unwrap();
        sandbox
    }

    fn no_landlock() -> Support {
        Support { abi: 0, kernel: "5.10.0-old".to_owned(), reason: Some("the kernel has no Landlock".to_owned()) }
    }

    #[tokio::test]
    async fn require_refuses_a_kernel_without_landlock_naming_the_kernel_and_the_fix() {
        let error = sandbox("require", no_landlock()).check().await.unwrap_err().to_string();
        assert!(error.contains("5.10.0-old") && error.contains("the kernel has no Landlock"), "{error}");
        assert!(error.contains("Linux 5.13") && error.contains("COPILOT_SANDBOX=best-effort"), "{error}");
    }

    #[tokio::test]
    async fn best_effort_and_off_run_on_a_kernel_without_landlock() {
        sandbox("best-effort", no_landlock()).check().await.unwrap();
        sandbox("off", no_landlock()).check().await.unwrap();
    }

    #[tokio::test]
    async fn a_work_folder_inside_the_agent_projects_checkout_is_refused_with_the_fix() {
        let root = tempfile::tempdir().unwrap();
        let project = root.path().join("agent-project");
        let env = Env::from_pairs([("CI_PROJECT_DIR", project.display().to_string())]);
        let settings = Settings::resolve(&env, &Flags::default()).unwrap();
        let sandbox = Sandbox::new(&settings.sandbox, &env, &[]);
        sandbox.support.set(Ok(Support { abi: 7, kernel: "6.18".to_owned(), reason: None })).unwrap();
        let area = |work: &Path| StageArea {
            repo_dir: work.join("project-1"),
            scratch_dir: work.join("stages/1-analysis/scratch"),
            private_dir: work.join("stages/1-analysis/agent-1"),
        };
        for folder in [project.join("work/project-1"), root.path().join("work/project-1")] {
            std::fs::create_dir_all(folder).unwrap();
        }
        let inside = sandbox.wrap(ProcessSpec::new("/bin/true"), &area(&project.join("work"))).await;
        let error = inside.unwrap_err().to_string();
        assert!(error.contains("COPILOT_WORK_DIR") && error.contains("agent-project"), "{error}");
        sandbox.wrap(ProcessSpec::new("/bin/true"), &area(&root.path().join("work"))).await.unwrap();
    }

    #[test]
    fn what_an_older_kernel_misses_is_named() {
        let support = Support { abi: 3, kernel: "6.1".to_owned(), reason: None };
        assert_eq!(support.describe().len(), 2);
        assert_eq!(support.missing().len(), 2);
        assert!(support.missing()[0].contains("TCP port rules"));
    }
}
