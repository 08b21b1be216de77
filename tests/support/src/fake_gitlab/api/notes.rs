//! Notes on issues and merge requests: list (paginated, `sort`/`order_by`), create, get, edit,
//! delete. A plain note is its own one-note discussion, as in GitLab.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use sha1::Digest as _;

use super::{Api, ApiError, ApiResult, Input, created, kind_of, noteable, ok, paginated, project_access};
use crate::fake_gitlab::clock::now;
use crate::fake_gitlab::model::{Note, Noteable, State as Model, access};
use crate::fake_gitlab::render;

/// GitLab's limit on a note's body.
pub const MAX_NOTE_CHARS: usize = 1_000_000;

/// A fresh 40-hex discussion id, like GitLab's.
pub fn new_discussion_id(state: &mut Model) -> String {
    let n = state.allocate("discussion");
    hex(&sha1::Sha1::digest(format!("discussion-{n}").as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Validates a note body as GitLab's model does.
pub fn check_body(body: &str) -> Result<(), ApiError> {
    if body.trim().is_empty() {
        return Err(ApiError::bad_request("Note {:note=>[\"can't be blank\"]}"));
    }
    if body.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::bad_request("Note {:note=>[\"is too long (maximum is 1000000 characters)\"]}"));
    }
    Ok(())
}

/// Sorts notes as `sort`/`order_by` ask (default: `created_at` descending).
pub fn sort_notes(notes: &mut [&Note], input: &Input) {
    let by_updated = input.params.str("order_by").as_deref() == Some("updated_at");
    notes.sort_by(|a, b| {
        let key = |n: &Note| if by_updated { (n.updated_at.clone(), n.id) } else { (n.created_at.clone(), n.id) };
        key(a).cmp(&key(b))
    });
    if input.params.str("sort").as_deref() != Some("asc") {
        notes.reverse();
    }
}

pub async fn list(
    State(api): State<Api>,
    Path((id, kind, iid)): Path<(String, String, u64)>,
    input: Input,
) -> ApiResult {
    let kind = kind_of(&kind)?;
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, _) = noteable(&api, &project, kind, iid)?;
    let state = api.state();
    let mut notes: Vec<&Note> = state.notes.iter().filter(|n| n.noteable == target).collect();
    sort_notes(&mut notes, &input);
    let items = notes.iter().map(|n| render::note(&state, n)).collect();
    drop(state);
    paginated(&api, &input, items)
}

pub async fn create(
    State(api): State<Api>,
    Path((id, kind, iid)): Path<(String, String, u64)>,
    input: Input,
) -> ApiResult {
    let kind = kind_of(&kind)?;
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, noteable_id) = noteable(&api, &project, kind, iid)?;
    let body = input.params.str("body").ok_or_else(|| ApiError::missing("body"))?;
    check_body(&body)?;
    let internal = input.bool("internal")?.or(input.bool("confidential")?).unwrap_or(false);
    let mut state = api.state();
    let note = add_note(&mut state, target, noteable_id, user.id, &body, internal);
    created(render::note(&state, &note))
}

/// Adds a plain (individual) note and returns it.
pub fn add_note(
    state: &mut Model,
    target: Noteable,
    noteable_id: u64,
    author_id: u64,
    body: &str,
    internal: bool,
) -> Note {
    let id = state.allocate("note");
    let discussion_id = new_discussion_id(state);
    let stamp = now();
    let note = Note {
        id,
        noteable: target,
        noteable_id,
        discussion_id,
        individual_note: true,
        note_type: None,
        body: body.to_owned(),
        author_id,
        system: false,
        internal,
        position: None,
        commit_id: None,
        resolvable: false,
        resolved: false,
        resolved_by: None,
        created_at: stamp.clone(),
        updated_at: stamp,
    };
    state.notes.push(note.clone());
    note
}

/// Adds a system note (what GitLab writes for pushes, assignments, state changes).
pub fn add_system_note(state: &mut Model, target: Noteable, author_id: u64, body: &str) {
    let Some(noteable_id) = state.noteable_id(target) else { return };
    let note = add_note(state, target, noteable_id, author_id, body, false);
    if let Some(stored) = state.notes.iter_mut().find(|n| n.id == note.id) {
        stored.system = true;
    }
}

/// `@alice and @bob`, as GitLab's system notes list users.
pub fn mention_list(state: &Model, ids: &[u64]) -> String {
    let names: Vec<String> = ids.iter().filter_map(|id| state.user(*id)).map(|u| format!("@{}", u.username)).collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn find_note(state: &Model, target: Noteable, note_id: u64) -> Result<Note, ApiError> {
    state
        .notes
        .iter()
        .find(|n| n.id == note_id && n.noteable == target)
        .cloned()
        .ok_or_else(|| ApiError::not_found("Note"))
}

pub async fn get_one(
    State(api): State<Api>,
    Path((id, kind, iid, note_id)): Path<(String, String, u64, u64)>,
    input: Input,
) -> ApiResult {
    let kind = kind_of(&kind)?;
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, _) = noteable(&api, &project, kind, iid)?;
    let state = api.state();
    let note = find_note(&state, target, note_id)?;
    ok(render::note(&state, &note))
}

pub async fn edit(
    State(api): State<Api>,
    Path((id, kind, iid, note_id)): Path<(String, String, u64, u64)>,
    input: Input,
) -> ApiResult {
    let kind = kind_of(&kind)?;
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, _) = noteable(&api, &project, kind, iid)?;
    let body = input.params.str("body");
    let mut state = api.state();
    let note = find_note(&state, target, note_id)?;
    if note.author_id != user.id {
        return Err(ApiError::forbidden());
    }
    if let Some(body) = &body {
        check_body(body)?;
    }
    let stored = state.notes.iter_mut().find(|n| n.id == note_id).ok_or_else(|| ApiError::not_found("Note"))?;
    if let Some(body) = body {
        stored.body = body;
    }
    stored.updated_at = now();
    let note = stored.clone();
    ok(render::note(&state, &note))
}

pub async fn delete(
    State(api): State<Api>,
    Path((id, kind, iid, note_id)): Path<(String, String, u64, u64)>,
    input: Input,
) -> ApiResult {
    let kind = kind_of(&kind)?;
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, _) = noteable(&api, &project, kind, iid)?;
    let mut state = api.state();
    let note = find_note(&state, target, note_id)?;
    if note.author_id != user.id && project.access_of(user.id) < access::MAINTAINER {
        return Err(ApiError::forbidden());
    }
    state.notes.retain(|n| n.id != note_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}
