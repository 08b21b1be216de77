//! What the machine doctor runs on offers the agent: the Copilot CLI and its version, the
//! agent sandbox (the kernel's Landlock ABI and what it will enforce) and the context cache
//! store. Run doctor inside the image to check the image.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Check, DoctorArgs, PINNED_COPILOT_VERSION};
use crate::config::{Env, SandboxMode, SandboxSettings};
use crate::env_vars;
use crate::process::{self, ProcessSpec};
use crate::sandbox::Sandbox;

/// `copilot --version` through the process runner, with a short timeout. The CLI is found as the
/// agent finds it: `--copilot`, else `COPILOT_CLI_PATH`, else `copilot` on `PATH`.
pub(super) async fn copilot_check(args: &DoctorArgs, configured: Option<&PathBuf>, env: &Env) -> Check {
    const COPILOT: &str = "copilot cli";
    let install_fix = format!(
        "install it with `npm install -g @github/copilot@{PINNED_COPILOT_VERSION}` (optional dependencies included), or \
         point `{}` (or `--copilot`) at it",
        env_vars::COPILOT_CLI_PATH
    );
    let program = match args.copilot.as_ref().or(configured) {
        Some(path) => Some(path.clone()),
        None => process::find_program("copilot", env, Path::new(".")),
    };
    let Some(program) = program else {
        return Check::fail(COPILOT, "`copilot` is not on PATH", install_fix);
    };
    let home = env.get("HOME").unwrap_or("/tmp").to_owned();
    let spec = ProcessSpec::new(&program)
        .arg("--version")
        .envs(process::env_allowlist(env, &["PATH", "HOME", "LANG", "LC_ALL"], &[]))
        .env("HOME", home)
        .timeout(Duration::from_secs(30))
        .label("copilot --version");
    match process::run(spec).await {
        Ok(output) if output.success() => {
            let text = output.stdout.text();
            match copilot_version(&text) {
                Some(version) if version == PINNED_COPILOT_VERSION => {
                    Check::pass(COPILOT, format!("{} is version {version}", program.display()))
                }
                Some(version) => Check::pass(
                    COPILOT,
                    format!(
                        "{} is version {version} (copilot-runner is tested with {PINNED_COPILOT_VERSION})",
                        program.display()
                    ),
                ),
                None => Check::fail(
                    COPILOT,
                    format!("{} printed no version: `{}`", program.display(), text.trim()),
                    install_fix,
                ),
            }
        }
        Ok(output) => Check::fail(
            COPILOT,
            format!(
                "`{} --version` ended with {}: {}",
                program.display(),
                output.status,
                first_line(&output.stderr.text())
                    .unwrap_or_else(|| first_line(&output.stdout.text()).unwrap_or_default())
            ),
            install_fix,
        ),
        Err(error) => Check::fail(COPILOT, error.to_string(), install_fix),
    }
}

/// What the agent sandbox will enforce on this kernel, as `COPILOT_SANDBOX` asks.
pub(super) async fn sandbox_check(args: &DoctorArgs, settings: &SandboxSettings, env: &Env) -> Check {
    const SANDBOX: &str = "agent sandbox";
    let mut sandbox = Sandbox::new(settings, env, &[]);
    if let Some(helper) = &args.sandbox_helper {
        sandbox = sandbox.with_launcher(helper.clone());
    }
    let mode = match settings.mode {
        SandboxMode::Require => "require",
        SandboxMode::BestEffort => "best-effort",
        SandboxMode::Off => "off",
    };
    let support = match sandbox.support().await {
        Ok(support) => support,
        Err(error) => {
            return Check::fail(SANDBOX, error.to_string(), "reinstall copilot-runner; the image ships it whole");
        }
    };
    let enforced = support.describe();
    let missing = support.missing();
    let summary = format!(
        "`COPILOT_SANDBOX={mode}`; kernel {} offers Landlock ABI {}; enforced: {}; not enforced: {}",
        support.kernel,
        support.abi,
        if enforced.is_empty() { "nothing".to_owned() } else { enforced.join("; ") },
        if missing.is_empty() { "nothing".to_owned() } else { missing.join("; ") },
    );
    match (settings.mode, support.abi) {
        (SandboxMode::Off, _) => Check::pass(
            SANDBOX,
            format!(
                "`COPILOT_SANDBOX=off`: the agent runs unconfined (kernel {}, Landlock ABI {})",
                support.kernel, support.abi
            ),
        ),
        (SandboxMode::Require, 0) => Check::fail(
            SANDBOX,
            summary,
            "run the jobs on nodes whose kernel has Landlock (Linux 5.13 or later with `landlock` in the LSM list: \
             `cat /sys/kernel/security/lsm`), or set `COPILOT_SANDBOX=best-effort` to accept an unconfined agent",
        ),
        _ => Check::pass(SANDBOX, summary),
    }
}

fn first_line(text: &str) -> Option<String> {
    text.lines().map(str::trim).find(|line| !line.is_empty()).map(str::to_owned)
}

/// The version in `GitHub Copilot CLI 1.0.102.` (the trailing period is part of the CLI's text).
pub fn copilot_version(text: &str) -> Option<&str> {
    let rest = &text[text.find("Copilot CLI ")? + "Copilot CLI ".len()..];
    let version = rest.split_whitespace().next()?.trim_end_matches('.');
    version.chars().next().filter(char::is_ascii_digit).map(|_| version)
}

/// A `file://` store must be a writable folder; a cloud store is reached at its first use, where
/// a failure means a full analysis rather than a failed job.
pub(super) async fn cache_check(url: &str) -> Check {
    const CACHE: &str = "context cache";
    if let Some(path) = url.strip_prefix("file://") {
        let dir = Path::new(path);
        let fix = format!(
            "make `{}` writable for this user, or point `{}` at a writable folder",
            dir.display(),
            env_vars::CONTEXT_CACHE_URL
        );
        if let Err(error) = tokio::fs::create_dir_all(dir).await {
            return Check::fail(CACHE, format!("cannot create `{}`: {error}", dir.display()), fix);
        }
        let probe = dir.join(format!(".doctor-probe-{}", std::process::id()));
        if let Err(error) = tokio::fs::write(&probe, b"probe").await {
            return Check::fail(CACHE, format!("cannot write in `{}`: {error}", dir.display()), fix);
        }
        let _ = tokio::fs::remove_file(&probe).await;
        return Check::pass(CACHE, format!("`{}` is a writable folder", dir.display()));
    }
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("az" | "s3" | "gs") => Check::skipped(
            CACHE,
            format!("`{url}` is reached at the first run; when it is down the job does a full analysis instead"),
        ),
        _ => Check::fail(
            CACHE,
            format!("`{url}` is not a store copilot-runner knows"),
            format!("set `{}` to `file://DIR`, `az://…`, `s3://…` or `gs://…`", env_vars::CONTEXT_CACHE_URL),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::doctor::Outcome;

    #[test]
    fn reads_the_version_the_cli_prints() {
        let text = "GitHub Copilot CLI 1.0.102.\nRun 'copilot update' to check for updates.\n";
        assert_eq!(copilot_version(text), Some("1.0.102"));
        assert_eq!(copilot_version("GitHub Copilot CLI"), None);
        assert_eq!(copilot_version("no platform package found"), None);
    }

    #[tokio::test]
    async fn file_cache_must_be_writable() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().join("cache").display());
        assert_eq!(cache_check(&url).await.outcome, Outcome::Pass);
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        let check = cache_check(&format!("file://{}/cache", file.display())).await;
        assert_eq!(check.outcome, Outcome::Fail);
        assert!(check.fix.unwrap().contains(env_vars::CONTEXT_CACHE_URL));
        assert_eq!(cache_check("ftp://x").await.outcome, Outcome::Fail);
        assert_eq!(cache_check("s3://bucket/prefix").await.outcome, Outcome::Skipped);
    }
}
