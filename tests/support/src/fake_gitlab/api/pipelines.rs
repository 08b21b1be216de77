//! Pipelines and jobs: list (by ref, sha, status, source, `updated_after`; for an MR, its
//! merge-ref pipelines included), get, the variables a pipeline was started with, latest, create,
//! cancel, retry; jobs with `include_retried` and `scope[]`, bridges with their downstream
//! pipelines, job get/retry/cancel and the
//! plain-text trace (streamed); the trigger API (`token` from form or query, `source:
//! trigger`; inputs and variables recorded, inputs the CI configuration does not declare
//! refused, variables refused below the project's "minimum role to use pipeline variables",
//! pipelines the configuration's `workflow:rules` filter out not created) and the trigger tokens
//! (listed in full only to their owner; created by Maintainers).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Api, ApiError, ApiResult, Input, created, ok, paginated, project_access, text_stream};
use crate::fake_gitlab::ci::{self, PipelineStart, observe, pipeline_status};
use crate::fake_gitlab::clock;
use crate::fake_gitlab::model::{Pipeline, Project, TriggerCall, TriggerToken, access};
use crate::fake_gitlab::render;
use crate::fake_gitlab::repo::CommitInfo;
use sha1::Digest as _;

fn find_pipeline(api: &Api, project: &Project, pipeline_id: u64) -> Result<Pipeline, ApiError> {
    api.state()
        .pipeline(pipeline_id)
        .filter(|p| p.project_id == project.id)
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, json!({"message": "404 Not found"})))
}

fn observed_detail(api: &Api, pipeline_id: u64) -> Value {
    let mut state = api.state();
    observe(&mut state, pipeline_id);
    state.pipeline(pipeline_id).map_or(Value::Null, |p| render::pipeline_detail(&state, p))
}

pub async fn list(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let git_ref = input.params.str("ref");
    let sha = input.params.str("sha");
    let status = input.params.str("status");
    let source = input.params.str("source");
    let name = input.params.str("name");
    let updated_after = match input.params.str("updated_after") {
        Some(text) => Some(
            crate::fake_gitlab::clock::sort_key(&text)
                .ok_or_else(|| ApiError::bad_request("updated_after is invalid"))?,
        ),
        None => None,
    };
    let mut state = api.state();
    let ids: Vec<u64> = state
        .pipelines
        .iter()
        .filter(|p| p.project_id == project.id)
        .filter(|p| git_ref.as_ref().is_none_or(|r| &p.git_ref == r))
        .filter(|p| sha.as_ref().is_none_or(|s| &p.sha == s))
        .filter(|p| source.as_ref().is_none_or(|s| &p.source == s))
        .filter(|p| name.as_ref().is_none_or(|n| p.name.as_ref() == Some(n)))
        .map(|p| p.id)
        .collect();
    for id in &ids {
        observe(&mut state, *id);
    }
    let mut pipelines: Vec<&Pipeline> = ids.iter().filter_map(|id| state.pipeline(*id)).collect();
    if let Some(after) = &updated_after {
        pipelines.retain(|p| crate::fake_gitlab::clock::sort_key(&p.updated_at).is_some_and(|at| &at > after));
    }
    if let Some(status) = &status {
        pipelines.retain(|p| &pipeline_status(&state, p) == status);
    }
    pipelines.sort_by_key(|p| std::cmp::Reverse(p.id));
    if input.params.str("sort").as_deref() == Some("asc") {
        pipelines.reverse();
    }
    let items = pipelines.iter().map(|p| render::pipeline_basic(&state, p)).collect();
    drop(state);
    paginated(&api, &input, items)
}

pub async fn list_for_mr(State(api): State<Api>, Path((id, iid)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let mut state = api.state();
    let mr = state.merge_request(project.id, iid).cloned().ok_or_else(|| ApiError::not_found("Merge Request"))?;
    let heads: Vec<&str> = mr.versions.iter().map(|v| v.head_commit_sha.as_str()).collect();
    let merge_refs = [format!("refs/merge-requests/{iid}/head"), format!("refs/merge-requests/{iid}/merge")];
    let ids: Vec<u64> = state
        .pipelines
        .iter()
        .filter(|p| p.project_id == project.id)
        .filter(|p| {
            (p.git_ref == mr.source_branch && heads.contains(&p.sha.as_str())) || merge_refs.contains(&p.git_ref)
        })
        .map(|p| p.id)
        .collect();
    for id in &ids {
        observe(&mut state, *id);
    }
    let mut pipelines: Vec<&Pipeline> = ids.iter().filter_map(|id| state.pipeline(*id)).collect();
    pipelines.sort_by_key(|p| std::cmp::Reverse(p.id));
    let items = pipelines.iter().map(|p| render::pipeline_basic(&state, p)).collect();
    drop(state);
    paginated(&api, &input, items)
}

pub async fn get_one(State(api): State<Api>, Path((id, pipeline_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    find_pipeline(&api, &project, pipeline_id)?;
    ok(observed_detail(&api, pipeline_id))
}

/// `GET /projects/:id/pipelines/:pipeline_id/variables`: what the pipeline was started with
/// (trigger or API variables), for Developers and above.
pub async fn variables(
    State(api): State<Api>,
    Path((id, pipeline_id)): Path<(String, u64)>,
    input: Input,
) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::DEVELOPER)?;
    let pipeline = find_pipeline(&api, &project, pipeline_id)?;
    let items = pipeline
        .variables
        .iter()
        .map(|(key, value)| json!({"key": key, "value": value, "variable_type": "env_var"}))
        .collect();
    paginated(&api, &input, items)
}

pub async fn latest(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let git_ref = input.params.str("ref").unwrap_or_else(|| project.default_branch.clone());
    let latest =
        api.state().pipelines.iter().filter(|p| p.project_id == project.id && p.git_ref == git_ref).map(|p| p.id).max();
    let pipeline_id =
        latest.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, json!({"message": "404 Not found"})))?;
    ok(observed_detail(&api, pipeline_id))
}

pub async fn create(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::DEVELOPER)?;
    let git_ref = input.require_str("ref")?;
    let repo = api.repo_for(&project.path_with_namespace);
    let sha = repo
        .rev_parse(&format!("refs/heads/{git_ref}"))
        .await
        .ok_or_else(|| ApiError::bad_request("Reference not found"))?;
    let variables = input.params.string_map("variables");
    let inputs = checked_inputs(&project, &input)?;
    if project.ci.filters_out(&variables, &inputs) {
        return Err(not_created(FILTERED_OUT));
    }
    let pipeline_id = {
        let mut state = api.state();
        ci::create_pipeline(
            &mut state,
            PipelineStart {
                project_id: project.id,
                git_ref,
                sha,
                before_sha: "0".repeat(40),
                source: "api".to_owned(),
                user_id: user.id,
                variables,
                inputs,
            },
        )
        .ok_or_else(|| ApiError::bad_request("Missing CI config file"))?
    };
    let state = api.state();
    created(state.pipeline(pipeline_id).map_or(Value::Null, |p| render::pipeline_detail(&state, p)))
}

pub async fn cancel(State(api): State<Api>, Path((id, pipeline_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::DEVELOPER)?;
    find_pipeline(&api, &project, pipeline_id)?;
    ci::cancel_pipeline(&mut api.state(), pipeline_id);
    let state = api.state();
    ok(state.pipeline(pipeline_id).map_or(Value::Null, |p| render::pipeline_detail(&state, p)))
}

pub async fn retry(State(api): State<Api>, Path((id, pipeline_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::DEVELOPER)?;
    find_pipeline(&api, &project, pipeline_id)?;
    ci::retry_pipeline(&mut api.state(), pipeline_id, user.id);
    let state = api.state();
    created(state.pipeline(pipeline_id).map_or(Value::Null, |p| render::pipeline_detail(&state, p)))
}

/// Commit metadata for the pipelines' SHAs, read once per SHA.
async fn commits_for(api: &Api, project: &Project, shas: Vec<String>) -> BTreeMap<String, CommitInfo> {
    let repo = api.repo_for(&project.path_with_namespace);
    let mut commits = BTreeMap::new();
    for sha in shas {
        if commits.contains_key(&sha) {
            continue;
        }
        if let Ok(info) = repo.commit_info(&sha).await {
            commits.insert(sha, info);
        }
    }
    commits
}

fn scopes(input: &Input) -> Option<Vec<String>> {
    input.params.str_list("scope")
}

pub async fn jobs(State(api): State<Api>, Path((id, pipeline_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let pipeline = find_pipeline(&api, &project, pipeline_id)?;
    let include_retried = input.bool("include_retried")?.unwrap_or(false);
    let scope = scopes(&input);
    let commits = commits_for(&api, &project, vec![pipeline.sha.clone()]).await;
    let mut state = api.state();
    observe(&mut state, pipeline_id);
    let items = render::pipeline_job_ids(&state, pipeline_id, include_retried)
        .into_iter()
        .filter_map(|job_id| state.job(job_id))
        .filter(|job| scope.as_ref().is_none_or(|s| s.contains(&job.status)))
        .map(|job| render::job(&state, &project, job, commits.get(&pipeline.sha)))
        .collect();
    drop(state);
    paginated(&api, &input, items)
}

/// `GET /projects/:id/pipelines/:pipeline_id/bridges`: the pipeline's `trigger:` jobs with
/// their downstream pipelines, `scope[]` filtering by status.
pub async fn bridges(State(api): State<Api>, Path((id, pipeline_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let pipeline = find_pipeline(&api, &project, pipeline_id)?;
    let scope = scopes(&input);
    let commits = commits_for(&api, &project, vec![pipeline.sha.clone()]).await;
    let mut state = api.state();
    observe(&mut state, pipeline_id);
    let items = ci::latest_jobs(&state, pipeline_id)
        .into_iter()
        .filter(|job| job.downstream.is_some())
        .filter(|job| scope.as_ref().is_none_or(|s| s.contains(&ci::job_status(&state, job))))
        .map(|job| render::bridge(&state, &project, job, commits.get(&pipeline.sha)))
        .collect();
    drop(state);
    paginated(&api, &input, items)
}

fn job_pipeline_sha(api: &Api, project: &Project, job_id: u64) -> Result<String, ApiError> {
    let state = api.state();
    let job = state.job(job_id).filter(|j| j.project_id == project.id).ok_or_else(|| ApiError::not_found(""))?;
    Ok(state.pipeline(job.pipeline_id).map(|p| p.sha.clone()).unwrap_or_default())
}

fn job_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, json!({"message": "404 Not found"}))
}

pub async fn get_job(State(api): State<Api>, Path((id, job_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let sha = job_pipeline_sha(&api, &project, job_id).map_err(|_| job_not_found())?;
    let commits = commits_for(&api, &project, vec![sha.clone()]).await;
    let mut state = api.state();
    if let Some(pipeline_id) = state.job(job_id).map(|j| j.pipeline_id) {
        observe(&mut state, pipeline_id);
    }
    let job = state.job(job_id).ok_or_else(job_not_found)?;
    ok(render::job(&state, &project, job, commits.get(&sha)))
}

pub async fn trace(State(api): State<Api>, Path((id, job_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let state = api.state();
    let job = state.job(job_id).filter(|j| j.project_id == project.id).ok_or_else(job_not_found)?;
    Ok(text_stream(job.trace.clone()))
}

pub async fn retry_job(State(api): State<Api>, Path((id, job_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::DEVELOPER)?;
    let sha = job_pipeline_sha(&api, &project, job_id).map_err(|_| job_not_found())?;
    let commits = commits_for(&api, &project, vec![sha.clone()]).await;
    let mut state = api.state();
    if !state.job(job_id).is_some_and(|j| j.is_terminal() && !j.retried) {
        return Err(ApiError::forbidden());
    }
    let new_id = ci::retry_job(&mut state, job_id, user.id).ok_or_else(job_not_found)?;
    let job = state.job(new_id).ok_or_else(job_not_found)?;
    created(render::job(&state, &project, job, commits.get(&sha)))
}

pub async fn cancel_job(State(api): State<Api>, Path((id, job_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::DEVELOPER)?;
    let sha = job_pipeline_sha(&api, &project, job_id).map_err(|_| job_not_found())?;
    let commits = commits_for(&api, &project, vec![sha.clone()]).await;
    let mut state = api.state();
    let stamp = crate::fake_gitlab::clock::now();
    let job = state.job_mut(job_id).ok_or_else(job_not_found)?;
    if !job.is_terminal() {
        job.status = "canceled".to_owned();
        job.finished_at = Some(stamp);
    }
    let job = state.job(job_id).ok_or_else(job_not_found)?;
    created(render::job(&state, &project, job, commits.get(&sha)))
}

/// `POST /projects/:id/trigger/pipeline`: no user token; the trigger token authenticates.
pub async fn trigger(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let token = input.require_str("token")?;
    let git_ref = input.require_str("ref")?;
    let (project, owner_id) = {
        let state = api.state();
        let project = state.project(&id).cloned().ok_or_else(|| ApiError::not_found(""))?;
        let owner = project.trigger_tokens.iter().find(|t| t.token == token).map(|t| t.owner_id);
        match owner {
            Some(owner) => (project, owner),
            None => return Err(ApiError::new(StatusCode::NOT_FOUND, json!({"message": "404 Not Found"}))),
        }
    };
    let repo = api.repo_for(&project.path_with_namespace);
    let sha = match repo.rev_parse(&format!("refs/heads/{git_ref}")).await {
        Some(sha) => sha,
        None => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, json!({"message": {"base": ["Reference not found"]}})));
        }
    };
    let variables = input.params.string_map("variables");
    let inputs = checked_inputs(&project, &input)?;
    if !variables.is_empty() && !may_pass_variables(&project, project.access_of(owner_id)) {
        return Err(not_created("Insufficient permissions to set pipeline variables"));
    }
    if project.ci.filters_out(&variables, &inputs) {
        return Err(not_created(FILTERED_OUT));
    }
    let mut state = api.state();
    let pipeline_id = ci::create_pipeline(
        &mut state,
        PipelineStart {
            project_id: project.id,
            git_ref: git_ref.clone(),
            sha,
            before_sha: "0".repeat(40),
            source: "trigger".to_owned(),
            user_id: owner_id,
            variables: variables.clone(),
            inputs: inputs.clone(),
        },
    )
    .ok_or_else(|| ApiError::bad_request("Missing CI config file"))?;
    state.triggers.push(TriggerCall { project_id: project.id, git_ref, variables, inputs, pipeline_id });
    created(state.pipeline(pipeline_id).map_or(Value::Null, |p| render::pipeline_detail(&state, p)))
}

/// The `inputs` of a pipeline request, refused as GitLab refuses them when the project's CI
/// configuration does not declare them in its `spec:inputs` header.
fn checked_inputs(project: &Project, input: &Input) -> Result<Vec<(String, String)>, ApiError> {
    let inputs = input.params.string_map("inputs");
    let declared = project.ci.inputs.as_deref().unwrap_or_default();
    let unknown: Vec<&str> =
        inputs.iter().map(|(name, _)| name.as_str()).filter(|name| !declared.iter().any(|d| d == name)).collect();
    if unknown.is_empty() {
        Ok(inputs)
    } else {
        Err(not_created(&format!("unknown input arguments: {}", unknown.join(", "))))
    }
}

/// What GitLab says when the configuration's `workflow:rules` keep a pipeline from being created.
const FILTERED_OUT: &str = "Pipeline filtered out by workflow rules.";

/// A pipeline GitLab did not create, as the pipeline and trigger APIs report it.
fn not_created(reason: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, json!({"message": {"base": [reason]}}))
}

/// Whether a user with `level` may pass pipeline variables under the project's "minimum role to
/// use pipeline variables".
fn may_pass_variables(project: &Project, level: u32) -> bool {
    match project.pipeline_variables_minimum_role.as_str() {
        "developer" => level >= access::DEVELOPER,
        "maintainer" => level >= access::MAINTAINER,
        "owner" => level >= access::OWNER,
        _ => false,
    }
}

pub async fn list_triggers(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::MAINTAINER)?;
    let state = api.state();
    let items = project.trigger_tokens.iter().map(|t| trigger_value(&state, &project, t, user.id)).collect();
    drop(state);
    paginated(&api, &input, items)
}

/// A trigger token as `viewer` sees it: in full when they created it, else its first four
/// characters (Pipeline trigger tokens API, <https://docs.gitlab.com/api/pipeline_triggers/>).
fn trigger_value(state: &crate::fake_gitlab::model::State, project: &Project, t: &TriggerToken, viewer: u64) -> Value {
    let token = if t.owner_id == viewer { t.token.clone() } else { t.token.chars().take(4).collect() };
    json!({
        "id": t.id,
        "token": token,
        "description": t.description,
        "created_at": project.created_at,
        "updated_at": project.created_at,
        "last_used": null,
        "owner": render::user_by_id(state, t.owner_id),
    })
}

/// `POST /projects/:id/triggers` with `description`, for Maintainers: a new token the caller
/// owns, answered in full.
pub async fn create_trigger(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::MAINTAINER)?;
    let description = input.require_str("description")?;
    let mut state = api.state();
    let trigger_id = state.allocate("trigger");
    let digest = sha1::Sha1::digest(format!("trigger-{}-{trigger_id}-{}", project.id, clock::now()).as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let trigger =
        TriggerToken { id: trigger_id, token: format!("glptt-{}", &hex[..20]), owner_id: user.id, description };
    let value = trigger_value(&state, &project, &trigger, user.id);
    if let Some(stored) = state.project_mut(project.id) {
        stored.trigger_tokens.push(trigger);
    }
    created(value)
}
