//! Keeps a trigger from choosing settings: before `run` sends its token anywhere or starts
//! anything, it asks GitLab for its own pipeline's variables and refuses to start when one of
//! them is a protected setting.
//!
//! Anyone who may run a pipeline in the agent project (a trigger token, the API, "Run pipeline")
//! can pass variables, and in the job they look like any other environment variable. Settings
//! that decide where secrets go or what runs must come only from the agent project's CI/CD
//! variables (project or group) or its configuration file. GitLab's
//! `GET /projects/:id/pipelines/:pipeline_id/variables` lists exactly the variables passed when
//! the pipeline was started, so a protected name there is a setting a trigger chose.
//!
//! The question goes to `CI_SERVER_URL`, the instance GitLab names in every job, never to
//! `GITLAB_API_BASE`, which is one of the settings under question. The project setting "minimum
//! role to use pipeline variables" at `no_one_allowed` keeps such variables out in the first
//! place (`copilot-runner doctor` checks it); this check is the second line.

use secrecy::SecretString;

use crate::config::Env;
use crate::env_vars::{self, ci};
use crate::exit::{Classify, Code};
use crate::gitlab::{self, Client, PipelineVariable};

/// Settings a pipeline variable may not set: where the GitLab token goes (the API base and the
/// instance it defaults to, proxies), what runs (the agent backend, its command, the CLI, the
/// sandbox), where the model, the cache and cloud credentials go, who may start work, and how
/// much the model may cost (a trigger must not raise the caps). The
/// job's own pipeline coordinates are here too, since the check itself relies on them.
pub const PROTECTED: &[&str] = &[
    env_vars::GITLAB_API_BASE,
    ci::CI_SERVER_URL,
    ci::CI_API_V4_URL,
    ci::CI_PROJECT_ID,
    ci::CI_PIPELINE_ID,
    env_vars::COPILOT_RUNNER_CONFIG,
    env_vars::COPILOT_AGENT,
    env_vars::COPILOT_AGENT_COMMAND,
    env_vars::COPILOT_CLI_PATH,
    env_vars::COPILOT_AGENT_USERNAME,
    env_vars::COPILOT_MIN_ACCESS_LEVEL,
    env_vars::COPILOT_ALLOW_CONFIDENTIAL,
    env_vars::COPILOT_BRANCH_PREFIX,
    env_vars::COPILOT_DENY_TOOLS,
    env_vars::COPILOT_PROMPTS_DIR,
    env_vars::CONTEXT_CACHE_URL,
    env_vars::COPILOT_SANDBOX,
    env_vars::COPILOT_SANDBOX_PORTS,
    env_vars::COPILOT_SANDBOX_READ_PATHS,
    env_vars::COPILOT_CA_BUNDLE,
    env_vars::COPILOT_MAX_PREMIUM_REQUESTS,
    env_vars::COPILOT_MONTHLY_PREMIUM_REQUESTS,
    "COPILOT_PROVIDER_BASE_URL",
    env_vars::cloud::AWS_ENDPOINT_URL,
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// Why `run` refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(
        "the pipeline was started with {} as pipeline variable{} (a trigger, the API or \"Run pipeline\" set {}); \
         settings that decide where secrets go or what runs are read only from the agent project's CI/CD \
         variables or its configuration file\nhint: set {} as a CI/CD variable of the agent project (or in its \
         configuration file), never in a trigger; pass the trigger with pipeline inputs and set the agent \
         project's \"Minimum role to use pipeline variables\" (Settings > CI/CD > Variables) to `no_one_allowed`",
        names(.0), if .0.len() == 1 { "" } else { "s" }, if .0.len() == 1 { "it" } else { "them" }, names(.0)
    )]
    Protected(Vec<String>),
    #[error(
        "`run` is inside a CI job but {} {} not set: it checks its own pipeline's variables through the API of \
         `CI_SERVER_URL` before it starts\nhint: GitLab sets these in every job; do not unset or override them",
        names(.0), if .0.len() == 1 { "is" } else { "are" }
    )]
    NoPipeline(Vec<String>),
    #[error(
        "`GITLAB_TOKEN` is not set: `run` needs the agent user's token to check its own pipeline's variables \
         before it starts\nhint: set `GITLAB_TOKEN` as a masked CI/CD variable of the agent project"
    )]
    NoToken,
    #[error(
        "cannot read the variables of this pipeline ({pipeline}) to check that no trigger set a protected setting: \
         {error}{}",
        if matches!(.error, gitlab::Error::Transport { .. }) { "" } else {
            "\nhint: give the agent user at least the Developer role in the agent project"
        }
    )]
    Api { pipeline: String, error: gitlab::Error },
}

fn names(names: &[String]) -> String {
    names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

impl Classify for GuardError {
    fn exit_code(&self) -> Code {
        match self {
            Self::Api { error, .. } => error.exit_code(),
            Self::Protected(_) | Self::NoPipeline(_) | Self::NoToken => Code::Usage,
        }
    }
}

/// The job's own pipeline, as GitLab names it in the job's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnPipeline {
    pub server_url: String,
    pub project_id: u64,
    pub pipeline_id: u64,
}

/// Where the job's pipeline is: `None` outside GitLab CI (no CI variable at all), an error when
/// some but not all of what the check needs is there.
pub fn own_pipeline(env: &Env) -> Result<Option<OwnPipeline>, GuardError> {
    let present = |name: &str| env.get(name).is_some_and(|value| !value.trim().is_empty());
    if ![ci::CI, ci::GITLAB_CI, ci::CI_JOB_ID, ci::CI_PIPELINE_ID].into_iter().any(present) {
        return Ok(None);
    }
    let id = |name: &str| env.get(name).and_then(|value| value.trim().parse::<u64>().ok()).filter(|id| *id > 0);
    let server_url = env.get(ci::CI_SERVER_URL).map(str::trim).filter(|url| !url.is_empty());
    match (server_url, id(ci::CI_PROJECT_ID), id(ci::CI_PIPELINE_ID)) {
        (Some(server_url), Some(project_id), Some(pipeline_id)) => {
            Ok(Some(OwnPipeline { server_url: server_url.trim_end_matches('/').to_owned(), project_id, pipeline_id }))
        }
        (server_url, project_id, pipeline_id) => {
            let missing = [
                (server_url.is_none(), ci::CI_SERVER_URL),
                (project_id.is_none(), ci::CI_PROJECT_ID),
                (pipeline_id.is_none(), ci::CI_PIPELINE_ID),
            ];
            Err(GuardError::NoPipeline(
                missing.into_iter().filter(|(absent, _)| *absent).map(|(_, name)| name.to_owned()).collect(),
            ))
        }
    }
}

/// The protected settings among a pipeline's variables, in the order of [`PROTECTED`].
pub fn protected_among(variables: &[PipelineVariable]) -> Vec<String> {
    PROTECTED
        .iter()
        .filter(|name| variables.iter().any(|variable| variable.key == **name))
        .map(|name| (*name).to_owned())
        .collect()
}

/// Refuses to go on when the job's pipeline was started with a protected setting. Outside CI
/// there is no pipeline and nothing to check.
pub async fn check(env: &Env, token: Option<&SecretString>) -> Result<(), GuardError> {
    let Some(own) = own_pipeline(env)? else {
        tracing::info!("not inside a GitLab CI job: no pipeline variables to check");
        return Ok(());
    };
    let token = token.ok_or(GuardError::NoToken)?;
    let pipeline = format!("{}/api/v4/projects/{}/pipelines/{}", own.server_url, own.project_id, own.pipeline_id);
    let api = |error| GuardError::Api { pipeline: pipeline.clone(), error };
    let client = Client::new(&format!("{}/api/v4", own.server_url), token).map_err(api)?;
    let variables = client.pipeline_variables(own.project_id, own.pipeline_id).await.map_err(api)?;
    let protected = protected_among(&variables);
    if !protected.is_empty() {
        return Err(GuardError::Protected(protected));
    }
    tracing::info!(
        pipeline_id = own.pipeline_id,
        variables = variables.len(),
        "no protected setting among the pipeline's own variables"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variable(key: &str) -> PipelineVariable {
        serde_json::from_value(serde_json::json!({"key": key, "value": "x", "variable_type": "env_var"}))
            .expect("a pipeline variable")
    }

    #[test]
    fn only_protected_names_are_reported_once_each() {
        let variables = [
            variable("TRIGGER_TYPE"),
            variable("GITLAB_API_BASE"),
            variable("COPILOT_AGENT_COMMAND"),
            variable("GITLAB_API_BASE"),
        ];
        assert_eq!(protected_among(&variables), ["GITLAB_API_BASE", "COPILOT_AGENT_COMMAND"]);
        assert!(protected_among(&[variable("TRIGGER_TYPE"), variable("TARGET_PROJECT_ID")]).is_empty());
        // A trigger cannot open confidential issues to the agent.
        assert_eq!(protected_among(&[variable("COPILOT_ALLOW_CONFIDENTIAL")]), ["COPILOT_ALLOW_CONFIDENTIAL"]);
        // Nor raise what the model may cost.
        let caps = [variable("COPILOT_MAX_PREMIUM_REQUESTS"), variable("COPILOT_MONTHLY_PREMIUM_REQUESTS")];
        assert_eq!(protected_among(&caps), ["COPILOT_MAX_PREMIUM_REQUESTS", "COPILOT_MONTHLY_PREMIUM_REQUESTS"]);
    }

    #[test]
    fn the_refusal_names_the_variable_and_the_fix() {
        let message = GuardError::Protected(vec!["GITLAB_API_BASE".to_owned()]).to_string();
        assert!(message.contains("`GITLAB_API_BASE` as pipeline variable ("), "{message}");
        assert!(message.contains("CI/CD variable of the agent project"), "{message}");
        assert!(message.contains("`no_one_allowed`"), "{message}");
    }

    #[test]
    fn a_job_names_what_the_check_needs_and_outside_ci_there_is_nothing_to_check() {
        assert_eq!(
            own_pipeline(&Env::from_pairs([("GITLAB_API_BASE", "https://gitlab.example.com")])).ok(),
            Some(None)
        );
        let error = own_pipeline(&Env::from_pairs([("CI", "true"), ("CI_PIPELINE_ID", "12")])).expect_err("incomplete");
        assert!(matches!(&error, GuardError::NoPipeline(missing) if missing == &["CI_SERVER_URL", "CI_PROJECT_ID"]));
        let own = own_pipeline(&Env::from_pairs([
            ("CI", "true"),
            ("CI_SERVER_URL", "https://gitlab.example.com/"),
            ("CI_PROJECT_ID", "5"),
            ("CI_PIPELINE_ID", "12"),
        ]))
        .expect("complete");
        assert_eq!(
            own,
            Some(OwnPipeline { server_url: "https://gitlab.example.com".to_owned(), project_id: 5, pipeline_id: 12 })
        );
    }
}
