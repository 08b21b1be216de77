//! The agent project and its trigger: the branch `PIPELINE_REF`, the "minimum role to use
//! pipeline variables", and a real call of the trigger API the way `serve` makes it.
//!
//! The trigger check sends the whole trigger contract (`trigger_type`, `target_project_id`, …,
//! as inputs, or as variables with `PIPELINE_TRIGGER_WITH=variables`) with every value empty,
//! on `PIPELINE_REF`, with `PIPELINE_TRIGGER_TOKEN` (or, when it is not set, the agent's own
//! webhook trigger token, as `serve` finds it). GitLab works through the call in order:
//! it looks the token up (an unknown one is 404), reads the CI configuration at the ref (a
//! missing ref is "Reference not found"), interpolates the inputs into the configuration's
//! `spec:inputs` (one it does not declare is "unknown input arguments"; variables the project
//! refuses are "Insufficient permissions to set pipeline variables"), and only then evaluates
//! `workflow: rules`. The template's rules run a trigger only when it names a workflow
//! (`$TRIGGER_TYPE`), so GitLab answers "Pipeline filtered out by workflow rules." and creates
//! nothing: that answer proves the token, the ref and that the agent project's pipeline takes
//! our inputs, and no agent job can have run. A configuration that creates a pipeline anyway
//! does not filter triggers as the template does: doctor cancels that pipeline at once and
//! fails, naming it.

use secrecy::SecretString;

use super::{Agent, Check, Report, VARIABLES};
use crate::config::Settings;
use crate::env_vars;
use crate::gitlab::{self, Client};
use crate::trigger::{self, TriggerWith};

/// The check of the trigger API call.
pub(super) const TRIGGER: &str = "trigger token";

/// GitLab's answers to a trigger its configuration's rules keep from running: filtered out by
/// `workflow: rules`, or no job left (older versions, and rules on jobs only).
const NOTHING_TO_RUN: &[&str] =
    &["filtered out by workflow rules", "No stages / jobs for this pipeline", "prevented any jobs from being added"];

pub(super) async fn trigger_checks(settings: &Settings, api_url: &str, agent: Option<&Agent>, report: &mut Report) {
    const PROJECT: &str = "agent project";
    let Some(project_id) = settings.trigger.project_id else {
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
    let git_ref = &settings.trigger.git_ref;
    let ref_fix = format!(
        "set `{}` to the agent project's branch that holds the `.gitlab-ci.yml`, and give @{} access to the project",
        env_vars::PIPELINE_REF,
        agent.user.username
    );
    report.checks.push(match agent.client.branch(project_id, git_ref).await {
        Ok(Some(_)) => Check::pass(PROJECT, format!("project {project_id} has the branch `{git_ref}`")),
        Ok(None) => Check::fail(PROJECT, format!("project {project_id} has no branch `{git_ref}`"), ref_fix.clone()),
        Err(error) => Check::from_gitlab(PROJECT, api_url, &error, &ref_fix),
    });
    report.checks.push(pipeline_variables_check(&agent.client, project_id, settings.trigger.with, api_url).await);

    // Without `PIPELINE_TRIGGER_TOKEN`, `serve` uses the agent's own webhook trigger token.
    let own;
    let trigger_token = match settings.trigger.token.as_ref() {
        Some(token) => token,
        None => match trigger::token::find_own(&agent.client, project_id, agent.user.id, &agent.user.username).await {
            Ok(found) => {
                own = found;
                &own
            }
            Err(error) => {
                let detail =
                    format!("`{}` is not set, and {:#}", env_vars::PIPELINE_TRIGGER_TOKEN, anyhow::Error::new(error));
                let fix = format!("run `copilot-runner setup`, or {}", token_fix());
                report.checks.push(Check::fail(TRIGGER, detail, fix));
                return;
            }
        },
    };
    let call = TriggerCall { project_id, token: trigger_token, git_ref, with: settings.trigger.with };
    report.checks.push(call.check(&agent.client, api_url, &ref_fix).await);
}

fn token_fix() -> String {
    format!(
        "create a pipeline trigger token in the agent project (Settings > CI/CD > Pipeline trigger tokens) and set \
         `{}`; check `{}`",
        env_vars::PIPELINE_TRIGGER_TOKEN,
        env_vars::PIPELINE_PROJECT_ID
    )
}

/// The agent project's "minimum role to use pipeline variables": with triggers passed as
/// inputs nobody needs pipeline variables, so `no_one_allowed` keeps every trigger, API call and
/// "Run pipeline" from overriding a setting; the fallback to variables needs them allowed.
async fn pipeline_variables_check(client: &Client, project_id: u64, with: TriggerWith, api_url: &str) -> Check {
    const NONE: &str = "no_one_allowed";
    let fix = format!(
        "in the agent project set Settings > CI/CD > Variables > \"Minimum role to use pipeline variables\" to \
         `{NONE}` (API: `PUT /projects/{project_id}` with `ci_pipeline_variables_minimum_override_role={NONE}`)"
    );
    let project = match client.project(project_id).await {
        Ok(project) => project,
        Err(error) => return Check::from_gitlab(VARIABLES, api_url, &error, &fix),
    };
    let Some(role) = project.ci_pipeline_variables_minimum_override_role else {
        return Check::skipped(
            VARIABLES,
            format!(
                "GitLab did not show project {project_id}'s \"minimum role to use pipeline variables\" (it shows it \
                 to Maintainers and above); check by hand that it is `{NONE}`"
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
                "the role `{role}` and above may pass variables to project {project_id}'s pipelines and so override \
                 its settings (`run` refuses the protected ones, but nothing needs variables: triggers pass inputs)"
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
                "on GitLab 18.1 or later set `{}=inputs`; on older GitLab let the trigger token's owner's role pass \
                 variables",
                env_vars::PIPELINE_TRIGGER_WITH
            ),
        ),
        (TriggerWith::Variables, role) => Check::pass(
            VARIABLES,
            format!(
                "the role `{role}` and above may pass variables, as `{}=variables` needs; once GitLab is 18.1 or \
                 later, trigger with inputs and set `{NONE}`",
                env_vars::PIPELINE_TRIGGER_WITH
            ),
        ),
    }
}

/// The trigger API call `serve` makes, with a contract that names no workflow.
struct TriggerCall<'a> {
    project_id: u64,
    token: &'a SecretString,
    git_ref: &'a str,
    with: TriggerWith,
}

impl TriggerCall<'_> {
    /// See the module comment.
    async fn check(&self, client: &Client, api_url: &str, ref_fix: &str) -> Check {
        let Self { project_id, git_ref, .. } = *self;
        let sent = match self.with {
            TriggerWith::Inputs => "the trigger contract's inputs",
            TriggerWith::Variables => "the trigger contract as variables",
        };
        let parameters = trigger::empty_parameters(self.with);
        let message = match client.trigger_pipeline(project_id, self.token, git_ref, &parameters).await {
            Err(gitlab::Error::Status { code: 400, body, .. }) => body,
            Err(
                error @ (gitlab::Error::NotFound { .. }
                | gitlab::Error::Unauthorized { .. }
                | gitlab::Error::Forbidden { .. }),
            ) => {
                return Check::fail(
                    TRIGGER,
                    format!("project {project_id} did not accept the token: {error}"),
                    token_fix(),
                );
            }
            Err(error) => return Check::from_gitlab(TRIGGER, api_url, &error, &token_fix()),
            Ok(pipeline) => return self.started(client, pipeline.id).await,
        };
        if NOTHING_TO_RUN.iter().any(|answer| message.contains(answer)) {
            return Check::pass(
                TRIGGER,
                format!(
                    "project {project_id} took the token and {sent} on `{git_ref}`; its workflow rules filtered out \
                     the trigger without `trigger_type`, so no pipeline was created"
                ),
            );
        }
        let fix = if message.contains("Reference not found") {
            ref_fix.to_owned()
        } else if message.contains("input") {
            format!(
                "the agent project's `.gitlab-ci.yml` must declare the trigger contract in its `spec:inputs` and pass \
                 it to the template (see `ci-templates/examples/agent-project.gitlab-ci.yml`); on GitLab before 18.1 \
                 set `{}=variables`",
                env_vars::PIPELINE_TRIGGER_WITH
            )
        } else if message.contains("pipeline variables") {
            format!(
                "the agent project refuses pipeline variables: on GitLab 18.1 or later set `{}=inputs`; on older \
                 GitLab let the trigger token's owner's role pass variables",
                env_vars::PIPELINE_TRIGGER_WITH
            )
        } else {
            "check the agent project's `.gitlab-ci.yml` (CI/CD > Editor > Validate) and that it includes the \
             copilot-runner template"
                .to_owned()
        };
        Check::fail(TRIGGER, format!("project {project_id} refused the trigger on `{git_ref}`: {message}"), fix)
    }

    /// GitLab created a pipeline for a trigger without `trigger_type`: cancel it and fail.
    async fn started(&self, client: &Client, pipeline_id: u64) -> Check {
        let project_id = self.project_id;
        let cancelled = match client.cancel_pipeline(project_id, pipeline_id).await {
            Ok(_) => "cancelled at once".to_owned(),
            Err(error) => format!("cancelling it failed, cancel it by hand: {error}"),
        };
        Check::fail(
            TRIGGER,
            format!(
                "project {project_id} took the token, but GitLab created pipeline {pipeline_id} for a trigger without \
                 `trigger_type` ({cancelled})"
            ),
            "the agent project's `.gitlab-ci.yml` must include the copilot-runner template, whose `workflow: rules` \
             run only triggers that name a workflow; a pipeline for any other trigger or push could run jobs nobody \
             asked for",
        )
    }
}
