//! Project and group webhooks, shaped after GitLab's "Project webhooks API"
//! (https://docs.gitlab.com/api/project_webhooks/) and "Group webhooks API"
//! (https://docs.gitlab.com/api/group_webhooks/): list, get, add, edit and delete a hook, list
//! its recent deliveries (`…/events`), and trigger a test delivery (`…/test/:trigger`).
//!
//! Who may: project hooks need the Maintainer role; group hooks the group's Owner role, and a
//! licensed tier: on GitLab Free the group hooks API answers 403, as the Premium feature's
//! policy check does there. The secret `token` is write-only: no answer ever shows it.
//!
//! A test delivery really POSTs to the hook's URL (see [`super::super::delivery`]) and answers
//! as `API::Hooks::TriggerTest` does: 201 `{"message":"201 Created"}` when the receiver
//! answered 2xx, else 422 with the receiver's response body, or the connection error, as the
//! message. The fake sends test deliveries of push events only (the sample push of the
//! project's default branch); the other documented triggers are refused with a 400 that says
//! so. A group hook's test pushes the group's first project.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use serde_json::{Value, json};

use super::{Api, ApiError, ApiResult, Input, caller, created, json_response, ok, paginated, project_access};
use crate::fake_gitlab::clock::now;
use crate::fake_gitlab::delivery::{self, Outgoing, TEST_TRIGGERS};
use crate::fake_gitlab::model::{Hook, HookDelivery, HookOwner, State as Model, User, access};

/// The event flags a project hook has, in the order GitLab's entity lists them.
const PROJECT_FLAGS: &[&str] = &[
    "push_events",
    "tag_push_events",
    "merge_requests_events",
    "repository_update_events",
    "issues_events",
    "confidential_issues_events",
    "note_events",
    "confidential_note_events",
    "pipeline_events",
    "wiki_page_events",
    "deployment_events",
    "feature_flag_events",
    "job_events",
    "releases_events",
    "emoji_events",
    "resource_access_token_events",
    "vulnerability_events",
];

/// The flags only group hooks have.
const GROUP_ONLY_FLAGS: &[&str] = &["subgroup_events", "member_events", "project_events"];

/// The project's hooks scope: the caller needs the Maintainer role.
fn project_scope(api: &Api, input: &Input, id: &str) -> Result<HookOwner, ApiError> {
    let (_, project) = project_access(api, input, id, access::MAINTAINER)?;
    Ok(HookOwner::Project(project.id))
}

/// The group's hooks scope: a group the caller cannot see is 404; Free tier or less than the
/// Owner role is 403.
fn group_scope(api: &Api, input: &Input, id: &str) -> Result<HookOwner, ApiError> {
    let user = caller(api, input)?;
    let group = super::groups::visible_group(&api.state(), &user, id)?;
    if !group.webhooks_licensed || group.access_of(user.id) < access::OWNER {
        return Err(ApiError::forbidden());
    }
    Ok(HookOwner::Group(group.id))
}

fn hook_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, json!({"message": "404 Not found"}))
}

fn find(state: &Model, owner: HookOwner, hook_id: u64) -> Result<Hook, ApiError> {
    state.hooks.iter().find(|h| h.id == hook_id && h.owner == owner).cloned().ok_or_else(hook_not_found)
}

/// GitLab's `ProjectHook`/`GroupHook` entity; never the token.
pub fn render(hook: &Hook) -> Value {
    let mut value = json!({
        "id": hook.id,
        "url": hook.url,
        "name": hook.name,
        "description": hook.description,
        "created_at": hook.created_at,
        "enable_ssl_verification": hook.enable_ssl_verification,
        "alert_status": "executable",
        "disabled_until": null,
        "url_variables": [],
        "push_events_branch_filter": hook.push_events_branch_filter,
        "branch_filter_strategy": hook.branch_filter_strategy,
        "custom_webhook_template": null,
        "custom_headers": [],
    });
    if let Value::Object(map) = &mut value {
        match hook.owner {
            HookOwner::Project(project_id) => map.insert("project_id".into(), json!(project_id)),
            HookOwner::Group(group_id) => map.insert("group_id".into(), json!(group_id)),
        };
        for flag in flags_of(hook.owner) {
            map.insert(flag.into(), json!(hook.event(flag)));
        }
    }
    value
}

fn flags_of(owner: HookOwner) -> Vec<&'static str> {
    match owner {
        HookOwner::Project(_) => PROJECT_FLAGS.to_vec(),
        HookOwner::Group(_) => PROJECT_FLAGS.iter().chain(GROUP_ONLY_FLAGS).copied().collect(),
    }
}

/// A URL GitLab accepts for a hook: http(s) with a host, and not a local address while the
/// instance refuses local requests.
fn valid_url(state: &Model, url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else { return false };
    matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some_and(|host| !host.is_empty())
        && !(state.local_requests_blocked && delivery::is_local(&parsed))
}

/// Applies the writable fields of `input` to `hook`.
fn apply(input: &Input, hook: &mut Hook) -> Result<(), ApiError> {
    for flag in flags_of(hook.owner) {
        if let Some(on) = input.bool(flag)? {
            hook.events.insert(flag.to_owned(), on);
        }
    }
    if let Some(on) = input.bool("enable_ssl_verification")? {
        hook.enable_ssl_verification = on;
    }
    if let Some(token) = input.params.str("token") {
        hook.token = (!token.is_empty()).then_some(token);
    }
    for (key, field) in [("name", &mut hook.name), ("description", &mut hook.description)] {
        if let Some(text) = input.params.str(key) {
            *field = Some(text);
        }
    }
    if let Some(filter) = input.params.str("push_events_branch_filter") {
        hook.push_events_branch_filter = Some(filter);
    }
    if let Some(strategy) = input.params.str("branch_filter_strategy") {
        if !["wildcard", "regex", "all_branches"].contains(&strategy.as_str()) {
            return Err(ApiError::invalid("branch_filter_strategy does not have a valid value"));
        }
        hook.branch_filter_strategy = strategy;
    }
    Ok(())
}

fn invalid_url() -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, json!({"message": "Invalid url given"}))
}

async fn list(api: Api, owner: HookOwner, input: Input) -> ApiResult {
    let items = api.state().hooks.iter().filter(|h| h.owner == owner).map(render).collect();
    paginated(&api, &input, items)
}

async fn get_one(api: Api, owner: HookOwner, hook_id: u64) -> ApiResult {
    ok(render(&find(&api.state(), owner, hook_id)?))
}

async fn create(api: Api, owner: HookOwner, input: Input) -> ApiResult {
    let url = input.require_str("url")?;
    let mut state = api.state();
    if !valid_url(&state, &url) {
        return Err(invalid_url());
    }
    let mut hook = Hook {
        id: 0,
        owner,
        url,
        name: None,
        description: None,
        token: None,
        events: Default::default(),
        push_events_branch_filter: None,
        branch_filter_strategy: "wildcard".to_owned(),
        enable_ssl_verification: true,
        created_at: now(),
    };
    apply(&input, &mut hook)?;
    hook.id = state.allocate("hook");
    state.hooks.push(hook.clone());
    created(render(&hook))
}

async fn update(api: Api, owner: HookOwner, hook_id: u64, input: Input) -> ApiResult {
    let mut state = api.state();
    let mut hook = find(&state, owner, hook_id)?;
    if let Some(url) = input.params.str("url") {
        if !valid_url(&state, &url) {
            return Err(invalid_url());
        }
        hook.url = url;
    }
    apply(&input, &mut hook)?;
    if let Some(stored) = state.hooks.iter_mut().find(|h| h.id == hook_id) {
        *stored = hook.clone();
    }
    ok(render(&hook))
}

async fn delete(api: Api, owner: HookOwner, hook_id: u64) -> ApiResult {
    let mut state = api.state();
    find(&state, owner, hook_id)?;
    state.hooks.retain(|h| h.id != hook_id);
    state.hook_deliveries.retain(|d| d.hook_id != hook_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `WebHookLog` entities, newest first, 20 a page at most.
async fn events(api: Api, owner: HookOwner, hook_id: u64, input: Input) -> ApiResult {
    let items: Vec<Value> = {
        let state = api.state();
        find(&state, owner, hook_id)?;
        state
            .hook_deliveries
            .iter()
            .rev()
            .filter(|d| d.hook_id == hook_id)
            .map(|d| {
                let request_headers: serde_json::Map<String, Value> =
                    d.request_headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                json!({
                    "id": d.id,
                    "url": d.url,
                    "trigger": d.trigger,
                    "request_headers": request_headers,
                    "request_data": serde_json::from_str::<Value>(&d.request_data).unwrap_or(Value::Null),
                    "response_headers": {},
                    "response_body": d.response_body,
                    "execution_duration": d.execution_duration,
                    "response_status": d.response_status,
                    "created_at": d.created_at,
                })
            })
            .collect()
    };
    if input.int("per_page")?.is_some_and(|n| !(1..=20).contains(&n)) {
        return Err(ApiError::invalid("per_page does not have a valid value"));
    }
    paginated(&api, &input, items)
}

/// `POST …/hooks/:hook_id/test/:trigger`: see the module comment.
async fn test(api: Api, owner: HookOwner, hook_id: u64, trigger: String, user: User) -> ApiResult {
    let Some((_, event)) = TEST_TRIGGERS.iter().find(|(name, _)| *name == trigger) else {
        return Err(ApiError::invalid("trigger does not have a valid value"));
    };
    if trigger != "push_events" {
        return Err(ApiError::bad_request("the fake GitLab sends test deliveries of push events only"));
    }
    let (hook, project, local_requests_blocked, instance_url) = {
        let state = api.state();
        let hook = find(&state, owner, hook_id)?;
        let project = match owner {
            HookOwner::Project(project_id) => state.project_by_id(project_id).cloned(),
            HookOwner::Group(group_id) => state
                .group(&group_id.to_string())
                .and_then(|group| state.projects.iter().find(|p| p.namespace() == group.full_path).cloned()),
        };
        let empty = match owner {
            HookOwner::Project(_) => "Ensure the project has at least one commit.",
            HookOwner::Group(_) => "Ensure the group has a project with commits.",
        };
        let project = project.ok_or_else(|| unprocessable(empty))?;
        (hook, project, state.local_requests_blocked, state.base_url.clone())
    };
    let repo = api.repo_for(&project.path_with_namespace);
    let head = match repo.rev_parse(&format!("refs/heads/{}", project.default_branch)).await {
        Some(sha) => repo.commit_info(&sha).await.ok(),
        None => None,
    };
    let Some(head) = head else { return Err(unprocessable("Ensure the project has at least one commit.")) };
    let payload = delivery::sample_push(&api.state(), &project, &user, &head);
    let outgoing = Outgoing {
        hook,
        trigger: "push_hooks".to_owned(),
        event: (*event).to_owned(),
        payload,
        instance_url,
        local_requests_blocked,
    };
    let mut record: HookDelivery = delivery::send(outgoing).await;
    let answer = match record.response_status.parse::<u16>() {
        Ok(status) if (200..300).contains(&status) => {
            Ok(json_response(StatusCode::CREATED, json!({"message": "201 Created"})))
        }
        Ok(_) => Err(unprocessable(&record.response_body)),
        Err(_) => Err(unprocessable(record.internal_error_message.as_deref().unwrap_or_default())),
    };
    let mut state = api.state();
    record.id = state.allocate("hook_delivery");
    state.hook_deliveries.push(record);
    answer
}

fn unprocessable(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, json!({"message": message}))
}

// ----- the routes: project hooks -----

pub async fn list_project(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let owner = project_scope(&api, &input, &id)?;
    list(api, owner, input).await
}

pub async fn create_project(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let owner = project_scope(&api, &input, &id)?;
    create(api, owner, input).await
}

pub async fn get_project(State(api): State<Api>, Path((id, hook_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let owner = project_scope(&api, &input, &id)?;
    get_one(api, owner, hook_id).await
}

pub async fn update_project(
    State(api): State<Api>,
    Path((id, hook_id)): Path<(String, u64)>,
    input: Input,
) -> ApiResult {
    let owner = project_scope(&api, &input, &id)?;
    update(api, owner, hook_id, input).await
}

pub async fn delete_project(
    State(api): State<Api>,
    Path((id, hook_id)): Path<(String, u64)>,
    input: Input,
) -> ApiResult {
    let owner = project_scope(&api, &input, &id)?;
    delete(api, owner, hook_id).await
}

pub async fn events_project(
    State(api): State<Api>,
    Path((id, hook_id)): Path<(String, u64)>,
    input: Input,
) -> ApiResult {
    let owner = project_scope(&api, &input, &id)?;
    events(api, owner, hook_id, input).await
}

pub async fn test_project(
    State(api): State<Api>,
    Path((id, hook_id, trigger)): Path<(String, u64, String)>,
    input: Input,
) -> ApiResult {
    let owner = project_scope(&api, &input, &id)?;
    let user = caller(&api, &input)?;
    test(api, owner, hook_id, trigger, user).await
}

// ----- the routes: group hooks -----

pub async fn list_group(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let owner = group_scope(&api, &input, &id)?;
    list(api, owner, input).await
}

pub async fn create_group(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let owner = group_scope(&api, &input, &id)?;
    create(api, owner, input).await
}

pub async fn get_group(State(api): State<Api>, Path((id, hook_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let owner = group_scope(&api, &input, &id)?;
    get_one(api, owner, hook_id).await
}

pub async fn update_group(State(api): State<Api>, Path((id, hook_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let owner = group_scope(&api, &input, &id)?;
    update(api, owner, hook_id, input).await
}

pub async fn delete_group(State(api): State<Api>, Path((id, hook_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let owner = group_scope(&api, &input, &id)?;
    delete(api, owner, hook_id).await
}

pub async fn events_group(State(api): State<Api>, Path((id, hook_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let owner = group_scope(&api, &input, &id)?;
    events(api, owner, hook_id, input).await
}

pub async fn test_group(
    State(api): State<Api>,
    Path((id, hook_id, trigger)): Path<(String, u64, String)>,
    input: Input,
) -> ApiResult {
    let owner = group_scope(&api, &input, &id)?;
    let user = caller(&api, &input)?;
    test(api, owner, hook_id, trigger, user).await
}
