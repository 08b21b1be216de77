//! Git smart HTTP for the projects' bare repositories, served by the real `git http-backend`
//! run as a CGI per request, behind GitLab's authentication rules: a token as the Basic-auth
//! password (any username, e.g. `oauth2`), `Authorization: Bearer`, or a `PRIVATE-TOKEN`
//! header (what `http.extraHeader` sends). Anonymous requests get 401 with
//! `WWW-Authenticate: Basic` so git reports an authentication failure; clone needs Reporter,
//! push needs Developer.
//!
//! Bodies stream both ways; a gzip-encoded request body (git compresses large fetch requests)
//! is passed through with `HTTP_CONTENT_ENCODING`, which `http-backend` inflates itself. A push
//! is answered only after GitLab's push side effects ran (pipelines, MR versions), so a test
//! sees them as soon as `git push` returns.

use std::process::Stdio;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::StreamExt as _;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use super::api::token_from;
use super::model::{User, access};
use super::push::{after_ref_updates, ref_updates};
use super::repo::git_command;
use super::server::Shared;

/// Which git service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    UploadPack,
    ReceivePack,
}

/// The fallback handler: git smart HTTP for `/<namespace>/<project>.git/...`, 404 otherwise.
pub async fn serve(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some((project_path, rest)) = path.trim_start_matches('/').split_once(".git/") else {
        return (StatusCode::NOT_FOUND, "404 Not Found\n").into_response();
    };
    let project_path = percent_encoding::percent_decode_str(project_path).decode_utf8_lossy().into_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let service = match rest {
        "info/refs" if query.contains("service=git-receive-pack") => Service::ReceivePack,
        "info/refs" => Service::UploadPack,
        "git-upload-pack" => Service::UploadPack,
        "git-receive-pack" => Service::ReceivePack,
        _ => return (StatusCode::NOT_FOUND, "404 Not Found\n").into_response(),
    };

    let Some(user) = git_user(&shared, request.headers()) else {
        return unauthorized();
    };
    let project = shared.state().project(&project_path).cloned();
    let Some(project) = project.filter(|p| p.access_of(user.id) > 0) else {
        return (
            StatusCode::NOT_FOUND,
            "The project you were looking for could not be found or you don't have permission to view it.\n",
        )
            .into_response();
    };
    let needed = match service {
        Service::UploadPack => access::REPORTER,
        Service::ReceivePack => access::DEVELOPER,
    };
    if project.access_of(user.id) < needed {
        let message = match service {
            Service::UploadPack => "You are not allowed to download code from this project.\n",
            Service::ReceivePack => "You are not allowed to push code to this project.\n",
        };
        return (StatusCode::FORBIDDEN, message).into_response();
    }

    let is_push = service == Service::ReceivePack && rest == "git-receive-pack";
    let _push_guard = if is_push { Some(shared.push_lock.lock().await) } else { None };
    let repo = shared.repo_for(&project.path_with_namespace);
    let before = if is_push { repo.branches().await.unwrap_or_default() } else { Vec::new() };

    let response = match run_backend(
        &shared,
        request,
        &format!("/{}.git/{rest}", project.path_with_namespace),
        &query,
        &user,
        is_push,
    )
    .await
    {
        Ok(response) => response,
        Err(error) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("git http-backend failed: {error:#}\n"))
                .into_response();
        }
    };
    if is_push {
        let after = repo.branches().await.unwrap_or_default();
        let updates = ref_updates(&before, &after);
        after_ref_updates(&shared, project.id, &updates, user.id).await;
    }
    response
}

/// The user a git request authenticates as, from Basic auth (token as password), Bearer, or
/// a `PRIVATE-TOKEN` header.
fn git_user(shared: &Shared, headers: &HeaderMap) -> Option<User> {
    let token = token_from(headers).or_else(|| {
        let value = headers.get("authorization")?.to_str().ok()?;
        let (scheme, encoded) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_, password) = decoded.split_once(':')?;
        Some(password.to_owned())
    })?;
    let state = shared.state();
    state.user_by_token(&token).filter(|u| u.state == "active").cloned()
}

fn unauthorized() -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, "HTTP Basic: Access denied\n").into_response();
    response.headers_mut().insert("www-authenticate", HeaderValue::from_static("Basic realm=\"GitLab\""));
    response
}

/// Runs `git http-backend` with the CGI environment, streams the request body in and the
/// response out (buffered completely for a push, so side effects run before the answer).
async fn run_backend(
    shared: &Shared,
    request: Request,
    path_info: &str,
    query: &str,
    user: &User,
    buffer_response: bool,
) -> anyhow::Result<Response> {
    let headers = request.headers().clone();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut command = git_command(&shared.git_home);
    command
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", &shared.repos_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", path_info)
        .env("REQUEST_METHOD", request.method().as_str())
        .env("QUERY_STRING", query)
        .env("REMOTE_USER", &user.username)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(value) = header("content-type") {
        command.env("CONTENT_TYPE", value);
    }
    if let Some(value) = header("content-length") {
        command.env("CONTENT_LENGTH", value);
    }
    if let Some(value) = header("content-encoding") {
        command.env("HTTP_CONTENT_ENCODING", value);
    }
    if let Some(value) = header("git-protocol") {
        command.env("HTTP_GIT_PROTOCOL", value);
    }
    let mut child = command.spawn()?;
    let mut stdin = child.stdin.take().ok_or_else(|| anyhow::anyhow!("no stdin"))?;
    let mut stdout = BufReader::new(child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?);
    let mut stderr = child.stderr.take().ok_or_else(|| anyhow::anyhow!("no stderr"))?;

    let mut body = request.into_body().into_data_stream();
    let feeder = tokio::spawn(async move {
        while let Some(Ok(chunk)) = body.next().await {
            if stdin.write_all(&chunk).await.is_err() {
                break;
            }
        }
        drop(stdin);
    });
    let stderr_drain = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        if !text.trim().is_empty() {
            tracing::debug!(target: "fake_gitlab", "git http-backend: {}", text.trim());
        }
    });

    // CGI headers, up to the blank line.
    let mut status = StatusCode::OK;
    let mut response_headers = Vec::new();
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).await? == 0 {
            break;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("status") {
                let code = value.split_whitespace().next().and_then(|c| c.parse().ok()).unwrap_or(500);
                status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            } else {
                response_headers.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    let body = if buffer_response {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).await?;
        let _ = feeder.await;
        let _ = child.wait().await;
        let _ = stderr_drain.await;
        Body::from(bytes)
    } else {
        let stream = tokio_util::io::ReaderStream::new(stdout);
        tokio::spawn(async move {
            let _ = feeder.await;
            let _ = child.wait().await;
            let _ = stderr_drain.await;
        });
        Body::from_stream(stream)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    for (name, value) in response_headers {
        if let (Ok(name), Ok(value)) =
            (axum::http::HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value))
        {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}
