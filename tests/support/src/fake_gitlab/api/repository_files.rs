//! Repository files (<https://docs.gitlab.com/api/repository_files/>): `GET
//! …/repository/files/:file_path/raw?ref=` answers the file as plain text; `POST` and `PUT
//! …/repository/files/:file_path` commit a new or changed file on `branch` (`content`,
//! `commit_message`, `encoding` `text` or `base64`) and answer `{"file_path", "branch"}`.
//!
//! Reading takes the Reporter role; committing takes the Developer role and, on a protected
//! branch, the right to push there. A commit runs the push side effects (a pipeline), as a
//! push does. Committing `.gitlab-ci.yml` also declares the `spec:inputs` its header names, so
//! the trigger API takes those inputs afterwards, and, when it includes the copilot-runner
//! template, that template's `workflow: rules` (a trigger runs only with a `TRIGGER_TYPE`).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse as _;
use base64::Engine as _;
use serde_json::json;

use super::{Api, ApiError, ApiResult, Input, json_response, project_access};
use crate::fake_gitlab::model::{Project, access};
use crate::fake_gitlab::protection;
use crate::fake_gitlab::push::{RefUpdate, after_ref_updates};
use crate::fake_gitlab::repo::FileChange;

/// `GET /projects/:id/repository/files/:file_path/raw`.
pub async fn raw(State(api): State<Api>, Path((id, file_path)): Path<(String, String)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::REPORTER)?;
    let git_ref = input.params.str("ref").unwrap_or_else(|| project.default_branch.clone());
    let repo = api.repo_for(&project.path_with_namespace);
    let sha = match repo.rev_parse(&format!("refs/heads/{git_ref}")).await {
        Some(sha) => sha,
        None => repo.rev_parse(&git_ref).await.ok_or_else(|| ApiError::not_found("Commit"))?,
    };
    let content = repo.read_file(&sha, &file_path).await.ok_or_else(|| ApiError::not_found("File"))?;
    let mut response = (StatusCode::OK, content).into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(response)
}

/// `POST /projects/:id/repository/files/:file_path`: a new file.
pub async fn create(State(api): State<Api>, Path((id, file_path)): Path<(String, String)>, input: Input) -> ApiResult {
    commit(&api, &input, &id, &file_path, true).await
}

/// `PUT /projects/:id/repository/files/:file_path`: a new content of an existing file.
pub async fn update(State(api): State<Api>, Path((id, file_path)): Path<(String, String)>, input: Input) -> ApiResult {
    commit(&api, &input, &id, &file_path, false).await
}

/// Whether `user_id` with `level` may push to `branch` of `project`.
fn may_push(project: &Project, branch: &str, user_id: u64, level: u32) -> bool {
    let rules: Vec<_> =
        project.protected_branches.iter().filter(|rule| protection::matches(&rule.name, branch)).collect();
    if rules.is_empty() {
        return level >= access::DEVELOPER;
    }
    rules.iter().any(|rule| {
        rule.push_user_ids.contains(&user_id) || (rule.push_access_level > 0 && level >= rule.push_access_level)
    })
}

async fn commit(api: &Api, input: &Input, id: &str, file_path: &str, creating: bool) -> ApiResult {
    let (user, project) = project_access(api, input, id, access::DEVELOPER)?;
    let branch = input.require_str("branch")?;
    let message = input.require_str("commit_message")?;
    let content = input.params.str("content").ok_or_else(|| ApiError::missing("content"))?;
    let content = match input.params.str("encoding").as_deref() {
        Some("base64") => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(content.trim())
                .map_err(|_| ApiError::invalid("content is invalid"))?;
            String::from_utf8(bytes).map_err(|_| ApiError::invalid("content is invalid"))?
        }
        _ => content,
    };
    let level = api.state().effective_access(&project, user.id);
    if !may_push(&project, &branch, user.id, level) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            json!({"message": "You are not allowed to push into this branch"}),
        ));
    }
    let _push = api.push_lock.lock().await;
    let repo = api.repo_for(&project.path_with_namespace);
    let head = repo.rev_parse(&format!("refs/heads/{branch}")).await;
    let exists = match &head {
        Some(sha) => repo.read_file(sha, file_path).await.is_some(),
        None => false,
    };
    // `render_api_error!(message, 400)`: the message alone, as the commit service words it.
    let refused = |message: &str| ApiError::new(StatusCode::BAD_REQUEST, json!({ "message": message }));
    if creating && exists {
        return Err(refused("A file with this name already exists"));
    }
    if !creating && !exists {
        return Err(refused("A file with this name doesn't exist"));
    }
    let change = FileChange { path: file_path.to_owned(), content: Some(content.clone()), symlink: false };
    let author_email = format!("{}@example.com", user.username);
    let sha = repo
        .commit(&branch, None, &[change], &message, (&user.name, &author_email))
        .await
        .map_err(|error| ApiError::bad_request(&error.to_string()))?;
    if file_path == ".gitlab-ci.yml"
        && let Some(stored) = api.state().project_mut(project.id)
    {
        stored.ci.inputs = declared_inputs(&content);
        // The fake resolves no `include:`; the copilot-runner template brings `workflow: rules`
        // that run a trigger only when it names a workflow.
        let includes_template = content.lines().any(|line| {
            let line = line.trim_start();
            (line.starts_with("- component:") || line.starts_with("- project:") || line.starts_with("- remote:"))
                && line.contains("copilot-runner")
        });
        stored.ci.workflow_requires = includes_template.then(|| "TRIGGER_TYPE".to_owned());
    }
    let update = RefUpdate { branch: branch.clone(), old: head, new: Some(sha) };
    after_ref_updates(api, project.id, &[update], user.id).await;
    let status = if creating { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json_response(status, json!({"file_path": file_path, "branch": branch})))
}

/// The names under `spec: inputs:` in a CI configuration's header (the part before `---`):
/// the keys indented one level below `inputs:`. `None` without a header.
pub fn declared_inputs(config: &str) -> Option<Vec<String>> {
    let header = config.split("\n---").next().filter(|_| config.contains("\n---"))?;
    let mut lines = header.lines().skip_while(|line| line.trim_end() != "  inputs:").skip(1);
    let mut names = Vec::new();
    for line in lines.by_ref() {
        let Some(rest) = line.strip_prefix("    ") else { break };
        if rest.starts_with(' ') || rest.starts_with('#') {
            continue;
        }
        if let Some((name, _)) = rest.split_once(':') {
            names.push(name.trim().to_owned());
        }
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::declared_inputs;

    #[test]
    fn the_inputs_of_a_spec_header_are_read() {
        let config = "# comment\nspec:\n  inputs:\n    trigger_type:\n      default: ''\n    target_project_id: {default: ''}\n---\nstages: [x]\n";
        assert_eq!(declared_inputs(config), Some(vec!["trigger_type".to_owned(), "target_project_id".to_owned()]));
        assert_eq!(declared_inputs("stages: [x]\n"), None);
    }
}
