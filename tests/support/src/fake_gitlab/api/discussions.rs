//! Discussions (threads) on issues and merge requests: list, get, create — with an inline
//! `position` validated the way GitLab computes a note's `line_code` — reply and resolve.
//!
//! Position rules: `base_sha`/`start_sha`/`head_sha` must be one of the MR's versions;
//! `old_path`/`new_path` must name a file of that version's diff; an added line takes only
//! `new_line`, a removed line only `old_line`, an unchanged line both (also outside the hunks
//! when consistent with the diff's offset there). Anything else is GitLab's 400
//! `Note {:line_code=>["can't be blank", "must be a valid line code"]}`.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::notes::{check_body, new_discussion_id};
use super::{Api, ApiError, ApiResult, Input, Kind, created, kind_of, noteable, ok, paginated, project_access};
use crate::fake_gitlab::clock::now;
use crate::fake_gitlab::diff::position_is_valid;
use crate::fake_gitlab::model::{Note, Noteable, Project, State as Model, access};
use crate::fake_gitlab::params::Params;
use crate::fake_gitlab::render;

const LINE_CODE_ERROR: &str = "Note {:line_code=>[\"can't be blank\", \"must be a valid line code\"]}";

fn line_code_error() -> ApiError {
    ApiError::bad_request(LINE_CODE_ERROR)
}

/// Discussion ids of a noteable, in the order their first notes were made.
fn discussion_ids(notes: &[Note], target: Noteable) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for note in notes.iter().filter(|n| n.noteable == target) {
        if !ids.contains(&note.discussion_id) {
            ids.push(note.discussion_id.clone());
        }
    }
    ids
}

pub async fn list(
    State(api): State<Api>,
    Path((id, kind, iid)): Path<(String, String, u64)>,
    input: Input,
) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, _) = noteable(&api, &project, kind_of(&kind)?, iid)?;
    let state = api.state();
    let items = discussion_ids(&state.notes, target).iter().map(|d| render::discussion(&state, d)).collect();
    drop(state);
    paginated(&api, &input, items)
}

pub async fn get_one(
    State(api): State<Api>,
    Path((id, kind, iid, discussion_id)): Path<(String, String, u64, String)>,
    input: Input,
) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, _) = noteable(&api, &project, kind_of(&kind)?, iid)?;
    let state = api.state();
    if !state.notes.iter().any(|n| n.noteable == target && n.discussion_id == discussion_id) {
        return Err(ApiError::not_found("Discussion"));
    }
    ok(render::discussion(&state, &discussion_id))
}

/// Checks an inline position against the MR's versions and diffs; returns it as stored.
pub(super) async fn validated_position(
    api: &Api,
    project: &Project,
    iid: u64,
    position: &Params,
) -> Result<Value, ApiError> {
    for key in ["base_sha", "start_sha", "head_sha", "position_type"] {
        if position.str(key).is_none_or(|v| v.is_empty()) {
            return Err(ApiError::missing(&format!("position[{key}]")));
        }
    }
    let text = |key: &str| position.str(key).unwrap_or_default();
    let position_type = text("position_type");
    if !matches!(position_type.as_str(), "text" | "image" | "file") {
        return Err(ApiError::invalid("position[position_type] does not have a valid value"));
    }
    let line = |key: &str| -> Result<Option<u64>, ApiError> {
        position.int(key).map_err(|e| ApiError::invalid(&format!("position[{e}]"))).map(|v| v.map(|n| n.max(0) as u64))
    };
    let (old_line, new_line) = (line("old_line")?, line("new_line")?);
    let (base, start, head) = (text("base_sha"), text("start_sha"), text("head_sha"));
    let (old_path, new_path) = (position.str("old_path"), position.str("new_path"));
    let mr = api.state().merge_request(project.id, iid).cloned().ok_or_else(|| ApiError::not_found("Merge Request"))?;
    let version = mr
        .versions
        .iter()
        .find(|v| v.base_commit_sha == base && v.start_commit_sha == start && v.head_commit_sha == head)
        .ok_or_else(line_code_error)?;
    let (Some(old_path), Some(new_path)) = (old_path, new_path) else {
        return Err(ApiError::bad_request(
            "Note {:line_code=>[\"can't be blank\", \"must be a valid line code\"], :position=>[\"is incomplete\"]}",
        ));
    };
    let file =
        version.files.iter().find(|f| f.new_path == new_path && f.old_path == old_path).ok_or_else(line_code_error)?;
    if position_type == "text" {
        let repo = api.repo_for(&project.path_with_namespace);
        let old_len = if file.new_file { 0 } else { repo.line_count(&base, &old_path).await.unwrap_or(0) };
        let new_len = if file.deleted_file { 0 } else { repo.line_count(&head, &new_path).await.unwrap_or(0) };
        if !position_is_valid(&file.diff, old_line, new_line, old_len, new_len) {
            return Err(line_code_error());
        }
    }
    Ok(json!({
        "base_sha": base,
        "start_sha": start,
        "head_sha": head,
        "old_path": old_path,
        "new_path": new_path,
        "position_type": position_type,
        "old_line": old_line,
        "new_line": new_line,
        "line_range": position.value("line_range").cloned(),
    }))
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
    let position = match input.params.nested("position") {
        Some(position) if kind == Kind::MergeRequests => {
            Some(validated_position(&api, &project, iid, &position).await?)
        }
        Some(_) => return Err(ApiError::invalid("position is not supported on issues")),
        None => None,
    };
    let commit_id = position.as_ref().and(input.params.str("commit_id"));
    let mut state = api.state();
    let new = NewThread { target, noteable_id, author_id: user.id, body, position, commit_id, individual: false };
    let discussion_id = start_thread(&mut state, new);
    created(render::discussion(&state, &discussion_id))
}

/// A thread about to be started: by a direct post, or by publishing a draft note.
pub(crate) struct NewThread {
    pub target: Noteable,
    pub noteable_id: u64,
    pub author_id: u64,
    pub body: String,
    /// Already validated ([`validated_position`]).
    pub position: Option<Value>,
    pub commit_id: Option<String>,
    /// A plain comment (a published draft without a position), not a thread.
    pub individual: bool,
}

/// Stores the first note of a new thread and returns the thread's id.
pub(crate) fn start_thread(state: &mut Model, new: NewThread) -> String {
    let note_id = state.allocate("note");
    let discussion_id = new_discussion_id(state);
    let stamp = now();
    let note = Note {
        id: note_id,
        noteable: new.target,
        noteable_id: new.noteable_id,
        discussion_id: discussion_id.clone(),
        individual_note: new.individual,
        note_type: match (&new.position, new.individual) {
            (Some(_), _) => Some("DiffNote".to_owned()),
            (None, false) => Some("DiscussionNote".to_owned()),
            (None, true) => None,
        },
        body: new.body,
        author_id: new.author_id,
        system: false,
        internal: false,
        commit_id: new.commit_id,
        position: new.position,
        resolvable: matches!(new.target, Noteable::MergeRequest { .. }),
        resolved: false,
        resolved_by: None,
        created_at: stamp.clone(),
        updated_at: stamp,
    };
    state.notes.push(note);
    discussion_id
}

pub async fn reply(
    State(api): State<Api>,
    Path((id, kind, iid, discussion_id)): Path<(String, String, u64, String)>,
    input: Input,
) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let (target, noteable_id) = noteable(&api, &project, kind_of(&kind)?, iid)?;
    let body = input.params.str("body").ok_or_else(|| ApiError::missing("body"))?;
    check_body(&body)?;
    let mut state = api.state();
    let first = state
        .notes
        .iter()
        .find(|n| n.noteable == target && n.discussion_id == discussion_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("Discussion"))?;
    // Replying to a plain comment turns it into a thread, as GitLab does.
    for note in state.notes.iter_mut().filter(|n| n.discussion_id == discussion_id) {
        if note.individual_note {
            note.individual_note = false;
            note.note_type = Some("DiscussionNote".to_owned());
        }
    }
    let stamp = now();
    let note = Note {
        id: state.allocate("note"),
        noteable: target,
        noteable_id,
        discussion_id,
        individual_note: false,
        note_type: Some(if first.position.is_some() { "DiffNote" } else { "DiscussionNote" }.to_owned()),
        body,
        author_id: user.id,
        system: false,
        internal: false,
        position: first.position.clone(),
        commit_id: first.commit_id.clone(),
        resolvable: first.resolvable || matches!(target, Noteable::MergeRequest { .. }),
        resolved: false,
        resolved_by: None,
        created_at: stamp.clone(),
        updated_at: stamp,
    };
    state.notes.push(note.clone());
    created(render::note(&state, &note))
}

pub async fn resolve(
    State(api): State<Api>,
    Path((id, kind, iid, discussion_id)): Path<(String, String, u64, String)>,
    input: Input,
) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::DEVELOPER)?;
    let (target, _) = noteable(&api, &project, kind_of(&kind)?, iid)?;
    let resolved = input.bool("resolved")?.ok_or_else(|| ApiError::missing("resolved"))?;
    let mut state = api.state();
    let mut found = false;
    for note in state.notes.iter_mut().filter(|n| n.noteable == target && n.discussion_id == discussion_id) {
        found = true;
        if note.resolvable {
            note.resolved = resolved;
            note.resolved_by = resolved.then_some(user.id);
            note.updated_at = now();
        }
    }
    if !found {
        return Err(ApiError::not_found("Discussion"));
    }
    ok(render::discussion(&state, &discussion_id))
}
