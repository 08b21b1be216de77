//! The model endpoint the agent's Copilot CLI will call, as far as it can be proven without
//! spending a request on a model.
//!
//! With BYOK (`COPILOT_PROVIDER_BASE_URL` in the environment the agent gets, the CLI's offline
//! mode) doctor asks the provider `GET <base>/models`, with the provider's key: an answer
//! proves the address, the network path and the key, and the list must hold `COPILOT_MODEL`
//! when one is set. No completion is requested.
//!
//! With a GitHub token for Copilot, the only free check is the token's form: the CLI refuses
//! classic personal access tokens (`ghp_…`). Whether GitHub accepts the token and whether its
//! account may use Copilot ("Copilot Requests") shows only when the CLI starts, which the
//! first job does; doctor says so instead of spending a premium request.

use std::time::Duration;

use serde::Deserialize;

use super::Check;
use crate::agent::copilot::TOKEN_VARS;
use crate::config::{Env, Settings};
use crate::env_vars;

const MODEL: &str = "model endpoint";

/// The Copilot CLI's own variables for a BYOK provider.
const PROVIDER_BASE_URL: &str = "COPILOT_PROVIDER_BASE_URL";
const PROVIDER_TYPE: &str = "COPILOT_PROVIDER_TYPE";
const PROVIDER_API_KEY: &str = "COPILOT_PROVIDER_API_KEY";
const PROVIDER_BEARER_TOKEN: &str = "COPILOT_PROVIDER_BEARER_TOKEN";

/// `GET /models` of an OpenAI-compatible (or Anthropic) API.
#[derive(Debug, Deserialize)]
struct ModelList {
    #[serde(default)]
    data: Vec<ModelEntry>,
}

#[derive(Debug, Deserialize)]
struct ModelEntry {
    id: String,
}

pub(super) async fn model_check(settings: &Settings, env: &Env) -> Check {
    if let Some(base) = env.get(PROVIDER_BASE_URL) {
        return provider_check(base, settings.agent.copilot_model.as_deref(), env).await;
    }
    let token = TOKEN_VARS.iter().find_map(|name| env.get(name).map(|value| (*name, value)));
    match token {
        Some((name, value)) if value.starts_with("ghp_") => Check::fail(
            MODEL,
            format!("`{name}` holds a classic personal access token, which the Copilot CLI does not accept"),
            format!(
                "set `{}` to a fine-grained personal access token with the \"Copilot Requests\" permission (or an \
                 OAuth token of the Copilot CLI or `gh` app)",
                env_vars::COPILOT_GITHUB_TOKEN
            ),
        ),
        Some((name, _)) => Check::pass(
            MODEL,
            format!(
                "`{name}` holds a token the Copilot CLI accepts by its form; not proven from here: that GitHub \
                 accepts it and that its account may use Copilot (the first job shows it; doctor spends no premium \
                 request)"
            ),
        ),
        None => Check::skipped(
            MODEL,
            format!(
                "neither `{PROVIDER_BASE_URL}` nor a Copilot token (`{}`) is set here; the agent gets them from the \
                 agent project's CI/CD variables: run doctor with them to check the model",
                env_vars::COPILOT_GITHUB_TOKEN
            ),
        ),
    }
}

async fn provider_check(base: &str, model: Option<&str>, env: &Env) -> Check {
    let kind = env.get(PROVIDER_TYPE).unwrap_or("openai");
    if kind == "azure" {
        return Check::skipped(
            MODEL,
            format!("`{PROVIDER_TYPE}=azure`: doctor checks OpenAI-compatible and Anthropic endpoints only"),
        );
    }
    let url = format!("{}/models", base.trim_end_matches('/'));
    let reach_fix = format!(
        "check `{PROVIDER_BASE_URL}` (the API root, e.g. `https://host/v1`) and that it is reachable from the runner's \
         network"
    );
    let client = match crate::http::client(crate::http::USER_AGENT, Duration::from_secs(5), Duration::from_secs(15)) {
        Ok(client) => client,
        Err(error) => return Check::fail(MODEL, format!("cannot build an HTTP client: {error}"), reach_fix),
    };
    let mut request = client.get(&url);
    let key = env.get(PROVIDER_API_KEY).or_else(|| env.get(PROVIDER_BEARER_TOKEN));
    if let Some(key) = key {
        crate::redact::register(key);
        request = match kind {
            "anthropic" => request.header("x-api-key", key).header("anthropic-version", "2023-06-01"),
            _ => request.bearer_auth(key),
        };
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            return Check::fail(
                MODEL,
                format!("`GET {url}` failed: {}", crate::redact::redact(&error.to_string())),
                reach_fix,
            );
        }
    };
    let status = response.status();
    if status.as_u16() == 401 || status.as_u16() == 403 {
        return Check::fail(
            MODEL,
            format!("`GET {url}` answered {status}"),
            format!("set `{PROVIDER_API_KEY}` (or `{PROVIDER_BEARER_TOKEN}`) to a key the provider accepts"),
        );
    }
    if !status.is_success() {
        return Check::fail(MODEL, format!("`GET {url}` answered {status}"), reach_fix);
    }
    let listed: Vec<String> = match response.json::<ModelList>().await {
        Ok(list) => list.data.into_iter().map(|entry| entry.id).collect(),
        Err(error) => {
            return Check::fail(MODEL, format!("`GET {url}` did not answer a model list: {error}"), reach_fix);
        }
    };
    match model {
        Some(model) if listed.iter().any(|id| id == model) => {
            Check::pass(MODEL, format!("`{url}` answers and lists `{model}` (`{}`)", env_vars::COPILOT_MODEL))
        }
        Some(model) => Check::fail(
            MODEL,
            format!("`{url}` answers but does not list `{model}`; it lists: {}", listed.join(", ")),
            format!("set `{}` to one of the models the provider lists", env_vars::COPILOT_MODEL),
        ),
        None => Check::pass(
            MODEL,
            format!(
                "`{url}` answers and lists {} model(s); `{}` is not set, so the CLI picks one",
                listed.len(),
                env_vars::COPILOT_MODEL
            ),
        ),
    }
}
