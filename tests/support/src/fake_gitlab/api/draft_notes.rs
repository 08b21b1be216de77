//! Merge request draft notes: list, create, get, delete, publish one, and bulk publish, each
//! seen only by the draft's author, as in GitLab.
//!
//! A draft's `position` is validated like a discussion's when it is made (the same 400), and
//! again when it is published: publishing turns each draft into exactly what a direct post
//! would have made ([`super::discussions::start_thread`]): a diff thread, or a plain comment
//! for a draft without a position, and removes the draft. A bulk publish checks every draft
//! first and publishes none when one is refused.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use serde_json::{Value, json};

use super::discussions::{NewThread, start_thread, validated_position};
use super::{Api, ApiError, ApiResult, Input, Kind, created, noteable, ok, paginated, project_access};
use crate::fake_gitlab::model::{DraftNote, Project, access};
use crate::fake_gitlab::params::Params;

/// GitLab's answer for a draft note: `line_code` comes from the position's range where it has
/// one (the fake computes no other line code).
fn render(draft: &DraftNote) -> Value {
    let line_code = draft
        .position
        .as_ref()
        .and_then(|position| position.pointer("/line_range/end/line_code"))
        .filter(|code| code.is_string())
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "id": draft.id,
        "author_id": draft.author_id,
        "merge_request_id": draft.merge_request_id,
        "resolve_discussion": false,
        "discussion_id": null,
        "note": draft.note,
        "commit_id": draft.commit_id,
        "line_code": line_code,
        "position": draft.position,
    })
}

/// The drafts of `author_id` on the merge request, oldest first.
fn drafts_of(api: &Api, project: &Project, iid: u64, author_id: u64) -> Vec<DraftNote> {
    let state = api.state();
    state
        .draft_notes
        .iter()
        .filter(|d| d.project_id == project.id && d.mr_iid == iid && d.author_id == author_id)
        .cloned()
        .collect()
}

pub async fn list(State(api): State<Api>, Path((id, iid)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    noteable(&api, &project, Kind::MergeRequests, iid)?;
    let items = drafts_of(&api, &project, iid, user.id).iter().map(render).collect();
    paginated(&api, &input, items)
}

pub async fn get_one(
    State(api): State<Api>,
    Path((id, iid, draft_id)): Path<(String, u64, u64)>,
    input: Input,
) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let draft = drafts_of(&api, &project, iid, user.id).into_iter().find(|d| d.id == draft_id);
    ok(render(&draft.ok_or_else(|| ApiError::not_found("Draft Note"))?))
}

pub async fn create(State(api): State<Api>, Path((id, iid)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (_, merge_request_id) = noteable(&api, &project, Kind::MergeRequests, iid)?;
    let note = input.params.str("note").ok_or_else(|| ApiError::missing("note"))?;
    super::notes::check_body(&note)?;
    let position = match input.params.nested("position") {
        Some(position) => Some(validated_position(&api, &project, iid, &position).await?),
        None => None,
    };
    let mut state = api.state();
    let draft = DraftNote {
        id: state.allocate("draft_note"),
        project_id: project.id,
        mr_iid: iid,
        merge_request_id,
        author_id: user.id,
        note,
        commit_id: position.as_ref().and(input.params.str("commit_id")),
        position,
    };
    state.draft_notes.push(draft.clone());
    created(render(&draft))
}

pub async fn delete(
    State(api): State<Api>,
    Path((id, iid, draft_id)): Path<(String, u64, u64)>,
    input: Input,
) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    if !drafts_of(&api, &project, iid, user.id).iter().any(|d| d.id == draft_id) {
        return Err(ApiError::not_found("Draft Note"));
    }
    api.state().draft_notes.retain(|d| d.id != draft_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn publish_one(
    State(api): State<Api>,
    Path((id, iid, draft_id)): Path<(String, u64, u64)>,
    input: Input,
) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let drafts: Vec<DraftNote> =
        drafts_of(&api, &project, iid, user.id).into_iter().filter(|d| d.id == draft_id).collect();
    if drafts.is_empty() {
        return Err(ApiError::not_found("Draft Note"));
    }
    publish(&api, &project, iid, drafts).await
}

pub async fn bulk_publish(State(api): State<Api>, Path((id, iid)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let drafts = drafts_of(&api, &project, iid, user.id);
    publish(&api, &project, iid, drafts).await
}

/// Validates every draft's position again, then turns each into a thread and removes it.
async fn publish(api: &Api, project: &Project, iid: u64, drafts: Vec<DraftNote>) -> ApiResult {
    let (target, noteable_id) = noteable(api, project, Kind::MergeRequests, iid)?;
    let mut threads = Vec::new();
    for draft in drafts {
        let position = match &draft.position {
            Some(position) => Some(validated_position(api, project, iid, &Params::from_json(position)).await?),
            None => None,
        };
        threads.push((
            draft.id,
            NewThread {
                target,
                noteable_id,
                author_id: draft.author_id,
                body: draft.note,
                individual: position.is_none(),
                position,
                commit_id: draft.commit_id,
            },
        ));
    }
    let mut state = api.state();
    for (draft_id, thread) in threads {
        start_thread(&mut state, thread);
        state.draft_notes.retain(|d| d.id != draft_id);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
