//! A git server over smart HTTP for these tests: `git http-backend` behind a small axum CGI
//! bridge that demands HTTP basic auth with a token as the password, like GitLab does.
//!
//! Also the "person" of the tests: a plain git clone straight from the bare repository on disk,
//! pushing commits behind the agent's back.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) const TOKEN: &str = "glpat-test-token-7f3a9c";

#[derive(Clone)]
struct Shared {
    root: PathBuf,
    token: String,
    /// Every request line and its `Authorization` scheme, for assertions.
    requests: Arc<Mutex<Vec<String>>>,
}

pub(crate) struct GitServer {
    pub(crate) addr: SocketAddr,
    pub(crate) root: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl GitServer {
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repos");
        std::fs::create_dir_all(&root).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared { root: root.clone(), token: TOKEN.to_owned(), requests: Arc::clone(&requests) };
        let app = axum::Router::new().fallback(cgi).layer(DefaultBodyLimit::disable()).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, root, requests, _dir: dir }
    }

    pub(crate) fn url(&self, project: &str) -> String {
        format!("http://{}/{project}.git", self.addr)
    }

    pub(crate) fn bare(&self, project: &str) -> PathBuf {
        self.root.join(format!("{project}.git"))
    }

    pub(crate) fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Creates `project` with one commit per entry of `history` on `main`, each writing the
    /// given files. Returns the bare repository's path.
    pub(crate) fn create_project(&self, project: &str, history: &[&[(&str, &str)]]) -> PathBuf {
        let bare = self.bare(project);
        std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
        git(&self.root, &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
        let person = Person::clone(&bare);
        for (index, files) in history.iter().enumerate() {
            for (path, content) in *files {
                person.write(path, content);
            }
            person.commit(&format!("commit {index}"));
        }
        person.push("main");
        bare
    }

    /// The commits of `branch` on the server, newest first, as `sha subject`.
    pub(crate) fn log(&self, project: &str, branch: &str) -> Vec<String> {
        let out = git(&self.bare(project), &["log", "--format=%H %s", branch]);
        out.lines().map(str::to_owned).collect()
    }

    pub(crate) fn tip(&self, project: &str, branch: &str) -> String {
        git(&self.bare(project), &["rev-parse", branch]).trim().to_owned()
    }
}

/// A person with their own full clone (over the file system) of a bare repository.
pub(crate) struct Person {
    pub(crate) dir: tempfile::TempDir,
}

impl Person {
    pub(crate) fn clone(bare: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["clone", "-q", bare.to_str().unwrap(), "."]);
        git(dir.path(), &["config", "user.name", "A Person"]);
        git(dir.path(), &["config", "user.email", "person@example.com"]);
        Self { dir }
    }

    pub(crate) fn write(&self, path: &str, content: &str) {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }

    pub(crate) fn commit(&self, message: &str) -> String {
        git(self.dir.path(), &["add", "--all"]);
        git(self.dir.path(), &["commit", "-q", "-m", message]);
        git(self.dir.path(), &["rev-parse", "HEAD"]).trim().to_owned()
    }

    pub(crate) fn checkout(&self, branch: &str) {
        git(self.dir.path(), &["fetch", "-q", "origin"]);
        git(self.dir.path(), &["checkout", "-q", "-B", branch, &format!("origin/{branch}")]);
    }

    pub(crate) fn push(&self, branch: &str) {
        git(self.dir.path(), &["push", "-q", "origin", &format!("HEAD:refs/heads/{branch}")]);
    }
}

/// Runs a plain `git` for test setup, isolated from the machine's configuration.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "A Person")
        .env("GIT_AUTHOR_EMAIL", "person@example.com")
        .env("GIT_COMMITTER_NAME", "A Person")
        .env("GIT_COMMITTER_EMAIL", "person@example.com")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers.get("authorization").and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    String::from_utf8(decoded).is_ok_and(|pair| pair.split_once(':').is_some_and(|(_, password)| password == token))
}

async fn cgi(State(shared): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let scheme = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(' ').next())
        .unwrap_or("none")
        .to_owned();
    shared.requests.lock().unwrap().push(format!("{method} {uri} auth={scheme}"));
    if !authorized(&headers, &shared.token) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", "Basic realm=\"GitLab\"")
            .body(Body::from("HTTP Basic: Access denied\n"))
            .unwrap();
    }
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_PROJECT_ROOT", &shared.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_HTTP_MAX_REQUEST_BUFFER", "1000M")
        .env("REQUEST_METHOD", method.as_str())
        .env("PATH_INFO", uri.path())
        .env("QUERY_STRING", uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_USER", "oauth2")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).await.unwrap();
    writer.await.unwrap();
    child.wait().await.unwrap();
    cgi_response(&out)
}

fn cgi_response(out: &[u8]) -> Response {
    let split = out
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| (at, 4))
        .or_else(|| out.windows(2).position(|window| window == b"\n\n").map(|at| (at, 2)));
    let Some((at, skip)) = split else {
        return Response::builder().status(StatusCode::BAD_GATEWAY).body(Body::empty()).unwrap();
    };
    let mut response = Response::builder();
    let mut status = StatusCode::OK;
    for line in String::from_utf8_lossy(&out[..at]).lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            status = value.split(' ').next().and_then(|code| code.parse().ok()).unwrap_or(StatusCode::OK);
        } else {
            response = response.header(name, value);
        }
    }
    response.status(status).body(Body::from(out[at + skip..].to_vec())).unwrap()
}
