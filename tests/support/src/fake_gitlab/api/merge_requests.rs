//! Merge requests: create from real branches (409 when an open MR has the same source branch),
//! list, get (with `diff_refs` and `head_pipeline`), update, versions and diffs computed from
//! the project's repository.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::notes::{add_system_note, mention_list};
use super::{Api, ApiError, ApiResult, Input, created, ok, paginated, project_access};
use crate::fake_gitlab::clock::now;
use crate::fake_gitlab::model::{MergeRequest, Noteable, access};
use crate::fake_gitlab::push::compute_version;
use crate::fake_gitlab::render;

/// GitLab's limit on an MR description.
const MAX_DESCRIPTION_CHARS: usize = 1_048_576;

fn existing_users(api: &Api, ids: Vec<u64>) -> Vec<u64> {
    let state = api.state();
    ids.into_iter().filter(|id| *id != 0 && state.user(*id).is_some()).collect()
}

pub async fn create(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::DEVELOPER)?;
    let source = input.require_str("source_branch")?;
    let target = input.require_str("target_branch")?;
    let title = input.require_str("title")?;
    let description = input.params.str("description").unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            json!({"message": {"description": ["is too long (maximum is 1048576 characters)"]}}),
        ));
    }
    if source == target {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": ["You can't use same project/branch for source and target"]}),
        ));
    }
    if let Some(existing) = api.state().merge_requests.iter().find(|m| {
        m.project_id == project.id
            && m.source_project_id == project.id
            && m.state == "opened"
            && m.source_branch == source
    }) {
        let message = format!("Another open merge request already exists for this source branch: !{}", existing.iid);
        return Err(ApiError::conflict(&[message.as_str()]));
    }
    let repo = api.repo_for(&project.path_with_namespace);
    for (field, branch) in [("source_branch", &source), ("target_branch", &target)] {
        if repo.rev_parse(&format!("refs/heads/{branch}")).await.is_none() {
            return Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                json!({"message": [format!("{} {branch} does not exist", if field == "source_branch" { "Source branch" } else { "Target branch" })]}),
            ));
        }
    }
    let version = compute_version(&api, &repo, &source, &target)
        .await
        .map_err(|e| ApiError::bad_request(&e.to_string()))?
        .ok_or_else(|| ApiError::bad_request("branch vanished"))?;
    let mut assignees = input.ids("assignee_ids")?.unwrap_or_default();
    if let Some(single) = input.int("assignee_id")? {
        assignees.push(single as u64);
    }
    let assignees = existing_users(&api, assignees);
    let reviewers = existing_users(&api, input.ids("reviewer_ids")?.unwrap_or_default());
    let labels = input.params.str_list("labels").unwrap_or_default();
    let remove_source_branch = input.bool("remove_source_branch")?.unwrap_or(false);
    let squash = input.bool("squash")?.unwrap_or(false);
    let mut state = api.state();
    let id = state.allocate("merge_request");
    let stored = state.project_mut(project.id).ok_or_else(|| ApiError::not_found("Project"))?;
    let iid = stored.next_mr_iid;
    stored.next_mr_iid += 1;
    let stamp = now();
    let mr = MergeRequest {
        id,
        iid,
        project_id: project.id,
        source_project_id: project.id,
        title,
        description,
        state: "opened".to_owned(),
        source_branch: source,
        target_branch: target,
        author_id: user.id,
        assignee_ids: assignees,
        reviewer_ids: reviewers,
        labels,
        remove_source_branch,
        squash,
        discussion_locked: false,
        versions: vec![version],
        created_at: stamp.clone(),
        updated_at: stamp,
        closed_at: None,
    };
    state.merge_requests.push(mr.clone());
    let target = Noteable::MergeRequest { project_id: project.id, iid };
    if !mr.assignee_ids.is_empty() {
        let body = format!("assigned to {}", mention_list(&state, &mr.assignee_ids));
        add_system_note(&mut state, target, user.id, &body);
    }
    if !mr.reviewer_ids.is_empty() {
        let body = format!("requested review from {}", mention_list(&state, &mr.reviewer_ids));
        add_system_note(&mut state, target, user.id, &body);
    }
    created(render::merge_request(&state, &project, &mr))
}

pub async fn list(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let wanted_state = input.params.str("state").unwrap_or_else(|| "all".to_owned());
    let source = input.params.str("source_branch");
    let target = input.params.str("target_branch");
    let state = api.state();
    let mut mrs: Vec<&MergeRequest> = state
        .merge_requests
        .iter()
        .filter(|m| m.project_id == project.id)
        .filter(|m| wanted_state == "all" || m.state == wanted_state)
        .filter(|m| source.as_ref().is_none_or(|s| &m.source_branch == s))
        .filter(|m| target.as_ref().is_none_or(|t| &m.target_branch == t))
        .collect();
    mrs.sort_by_key(|m| std::cmp::Reverse(m.id));
    if input.params.str("sort").as_deref() == Some("asc") {
        mrs.reverse();
    }
    let items = mrs.iter().map(|m| render::merge_request(&state, &project, m)).collect();
    drop(state);
    paginated(&api, &input, items)
}

fn find(api: &Api, project_id: u64, iid: u64) -> Result<MergeRequest, ApiError> {
    api.state().merge_request(project_id, iid).cloned().ok_or_else(|| ApiError::not_found("Merge Request"))
}

pub async fn get_one(State(api): State<Api>, Path((id, iid)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let mr = find(&api, project.id, iid)?;
    let state = api.state();
    let mut value = render::merge_request(&state, &project, &mr);
    let head = mr.latest_version().map(|v| v.head_commit_sha.clone());
    let pipeline = state
        .pipelines
        .iter()
        .filter(|p| p.project_id == project.id && p.git_ref == mr.source_branch && Some(&p.sha) == head.as_ref())
        .max_by_key(|p| p.id);
    if let Value::Object(map) = &mut value {
        let detail = pipeline.map(|p| render::pipeline_detail(&state, p));
        map.insert("head_pipeline".into(), detail.clone().unwrap_or(Value::Null));
        // The single-MR entity's extra fields (`pipeline` is the deprecated head pipeline summary).
        map.insert("pipeline".into(), pipeline.map_or(Value::Null, |p| render::pipeline_basic(&state, p)));
        let field = |key: &str| detail.as_ref().map_or(Value::Null, |d| d[key].clone());
        map.insert("latest_build_started_at".into(), field("started_at"));
        map.insert("latest_build_finished_at".into(), field("finished_at"));
        map.insert("first_deployed_to_production_at".into(), Value::Null);
        map.insert("merge_error".into(), Value::Null);
        map.insert("subscribed".into(), Value::Bool(true));
        map.insert("diverged_commits_count".into(), json!(0));
        map.insert("rebase_in_progress".into(), Value::Bool(false));
        map.insert("approvals_before_merge".into(), Value::Null);
    }
    ok(value)
}

pub async fn update(State(api): State<Api>, Path((id, iid)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::DEVELOPER)?;
    let mut mr = find(&api, project.id, iid)?;
    let before = mr.clone();
    if mr.author_id != user.id && project.access_of(user.id) < access::DEVELOPER {
        return Err(ApiError::forbidden());
    }
    let mut retarget = false;
    if let Some(title) = input.params.str("title") {
        mr.title = title;
    }
    if let Some(description) = input.params.str("description") {
        mr.description = description;
    }
    if let Some(target) = input.params.str("target_branch") {
        retarget = target != mr.target_branch;
        mr.target_branch = target;
    }
    if let Some(labels) = input.params.str_list("labels") {
        mr.labels = labels;
    }
    for label in input.params.str_list("add_labels").unwrap_or_default() {
        if !mr.labels.contains(&label) {
            mr.labels.push(label);
        }
    }
    let remove = input.params.str_list("remove_labels").unwrap_or_default();
    mr.labels.retain(|l| !remove.contains(l));
    if let Some(ids) = input.ids("assignee_ids")? {
        mr.assignee_ids = existing_users(&api, ids);
    }
    if let Some(id) = input.int("assignee_id")? {
        mr.assignee_ids = existing_users(&api, vec![id as u64]);
    }
    if let Some(ids) = input.ids("reviewer_ids")? {
        mr.reviewer_ids = existing_users(&api, ids);
    }
    if let Some(flag) = input.bool("remove_source_branch")? {
        mr.remove_source_branch = flag;
    }
    if let Some(flag) = input.bool("squash")? {
        mr.squash = flag;
    }
    if let Some(flag) = input.bool("discussion_locked")? {
        mr.discussion_locked = flag;
    }
    match input.params.str("state_event").as_deref() {
        Some("close") if mr.state == "opened" => {
            mr.state = "closed".to_owned();
            mr.closed_at = Some(now());
        }
        Some("reopen") if mr.state == "closed" => {
            mr.state = "opened".to_owned();
            mr.closed_at = None;
        }
        _ => {}
    }
    if retarget {
        let repo = api.repo_for(&project.path_with_namespace);
        match compute_version(&api, &repo, &mr.source_branch, &mr.target_branch).await {
            Ok(Some(version)) => mr.versions.push(version),
            _ => return Err(ApiError::invalid("target_branch is invalid")),
        }
    }
    mr.updated_at = now();
    let mut state = api.state();
    if let Some(stored) = state.merge_request_mut(project.id, iid) {
        *stored = mr.clone();
    }
    let target = Noteable::MergeRequest { project_id: project.id, iid };
    let mut events = Vec::new();
    if before.draft() && !mr.draft() {
        events.push("marked this merge request as **ready**".to_owned());
    } else if !before.draft() && mr.draft() {
        events.push("marked this merge request as **draft**".to_owned());
    }
    if before.title != mr.title {
        events.push(format!("changed title from **{}** to **{}**", before.title, mr.title));
    }
    if before.description != mr.description {
        events.push("changed the description".to_owned());
    }
    let added: Vec<u64> = mr.reviewer_ids.iter().copied().filter(|id| !before.reviewer_ids.contains(id)).collect();
    if !added.is_empty() {
        events.push(format!("requested review from {}", mention_list(&state, &added)));
    }
    let added: Vec<u64> = mr.assignee_ids.iter().copied().filter(|id| !before.assignee_ids.contains(id)).collect();
    if !added.is_empty() {
        events.push(format!("assigned to {}", mention_list(&state, &added)));
    }
    if before.state != mr.state {
        events.push(if mr.state == "closed" { "closed".to_owned() } else { "reopened".to_owned() });
    }
    for body in events {
        add_system_note(&mut state, target, user.id, &body);
    }
    ok(render::merge_request(&state, &project, &mr))
}

pub async fn versions(State(api): State<Api>, Path((id, iid)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let mr = find(&api, project.id, iid)?;
    let items = mr.versions.iter().rev().map(|v| render::version(&mr, v, false)).collect();
    paginated(&api, &input, items)
}

pub async fn version(
    State(api): State<Api>,
    Path((id, iid, version_id)): Path<(String, u64, u64)>,
    input: Input,
) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let mr = find(&api, project.id, iid)?;
    let version =
        mr.versions.iter().find(|v| v.id == version_id).ok_or_else(|| ApiError::not_found("MergeRequestDiff"))?;
    let repo = api.repo_for(&project.path_with_namespace);
    let mut commits = Vec::new();
    for sha in repo.rev_list(&version.base_commit_sha, &version.head_commit_sha).await.unwrap_or_default() {
        if let Ok(info) = repo.commit_info(&sha).await {
            commits.push(info);
        }
    }
    let state = api.state();
    let mut value = render::version(&mr, version, true);
    if let Value::Object(map) = &mut value {
        map.insert("commits".into(), commits.iter().map(|c| render::commit(&state, &project, c)).collect());
    }
    ok(value)
}

/// `GET /merge_requests/:iid/reviewers`: each reviewer with a review state.
pub async fn reviewers(State(api): State<Api>, Path((id, iid)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let mr = find(&api, project.id, iid)?;
    let state = api.state();
    let items: Vec<Value> = mr
        .reviewer_ids
        .iter()
        .map(|id| json!({"user": render::user_by_id(&state, *id), "state": "unreviewed", "created_at": mr.created_at}))
        .collect();
    ok(Value::Array(items))
}

/// `GET /merge_requests/:iid/commits`: the latest version's commits, newest first.
pub async fn commits(State(api): State<Api>, Path((id, iid)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let mr = find(&api, project.id, iid)?;
    let Some(version) = mr.latest_version() else { return paginated(&api, &input, Vec::new()) };
    let repo = api.repo_for(&project.path_with_namespace);
    let mut infos = Vec::new();
    for sha in repo.rev_list(&version.base_commit_sha, &version.head_commit_sha).await.unwrap_or_default() {
        if let Ok(info) = repo.commit_info(&sha).await {
            infos.push(info);
        }
    }
    let state = api.state();
    let items = infos.iter().map(|c| render::commit(&state, &project, c)).collect();
    drop(state);
    paginated(&api, &input, items)
}

pub async fn diffs(State(api): State<Api>, Path((id, iid)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let mr = find(&api, project.id, iid)?;
    let limit = api.collapse_diffs_over.load(std::sync::atomic::Ordering::SeqCst);
    let items = mr
        .latest_version()
        .map(|v| {
            v.files
                .iter()
                .map(|file| {
                    let mut value = render::diff_file(file);
                    let collapse = limit > 0 && file.diff.len() > limit;
                    if collapse {
                        value["diff"] = json!("");
                    }
                    value["collapsed"] = json!(collapse);
                    value["too_large"] = json!(collapse);
                    value
                })
                .collect()
        })
        .unwrap_or_default();
    paginated(&api, &input, items)
}
