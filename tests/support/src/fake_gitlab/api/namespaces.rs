//! Namespaces: `GET /namespaces/:id` (Namespaces API, <https://docs.gitlab.com/api/namespaces/>),
//! by id or full path, for a group or a user's own namespace (the Groups API is in `groups`).
//!
//! A group is visible to its members and the members of the groups above it; a user's own
//! namespace only to that user. Everything else is 404, as GitLab hides what a user may not see.
//! A user's namespace id is [`user_namespace_id`] of the user.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::groups::{render_group, visible_group};
use super::{Api, ApiError, ApiResult, Input, caller, ok};
use crate::fake_gitlab::model::{Group, State as World, User};

/// The id of a user's personal namespace (kept apart from group ids).
pub fn user_namespace_id(user_id: u64) -> u64 {
    10_000 + user_id
}

fn namespace_of_group(state: &World, group: &Group) -> Value {
    let mut value = render_group(state, group);
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

/// `GET /namespaces/:id`: by id or full path.
pub async fn get_namespace(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let user = caller(&api, &input)?;
    let state = api.state();
    if let Ok(group) = visible_group(&state, &user, &id) {
        return ok(namespace_of_group(&state, &group));
    }
    let own = id == user.username || id.parse::<u64>().is_ok_and(|n| n == user_namespace_id(user.id));
    if own {
        return ok(namespace_of_user(&state, &user));
    }
    Err(ApiError::not_found("Namespace"))
}
