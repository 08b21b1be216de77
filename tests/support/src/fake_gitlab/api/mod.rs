//! The REST API under `/api/v4`: the route table, and the plumbing every handler shares —
//! token authentication, project lookup with access levels, parameter parsing, GitLab's error
//! bodies and offset pagination headers.

mod awards;
mod discussions;
mod draft_notes;
mod groups;
mod hooks;
mod members;
mod merge_requests;
mod namespaces;
mod notes;
mod pipelines;
mod projects;
mod repository_files;
mod runners;
mod variables;

pub(crate) use discussions::{NewThread, start_thread};
pub use notes::{add_note, add_system_note};

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::model::{Project, User};
use super::params::Params;
use super::server::Shared;

pub type Api = Arc<Shared>;
pub type ApiResult = Result<Response, ApiError>;

/// The route table. Paths are registered in full (no nesting) so handlers see the real URI.
pub fn router(shared: Api) -> Router {
    let p = "/api/v4/projects/{id}";
    let g = "/api/v4/groups/{id}";
    Router::new()
        .route("/api/v4/user", get(projects::current_user))
        .route("/api/v4/users/{user_id}", get(projects::get_user))
        .route("/api/v4/projects", post(projects::create_project))
        .route(p, get(projects::get_project).put(projects::update_project))
        .route(&format!("{p}/members"), post(members::add_to_project))
        .route(&format!("{p}/members/all/{{user_id}}"), get(projects::get_member))
        .route(&format!("{p}/members/{{user_id}}"), get(members::get_project_direct).put(members::edit_in_project))
        .route("/api/v4/namespaces/{id}", get(namespaces::get_namespace))
        .route("/api/v4/groups/{id}/members", post(members::add_to_group))
        .route("/api/v4/groups/{id}/members/all/{user_id}", get(members::get_group_effective))
        .route("/api/v4/groups/{id}/members/{user_id}", get(members::get_group_direct).put(members::edit_in_group))
        .route(
            &format!("{p}/repository/files/{{file_path}}"),
            post(repository_files::create).put(repository_files::update),
        )
        .route(&format!("{p}/repository/files/{{file_path}}/raw"), get(repository_files::raw))
        .route(&format!("{p}/variables"), get(variables::list).post(variables::create))
        .route(&format!("{p}/variables/{{key}}"), get(variables::get_one).put(variables::update))
        .route(&format!("{p}/protected_branches"), get(projects::list_protected_branches))
        .route(&format!("{p}/protected_branches/{{name}}"), get(projects::get_protected_branch))
        .route(&format!("{p}/issues"), get(projects::list_issues))
        .route(&format!("{p}/issues/{{iid}}"), get(projects::get_issue))
        .route(&format!("{p}/repository/branches"), get(projects::list_branches).post(projects::create_branch))
        .route(
            &format!("{p}/repository/branches/{{branch}}"),
            get(projects::get_branch).delete(projects::delete_branch),
        )
        .route(&format!("{p}/repository/commits/{{sha}}"), get(projects::get_commit))
        // notes
        .route(&format!("{p}/{{kind}}/{{iid}}/notes"), get(notes::list).post(notes::create))
        .route(
            &format!("{p}/{{kind}}/{{iid}}/notes/{{note_id}}"),
            get(notes::get_one).put(notes::edit).delete(notes::delete),
        )
        // award emoji
        .route(&format!("{p}/{{kind}}/{{iid}}/award_emoji"), get(awards::list_on_target).post(awards::award_target))
        .route(
            &format!("{p}/{{kind}}/{{iid}}/award_emoji/{{award_id}}"),
            axum::routing::delete(awards::remove_on_target),
        )
        .route(
            &format!("{p}/{{kind}}/{{iid}}/notes/{{note_id}}/award_emoji"),
            get(awards::list_on_note).post(awards::award_note),
        )
        .route(
            &format!("{p}/{{kind}}/{{iid}}/notes/{{note_id}}/award_emoji/{{award_id}}"),
            axum::routing::delete(awards::remove_on_note),
        )
        // merge requests
        .route(&format!("{p}/merge_requests"), get(merge_requests::list).post(merge_requests::create))
        .route(&format!("{p}/merge_requests/{{iid}}"), get(merge_requests::get_one).put(merge_requests::update))
        .route(&format!("{p}/merge_requests/{{iid}}/versions"), get(merge_requests::versions))
        .route(&format!("{p}/merge_requests/{{iid}}/reviewers"), get(merge_requests::reviewers))
        .route(&format!("{p}/merge_requests/{{iid}}/commits"), get(merge_requests::commits))
        .route(&format!("{p}/merge_requests/{{iid}}/versions/{{version_id}}"), get(merge_requests::version))
        .route(&format!("{p}/merge_requests/{{iid}}/diffs"), get(merge_requests::diffs))
        .route(&format!("{p}/merge_requests/{{iid}}/pipelines"), get(pipelines::list_for_mr))
        // discussions
        .route(&format!("{p}/{{kind}}/{{iid}}/discussions"), get(discussions::list).post(discussions::create))
        .route(
            &format!("{p}/{{kind}}/{{iid}}/discussions/{{discussion_id}}"),
            get(discussions::get_one).put(discussions::resolve),
        )
        .route(&format!("{p}/{{kind}}/{{iid}}/discussions/{{discussion_id}}/notes"), post(discussions::reply))
        // draft notes
        .route(&format!("{p}/merge_requests/{{iid}}/draft_notes"), get(draft_notes::list).post(draft_notes::create))
        .route(&format!("{p}/merge_requests/{{iid}}/draft_notes/bulk_publish"), post(draft_notes::bulk_publish))
        .route(
            &format!("{p}/merge_requests/{{iid}}/draft_notes/{{draft_id}}"),
            get(draft_notes::get_one).delete(draft_notes::delete),
        )
        .route(
            &format!("{p}/merge_requests/{{iid}}/draft_notes/{{draft_id}}/publish"),
            axum::routing::put(draft_notes::publish_one),
        )
        // pipelines and jobs
        .route(&format!("{p}/pipelines"), get(pipelines::list))
        .route(&format!("{p}/pipeline"), post(pipelines::create))
        .route(&format!("{p}/pipelines/latest"), get(pipelines::latest))
        .route(&format!("{p}/pipelines/{{pipeline_id}}"), get(pipelines::get_one))
        .route(&format!("{p}/pipelines/{{pipeline_id}}/jobs"), get(pipelines::jobs))
        .route(&format!("{p}/pipelines/{{pipeline_id}}/bridges"), get(pipelines::bridges))
        .route(&format!("{p}/pipelines/{{pipeline_id}}/variables"), get(pipelines::variables))
        .route(&format!("{p}/pipelines/{{pipeline_id}}/cancel"), post(pipelines::cancel))
        .route(&format!("{p}/pipelines/{{pipeline_id}}/retry"), post(pipelines::retry))
        .route(&format!("{p}/jobs/{{job_id}}"), get(pipelines::get_job))
        .route(&format!("{p}/jobs/{{job_id}}/trace"), get(pipelines::trace))
        .route(&format!("{p}/jobs/{{job_id}}/retry"), post(pipelines::retry_job))
        .route(&format!("{p}/jobs/{{job_id}}/cancel"), post(pipelines::cancel_job))
        .route(&format!("{p}/trigger/pipeline"), post(pipelines::trigger))
        .route(&format!("{p}/triggers"), get(pipelines::list_triggers).post(pipelines::create_trigger))
        // webhooks, groups and runners
        .route(&format!("{p}/hooks"), get(hooks::list_project).post(hooks::create_project))
        .route(
            &format!("{p}/hooks/{{hook_id}}"),
            get(hooks::get_project).put(hooks::update_project).delete(hooks::delete_project),
        )
        .route(&format!("{p}/hooks/{{hook_id}}/events"), get(hooks::events_project))
        .route(&format!("{p}/hooks/{{hook_id}}/test/{{trigger}}"), post(hooks::test_project))
        .route(&format!("{p}/runners"), get(runners::for_project))
        .route(g, get(groups::get_one))
        .route(&format!("{g}/projects"), get(groups::projects))
        .route(&format!("{g}/hooks"), get(hooks::list_group).post(hooks::create_group))
        .route(
            &format!("{g}/hooks/{{hook_id}}"),
            get(hooks::get_group).put(hooks::update_group).delete(hooks::delete_group),
        )
        .route(&format!("{g}/hooks/{{hook_id}}/events"), get(hooks::events_group))
        .route(&format!("{g}/hooks/{{hook_id}}/test/{{trigger}}"), post(hooks::test_group))
        .route("/api/v4/runners", get(runners::owned))
        .route("/api/v4/{*rest}", axum::routing::any(route_not_found))
        .route(REQUEST_LOG, get(request_log))
        .fallback(super::git_http::serve)
        .with_state(shared)
}

/// Where the fake serves its request log as JSON, for tests that run it as a program of its own
/// (`fake-gitlab`) and cannot call [`crate::FakeGitLab::requests`]. Not a GitLab route.
pub const REQUEST_LOG: &str = "/-/fake-gitlab/requests";

async fn request_log(axum::extract::State(api): axum::extract::State<Api>) -> Response {
    let log = api.log().clone();
    axum::Json(log).into_response()
}

async fn route_not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, json!({"error": "404 Not Found"})).into_response()
}

/// An error in GitLab's shapes: `{"message": …}` for most, `{"error": …}` for parameter errors.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, body: Value) -> Self {
        Self { status, body }
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, json!({"message": "401 Unauthorized"}))
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, json!({"message": "403 Forbidden"}))
    }

    /// `404 <what> Not Found`, as Grape's `not_found!(what)` writes it.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, json!({"message": format!("404 {what} Not Found")}))
    }

    /// `400 Bad request - <detail>`, as `bad_request!` and `render_validation_error!` write it.
    pub fn bad_request(detail: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, json!({"message": format!("400 Bad request - {detail}")}))
    }

    /// A validation error as Grape reports it: `{"error": "title is missing"}`.
    pub fn invalid(detail: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, json!({"error": detail}))
    }

    pub fn missing(param: &str) -> Self {
        Self::invalid(&format!("{param} is missing"))
    }

    pub fn conflict(messages: &[&str]) -> Self {
        Self::new(StatusCode::CONFLICT, json!({"message": messages}))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// The parsed request: merged parameters, headers and URI. Extract it last.
#[derive(Debug)]
pub struct Input {
    pub params: Params,
    pub headers: HeaderMap,
    pub uri: Uri,
}

impl<S: Send + Sync> FromRequest<S> for Input {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|_| ApiError::invalid("unreadable body"))?;
        let content_type = parts.headers.get("content-type").and_then(|v| v.to_str().ok());
        let params = Params::parse(parts.uri.query(), content_type, &bytes).map_err(|e| ApiError::invalid(&e))?;
        Ok(Self { params, headers: parts.headers, uri: parts.uri })
    }
}

impl Input {
    pub fn require_str(&self, key: &str) -> Result<String, ApiError> {
        self.params.str(key).filter(|s| !s.is_empty()).ok_or_else(|| ApiError::missing(key))
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.params.int(key).map_err(|e| ApiError::invalid(&e))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.params.bool(key).map_err(|e| ApiError::invalid(&e))
    }

    pub fn ids(&self, key: &str) -> Result<Option<Vec<u64>>, ApiError> {
        let list = self.params.int_list(key).map_err(|e| ApiError::invalid(&e))?;
        Ok(list.map(|ids| ids.into_iter().filter_map(|id| u64::try_from(id).ok()).collect()))
    }

    /// The token: `PRIVATE-TOKEN`, `Authorization: Bearer`, or `private_token`/`access_token`.
    pub fn token(&self) -> Option<String> {
        token_from(&self.headers)
            .or_else(|| self.params.str("private_token"))
            .or_else(|| self.params.str("access_token"))
    }
}

pub fn token_from(headers: &HeaderMap) -> Option<String> {
    if let Some(token) = headers.get("private-token").and_then(|v| v.to_str().ok()) {
        return Some(token.trim().to_owned());
    }
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok())?;
    let (scheme, token) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

/// The authenticated user, or 401.
pub fn caller(api: &Api, input: &Input) -> Result<User, ApiError> {
    let token = input.token().ok_or_else(ApiError::unauthorized)?;
    let state = api.state();
    let user = state.user_by_token(&token).ok_or_else(ApiError::unauthorized)?;
    if user.state != "active" {
        return Err(ApiError::forbidden());
    }
    Ok(user.clone())
}

/// The caller and the project they reach with at least `min_access`; a project they are not
/// a member of does not exist for them (404), too low a level is 403.
pub fn project_access(api: &Api, input: &Input, id: &str, min_access: u32) -> Result<(User, Project), ApiError> {
    let user = caller(api, input)?;
    let state = api.state();
    let project = state.project(id).ok_or_else(|| ApiError::not_found("Project"))?;
    let level = state.effective_access(project, user.id);
    if level == 0 {
        return Err(ApiError::not_found("Project"));
    }
    if level < min_access {
        return Err(ApiError::forbidden());
    }
    Ok((user, project.clone()))
}

pub fn json_response(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

pub fn ok(value: Value) -> ApiResult {
    Ok(json_response(StatusCode::OK, value))
}

pub fn created(value: Value) -> ApiResult {
    Ok(json_response(StatusCode::CREATED, value))
}

/// One page of `items` with GitLab's offset-pagination headers (`x-page`, `x-per-page`,
/// `x-total`, `x-total-pages`, `x-next-page`, `x-prev-page`, `link`).
pub fn paginated(api: &Api, input: &Input, items: Vec<Value>) -> ApiResult {
    let per_page = match input.int("per_page")? {
        Some(n) if n >= 1 => n.min(100) as usize,
        _ => 20,
    };
    let page = match input.int("page")? {
        Some(n) if n >= 1 => n as usize,
        _ => 1,
    };
    let total = items.len();
    let total_pages = total.div_ceil(per_page).max(1);
    let page_items: Vec<Value> = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    let mut response = json_response(StatusCode::OK, Value::Array(page_items));
    let next = if page < total_pages { (page + 1).to_string() } else { String::new() };
    let prev = if page > 1 && page <= total_pages + 1 { (page - 1).to_string() } else { String::new() };
    let base_url = api.state().base_url.clone();
    let link_to = |target: usize| page_link(&base_url, &input.uri, target, per_page);
    let mut links = Vec::new();
    if !prev.is_empty() {
        links.push(format!("<{}>; rel=\"prev\"", link_to(page - 1)));
    }
    if !next.is_empty() {
        links.push(format!("<{}>; rel=\"next\"", link_to(page + 1)));
    }
    links.push(format!("<{}>; rel=\"first\"", link_to(1)));
    let omit_totals = api.omit_totals.load(std::sync::atomic::Ordering::SeqCst);
    if !omit_totals {
        links.push(format!("<{}>; rel=\"last\"", link_to(total_pages)));
    }
    let mut pairs = vec![
        ("x-page", page.to_string()),
        ("x-per-page", per_page.to_string()),
        ("x-next-page", next),
        ("x-prev-page", prev),
        ("link", links.join(", ")),
    ];
    if !omit_totals {
        pairs.push(("x-total", total.to_string()));
        pairs.push(("x-total-pages", total_pages.to_string()));
    }
    let headers = response.headers_mut();
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

fn page_link(base_url: &str, uri: &Uri, page: usize, per_page: usize) -> String {
    let mut pairs: Vec<(String, String)> = uri
        .query()
        .map(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
        .collect();
    pairs.push(("page".to_owned(), page.to_string()));
    pairs.push(("per_page".to_owned(), per_page.to_string()));
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    format!("{base_url}{}?{query}", uri.path())
}

/// A streamed plain-text body (job traces), in chunks so large traces are not one write.
pub fn text_stream(text: String) -> Response {
    const CHUNK: usize = 64 * 1024;
    let bytes = bytes::Bytes::from(text);
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
        (0..bytes.len()).step_by(CHUNK).map(|start| Ok(bytes.slice(start..(start + CHUNK).min(bytes.len())))).collect();
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let mut response = Response::new(body);
    response.headers_mut().insert("content-type", HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// Which noteable a `{kind}` path segment names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Issues,
    MergeRequests,
}

pub fn kind_of(segment: &str) -> Result<Kind, ApiError> {
    match segment {
        "issues" => Ok(Kind::Issues),
        "merge_requests" => Ok(Kind::MergeRequests),
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, json!({"error": "404 Not Found"}))),
    }
}

/// The noteable a path names, with its global id; 404 in GitLab's words when missing.
pub fn noteable(api: &Api, project: &Project, kind: Kind, iid: u64) -> Result<(super::model::Noteable, u64), ApiError> {
    let state = api.state();
    match kind {
        Kind::Issues => {
            let issue = state.issue(project.id, iid).ok_or_else(|| ApiError::not_found("Issue"))?;
            Ok((super::model::Noteable::Issue { project_id: project.id, iid }, issue.id))
        }
        Kind::MergeRequests => {
            let mr = state.merge_request(project.id, iid).ok_or_else(|| ApiError::not_found("Merge Request"))?;
            Ok((super::model::Noteable::MergeRequest { project_id: project.id, iid }, mr.id))
        }
    }
}
