//! `copilot-runner setup`: does the GitLab side of an installation through the API (see
//! `setup`), prints what it did step by step, and exits 0 when nothing failed, 2 when a step
//! needs a fix and 3 when GitLab could not be reached.
//!
//! The tokens and the webhook come from settings (`COPILOT_SETUP_TOKEN`, `GITLAB_TOKEN`,
//! `COPILOT_GITHUB_TOKEN`, `WEBHOOK_URL`, `WEBHOOK_SECRET_TOKEN`, `COPILOT_TARGETS`), the rest
//! from the flags below. Nothing secret is printed or written anywhere.

use std::io::Write as _;
use std::time::Duration;

use secrecy::SecretString;

use crate::config::{Env, Settings};
use crate::env_vars;
use crate::exit::{self, Code};
use crate::gitlab::{Client, ClientOptions, RetryPolicy};
use crate::setup::{self, Clients, Plan, Webhook, ci_file};

/// Sets up GitLab for copilot-runner: agent project, CI file, trigger token, variables, memberships, webhooks.
#[derive(Debug, Clone, clap::Args)]
pub struct SetupArgs {
    /// Full path of the agent project, e.g. `tools/copilot-agent`; created when missing
    #[arg(long, value_name = "GROUP/NAME")]
    pub agent_project: String,
    /// The copilot-runner image the agent's jobs run in
    #[arg(long, value_name = "IMAGE")]
    pub image: String,
    /// Tag of the runner that takes the agent's jobs
    #[arg(long, value_name = "TAG", default_value = "copilot-agent")]
    pub runner_tag: String,
    /// The CI/CD component the agent project includes [default:
    /// `$CI_SERVER_FQDN/tools/copilot-runner-ci/copilot-runner@<this version>`]
    #[arg(long, value_name = "REF")]
    pub component: Option<String>,
    /// Print what would change, and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also overwrite what GitLab cannot show to compare: hidden CI/CD variables and webhook secret tokens
    #[arg(long)]
    pub rotate_secrets: bool,
}

fn usage(message: String) -> anyhow::Error {
    anyhow::Error::new(exit::Usage(message))
}

/// The plan from the flags and settings; every missing or unusable piece is named at once.
pub fn plan_from(args: &SetupArgs, settings: &Settings) -> anyhow::Result<Plan> {
    let mut missing = Vec::new();
    if settings.setup.token.is_none() {
        missing.push(format!(
            "`{}` (a personal access token with the `api` scope of the person who owns the agent project's \
             namespace and the targets)",
            env_vars::COPILOT_SETUP_TOKEN
        ));
    }
    if settings.gitlab.token.is_none() {
        missing.push(format!("`{}` (the agent user's token)", env_vars::GITLAB_TOKEN));
    }
    if !missing.is_empty() {
        return Err(usage(format!("`setup` needs {}", missing.join(" and "))));
    }
    let component = args.component.clone().unwrap_or_else(ci_file::default_component);
    for (flag, value) in [("--image", &args.image), ("--runner-tag", &args.runner_tag), ("--component", &component)] {
        if value.trim().is_empty() || value.contains(['\n', '\r']) {
            return Err(usage(format!("`{flag}` must be one non-empty line")));
        }
    }
    if !args.agent_project.trim_matches('/').contains('/') {
        return Err(usage(format!(
            "`--agent-project {}` is not a full path; name its group too, e.g. `tools/copilot-agent`",
            args.agent_project
        )));
    }
    let webhook = match (&settings.setup.webhook_url, &settings.webhook.secret_token) {
        (Some(url), Some(secret)) => Some(Webhook { url: url.clone(), secret: secret.clone() }),
        _ => None,
    };
    Ok(Plan {
        agent_project: args.agent_project.trim_matches('/').to_owned(),
        agent_username: settings.access.agent_username.clone(),
        pipeline_ref: settings.trigger.git_ref.clone(),
        trigger_with: settings.trigger.with,
        component,
        image: args.image.trim().to_owned(),
        runner_tag: args.runner_tag.trim().to_owned(),
        targets: settings.setup.targets.clone(),
        webhook,
        allow_confidential: settings.access.allow_confidential,
        agent_token: settings.gitlab.token.clone().unwrap_or_else(|| SecretString::from(String::new())),
        github_token: settings.agent.github_token.clone(),
        dry_run: args.dry_run,
        rotate_secrets: args.rotate_secrets,
    })
}

/// Setup is interactive: short retries, so an unreachable GitLab is reported in seconds.
fn client(api_url: &str, token: &SecretString) -> anyhow::Result<Client> {
    let options = ClientOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        retry: RetryPolicy { max_attempts: 3, total_budget: Duration::from_secs(30), ..RetryPolicy::default() },
        ..ClientOptions::default()
    };
    Client::with_options(api_url, token, &options).map_err(|error| usage(error.to_string()))
}

/// Runs setup and prints the report on stdout.
pub async fn run(args: SetupArgs, settings: Settings, env: Env) -> anyhow::Result<Code> {
    drop(env);
    let plan = plan_from(&args, &settings)?;
    let api_url = settings.gitlab.api_url();
    let (Some(setup_token), Some(agent_token)) = (settings.setup.token.as_ref(), settings.gitlab.token.as_ref()) else {
        return Err(usage("`setup` needs its tokens".to_owned()));
    };
    let clients = Clients { setup: client(&api_url, setup_token)?, agent: client(&api_url, agent_token)? };
    let report = setup::run(&plan, &clients).await;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(crate::redact::redact(&report.render()).as_bytes())?;
    stdout.flush()?;
    Ok(report.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Flags;

    fn args() -> SetupArgs {
        SetupArgs {
            agent_project: "tools/copilot-agent".into(),
            image: "registry.example.com/tools/copilot-runner:0.1.0".into(),
            runner_tag: "copilot-agent".into(),
            component: None,
            dry_run: false,
            rotate_secrets: false,
        }
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::resolve(&Env::from_pairs(pairs.iter().copied()), &Flags::default()).expect("valid settings")
    }

    #[test]
    fn both_tokens_are_required_and_named_together() {
        let error = plan_from(&args(), &settings(&[])).unwrap_err();
        assert_eq!(crate::cli::exit_code(&error), Code::Usage);
        let text = error.to_string();
        assert!(text.contains("`COPILOT_SETUP_TOKEN`") && text.contains("`GITLAB_TOKEN`"), "{text}");
    }

    #[test]
    fn the_plan_takes_flags_and_settings() {
        let settings = settings(&[
            ("COPILOT_SETUP_TOKEN", "glpat-setup-unit-0001"),
            ("GITLAB_TOKEN", "glpat-agent-unit-0001"),
            ("COPILOT_TARGETS", "acme"),
            ("WEBHOOK_URL", "https://hooks.example.com/webhook"),
            ("WEBHOOK_SECRET_TOKEN", "whsec-unit-0123456789"),
        ]);
        let plan = plan_from(&args(), &settings).unwrap();
        assert_eq!(
            plan.component,
            format!("$CI_SERVER_FQDN/tools/copilot-runner-ci/copilot-runner@{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!((plan.targets.as_slice(), plan.webhook.is_some()), (["acme".to_owned()].as_slice(), true));
        assert!(!format!("{plan:?}").contains("glpat-agent-unit-0001"), "no secret in debug output");
        let error = plan_from(&SetupArgs { agent_project: "copilot-agent".into(), ..args() }, &settings).unwrap_err();
        assert!(error.to_string().contains("not a full path"), "{error}");
    }
}
