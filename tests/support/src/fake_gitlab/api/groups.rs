//! Groups, as much of GitLab's "Groups API" (https://docs.gitlab.com/api/groups/) as finding a
//! project's group and its projects takes: `GET /groups/:id` and `GET /groups/:id/projects`.
//! A private group is visible to its members (and its ancestors') and to members of its
//! projects; to anyone else it does not exist (404).

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Api, ApiError, ApiResult, Input, caller, ok, paginated};
use crate::fake_gitlab::model::{Group, State as Model, User};
use crate::fake_gitlab::render;

/// The group `id` names, when `user` may see it.
pub fn visible_group(state: &Model, user: &User, id: &str) -> Result<Group, ApiError> {
    let group = state.group(id).ok_or_else(|| ApiError::not_found("Group"))?;
    let visible = state.group_access(group, user.id) > 0
        || state.projects.iter().any(|p| in_group(p, group, true) && state.effective_access(p, user.id) > 0);
    if visible { Ok(group.clone()) } else { Err(ApiError::not_found("Group")) }
}

/// The `Group` entity's basic fields.
pub fn render_group(state: &Model, group: &Group) -> Value {
    json!({
        "id": group.id,
        "web_url": format!("{}/groups/{}", state.base_url, group.full_path),
        "name": group.name(),
        "path": group.name(),
        "description": "",
        "visibility": "private",
        "full_name": group.full_path.replace('/', " / "),
        "full_path": group.full_path,
        "parent_id": null,
        "created_at": group.created_at,
    })
}

pub async fn get_one(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let user = caller(&api, &input)?;
    let state = api.state();
    let group = visible_group(&state, &user, &id)?;
    ok(render_group(&state, &group))
}

/// Whether `project` is in `group` (or, with `subgroups`, in one of its subgroups).
fn in_group(project: &crate::fake_gitlab::model::Project, group: &Group, subgroups: bool) -> bool {
    let namespace = project.namespace();
    namespace == group.full_path
        || (subgroups && namespace.strip_prefix(group.full_path.as_str()).is_some_and(|rest| rest.starts_with('/')))
}

/// The group's projects the caller can see (`include_subgroups=true`: its subgroups' too).
pub async fn projects(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let user = caller(&api, &input)?;
    let subgroups = input.bool("include_subgroups")?.unwrap_or(false);
    let items = {
        let state = api.state();
        let group = visible_group(&state, &user, &id)?;
        state
            .projects
            .iter()
            .filter(|p| in_group(p, &group, subgroups) && state.effective_access(p, user.id) > 0)
            .map(|p| render::project(&state, p))
            .collect()
    };
    paginated(&api, &input, items)
}
