//! `copilot-runner doctor`: checks an installation end to end before anyone assigns an issue,
//! and says what to fix. Run at install time by a person, or in the image to check the image.
//!
//! Checks, in order: the GitLab token (`GET /user`), that it belongs to the configured agent
//! user, the agent's access to a sample project (`--project`), the agent project's branch, its
//! "minimum role to use pipeline variables" (`no_one_allowed` once triggers pass inputs) and its
//! trigger token, the Copilot CLI (`copilot --version`), the agent sandbox (the kernel's Landlock
//! ABI and what it will enforce), and the context cache store. Each check
//! passes, fails with a fix, is skipped with the reason, or finds GitLab unreachable. Exit code:
//! 0 when nothing failed, 3 when GitLab could not be reached, 2 for any other failure.
//!
//! The trigger token is checked without starting a pipeline: the trigger API is called for a ref
//! whose name git forbids (`..`), so no such branch can exist. GitLab answers 400 "reference not
//! found" when it accepted the token, and 404 (or 401/403) when it did not know the token. No
//! `TRIGGER_TYPE` is sent either, so even a pipeline GitLab did create would be filtered out by
//! the template's `workflow: rules`; should one appear anyway, doctor cancels it and says so.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::config::{Env, SandboxMode, Settings};
use crate::env_vars;
use crate::exit::Code;
use crate::gitlab::{self, AccessLevel, Client, ClientOptions, CurrentUser, ProjectId, RetryPolicy, TriggerParameters};
use crate::process::{self, ProcessSpec};
use crate::sandbox::Sandbox;
use crate::trigger::{TriggerWith, token};

/// A ref name git refuses (`..` is not allowed in a ref), so the trigger probe can never run a
/// pipeline on a real branch.
pub const TRIGGER_PROBE_REF: &str = "copilot-runner-doctor..probe";

/// The name of the check of the agent project's "minimum role to use pipeline variables".
const VARIABLES: &str = "pipeline variables";

/// The Copilot CLI version the image pins and the tests run.
pub const PINNED_COPILOT_VERSION: &str = "1.0.102";

/// Checks the installation and says what to fix.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DoctorArgs {
    /// A project the agent should work on (numeric id or `group/project`): checks the agent's access to it
    #[arg(long, value_name = "ID")]
    pub project: Option<String>,
    /// The Copilot CLI to check [default: `COPILOT_CLI_PATH`, else `copilot` on PATH]
    #[arg(long, value_name = "PATH")]
    pub copilot: Option<PathBuf>,
    /// The `copilot-runner` binary whose `sandbox-exec` is probed [default: this program]
    #[arg(long, value_name = "PATH", hide = true)]
    pub sandbox_helper: Option<PathBuf>,
}

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// GitLab (or the store) could not be reached: infrastructure, not configuration.
    Unreachable,
    Skipped,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    pub detail: String,
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self { name, outcome: Outcome::Pass, detail: detail.into(), fix: None }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { name, outcome: Outcome::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }

    fn skipped(name: &'static str, detail: impl Into<String>) -> Self {
        Self { name, outcome: Outcome::Skipped, detail: detail.into(), fix: None }
    }

    /// A GitLab error as a check result: unreachable is infrastructure, the rest needs a fix.
    fn from_gitlab(name: &'static str, api_url: &str, error: &gitlab::Error, fix: &str) -> Self {
        match error {
            gitlab::Error::Transport { .. } | gitlab::Error::RateLimited { .. } => Self {
                name,
                outcome: Outcome::Unreachable,
                detail: error.to_string(),
                fix: Some(format!(
                    "check that `{api_url}` is reachable from here (`{}`, proxy variables, firewall)",
                    env_vars::GITLAB_API_BASE
                )),
            },
            gitlab::Error::Status { code, .. } if *code >= 500 => Self {
                name,
                outcome: Outcome::Unreachable,
                detail: error.to_string(),
                fix: Some("GitLab answers with server errors; try again later or ask its administrators".to_owned()),
            },
            _ => Self::fail(name, error.to_string(), fix),
        }
    }
}

/// Every check, in the order they ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    /// 3 when anything was unreachable, 2 when anything failed, else 0.
    pub fn exit_code(&self) -> Code {
        if self.checks.iter().any(|check| check.outcome == Outcome::Unreachable) {
            Code::Unreachable
        } else if self.checks.iter().any(|check| check.outcome == Outcome::Fail) {
            Code::Usage
        } else {
            Code::Done
        }
    }

    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.name == name)
    }

    /// The report as people read it: one line per check, a `fix:` line under each failure.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for check in &self.checks {
            let mark = match check.outcome {
                Outcome::Pass => "ok  ",
                Outcome::Fail => "FAIL",
                Outcome::Unreachable => "DOWN",
                Outcome::Skipped => "skip",
            };
            let _ = writeln!(text, "[{mark}] {}: {}", check.name, check.detail);
            if let Some(fix) = &check.fix {
                let _ = writeln!(text, "       fix: {fix}");
            }
        }
        let failed = self.checks.iter().filter(|c| matches!(c.outcome, Outcome::Fail | Outcome::Unreachable)).count();
        let _ = match failed {
            0 => writeln!(text, "all checks passed"),
            n => writeln!(text, "{n} check(s) need attention"),
        };
        text
    }
}

/// Runs every check and prints the report on stdout.
pub async fn run(args: DoctorArgs, settings: Settings, env: Env) -> anyhow::Result<Code> {
    let report = diagnose(&args, &settings, &env).await;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(crate::redact::redact(&report.render()).as_bytes())?;
    stdout.flush()?;
    Ok(report.exit_code())
}

/// Runs every check; never fails itself, every problem is a line of the report.
pub async fn diagnose(args: &DoctorArgs, settings: &Settings, env: &Env) -> Report {
    let mut report = Report::default();
    let api_url = settings.api_url();
    let agent = gitlab_checks(args, settings, &api_url, &mut report).await;
    trigger_checks(settings, &api_url, agent.as_ref(), &mut report).await;
    report.checks.push(copilot_check(args, settings.copilot_cli_path.as_ref(), env).await);
    report.checks.push(sandbox_check(args, settings, env).await);
    report.checks.push(cache_check(&settings.context_cache_url).await);
    report
}

/// The client and the agent user, once the token works.
struct Agent {
    client: Client,
    user: CurrentUser,
}

/// Doctor is interactive: a short retry budget, so an unreachable GitLab is reported in seconds.
fn doctor_client(api_url: &str, token: &SecretString) -> Result<Client, gitlab::Error> {
    let options = ClientOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(20),
        retry: RetryPolicy { max_attempts: 2, total_budget: Duration::from_secs(15), ..RetryPolicy::default() },
        ..ClientOptions::default()
    };
    Client::with_options(api_url, token, &options)
}

async fn gitlab_checks(args: &DoctorArgs, settings: &Settings, api_url: &str, report: &mut Report) -> Option<Agent> {
    const TOKEN: &str = "gitlab token";
    const AGENT: &str = "agent user";
    const PROJECT: &str = "project access";
    let token_fix = format!(
        "set `{}` to a token of the agent user with the `api` and `write_repository` scopes",
        env_vars::GITLAB_TOKEN
    );
    let Some(token) = settings.gitlab_token.as_ref() else {
        report.checks.push(Check::fail(TOKEN, format!("`{}` is not set", env_vars::GITLAB_TOKEN), token_fix));
        report.checks.push(Check::skipped(AGENT, "needs a working token"));
        report.checks.push(Check::skipped(PROJECT, "needs a working token"));
        return None;
    };
    let client = match doctor_client(api_url, token) {
        Ok(client) => client,
        Err(error) => {
            let fix = format!(
                "set `{}` to the GitLab base URL, e.g. `https://gitlab.example.com`",
                env_vars::GITLAB_API_BASE
            );
            report.checks.push(Check::fail(TOKEN, error.to_string(), fix));
            report.checks.push(Check::skipped(AGENT, "needs a working token"));
            report.checks.push(Check::skipped(PROJECT, "needs a working token"));
            return None;
        }
    };
    let user = match client.current_user().await {
        Ok(user) => user,
        Err(error) => {
            report.checks.push(Check::from_gitlab(TOKEN, api_url, &error, &token_fix));
            report.checks.push(Check::skipped(AGENT, "needs a working token"));
            report.checks.push(Check::skipped(PROJECT, "needs a working token"));
            return None;
        }
    };
    report
        .checks
        .push(Check::pass(TOKEN, format!("accepted by {api_url}; it belongs to @{} (id {})", user.username, user.id)));

    let state = user.state.as_deref().unwrap_or("active");
    report.checks.push(if !user.username.eq_ignore_ascii_case(&settings.agent_username) {
        Check::fail(
            AGENT,
            format!(
                "the token belongs to @{} but `{}` is @{}",
                user.username,
                env_vars::COPILOT_AGENT_USERNAME,
                settings.agent_username
            ),
            format!(
                "use a token of @{} or set `{}={}`; mentions, assignments and loop protection use that name",
                settings.agent_username,
                env_vars::COPILOT_AGENT_USERNAME,
                user.username
            ),
        )
    } else if state != "active" {
        Check::fail(
            AGENT,
            format!("@{} is {state}", user.username),
            "ask a GitLab administrator to reactivate the user",
        )
    } else {
        Check::pass(AGENT, format!("@{} is active{}", user.username, if user.bot { " (a bot user)" } else { "" }))
    });

    report.checks.push(match &args.project {
        None => Check::skipped(PROJECT, "pass `--project ID` to check the agent's access to a project"),
        Some(project) => project_access(&client, &user, project, api_url).await,
    });
    Some(Agent { client, user })
}

/// The agent needs Developer on a project to push `copilot/` branches and open merge requests.
async fn project_access(client: &Client, user: &CurrentUser, project: &str, api_url: &str) -> Check {
    const PROJECT: &str = "project access";
    let add_fix = format!("add @{} to the project (or its group) with the Developer role", user.username);
    let project = match client.project(ProjectId::from(project)).await {
        Ok(project) => project,
        Err(error) => return Check::from_gitlab(PROJECT, api_url, &error, &add_fix),
    };
    match client.member(project.id, user.id).await {
        Ok(Some(member)) if member.access_level >= AccessLevel::DEVELOPER => Check::pass(
            PROJECT,
            format!("@{} has access level {} on {}", user.username, member.access_level.0, project.path_with_namespace),
        ),
        Ok(Some(member)) => Check::fail(
            PROJECT,
            format!(
                "@{} has access level {} on {}; pushing branches and opening merge requests needs Developer (30)",
                user.username, member.access_level.0, project.path_with_namespace
            ),
            format!("give @{} the Developer role on {}", user.username, project.path_with_namespace),
        ),
        Ok(None) => Check::fail(
            PROJECT,
            format!("@{} is not a member of {}", user.username, project.path_with_namespace),
            add_fix,
        ),
        Err(error) => Check::from_gitlab(PROJECT, api_url, &error, &add_fix),
    }
}

async fn trigger_checks(settings: &Settings, api_url: &str, agent: Option<&Agent>, report: &mut Report) {
    const PROJECT: &str = "agent project";
    const TRIGGER: &str = "trigger token";
    let Some(project_id) = settings.pipeline_project_id else {
        report.checks.push(Check::fail(
            PROJECT,
            format!("`{}` is not set", env_vars::PIPELINE_PROJECT_ID),
            format!("set `{}` to the numeric id of the agent project", env_vars::PIPELINE_PROJECT_ID),
        ));
        report.checks.push(Check::skipped(VARIABLES, "needs the agent project"));
        report.checks.push(Check::skipped(TRIGGER, "needs the agent project"));
        return;
    };
    let Some(agent) = agent else {
        report.checks.push(Check::skipped(PROJECT, "needs a working token"));
        report.checks.push(Check::skipped(VARIABLES, "needs a working token"));
        report.checks.push(Check::skipped(TRIGGER, "needs a working token"));
        return;
    };
    let git_ref = &settings.pipeline_ref;
    let ref_fix = format!(
        "set `{}` to the agent project's branch that holds the `.gitlab-ci.yml`, and give @{} access to the project",
        env_vars::PIPELINE_REF,
        agent.user.username
    );
    report.checks.push(match agent.client.branch(project_id, git_ref).await {
        Ok(Some(_)) => Check::pass(PROJECT, format!("project {project_id} has the branch `{git_ref}`")),
        Ok(None) => Check::fail(PROJECT, format!("project {project_id} has no branch `{git_ref}`"), ref_fix),
        Err(error) => Check::from_gitlab(PROJECT, api_url, &error, &ref_fix),
    });
    report
        .checks
        .push(pipeline_variables_check(&agent.client, project_id, settings.pipeline_trigger_with, api_url).await);

    let trigger_fix = format!(
        "create a pipeline trigger token in the agent project (Settings > CI/CD > Pipeline trigger tokens) and set \
         `{}`; check `{}`",
        env_vars::PIPELINE_TRIGGER_TOKEN,
        env_vars::PIPELINE_PROJECT_ID
    );
    // Without `PIPELINE_TRIGGER_TOKEN`, `serve` uses the agent's own webhook trigger token.
    let trigger_token = match settings.pipeline_trigger_token.clone() {
        Some(token) => token,
        None => match token::find_own(&agent.client, project_id, agent.user.id, &agent.user.username).await {
            Ok(token) => token,
            Err(error) => {
                let fix = format!("run `copilot-runner setup`, or {trigger_fix}");
                let detail =
                    format!("`{}` is not set, and {:#}", env_vars::PIPELINE_TRIGGER_TOKEN, anyhow::Error::new(error));
                report.checks.push(Check::fail(TRIGGER, detail, fix));
                return;
            }
        },
    };
    report.checks.push(probe_trigger(&agent.client, project_id, &trigger_token, api_url, &trigger_fix).await);
}

/// The agent project's "minimum role to use pipeline variables": with triggers passed as
/// inputs nobody needs pipeline variables, so `no_one_allowed` keeps every trigger, API call and
/// "Run pipeline" from overriding a setting; the fallback to variables needs them allowed.
async fn pipeline_variables_check(client: &Client, project_id: u64, with: TriggerWith, api_url: &str) -> Check {
    const NONE: &str = "no_one_allowed";
    let fix = format!(
        "in the agent project set Settings > CI/CD > Variables > \"Minimum role to use pipeline variables\" to          `{NONE}` (API: `PUT /projects/{project_id}` with `ci_pipeline_variables_minimum_override_role={NONE}`)"
    );
    let project = match client.project(project_id).await {
        Ok(project) => project,
        Err(error) => return Check::from_gitlab(VARIABLES, api_url, &error, &fix),
    };
    let Some(role) = project.ci_pipeline_variables_minimum_override_role else {
        return Check::skipped(
            VARIABLES,
            format!(
                "GitLab did not show project {project_id}'s \"minimum role to use pipeline variables\" (it shows it                  to Maintainers and above); check by hand that it is `{NONE}`"
            ),
        );
    };
    match (with, role.as_str()) {
        (TriggerWith::Inputs, NONE) => {
            Check::pass(VARIABLES, format!("nobody may pass variables to project {project_id}'s pipelines"))
        }
        (TriggerWith::Inputs, role) => Check::fail(
            VARIABLES,
            format!(
                "the role `{role}` and above may pass variables to project {project_id}'s pipelines and so override                  its settings (`run` refuses the protected ones, but nothing needs variables: triggers pass inputs)"
            ),
            fix,
        ),
        (TriggerWith::Variables, NONE) => Check::fail(
            VARIABLES,
            format!(
                "project {project_id} refuses pipeline variables, but `{}=variables` triggers with them",
                env_vars::PIPELINE_TRIGGER_WITH
            ),
            format!(
                "on GitLab 18.1 or later set `{}=inputs`; on older GitLab let the trigger token's owner's role pass                  variables",
                env_vars::PIPELINE_TRIGGER_WITH
            ),
        ),
        (TriggerWith::Variables, role) => Check::pass(
            VARIABLES,
            format!(
                "the role `{role}` and above may pass variables, as `{}=variables` needs; once GitLab is 18.1 or                  later, trigger with inputs and set `{NONE}`",
                env_vars::PIPELINE_TRIGGER_WITH
            ),
        ),
    }
}

/// Calls the trigger API for a ref that cannot exist: see the module comment.
async fn probe_trigger(client: &Client, project_id: u64, token: &SecretString, api_url: &str, fix: &str) -> Check {
    const TRIGGER: &str = "trigger token";
    match client
        .trigger_pipeline(project_id, token, TRIGGER_PROBE_REF, &TriggerParameters::Inputs(BTreeMap::new()))
        .await
    {
        Err(gitlab::Error::Status { code: 400, .. }) => Check::pass(
            TRIGGER,
            format!("project {project_id} accepted the token (it refused the impossible probe ref; no pipeline ran)"),
        ),
        Err(
            error @ (gitlab::Error::NotFound { .. }
            | gitlab::Error::Unauthorized { .. }
            | gitlab::Error::Forbidden { .. }),
        ) => Check::fail(TRIGGER, format!("project {project_id} did not accept the token: {error}"), fix),
        Err(error) => Check::from_gitlab(TRIGGER, api_url, &error, fix),
        Ok(pipeline) => {
            let cancelled = client.cancel_pipeline(project_id, pipeline.id).await.is_ok();
            Check::pass(
                TRIGGER,
                format!(
                    "project {project_id} accepted the token, but GitLab started pipeline {} for the probe ({})",
                    pipeline.id,
                    if cancelled { "cancelled" } else { "cancel it by hand" }
                ),
            )
        }
    }
}

/// `copilot --version` through the process runner, with a short timeout. The CLI is found as the
/// agent finds it: `--copilot`, else `COPILOT_CLI_PATH`, else `copilot` on `PATH`.
async fn copilot_check(args: &DoctorArgs, configured: Option<&PathBuf>, env: &Env) -> Check {
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
async fn sandbox_check(args: &DoctorArgs, settings: &Settings, env: &Env) -> Check {
    const SANDBOX: &str = "agent sandbox";
    let mut sandbox = Sandbox::from_settings(settings, env, &[]);
    if let Some(helper) = &args.sandbox_helper {
        sandbox = sandbox.with_launcher(helper.clone());
    }
    let mode = match settings.sandbox {
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
    match (settings.sandbox, support.abi) {
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
async fn cache_check(url: &str) -> Check {
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

    #[test]
    fn reads_the_version_the_cli_prints() {
        let text = "GitHub Copilot CLI 1.0.102.\nRun 'copilot update' to check for updates.\n";
        assert_eq!(copilot_version(text), Some("1.0.102"));
        assert_eq!(copilot_version("GitHub Copilot CLI"), None);
        assert_eq!(copilot_version("no platform package found"), None);
    }

    #[test]
    fn exit_code_prefers_unreachable_over_failed() {
        let mut report = Report { checks: vec![Check::pass("a", "fine"), Check::skipped("b", "later")] };
        assert_eq!(report.exit_code(), Code::Done);
        report.checks.push(Check::fail("c", "broken", "fix it"));
        assert_eq!(report.exit_code(), Code::Usage);
        report.checks.push(Check { name: "d", outcome: Outcome::Unreachable, detail: String::new(), fix: None });
        assert_eq!(report.exit_code(), Code::Unreachable);
    }

    #[test]
    fn render_puts_a_fix_under_each_failure() {
        let report =
            Report { checks: vec![Check::pass("token", "fine"), Check::fail("trigger", "refused", "make one")] };
        let text = report.render();
        assert!(text.contains("[ok  ] token: fine\n"));
        assert!(text.contains("[FAIL] trigger: refused\n       fix: make one\n"));
        assert!(text.ends_with("1 check(s) need attention\n"));
    }

    #[test]
    fn probe_ref_is_not_a_valid_git_ref() {
        assert!(TRIGGER_PROBE_REF.contains(".."), "git forbids `..` in ref names, so no branch can match");
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
