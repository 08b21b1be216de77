//! Users, projects, members, issues, branches and commits.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use serde_json::Value;

use super::namespaces::user_namespace_id;
use super::{Api, ApiError, ApiResult, Input, caller, created, ok, paginated, project_access};
use crate::fake_gitlab::clock::now;
use crate::fake_gitlab::model::{Project, access};
use crate::fake_gitlab::push::{RefUpdate, after_ref_updates};
use crate::fake_gitlab::render;

pub async fn current_user(State(api): State<Api>, input: Input) -> ApiResult {
    let user = caller(&api, &input)?;
    let state = api.state();
    ok(render::current_user(&state, &user))
}

pub async fn get_user(State(api): State<Api>, Path(user_id): Path<u64>, input: Input) -> ApiResult {
    caller(&api, &input)?;
    let state = api.state();
    let user = state.user(user_id).ok_or_else(|| ApiError::not_found("User"))?;
    let mut value = render::user_basic(&state, user);
    if let Value::Object(map) = &mut value {
        map.insert("bot".into(), Value::Bool(user.bot));
    }
    ok(value)
}

/// `GET /projects/:id`; CI/CD settings such as `ci_pipeline_variables_minimum_override_role`
/// only for Maintainers and above, as GitLab shows them.
pub async fn get_project(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::GUEST)?;
    let state = api.state();
    let mut value = render::project(&state, &project);
    if state.effective_access(&project, user.id) >= access::MAINTAINER
        && let Value::Object(map) = &mut value
    {
        map.insert(
            "ci_pipeline_variables_minimum_override_role".into(),
            Value::String(project.pipeline_variables_minimum_role.clone()),
        );
    }
    ok(value)
}

/// `PUT /projects/:id` for Maintainers and above: only `ci_pipeline_variables_minimum_override_role`.
pub async fn update_project(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::MAINTAINER)?;
    const ROLE: &str = "ci_pipeline_variables_minimum_override_role";
    if let Some(role) = input.params.str(ROLE) {
        if !["no_one_allowed", "developer", "maintainer", "owner"].contains(&role.as_str()) {
            return Err(ApiError::invalid(&format!("{ROLE} does not have a valid value")));
        }
        let mut state = api.state();
        if let Some(stored) = state.project_mut(project.id) {
            stored.pipeline_variables_minimum_role = role;
        }
    }
    get_project(State(api), Path(id), input).await
}

/// `GET /projects/:id/members/all/:user_id`: the effective membership, inherited included.
pub async fn get_member(State(api): State<Api>, Path((id, user_id)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let state = api.state();
    let level = state.effective_access(&project, user_id);
    let user = state.user(user_id).filter(|_| level > 0).ok_or_else(|| ApiError::not_found("Member"))?;
    ok(render::member(&state, project.id, user, level))
}

/// `GET /projects/:id/protected_branches`: every rule, oldest first.
pub async fn list_protected_branches(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let items = {
        let state = api.state();
        project.protected_branches.iter().map(|rule| render::protected_branch(&state, rule)).collect()
    };
    paginated(&api, &input, items)
}

/// `GET /projects/:id/protected_branches/:name`: the rule named `name` (a wildcard rule by its
/// pattern), or 404.
pub async fn get_protected_branch(
    State(api): State<Api>,
    Path((id, name)): Path<(String, String)>,
    input: Input,
) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let state = api.state();
    let rule = project.protected_branches.iter().find(|rule| rule.name == name);
    ok(render::protected_branch(&state, rule.ok_or_else(|| ApiError::not_found("Protected Branch"))?))
}

/// `GET /projects/:id/issues` with `state`, `assignee_username`, `labels`; newest first.
pub async fn list_issues(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let wanted = input.params.str("state").unwrap_or_else(|| "all".to_owned());
    let assignee = input.params.str("assignee_username");
    let labels = input.params.str_list("labels").unwrap_or_default();
    let state = api.state();
    let assignee_id = assignee.as_ref().map(|name| state.user_by_name(name).map_or(0, |u| u.id));
    let mut issues: Vec<_> = state
        .issues
        .iter()
        .filter(|i| i.project_id == project.id && (wanted == "all" || i.state == wanted))
        .filter(|i| assignee_id.is_none_or(|a| i.assignee_ids.contains(&a)))
        .filter(|i| labels.iter().all(|l| i.labels.contains(l)))
        .collect();
    issues.sort_by_key(|i| std::cmp::Reverse(i.id));
    let items = issues.iter().map(|i| render::issue(&state, &project, i)).collect();
    drop(state);
    paginated(&api, &input, items)
}

pub async fn get_issue(State(api): State<Api>, Path((id, iid)): Path<(String, u64)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::GUEST)?;
    let state = api.state();
    let issue = state.issue(project.id, iid).ok_or_else(|| ApiError::not_found("Issue"))?;
    ok(render::issue(&state, &project, issue))
}

async fn branch_value(
    api: &Api,
    project: &crate::fake_gitlab::model::Project,
    name: &str,
    sha: &str,
) -> Result<Value, ApiError> {
    let repo = api.repo_for(&project.path_with_namespace);
    let info = repo.commit_info(sha).await.map_err(|_| ApiError::not_found("Commit"))?;
    let default_head = repo.rev_parse(&format!("refs/heads/{}", project.default_branch)).await;
    let merged = name != project.default_branch
        && match default_head {
            Some(head) => repo.is_ancestor(sha, &head).await,
            None => false,
        };
    let state = api.state();
    Ok(render::branch(&state, project, name, &info, merged))
}

pub async fn list_branches(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let repo = api.repo_for(&project.path_with_namespace);
    let branches = repo.branches().await.map_err(|e| ApiError::bad_request(&e.to_string()))?;
    let search = input.params.str("search");
    let mut items = Vec::new();
    for (name, sha) in branches {
        if search.as_deref().is_some_and(|s| !name.contains(s)) {
            continue;
        }
        items.push(branch_value(&api, &project, &name, &sha).await?);
    }
    paginated(&api, &input, items)
}

pub async fn get_branch(State(api): State<Api>, Path((id, branch)): Path<(String, String)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let repo = api.repo_for(&project.path_with_namespace);
    let sha = repo.rev_parse(&format!("refs/heads/{branch}")).await.ok_or_else(|| ApiError::not_found("Branch"))?;
    ok(branch_value(&api, &project, &branch, &sha).await?)
}

pub async fn create_branch(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (user, project) = project_access(&api, &input, &id, access::DEVELOPER)?;
    let branch = input.require_str("branch")?;
    let git_ref = input.require_str("ref")?;
    let repo = api.repo_for(&project.path_with_namespace);
    if repo.rev_parse(&format!("refs/heads/{branch}")).await.is_some() {
        return Err(ApiError::bad_request("Branch already exists"));
    }
    let sha = match repo.rev_parse(&format!("refs/heads/{git_ref}")).await {
        Some(sha) => sha,
        None => repo.rev_parse(&git_ref).await.ok_or_else(|| ApiError::bad_request("Invalid reference name"))?,
    };
    repo.create_branch(&branch, &sha).await.map_err(|_| ApiError::bad_request("Branch is invalid"))?;
    let update = RefUpdate { branch: branch.clone(), old: None, new: Some(sha.clone()) };
    after_ref_updates(&api, project.id, &[update], user.id).await;
    created(branch_value(&api, &project, &branch, &sha).await?)
}

pub async fn delete_branch(
    State(api): State<Api>,
    Path((id, branch)): Path<(String, String)>,
    input: Input,
) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::DEVELOPER)?;
    if branch == project.default_branch {
        return Err(ApiError::bad_request("The default branch of a project cannot be deleted."));
    }
    let repo = api.repo_for(&project.path_with_namespace);
    if repo.rev_parse(&format!("refs/heads/{branch}")).await.is_none() {
        return Err(ApiError::not_found("Branch"));
    }
    repo.delete_branch(&branch).await.map_err(|e| ApiError::bad_request(&e.to_string()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn get_commit(State(api): State<Api>, Path((id, sha)): Path<(String, String)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let repo = api.repo_for(&project.path_with_namespace);
    let resolved = repo.rev_parse(&sha).await.ok_or_else(|| ApiError::not_found("Commit"))?;
    let info = repo.commit_info(&resolved).await.map_err(|_| ApiError::not_found("Commit"))?;
    let stats = repo.stats(&resolved).await.map_err(|_| ApiError::not_found("Commit"))?;
    let state = api.state();
    ok(render::commit_detail(&state, &project, &info, stats))
}

/// `POST /projects` (Projects API, <https://docs.gitlab.com/api/projects/#create-a-project>):
/// `name` and/or `path`, `namespace_id` (default: the caller's own namespace). Creating in a
/// group takes the Developer role there (the group setting "roles allowed to create projects"
/// at its default); the creator becomes the project's Maintainer unless a group gives them
/// more, or its Owner in their own namespace. The repository starts empty.
pub async fn create_project(State(api): State<Api>, input: Input) -> ApiResult {
    let user = caller(&api, &input)?;
    let path = match (input.params.str("path"), input.params.str("name")) {
        (Some(path), _) if !path.is_empty() => path,
        (_, Some(name)) if !name.is_empty() => name.to_lowercase().replace(' ', "-"),
        _ => return Err(ApiError::invalid("name, path are missing, at least one parameter must be provided")),
    };
    let (namespace, creator_level) = {
        let state = api.state();
        match input.int("namespace_id")? {
            None => (user.username.clone(), access::OWNER),
            Some(id) if u64::try_from(id).is_ok_and(|id| id == user_namespace_id(user.id)) => {
                (user.username.clone(), access::OWNER)
            }
            Some(id) => {
                let group = state.group(&id.to_string()).ok_or_else(|| ApiError::not_found("Namespace"))?;
                let level = state.group_access(group, user.id);
                if level == 0 {
                    return Err(ApiError::not_found("Namespace"));
                }
                if level < access::DEVELOPER {
                    return Err(ApiError::forbidden());
                }
                (group.full_path.clone(), if level >= access::MAINTAINER { 0 } else { access::MAINTAINER })
            }
        }
    };
    let full_path = format!("{namespace}/{path}");
    if api.state().project(&full_path).is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"message": {"name": ["has already been taken"], "path": ["has already been taken"]}}),
        ));
    }
    let dir = api.repos_root.join(format!("{full_path}.git"));
    crate::fake_gitlab::repo::Repo::init(dir, api.git_home.clone(), "main")
        .await
        .map_err(|error| ApiError::bad_request(&error.to_string()))?;
    let mut state = api.state();
    let id = state.allocate("project");
    let protection_id = state.allocate("protected_branch");
    let mut project = Project::new(id, &full_path, "main", protection_id, now());
    if creator_level > 0 {
        project.members.insert(user.id, creator_level);
    }
    let value = render::project(&state, &project);
    state.projects.push(project);
    created(value)
}
