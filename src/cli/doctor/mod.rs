//! `copilot-runner doctor`: proves an installation end to end before anyone assigns an issue,
//! and says what to fix. Run at install time by a person, or in the image to check the image.
//!
//! The chain a request travels, checked link by link: the GitLab token (`GET /user`) and that it
//! belongs to the configured agent user; the agent's access to a sample project (`--project`);
//! GitLab's test delivery through each webhook of that project (and of its group) that points
//! at our webhook service (`--webhook-url`), answered by `serve` itself ([`webhooks`]); the agent
//! project's branch, its "minimum role to use pipeline variables" and a real trigger API call
//! with the trigger contract as inputs that the template's rules filter out, so no pipeline
//! runs ([`trigger`]); an online runner with the agent jobs' tags (`--runner-tag`, [`runner`]);
//! the Copilot CLI (`copilot --version`), the model endpoint it will call ([`model`]), the agent
//! sandbox (the kernel's Landlock ABI) and the context cache store ([`host`]).
//!
//! Each check passes, fails with the exact fix, is skipped with the reason, or finds GitLab
//! unreachable. Exit code: 0 when nothing failed, 3 when GitLab could not be reached, 2 for any
//! other failure. Doctor starts no work: the trigger names no workflow, the test delivery is a
//! push, which `serve` ignores, and the model is asked for its list, never for a completion.
//! The agent user is usually a Developer, which may not list webhooks or runners: a
//! Maintainer's token for those two checks comes from the variable `--maintainer-token-env`
//! names (never from the command line, where `ps` would show it).

mod host;
mod model;
mod runner;
mod trigger;
mod webhooks;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::config::{Env, Settings};
use crate::env_vars;
use crate::exit::Code;
use crate::gitlab::{self, AccessLevel, Client, ClientOptions, CurrentUser, HookEvents, ProjectId, RetryPolicy};

pub use host::copilot_version;

/// The name of the check of the agent project's "minimum role to use pipeline variables".
const VARIABLES: &str = "pipeline variables";

/// The Copilot CLI version the image pins and the tests run.
pub const PINNED_COPILOT_VERSION: &str = "1.0.102";

/// The runner tag the agent jobs ask for unless told otherwise (the example agent project's).
pub const DEFAULT_RUNNER_TAG: &str = "copilot-agent";

/// Checks the installation and says what to fix.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DoctorArgs {
    /// A project the agent should work on (numeric id or `group/project`): checks the agent's access to it and its webhooks
    #[arg(long, value_name = "ID")]
    pub project: Option<String>,
    /// The URL GitLab delivers webhooks to (`https://…/webhook`): GitLab test-delivers through each hook of `--project` and its group that points there [default: `WEBHOOK_URL`]
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// A tag the agent jobs' runner must carry (repeat for several) [default: copilot-agent]
    #[arg(long = "runner-tag", value_name = "TAG")]
    pub runner_tags: Vec<String>,
    /// An environment variable holding a Maintainer's token, for the webhook and runner checks the agent's token may not do
    #[arg(long, value_name = "VAR")]
    pub maintainer_token_env: Option<String>,
    /// The Copilot CLI to check [default: `COPILOT_CLI_PATH`, else `copilot` on PATH]
    #[arg(long, value_name = "PATH")]
    pub copilot: Option<PathBuf>,
    /// The `copilot-runner` binary whose `sandbox-exec` is probed [default: this program]
    #[arg(long, value_name = "PATH", hide = true)]
    pub sandbox_helper: Option<PathBuf>,
}

impl DoctorArgs {
    /// The runner tags to look for: `--runner-tag`, else [`DEFAULT_RUNNER_TAG`].
    pub fn runner_tags(&self) -> Vec<String> {
        if self.runner_tags.is_empty() { vec![DEFAULT_RUNNER_TAG.to_owned()] } else { self.runner_tags.clone() }
    }
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
    let api_url = settings.gitlab.api_url();
    let agent = gitlab_checks(args, settings, &api_url, &mut report).await;
    let maintainer = maintainer_client(args, &api_url, env);
    report.checks.push(webhooks_check(args, settings, agent.as_ref(), &maintainer, &api_url).await);
    trigger::trigger_checks(settings, &api_url, agent.as_ref(), &mut report).await;
    report.checks.push(runner_check(args, settings, agent.as_ref(), &maintainer, &api_url).await);
    report.checks.push(host::copilot_check(args, settings.agent.copilot_cli_path.as_ref(), env).await);
    report.checks.push(model::model_check(settings, env).await);
    report.checks.push(host::sandbox_check(args, &settings.sandbox, env).await);
    report.checks.push(host::cache_check(&settings.cache.url).await);
    report
}

/// The client for what needs a Maintainer: from `--maintainer-token-env`, else none (the
/// agent's client is used). `Err` says why the named variable cannot be used.
fn maintainer_client(args: &DoctorArgs, api_url: &str, env: &Env) -> Result<Option<Client>, String> {
    let Some(name) = &args.maintainer_token_env else { return Ok(None) };
    let token = env.get(name).ok_or_else(|| format!("`--maintainer-token-env {name}`: `{name}` is not set"))?;
    doctor_client(api_url, &SecretString::from(token.to_owned())).map(Some).map_err(|error| error.to_string())
}

/// The client a Maintainer's check uses, or the check's line when there is none.
fn client_for<'a>(
    name: &'static str,
    agent: Option<&'a Agent>,
    maintainer: &'a Result<Option<Client>, String>,
) -> Result<&'a Client, Check> {
    match maintainer {
        Ok(Some(client)) => Ok(client),
        Ok(None) => agent.map(|agent| &agent.client).ok_or_else(|| Check::skipped(name, "needs a working token")),
        Err(reason) => Err(Check::fail(
            name,
            reason.clone(),
            "export the variable with a Maintainer's token, or leave `--maintainer-token-env` out",
        )),
    }
}

async fn webhooks_check(
    args: &DoctorArgs,
    settings: &Settings,
    agent: Option<&Agent>,
    maintainer: &Result<Option<Client>, String>,
    api_url: &str,
) -> Check {
    const WEBHOOKS: &str = "webhooks";
    let Some(url) = args.webhook_url.as_ref().or(settings.setup.webhook_url.as_ref()) else {
        return Check::skipped(
            WEBHOOKS,
            "pass `--webhook-url https://…/webhook` or set `WEBHOOK_URL` (and pass `--project`) to have GitLab \
             test-deliver to the webhook service",
        );
    };
    let Some(project) = &args.project else {
        return Check::skipped(WEBHOOKS, "pass `--project ID` to test the webhooks of a project the agent works on");
    };
    match client_for(WEBHOOKS, agent, maintainer) {
        Ok(client) => {
            let wanted = HookEvents::for_serve(settings.access.allow_confidential);
            webhooks::webhook_check(client, project, url, &wanted, api_url).await
        }
        Err(check) => check,
    }
}

async fn runner_check(
    args: &DoctorArgs,
    settings: &Settings,
    agent: Option<&Agent>,
    maintainer: &Result<Option<Client>, String>,
    api_url: &str,
) -> Check {
    const RUNNER: &str = "runner";
    let Some(project_id) = settings.trigger.project_id else {
        return Check::skipped(RUNNER, "needs the agent project");
    };
    match client_for(RUNNER, agent, maintainer) {
        Ok(client) => runner::runner_check(client, project_id, &args.runner_tags(), api_url).await,
        Err(check) => check,
    }
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
    let Some(token) = settings.gitlab.token.as_ref() else {
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
    report.checks.push(if !user.username.eq_ignore_ascii_case(&settings.access.agent_username) {
        Check::fail(
            AGENT,
            format!(
                "the token belongs to @{} but `{}` is @{}",
                user.username,
                env_vars::COPILOT_AGENT_USERNAME,
                settings.access.agent_username
            ),
            format!(
                "use a token of @{} or set `{}={}`; mentions, assignments and loop protection use that name",
                settings.access.agent_username,
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_runner_tag_defaults_to_the_example_projects() {
        assert_eq!(DoctorArgs::default().runner_tags(), ["copilot-agent"]);
        let args = DoctorArgs { runner_tags: vec!["k8s".into(), "agent".into()], ..DoctorArgs::default() };
        assert_eq!(args.runner_tags(), ["k8s", "agent"]);
    }
}
