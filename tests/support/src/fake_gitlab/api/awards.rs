//! Award emoji on issues, merge requests and their notes. The same user awarding the same name
//! twice gets GitLab's 404 `Award Emoji Name has already been taken` (a unique index in GitLab,
//! which the webhook service relies on as a test-and-set), and an unknown name gets 404
//! `Award Emoji Name is not a valid emoji name`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;

use super::{Api, ApiError, ApiResult, Input, created, kind_of, noteable, paginated, project_access};
use crate::fake_gitlab::clock::now;
use crate::fake_gitlab::model::{Award, Awardable, Noteable, access};
use crate::fake_gitlab::render;

/// Emoji names the fake accepts: a subset of GitLab's (gemojione) names, covering everything a
/// bot plausibly awards. Anything else is "not a valid emoji name".
pub const EMOJI_NAMES: &[&str] = &[
    "100",
    "arrows_counterclockwise",
    "bell",
    "boom",
    "broken_heart",
    "bug",
    "bulb",
    "checkered_flag",
    "clap",
    "confused",
    "construction",
    "cry",
    "disappointed",
    "exclamation",
    "eyes",
    "fire",
    "gear",
    "green_heart",
    "hammer",
    "heart",
    "heavy_check_mark",
    "heavy_multiplication_x",
    "hourglass",
    "hourglass_flowing_sand",
    "hugging",
    "joy",
    "key",
    "laughing",
    "lock",
    "mag",
    "memo",
    "muscle",
    "no_entry",
    "ok_hand",
    "pray",
    "question",
    "raised_hands",
    "recycle",
    "red_circle",
    "repeat",
    "robot",
    "rocket",
    "rotating_light",
    "see_no_evil",
    "slight_smile",
    "smile",
    "sob",
    "sparkles",
    "speech_balloon",
    "star",
    "stop_sign",
    "sunglasses",
    "sweat_smile",
    "tada",
    "thinking",
    "thumbsdown",
    "thumbsup",
    "warning",
    "wave",
    "white_check_mark",
    "wrench",
    "x",
    "zap",
];

/// GitLab's aliases that resolve to a canonical name.
fn canonical(name: &str) -> &str {
    match name {
        "+1" => "thumbsup",
        "-1" => "thumbsdown",
        other => other,
    }
}

fn target_awardable(api: &Api, target: Noteable) -> Result<Awardable, ApiError> {
    let state = api.state();
    let id = state.noteable_id(target).ok_or_else(|| ApiError::not_found("Awardable"))?;
    Ok(match target {
        Noteable::Issue { .. } => Awardable::Issue(id),
        Noteable::MergeRequest { .. } => Awardable::MergeRequest(id),
    })
}

fn note_awardable(api: &Api, target: Noteable, note_id: u64) -> Result<Awardable, ApiError> {
    let state = api.state();
    state.notes.iter().find(|n| n.id == note_id && n.noteable == target).ok_or_else(|| ApiError::not_found("Note"))?;
    Ok(Awardable::Note(note_id))
}

/// Awards `name` as `user_id`, applying GitLab's validations.
pub fn add_award(api: &Api, awardable: Awardable, user_id: u64, name: &str) -> ApiResult {
    let name = canonical(name);
    if !EMOJI_NAMES.contains(&name) {
        return Err(ApiError::not_found("Award Emoji Name is not a valid emoji name"));
    }
    let mut state = api.state();
    if state.awards.iter().any(|a| a.awardable == awardable && a.user_id == user_id && a.name == name) {
        return Err(ApiError::not_found("Award Emoji Name has already been taken"));
    }
    let award = Award { id: state.allocate("award"), name: name.to_owned(), user_id, awardable, created_at: now() };
    state.awards.push(award.clone());
    created(render::award(&state, &award))
}

fn list_awards(api: &Api, input: &Input, awardable: Awardable) -> ApiResult {
    let state = api.state();
    let items = state.awards.iter().filter(|a| a.awardable == awardable).map(|a| render::award(&state, a)).collect();
    drop(state);
    paginated(api, input, items)
}

fn remove_award(api: &Api, awardable: Awardable, user_id: u64, award_id: u64, is_admin_like: bool) -> ApiResult {
    let mut state = api.state();
    let award = state
        .awards
        .iter()
        .find(|a| a.id == award_id && a.awardable == awardable)
        .cloned()
        .ok_or_else(|| ApiError::not_found("Award Emoji"))?;
    if award.user_id != user_id && !is_admin_like {
        return Err(ApiError::forbidden());
    }
    state.awards.retain(|a| a.id != award_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_on_target(
    State(api): State<Api>,
    Path((id, kind, iid)): Path<(String, String, u64)>,
    input: Input,
) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, _) = noteable(&api, &project, kind_of(&kind)?, iid)?;
    let awardable = target_awardable(&api, target)?;
    list_awards(&api, &input, awardable)
}

pub async fn award_target(
    State(api): State<Api>,
    Path((id, kind, iid)): Path<(String, String, u64)>,
    input: Input,
) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, _) = noteable(&api, &project, kind_of(&kind)?, iid)?;
    let name = input.require_str("name")?;
    let awardable = target_awardable(&api, target)?;
    add_award(&api, awardable, user.id, &name)
}

pub async fn remove_on_target(
    State(api): State<Api>,
    Path((id, kind, iid, award_id)): Path<(String, String, u64, u64)>,
    input: Input,
) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, _) = noteable(&api, &project, kind_of(&kind)?, iid)?;
    let awardable = target_awardable(&api, target)?;
    remove_award(&api, awardable, user.id, award_id, false)
}

pub async fn list_on_note(
    State(api): State<Api>,
    Path((id, kind, iid, note_id)): Path<(String, String, u64, u64)>,
    input: Input,
) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, _) = noteable(&api, &project, kind_of(&kind)?, iid)?;
    let awardable = note_awardable(&api, target, note_id)?;
    list_awards(&api, &input, awardable)
}

pub async fn award_note(
    State(api): State<Api>,
    Path((id, kind, iid, note_id)): Path<(String, String, u64, u64)>,
    input: Input,
) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, _) = noteable(&api, &project, kind_of(&kind)?, iid)?;
    let name = input.require_str("name")?;
    let awardable = note_awardable(&api, target, note_id)?;
    add_award(&api, awardable, user.id, &name)
}

pub async fn remove_on_note(
    State(api): State<Api>,
    Path((id, kind, iid, note_id, award_id)): Path<(String, String, u64, u64, u64)>,
    input: Input,
) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, _) = noteable(&api, &project, kind_of(&kind)?, iid)?;
    let awardable = note_awardable(&api, target, note_id)?;
    remove_award(&api, awardable, user.id, award_id, false)
}
