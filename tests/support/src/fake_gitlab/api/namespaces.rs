//! Namespaces and groups: `GET /namespaces/:id` (Namespaces API,
//! <https://docs.gitlab.com/api/namespaces/>), `GET /groups/:id` and `GET /groups/:id/projects`
//! (Groups API, <https://docs.gitlab.com/api/groups/>).
//!
//! A group is visible to its members and the members of the groups above it; a user's own
//! namespace only to that user. Everything else is 404, as GitLab hides what a user may not see.
//! A user's namespace id is [`user_namespace_id`] of the user.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Api, ApiError, ApiResult, Input, caller, ok, paginated};
use crate::fake_gitlab::model::{Group, State as World, User};
use crate::fake_gitlab::render;

/// The id of a user's personal namespace (kept apart from group ids).
pub fn user_namespace_id(user_id: u64) -> u64 {
    10_000 + user_id
}

fn group_value(state: &World, group: &Group) -> Value {
    let parent = group.full_path.rsplit_once('/').and_then(|(parent, _)| state.group(parent)).map(|g| g.id);
    json!({
        "id": group.id,
        "name": group.name(),
        "path": group.name(),
        "full_name": group.full_path.replace('/', " / "),
        "full_path": group.full_path,
        "description": "",
        "visibility": "private",
        "parent_id": parent,
        "avatar_url": null,
        "web_url": format!("{}/groups/{}", state.base_url, group.full_path),
        "created_at": group.created_at,
    })
}

fn namespace_of_group(state: &World, group: &Group) -> Value {
    let mut value = group_value(state, group);
    if let Value::Object(map) = &mut value {
        map.insert("kind".into(), json!("group"));
    }
    value
}

fn namespace_of_user(state: &World, user: &User) -> Value {
    json!({
        "id": user_namespace_id(user.id),
        "name": user.name,
        "path": user.username,
        "kind": "user",
        "full_path": user.username,
        "parent_id": null,
        "avatar_url": null,
        "web_url": format!("{}/{}", state.base_url, user.username),
    })
}

/// The group at `id` if `user` may see it.
fn visible_group<'a>(state: &'a World, id: &str, user: &User) -> Result<&'a Group, ApiError> {
    state.group(id).filter(|group| state.group_access(group, user.id) > 0).ok_or_else(|| ApiError::not_found("Group"))
}

/// `GET /namespaces/:id`: by id or full path.
pub async fn get_namespace(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let user = caller(&api, &input)?;
    let state = api.state();
    if let Ok(group) = visible_group(&state, &id, &user) {
        return ok(namespace_of_group(&state, group));
    }
    let own = id == user.username || id.parse::<u64>().is_ok_and(|n| n == user_namespace_id(user.id));
    if own {
        return ok(namespace_of_user(&state, &user));
    }
    Err(ApiError::not_found("Namespace"))
}

/// `GET /groups/:id`.
pub async fn get_group(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let user = caller(&api, &input)?;
    let state = api.state();
    ok(group_value(&state, visible_group(&state, &id, &user)?))
}

/// `GET /groups/:id/projects`: the group's projects (`include_subgroups=true`: its subgroups'
/// too) the caller can see, oldest first.
pub async fn list_group_projects(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let user = caller(&api, &input)?;
    let subgroups = input.bool("include_subgroups")?.unwrap_or(false);
    let items = {
        let state = api.state();
        let group = visible_group(&state, &id, &user)?;
        state
            .projects
            .iter()
            .filter(|project| {
                let namespace = project.namespace();
                namespace == group.full_path
                    || (subgroups
                        && namespace.strip_prefix(group.full_path.as_str()).is_some_and(|rest| rest.starts_with('/')))
            })
            .filter(|project| state.effective_access(project, user.id) > 0)
            .map(|project| render::project(&state, project))
            .collect()
    };
    paginated(&api, &input, items)
}
