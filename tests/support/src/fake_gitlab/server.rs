//! The fake's HTTP server: its own accept loop over hyper, so a fault can close a connection
//! without answering (a reset, or "apply then reset" after the handler ran), plus the request
//! log and fault selection in front of the axum router.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;

use super::faults::{FaultKind, FaultRule, default_body, select};
use super::model::State;
use super::repo::Repo;
use super::request_log::RecordedRequest;

/// API bodies above this size get a 413 (GitLab's own limits are lower for most fields).
const MAX_API_BODY: usize = 32 * 1024 * 1024;

/// Everything the handlers and the test handle share.
#[derive(Debug)]
pub struct Shared {
    pub state: Mutex<State>,
    pub faults: Mutex<Vec<FaultRule>>,
    pub log: Mutex<Vec<RecordedRequest>>,
    /// Where the bare repositories live (`GIT_PROJECT_ROOT`).
    pub repos_root: PathBuf,
    /// `HOME` for every git child, so no user config leaks in.
    pub git_home: PathBuf,
    /// Serializes pushes so the refs seen before and after one push belong to it alone.
    pub push_lock: tokio::sync::Mutex<()>,
    /// Woken on every logged request, for tests waiting on a call.
    pub logged: tokio::sync::Notify,
    /// Bumped by `release_hung`: every call held by a `Hang` fault then goes ahead.
    pub hung_release: tokio::sync::watch::Sender<u64>,
    /// Leave out `x-total`/`x-total-pages` (and `rel="last"`), as GitLab does past 10,000
    /// records and on some gitlab.com endpoints.
    pub omit_totals: std::sync::atomic::AtomicBool,
    /// `/diffs` leaves out (collapses) every file diff longer than this many bytes, as GitLab
    /// does past its diff limits; 0 sends every diff.
    pub collapse_diffs_over: std::sync::atomic::AtomicUsize,
}

impl Shared {
    /// The state; a handler that panicked mid-change does not poison the fake for the rest.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn log(&self) -> MutexGuard<'_, Vec<RecordedRequest>> {
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn faults(&self) -> MutexGuard<'_, Vec<FaultRule>> {
        self.faults.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn repo_for(&self, path_with_namespace: &str) -> Repo {
        Repo::new(self.repos_root.join(format!("{path_with_namespace}.git")), self.git_home.clone())
    }
}

/// Accepts connections until the task is aborted.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, router: Router) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        tokio::spawn(connection(stream, Arc::clone(&shared), router.clone()));
    }
}

async fn connection(mut stream: TcpStream, shared: Arc<Shared>, router: Router) {
    let (drop_tx, mut drop_rx) = tokio::sync::mpsc::channel::<()>(1);
    let reset = {
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let shared = Arc::clone(&shared);
            let router = router.clone();
            let drop_tx = drop_tx.clone();
            async move { Ok::<_, Infallible>(handle(request.map(Body::new), shared, router, drop_tx).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(&mut stream), service);
        tokio::select! {
            _ = conn => false,
            _ = drop_rx.recv() => true,
        }
    };
    if reset {
        // SO_LINGER 0: the close sends RST, as a crashed proxy or a dropped connection would.
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    }
    drop(stream);
}

async fn handle(
    request: Request<Body>,
    shared: Arc<Shared>,
    router: Router,
    drop_connection: tokio::sync::mpsc::Sender<()>,
) -> Response<Body> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let is_api = path.starts_with("/api/");

    // API bodies are buffered (logged, parsed by the handlers); git bodies stream through.
    let (parts, body) = request.into_parts();
    let (body_text, body) = if is_api {
        match http_body_util::Limited::new(body, MAX_API_BODY).collect().await {
            Ok(collected) => {
                let bytes = collected.to_bytes();
                (String::from_utf8_lossy(&bytes).into_owned(), Body::from(bytes))
            }
            Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "413 Request Entity Too Large"),
        }
    } else {
        (String::new(), body)
    };
    let request = Request::from_parts(parts, body);

    let fault = select(&mut shared.faults(), &method, &path);
    let index = {
        let mut log = shared.log();
        log.push(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            query,
            headers,
            body: body_text,
            status: None,
            fault: fault.as_ref().map(describe),
        });
        log.len() - 1
    };
    shared.logged.notify_waiters();

    let response = match fault {
        Some(FaultKind::Status { code, headers, body }) => Some(status_response(code, &headers, body)),
        Some(FaultKind::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            None
        }
        Some(FaultKind::Hang) => {
            let mut released = shared.hung_release.subscribe();
            // Err: the fake is shutting down; answering is as good as anything then.
            let _ = released.changed().await;
            None
        }
        Some(FaultKind::Reset) => return drop_now(&drop_connection).await,
        Some(FaultKind::ApplyThenReset) => {
            let _applied = route(router, request).await;
            return drop_now(&drop_connection).await;
        }
        // `select` picks one of the kinds; an empty list faults nothing.
        Some(FaultKind::OneOf(_)) | None => None,
    };
    let response = match response {
        Some(response) => response,
        None => route(router, request).await,
    };
    if let Some(entry) = shared.log().get_mut(index) {
        entry.status = Some(response.status().as_u16());
    }
    response
}

async fn route(router: Router, request: Request<Body>) -> Response<Body> {
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Signals the connection task to drop the socket and never answers this request.
async fn drop_now(drop_connection: &tokio::sync::mpsc::Sender<()>) -> Response<Body> {
    let _ = drop_connection.send(()).await;
    std::future::pending::<Response<Body>>().await
}

fn describe(kind: &FaultKind) -> String {
    match kind {
        FaultKind::Status { code, .. } => format!("status {code}"),
        FaultKind::Delay(delay) => format!("delay {}ms", delay.as_millis()),
        FaultKind::Hang => "hang".to_owned(),
        FaultKind::Reset => "reset".to_owned(),
        FaultKind::ApplyThenReset => "apply_then_reset".to_owned(),
        FaultKind::OneOf(kinds) => kinds.iter().map(describe).collect::<Vec<_>>().join(" | "),
    }
}

fn status_response(code: u16, headers: &[(String, String)], body: Option<String>) -> Response<Body> {
    let (content_type, default) = default_body(code);
    let (content_type, body) = match body {
        Some(body) if body.trim_start().starts_with('{') => ("application/json", body),
        Some(body) => ("text/plain", body),
        None => (content_type, default),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert("content-type", HeaderValue::from_static(content_type));
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) =
            (axum::http::HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
        {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(text.to_owned()));
    *response.status_mut() = status;
    response
}
