//! `copilot-runner serve`: the webhook service. GitLab delivers issue, note, merge request and
//! pipeline events; the service decides whether the agent should act and triggers the agent
//! project's pipeline. Stateless, so it runs as several replicas behind one Service.
//!
//! The trigger token is `PIPELINE_TRIGGER_TOKEN` when set; otherwise `serve` reads the agent
//! user's own trigger token (the one `setup` creates) from GitLab at start-up, with its
//! `GITLAB_TOKEN` (see `trigger::token`), and refuses to start, naming the fix, when there is none.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::SecretString;

use crate::config::{Env, Settings, TriggerSettings, WebhookSettings};
use crate::env_vars;
use crate::exit::{self, Code};
use crate::gitlab::{Client, ClientOptions, RetryPolicy};
use crate::trigger::token;
use crate::webhook::Config;
use crate::webhook::act::PipelineTarget;
use crate::webhook::route::Agent;
use crate::webhook::server::{self, Service};
use crate::webhook::verify::{SigningSecret, WebhookSecret};

/// Runs the webhook service.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
}

fn usage(message: String) -> anyhow::Error {
    anyhow::Error::new(exit::Usage(message))
}

fn required<'a, T>(value: Option<&'a T>, name: &str, why: &str) -> anyhow::Result<&'a T> {
    value.ok_or_else(|| usage(format!("`{name}` is not set; {why}")))
}

/// GitLab gives a delivery 10 s: retries stay short so that an answer, even a failure GitLab can
/// resend, always comes back in time.
fn client_options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 3,
            total_budget: Duration::from_secs(5),
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        },
        ..ClientOptions::default()
    }
}

/// Builds the service's configuration from the settings and the trigger token; every missing
/// piece is a usage error.
pub fn config_from(settings: &Settings, trigger_token: SecretString) -> anyhow::Result<(Config, Client)> {
    let secret = webhook_secret(&settings.webhook)?;
    let token = required(
        settings.gitlab.token.as_ref(),
        env_vars::GITLAB_TOKEN,
        "`serve` awards 👀 and checks access as the agent user",
    )?;
    let pipeline = pipeline_target(&settings.trigger, trigger_token)?;
    let agent = Agent {
        username: settings.access.agent_username.clone(),
        branch_prefix: settings.workflow.branch_prefix.clone(),
        auto_review: settings.webhook.auto_review.clone(),
    };
    let mut config = Config::new(secret, agent, settings.access.min_access_level, pipeline);
    config.signing = signing_secret(&settings.webhook)?;
    config.max_in_flight = settings.webhook.max_in_flight;
    let gitlab = Client::with_options(&settings.gitlab.api_url(), token, &client_options())
        .context("while setting up the gitlab client")?;
    Ok((config, gitlab))
}

/// The secret every delivery must carry: `serve` does not start without one.
fn webhook_secret(settings: &WebhookSettings) -> anyhow::Result<WebhookSecret> {
    settings.secret_token.as_ref().and_then(WebhookSecret::new).ok_or_else(|| {
        usage(format!(
            "`{}` is not set; `serve` refuses to accept webhooks without a secret (set the same value as the \
                 hook's \"Secret token\" in GitLab)",
            env_vars::WEBHOOK_SECRET_TOKEN
        ))
    })
}

/// The Standard Webhooks signing secret, when one is set.
fn signing_secret(settings: &WebhookSettings) -> anyhow::Result<Option<SigningSecret>> {
    settings
        .signing_secret
        .as_ref()
        .map(SigningSecret::new)
        .transpose()
        .map_err(|error| usage(format!("`{}` cannot be used: {error}", env_vars::WEBHOOK_SIGNING_SECRET)))
}

/// The agent project's pipeline that deliveries trigger, with `trigger_token`.
fn pipeline_target(settings: &TriggerSettings, trigger_token: SecretString) -> anyhow::Result<PipelineTarget> {
    let project_id = *required(
        settings.project_id.as_ref(),
        env_vars::PIPELINE_PROJECT_ID,
        "`serve` needs the agent project whose pipeline it triggers",
    )?;
    if settings.git_ref.is_empty() {
        return Err(usage(format!("`{}` is empty; name the agent project's branch", env_vars::PIPELINE_REF)));
    }
    Ok(PipelineTarget { project_id, git_ref: settings.git_ref.clone(), trigger_token, with: settings.with })
}

/// Serves webhooks on `--listen` until SIGTERM, then finishes in-flight requests.
pub async fn run(args: ServeArgs, settings: Settings, env: Env) -> anyhow::Result<Code> {
    drop(env);
    let (config, gitlab) = configure(&settings).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|error| usage(format!("cannot listen on `{}`: {error}", args.listen)))?;
    let bound = listener.local_addr().map_or_else(|_| args.listen.to_string(), |address| address.to_string());
    tracing::info!(listen = bound, agent = config.agent.username, "serving GitLab webhooks");
    let service = Service::new(config, gitlab);
    server::serve(listener, service, server::shutdown_signal()).await.context("while serving webhooks")?;
    tracing::info!("stopped");
    Ok(Code::Done)
}

/// The service's configuration as `serve` starts with it: [`config_from`] with
/// `PIPELINE_TRIGGER_TOKEN`, or with the agent's own trigger token read from GitLab.
pub async fn configure(settings: &Settings) -> anyhow::Result<(Config, Client)> {
    if let Some(token) = settings.trigger.token.as_ref() {
        return config_from(settings, token.clone());
    }
    // Every other setting is checked before GitLab is asked for the token.
    let (mut config, gitlab) = config_from(settings, SecretString::from(String::new()))?;
    config.pipeline.trigger_token = own_trigger_token(&gitlab, config.pipeline.project_id).await?;
    Ok((config, gitlab))
}

/// The agent's own webhook trigger token of the agent project, read with the agent's token.
async fn own_trigger_token(gitlab: &Client, project_id: u64) -> anyhow::Result<SecretString> {
    let agent = gitlab.current_user().await.with_context(|| {
        format!("while finding the agent's trigger token (`{}` is not set)", env_vars::PIPELINE_TRIGGER_TOKEN)
    })?;
    let token = token::find_own(gitlab, project_id, agent.id, &agent.username).await?;
    tracing::info!(
        project_id,
        agent = agent.username,
        "`{}` is not set: triggering with the agent's own trigger token `{}`",
        env_vars::PIPELINE_TRIGGER_TOKEN,
        token::WEBHOOK_TRIGGER_DESCRIPTION
    );
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Flags;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::resolve(&Env::from_pairs(pairs.iter().copied()), &Flags::default()).expect("valid settings")
    }

    const COMPLETE: [(&str, &str); 3] = [
        ("WEBHOOK_SECRET_TOKEN", "whsec-unit-0123456789"),
        ("GITLAB_TOKEN", "glpat-unit-0123456789"),
        ("PIPELINE_PROJECT_ID", "42"),
    ];

    fn trigger() -> SecretString {
        SecretString::from("glptt-unit-0123456789")
    }

    #[test]
    fn every_missing_requirement_is_a_usage_error_naming_the_variable() {
        for missing in COMPLETE.map(|(name, _)| name) {
            let pairs: Vec<_> = COMPLETE.iter().copied().filter(|(name, _)| *name != missing).collect();
            let error = config_from(&settings(&pairs), trigger()).expect_err(missing);
            assert_eq!(crate::cli::exit_code(&error), Code::Usage, "{missing}");
            assert!(error.to_string().contains(&format!("`{missing}` is not set")), "{error}");
        }
    }

    #[test]
    fn complete_settings_configure_the_service() {
        let (config, _client) = config_from(&settings(&COMPLETE), trigger()).expect("complete");
        assert_eq!((config.pipeline.project_id, config.pipeline.git_ref.as_str()), (42, "main"));
        assert_eq!(
            (config.agent.username.as_str(), config.agent.branch_prefix.as_str()),
            ("copilot-agent", "copilot/")
        );
        assert_eq!(config.min_access_level, 30);
        assert_eq!(config.max_in_flight, Config::DEFAULT_MAX_IN_FLIGHT, "the documented default");
        assert!(config.signing.is_none(), "signatures are checked only when a signing secret is set");
        assert!(!format!("{config:?}").contains("0123456789"), "no secret in debug output");
    }

    #[test]
    fn load_and_signing_settings_reach_the_service() {
        let pairs: Vec<_> = COMPLETE
            .into_iter()
            .chain([("WEBHOOK_MAX_IN_FLIGHT", "3"), ("WEBHOOK_SIGNING_SECRET", "whsec_c2lnbmluZy1rZXk=")])
            .collect();
        let (config, _client) = config_from(&settings(&pairs), trigger()).expect("complete");
        assert_eq!(config.max_in_flight, 3);
        assert!(config.signing.is_some());
        assert!(!format!("{config:?}").contains("whsec_c2ln"), "no secret in debug output");
    }
}
