//! The runner: a runner that carries every tag the agent jobs ask for (`--runner-tag`, the
//! template's `tags` input) is online, not paused, and may run the agent project's jobs (its
//! own runner, its group's or the instance's). Without one a triggered pipeline waits in
//! `pending` and nobody learns why. Listing a project's runners needs the Maintainer role.

use super::Check;
use crate::gitlab::{self, Client, RunnerFilter};

const RUNNER: &str = "runner";

pub(super) async fn runner_check(client: &Client, project_id: u64, tags: &[String], api_url: &str) -> Check {
    let tagged = format!("tagged {}", tags.iter().map(|tag| format!("`{tag}`")).collect::<Vec<_>>().join(", "));
    let by_hand = format!(
        "check the agent project's Settings > CI/CD > Runners for an online runner {tagged}, or pass \
         `--maintainer-token-env VAR` with a variable holding a Maintainer's token"
    );
    let online = RunnerFilter { tags: tags.to_vec(), status: Some("online".to_owned()), paused: Some(false) };
    let runners = match client.project_runners(project_id, &online).await {
        Ok(runners) => runners,
        Err(gitlab::Error::Forbidden { .. }) => {
            return Check::skipped(RUNNER, format!("the token may not list project {project_id}'s runners; {by_hand}"));
        }
        Err(error) => return Check::from_gitlab(RUNNER, api_url, &error, &by_hand),
    };
    if let Some(runner) = runners.first() {
        return Check::pass(
            RUNNER,
            format!(
                "runner {} ({}, `{}`) {tagged} is online for project {project_id}",
                runner.id,
                runner.runner_type.as_deref().unwrap_or("runner"),
                runner.description.as_deref().unwrap_or_default()
            ),
        );
    }
    let any_status = RunnerFilter { tags: tags.to_vec(), ..RunnerFilter::default() };
    match client.project_runners(project_id, &any_status).await {
        Ok(idle) if !idle.is_empty() => {
            let states: Vec<String> = idle
                .iter()
                .map(|runner| {
                    let state = if runner.is_paused() { "paused" } else { "offline" };
                    format!("runner {} is {state}", runner.id)
                })
                .collect();
            Check::fail(
                RUNNER,
                format!("no runner {tagged} is online for project {project_id}: {}", states.join(", ")),
                "start the runner (with the Helm chart: `kubectl -n copilot-runner get pods`, and its log), or \
                 unpause it in the agent project's Settings > CI/CD > Runners",
            )
        }
        Ok(_) => Check::fail(
            RUNNER,
            format!("no runner {tagged} may run project {project_id}'s jobs"),
            format!(
                "register a runner for the agent project {tagged} (docs/deploy.md, \"The Kubernetes runner\"), or \
                 give the template's `tags` input your runner's tags and pass them to doctor with `--runner-tag`"
            ),
        ),
        Err(error) => Check::from_gitlab(RUNNER, api_url, &error, &by_hand),
    }
}
