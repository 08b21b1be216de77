//! Project and group members: a direct membership, the effective one (inherited included),
//! adding a member and changing a member's role, as the Group and project members API does
//! (<https://docs.gitlab.com/api/members/>).
//!
//! Managing members takes the Maintainer role, and nobody grants a role above their own. Adding
//! a direct member twice is a 409 `Member already exists`; a direct role below an inherited one
//! is refused with GitLab's validation message.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Api, ApiError, ApiResult, Input, caller, created, ok, project_access};
use crate::fake_gitlab::model::{State as World, User, access};
use crate::fake_gitlab::render;

/// The roles a membership can have.
const LEVELS: [u32; 6] = [10, 15, 20, 30, 40, 50];

/// GitLab's name of a role, as its validation messages spell it.
fn role_name(level: u32) -> &'static str {
    match level {
        10 => "Guest",
        15 => "Planner",
        20 => "Reporter",
        30 => "Developer",
        40 => "Maintainer",
        50 => "Owner",
        _ => "No access",
    }
}

/// What a membership belongs to, found and checked for the caller.
enum Source {
    Project { id: u64 },
    Group { id: u64, full_path: String },
}

impl Source {
    /// The project or group at `id` as `caller` sees it, with the caller's role there.
    fn find(api: &Api, input: &Input, kind: &str, id: &str) -> Result<(User, Self, u32), ApiError> {
        if kind == "projects" {
            let (user, project) = project_access(api, input, id, access::GUEST)?;
            let level = api.state().effective_access(&project, user.id);
            return Ok((user, Source::Project { id: project.id }, level));
        }
        let user = caller(api, input)?;
        let state = api.state();
        let group = state.group(id).ok_or_else(|| ApiError::not_found("Group"))?;
        let level = state.group_access(group, user.id);
        if level == 0 {
            return Err(ApiError::not_found("Group"));
        }
        Ok((user, Source::Group { id: group.id, full_path: group.full_path.clone() }, level))
    }

    /// The user's direct role here, if any.
    fn direct(&self, state: &World, user_id: u64) -> Option<u32> {
        match self {
            Source::Project { id } => state.project_by_id(*id)?.members.get(&user_id).copied(),
            Source::Group { id, .. } => state.groups.iter().find(|g| g.id == *id)?.members.get(&user_id).copied(),
        }
    }

    /// The user's role inherited from the groups above (a group's own membership excluded),
    /// with the group that gives it.
    fn inherited(&self, state: &World, user_id: u64) -> Option<(u32, String)> {
        let namespace = match self {
            Source::Project { id } => state.project_by_id(*id)?.namespace().to_owned(),
            Source::Group { full_path, .. } => full_path.rsplit_once('/')?.0.to_owned(),
        };
        state
            .groups_above(&namespace)
            .into_iter()
            .map(|group| (group.access_of(user_id), group.full_path.clone()))
            .filter(|(level, _)| *level > 0)
            .max_by_key(|(level, _)| *level)
    }

    fn effective(&self, state: &World, user_id: u64) -> u32 {
        let inherited = self.inherited(state, user_id).map_or(0, |(level, _)| level);
        self.direct(state, user_id).unwrap_or(0).max(inherited)
    }

    fn set(&self, state: &mut World, user_id: u64, level: u32) {
        let members = match self {
            Source::Project { id } => state.project_mut(*id).map(|p| &mut p.members),
            Source::Group { id, .. } => state.groups.iter_mut().find(|g| g.id == *id).map(|g| &mut g.members),
        };
        if let Some(members) = members {
            members.insert(user_id, level);
        }
    }
}

fn member_value(state: &World, user: &User, level: u32) -> Value {
    let mut value = render::user_basic(state, user);
    if let Value::Object(map) = &mut value {
        map.insert("access_level".into(), json!(level));
        map.insert("expires_at".into(), Value::Null);
        map.insert("created_at".into(), json!("2024-01-01T00:00:00.000Z"));
        map.insert("membership_state".into(), json!("active"));
    }
    value
}

/// `GET /projects/:id/members/:user_id`: the direct membership only.
pub async fn get_project_direct(
    State(api): State<Api>,
    Path((id, user_id)): Path<(String, u64)>,
    input: Input,
) -> ApiResult {
    get_direct(&api, &input, "projects", &id, user_id)
}

/// `GET /groups/:id/members/:user_id`: the direct membership only.
pub async fn get_group_direct(
    State(api): State<Api>,
    Path((id, user_id)): Path<(String, u64)>,
    input: Input,
) -> ApiResult {
    get_direct(&api, &input, "groups", &id, user_id)
}

fn get_direct(api: &Api, input: &Input, kind: &str, id: &str, user_id: u64) -> ApiResult {
    let (_, source, _) = Source::find(api, input, kind, id)?;
    let state = api.state();
    let level = source.direct(&state, user_id).ok_or_else(|| ApiError::not_found("Member"))?;
    let user = state.user(user_id).ok_or_else(|| ApiError::not_found("Member"))?;
    ok(member_value(&state, user, level))
}

/// `GET /groups/:id/members/all/:user_id`: the effective membership, inherited included.
pub async fn get_group_effective(
    State(api): State<Api>,
    Path((id, user_id)): Path<(String, u64)>,
    input: Input,
) -> ApiResult {
    let (_, source, _) = Source::find(&api, &input, "groups", &id)?;
    let state = api.state();
    let level = source.effective(&state, user_id);
    let user = state.user(user_id).filter(|_| level > 0).ok_or_else(|| ApiError::not_found("Member"))?;
    ok(member_value(&state, user, level))
}

/// The role asked for, checked against what the caller may grant.
fn wanted_level(input: &Input, caller_level: u32) -> Result<u32, ApiError> {
    let level = input.int("access_level")?.ok_or_else(|| ApiError::missing("access_level"))?;
    let level = u32::try_from(level)
        .ok()
        .filter(|l| LEVELS.contains(l))
        .ok_or_else(|| ApiError::invalid("access_level does not have a valid value"))?;
    if caller_level < access::MAINTAINER || level > caller_level {
        return Err(ApiError::forbidden());
    }
    Ok(level)
}

/// A direct role below an inherited one is refused, as GitLab's member validation does.
fn check_not_below_inherited(source: &Source, state: &World, user_id: u64, level: u32) -> Result<(), ApiError> {
    match source.inherited(state, user_id) {
        Some((inherited, group)) if inherited > level => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            json!({"message": {"access_level": [format!(
                "should be greater than or equal to {} inherited membership from group {group}",
                role_name(inherited)
            )]}}),
        )),
        _ => Ok(()),
    }
}

/// `POST /projects/:id/members` with `user_id` and `access_level`.
pub async fn add_to_project(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    add(&api, &input, "projects", &id)
}

/// `POST /groups/:id/members` with `user_id` and `access_level`.
pub async fn add_to_group(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    add(&api, &input, "groups", &id)
}

fn add(api: &Api, input: &Input, kind: &str, id: &str) -> ApiResult {
    let (_, source, caller_level) = Source::find(api, input, kind, id)?;
    let level = wanted_level(input, caller_level)?;
    let user_id = input.int("user_id")?.ok_or_else(|| ApiError::missing("user_id"))?;
    let user_id = u64::try_from(user_id).map_err(|_| ApiError::not_found("User"))?;
    let mut state = api.state();
    let user = state.user(user_id).cloned().ok_or_else(|| ApiError::not_found("User"))?;
    if source.direct(&state, user_id).is_some() {
        return Err(ApiError::new(StatusCode::CONFLICT, json!({"message": "Member already exists"})));
    }
    check_not_below_inherited(&source, &state, user_id, level)?;
    source.set(&mut state, user_id, level);
    created(member_value(&state, &user, level))
}

/// `PUT /projects/:id/members/:user_id` with `access_level`: a direct member's new role.
pub async fn edit_in_project(
    State(api): State<Api>,
    Path((id, user_id)): Path<(String, u64)>,
    input: Input,
) -> ApiResult {
    edit(&api, &input, "projects", &id, user_id)
}

/// `PUT /groups/:id/members/:user_id` with `access_level`: a direct member's new role.
pub async fn edit_in_group(
    State(api): State<Api>,
    Path((id, user_id)): Path<(String, u64)>,
    input: Input,
) -> ApiResult {
    edit(&api, &input, "groups", &id, user_id)
}

fn edit(api: &Api, input: &Input, kind: &str, id: &str, user_id: u64) -> ApiResult {
    let (_, source, caller_level) = Source::find(api, input, kind, id)?;
    let level = wanted_level(input, caller_level)?;
    let mut state = api.state();
    let user = state.user(user_id).cloned().ok_or_else(|| ApiError::not_found("Member"))?;
    let current = source.direct(&state, user_id).ok_or_else(|| ApiError::not_found("Member"))?;
    if current > caller_level {
        return Err(ApiError::forbidden());
    }
    check_not_below_inherited(&source, &state, user_id, level)?;
    source.set(&mut state, user_id, level);
    ok(member_value(&state, &user, level))
}
