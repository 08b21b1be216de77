//! Runners, shaped after GitLab's "Runners API" (https://docs.gitlab.com/api/runners/):
//! `GET /runners` (the runners the caller owns: project runners of projects they maintain,
//! group runners of groups they own) and `GET /projects/:id/runners` (every runner the
//! project may use: its own, its group's and the instance's; Maintainer role needed), with the
//! documented filters `type`, `status` (`online`, `offline`, `stale`, `never_contacted`, and the
//! deprecated `active`/`paused`), `paused` and `tag_list` (comma-separated; a runner must carry
//! every tag). Answers are the `Ci::Runner` entity, which lists no tags.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Api, ApiError, ApiResult, Input, caller, paginated, project_access};
use crate::fake_gitlab::model::{Runner, State as Model, access};

const TYPES: &[&str] = &["instance_type", "group_type", "project_type"];
const STATUSES: &[&str] = &["active", "paused", "online", "offline", "stale", "never_contacted"];

/// The `Ci::Runner` entity (`status` is the deprecated REST status: `paused` wins).
pub fn render(runner: &Runner) -> Value {
    let status = match (runner.paused, runner.online) {
        (true, _) => "paused",
        (false, true) => "online",
        (false, false) => "offline",
    };
    json!({
        "id": runner.id,
        "description": runner.description,
        "ip_address": null,
        "active": !runner.paused,
        "paused": runner.paused,
        "is_shared": runner.runner_type == "instance_type",
        "runner_type": runner.runner_type,
        "name": "gitlab-runner",
        "online": runner.online,
        "created_at": runner.created_at,
        "status": status,
        "job_execution_status": "idle",
    })
}

/// The documented filters, checked as Grape checks their values.
struct Filters {
    runner_type: Option<String>,
    status: Option<String>,
    paused: Option<bool>,
    tags: Vec<String>,
}

impl Filters {
    fn parse(input: &Input) -> Result<Self, ApiError> {
        let runner_type = input.params.str("type");
        if runner_type.as_deref().is_some_and(|t| !TYPES.contains(&t)) {
            return Err(ApiError::invalid("type does not have a valid value"));
        }
        let status = input.params.str("status");
        if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
            return Err(ApiError::invalid("status does not have a valid value"));
        }
        let tags = input.params.str_list("tag_list").unwrap_or_default();
        Ok(Self { runner_type, status, paused: input.bool("paused")?, tags })
    }

    fn keeps(&self, runner: &Runner) -> bool {
        let status_matches = match self.status.as_deref() {
            None => true,
            Some("online") => runner.online,
            Some("offline") => !runner.online,
            Some("active") => !runner.paused,
            Some("paused") => runner.paused,
            // Every fake runner has contacted GitLab recently or is simply offline.
            Some(_) => false,
        };
        self.runner_type.as_ref().is_none_or(|t| &runner.runner_type == t)
            && status_matches
            && self.paused.is_none_or(|paused| runner.paused == paused)
            && self.tags.iter().all(|tag| runner.tags.contains(tag))
    }
}

/// The runners a project may use: instance runners, its group's, and its own.
fn available_to(state: &Model, project_id: u64) -> Vec<&Runner> {
    let group_id = state.project_by_id(project_id).and_then(|p| state.group_of(p)).map(|g| g.id);
    state
        .runners
        .iter()
        .filter(|r| match r.runner_type.as_str() {
            "instance_type" => true,
            "group_type" => r.group_id.is_some() && r.group_id == group_id,
            _ => r.project_ids.contains(&project_id),
        })
        .collect()
}

pub async fn for_project(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::MAINTAINER)?;
    let filters = Filters::parse(&input)?;
    let items = {
        let state = api.state();
        available_to(&state, project.id).into_iter().filter(|r| filters.keeps(r)).map(render).collect()
    };
    paginated(&api, &input, items)
}

pub async fn owned(State(api): State<Api>, input: Input) -> ApiResult {
    let user = caller(&api, &input)?;
    let filters = Filters::parse(&input)?;
    let items = {
        let state = api.state();
        state
            .runners
            .iter()
            .filter(|r| match r.runner_type.as_str() {
                "instance_type" => false,
                "group_type" => r
                    .group_id
                    .and_then(|id| state.group(&id.to_string()))
                    .is_some_and(|g| g.access_of(user.id) >= access::OWNER),
                _ => r
                    .project_ids
                    .iter()
                    .any(|id| state.project_by_id(*id).is_some_and(|p| p.access_of(user.id) >= access::MAINTAINER)),
            })
            .filter(|r| filters.keeps(r))
            .map(render)
            .collect()
    };
    paginated(&api, &input, items)
}
