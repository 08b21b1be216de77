//! The GitLab REST client: the one place that authenticates, retries,
//! paginates and decodes. Resource files (`issues.rs`, `notes.rs`, …) only say which path to
//! call with which parameters and how a write is made safe to repeat.
//!
//! Every request runs in a tracing span with its method, path (never the query string, which
//! could hold a token), status and attempt. The token travels only in the `PRIVATE-TOKEN`
//! header, marked sensitive so that no debug output of a request shows it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;

use super::error::Error;
use super::pagination::{self, NextPage};
use super::retry::{self, Budget, Replay, RetryPolicy};
use crate::http::USER_AGENT;

/// No list we read is longer than this many pages of 100; more means a loop in pagination.
const MAX_PAGES: u32 = 1000;

/// Timeouts and retry limits of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub user_agent: String,
    pub connect_timeout: Duration,
    /// For one attempt, headers and body together; a job trace stream is bounded by it too.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            user_agent: USER_AGENT.to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
        }
    }
}

/// A project as GitLab's `:id` accepts it: the numeric id or the full path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectId {
    Id(u64),
    Path(String),
}

impl ProjectId {
    /// The path segment: the number, or the path with every `/` and other reserved byte encoded.
    pub fn segment(&self) -> String {
        match self {
            ProjectId::Id(id) => id.to_string(),
            ProjectId::Path(path) => encode_segment(path),
        }
    }
}

impl From<u64> for ProjectId {
    fn from(id: u64) -> Self {
        ProjectId::Id(id)
    }
}

impl From<&str> for ProjectId {
    fn from(path: &str) -> Self {
        match path.parse() {
            Ok(id) => ProjectId::Id(id),
            Err(_) => ProjectId::Path(path.to_owned()),
        }
    }
}

impl From<String> for ProjectId {
    fn from(path: String) -> Self {
        ProjectId::from(path.as_str())
    }
}

impl From<&String> for ProjectId {
    fn from(path: &String) -> Self {
        ProjectId::from(path.as_str())
    }
}

impl std::fmt::Display for ProjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProjectId::Id(id) => write!(f, "{id}"),
            ProjectId::Path(path) => f.write_str(path),
        }
    }
}

impl From<&ProjectId> for ProjectId {
    fn from(id: &ProjectId) -> Self {
        id.clone()
    }
}

/// Percent-encodes one path segment (a project path, a branch name) the way GitLab expects.
pub fn encode_segment(text: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(text, RESERVED).to_string()
}

/// A GitLab REST API v4 client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api_url: Arc<Url>,
    token: HeaderValue,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("api_url", &self.api_url.as_str()).field("retry", &self.retry).finish()
    }
}

/// One logical request: rebuilt into a fresh HTTP request for every attempt.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<Body>,
    pub(crate) replay: Replay,
}

/// What a request carries: JSON, or form fields where GitLab reads nested parameters such as
/// `inputs[name]=value` only from form data.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
}

impl Request {
    /// Method and path, without the query string: safe to log and to put in errors.
    pub(crate) fn endpoint(&self) -> String {
        format!("{} {}", self.method, self.url.path())
    }
}

/// What one attempt ended with, when it did not succeed.
struct Failure {
    error: Error,
    server_wait: Option<Duration>,
    retryable: bool,
}

impl Client {
    /// A client for the API at `api_url` (e.g. `https://gitlab.com/api/v4`) with default options.
    pub fn new(api_url: &str, token: &SecretString) -> Result<Self, Error> {
        Self::with_options(api_url, token, &ClientOptions::default())
    }

    pub fn with_options(api_url: &str, token: &SecretString, options: &ClientOptions) -> Result<Self, Error> {
        let http = crate::http::client(&options.user_agent, options.connect_timeout, options.request_timeout)
            .map_err(|error| Error::Setup { reason: format!("cannot build the http client: {error}") })?;
        let trimmed = api_url.trim_end_matches('/');
        let api_url = Url::parse(trimmed)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
            .ok_or_else(|| Error::Setup { reason: format!("`{trimmed}` is not an http(s) URL of the GitLab API") })?;
        crate::redact::register(token.expose_secret());
        let mut token = HeaderValue::from_str(token.expose_secret().trim()).map_err(|_| Error::Setup {
            reason: "the GitLab token contains characters that cannot be sent in an HTTP header".to_owned(),
        })?;
        token.set_sensitive(true);
        Ok(Self { http, api_url: Arc::new(api_url), token, retry: options.retry })
    }

    /// The API root this client talks to, without a trailing slash.
    pub fn api_url(&self) -> &str {
        self.api_url.as_str().trim_end_matches('/')
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The absolute URL of `path` (which starts with `/` and has its segments encoded).
    pub(crate) fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, Error> {
        let mut url = Url::parse(&format!("{}{path}", self.api_url()))
            .map_err(|error| Error::Setup { reason: format!("cannot build the URL of `{path}`: {error}") })?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                pairs.append_pair(key, value);
            }
        }
        Ok(url)
    }

    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<serde_json::Value>,
        replay: Replay,
    ) -> Result<Request, Error> {
        Ok(Request { method, url: self.url(path, query)?, body: body.map(Body::Json), replay })
    }

    /// A request whose body is form-encoded `fields`.
    pub(crate) fn form_request(
        &self,
        method: Method,
        path: &str,
        fields: Vec<(String, String)>,
        replay: Replay,
    ) -> Result<Request, Error> {
        Ok(Request { method, url: self.url(path, &[])?, body: Some(Body::Form(fields)), replay })
    }

    /// GET one JSON value.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, Error> {
        let request = self.request(Method::GET, path, query, None, Replay::Always)?;
        self.call(&request).await
    }

    /// GET every page of a list, 100 items a page.
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, Error> {
        let mut query = query.to_vec();
        query.push(("per_page", pagination::PER_PAGE.to_owned()));
        let mut request = self.request(Method::GET, path, &query, None, Replay::Always)?;
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let (headers, body) = self.execute(&request, &mut Budget::new(self.retry)).await?;
            let page: Vec<T> = decode_json(&request.endpoint(), &body)?;
            items.extend(page);
            match pagination::next_page(&headers) {
                None => return Ok(items),
                Some(NextPage::Number(page)) => {
                    let mut url = self.url(path, &query)?;
                    url.query_pairs_mut().append_pair("page", &page.to_string());
                    request.url = url;
                }
                Some(NextPage::Url(next)) => request.url = self.same_origin(&request, &next)?,
            }
        }
        Err(Error::Decode {
            endpoint: request.endpoint(),
            path: "x-next-page".to_owned(),
            message: format!("more than {MAX_PAGES} pages; the pagination headers loop"),
        })
    }

    /// The first page only (up to 100 items): for "the most recent notes".
    pub(crate) async fn get_first_page<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, Error> {
        let mut query = query.to_vec();
        query.push(("per_page", pagination::PER_PAGE.to_owned()));
        self.get(path, &query).await
    }

    /// Sends `request` with retries as its [`Replay`] allows and decodes the JSON answer.
    pub(crate) async fn call<T: DeserializeOwned>(&self, request: &Request) -> Result<T, Error> {
        let (_, body) = self.execute(request, &mut Budget::new(self.retry)).await?;
        decode_json(&request.endpoint(), &body)
    }

    /// Sends a write that must not take effect twice. When an attempt fails in a way that may
    /// have stored the write, `landed` looks for its effect (a note carrying our marker, an MR
    /// for the branch) and its answer is returned; only when nothing landed is the write sent
    /// again, within the same retry budget.
    pub(crate) async fn call_reconciled<T, F, Fut>(&self, request: &Request, mut landed: F) -> Result<T, Error>
    where
        T: DeserializeOwned,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, Error>>,
    {
        debug_assert_eq!(request.replay, Replay::OnlyUnsent);
        let mut budget = Budget::new(self.retry);
        loop {
            match self.execute(request, &mut budget).await {
                Ok((_, body)) => return decode_json(&request.endpoint(), &body),
                Err(error) if error.may_have_landed() => {
                    if let Some(found) = landed().await? {
                        tracing::info!(endpoint = %request.endpoint(), "an earlier attempt had landed; not sending again");
                        return Ok(found);
                    }
                    let Some(delay) = budget.next_delay(None) else { return Err(error) };
                    tracing::warn!(endpoint = %request.endpoint(), ?delay, "the write did not land; sending it again");
                    tokio::time::sleep(delay).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Sends `request` with retries and reads the whole body.
    pub(crate) async fn execute(&self, request: &Request, budget: &mut Budget) -> Result<(HeaderMap, Bytes), Error> {
        let span = request_span(request);
        async {
            loop {
                let failure = match self.attempt(request, budget).await {
                    Ok(response) => {
                        let headers = response.headers().clone();
                        match response.bytes().await {
                            Ok(body) => return Ok((headers, body)),
                            Err(source) => Failure {
                                retryable: request.replay == Replay::Always,
                                error: Error::Transport {
                                    endpoint: request.endpoint(),
                                    attempts: budget.attempts(),
                                    source,
                                },
                                server_wait: None,
                            },
                        }
                    }
                    Err(failure) => failure,
                };
                self.wait_or_fail(request, budget, failure).await?;
            }
        }
        .instrument(span)
        .await
    }

    /// Sends `request` with retries and hands over the response with its body unread.
    pub(crate) async fn execute_streaming(&self, request: &Request) -> Result<reqwest::Response, Error> {
        let span = request_span(request);
        let mut budget = Budget::new(self.retry);
        async {
            loop {
                match self.attempt(request, &mut budget).await {
                    Ok(response) => return Ok(response),
                    Err(failure) => self.wait_or_fail(request, &mut budget, failure).await?,
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One attempt: a response with a success status, or what went wrong and whether it may be
    /// retried.
    async fn attempt(&self, request: &Request, budget: &mut Budget) -> Result<reqwest::Response, Failure> {
        let attempt = budget.start_attempt();
        tracing::Span::current().record("attempt", attempt);
        let mut builder =
            self.http.request(request.method.clone(), request.url.clone()).header("PRIVATE-TOKEN", self.token.clone());
        match &request.body {
            Some(Body::Json(body)) => builder = builder.json(body),
            Some(Body::Form(fields)) => builder = builder.form(fields),
            None => {}
        }
        let endpoint = request.endpoint();
        match builder.send().await {
            Ok(response) => {
                let status = response.status();
                tracing::Span::current().record("status", status.as_u16());
                if status.is_success() {
                    tracing::debug!(status = status.as_u16(), attempt, "gitlab answered");
                    return Ok(response);
                }
                let server_wait = (status == StatusCode::TOO_MANY_REQUESTS)
                    .then(|| retry::rate_limit_wait(response.headers(), SystemTime::now()))
                    .flatten();
                let body = response.text().await.unwrap_or_default();
                let mut error = Error::from_status(endpoint, status.as_u16(), &body, attempt);
                if let Error::RateLimited { retry_after, .. } = &mut error {
                    *retry_after = server_wait;
                }
                let retryable = match status.as_u16() {
                    // GitLab refused before acting: always safe to send again.
                    429 => true,
                    // The request may have been processed before the failure.
                    500 | 502 | 503 | 504 => request.replay == Replay::Always,
                    _ => false,
                };
                Err(Failure { error, server_wait, retryable })
            }
            Err(source) => {
                // A refused connection never reached GitLab; anything later may have.
                // An untrusted certificate stays untrusted.
                let retryable = (source.is_connect() || request.replay == Replay::Always)
                    && !crate::http::is_untrusted_certificate(&source);
                Err(Failure {
                    error: Error::Transport { endpoint, attempts: attempt, source },
                    server_wait: None,
                    retryable,
                })
            }
        }
    }

    /// Sleeps before the next attempt, or returns the failure's error when it may not be
    /// retried or the budget is spent.
    async fn wait_or_fail(&self, request: &Request, budget: &mut Budget, failure: Failure) -> Result<(), Error> {
        let Failure { error, server_wait, retryable } = failure;
        if !retryable {
            return Err(error);
        }
        let Some(delay) = budget.next_delay(server_wait) else {
            tracing::warn!(endpoint = %request.endpoint(), attempts = budget.attempts(), "giving up on gitlab: {error}");
            return Err(with_attempts(error, budget.attempts()));
        };
        tracing::warn!(endpoint = %request.endpoint(), attempt = budget.attempts(), ?delay, "retrying gitlab request: {error}");
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// Resolves a `Link: rel="next"` URL, refusing one that points elsewhere: the token is sent
    /// to wherever it points.
    fn same_origin(&self, request: &Request, next: &str) -> Result<Url, Error> {
        Url::parse(next).ok().filter(|url| url.origin() == self.api_url.origin()).ok_or_else(|| Error::Decode {
            endpoint: request.endpoint(),
            path: "link".to_owned(),
            message: "the next page is on another origin".to_owned(),
        })
    }
}

fn request_span(request: &Request) -> tracing::Span {
    tracing::debug_span!(
        "gitlab_request",
        method = %request.method,
        path = %request.url.path(),
        status = tracing::field::Empty,
        attempt = tracing::field::Empty,
    )
}

fn with_attempts(error: Error, total: u32) -> Error {
    match error {
        Error::RateLimited { endpoint, retry_after, .. } => {
            Error::RateLimited { endpoint, attempts: total, retry_after }
        }
        Error::Status { endpoint, code, body, .. } => Error::Status { endpoint, code, body, attempts: total },
        Error::Transport { endpoint, source, .. } => Error::Transport { endpoint, attempts: total, source },
        other => other,
    }
}

/// Decodes JSON, naming the exact field that did not match.
pub(crate) fn decode_json<T: DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<T, Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| Error::Decode {
        endpoint: endpoint.to_owned(),
        path: error.path().to_string(),
        message: error.inner().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids_are_numbers_or_encoded_paths() {
        assert_eq!(ProjectId::from(42).segment(), "42");
        assert_eq!(ProjectId::from("42").segment(), "42");
        assert_eq!(ProjectId::from("group/sub.group/my-project").segment(), "group%2Fsub.group%2Fmy-project");
        assert_eq!(encode_segment("copilot/issue-7 x"), "copilot%2Fissue-7%20x");
    }

    #[test]
    fn the_token_header_is_sensitive_and_absent_from_debug_output() {
        let client =
            Client::new("https://gitlab.example/api/v4/", &SecretString::from("glpat-secret-value-1")).unwrap();
        assert!(client.token.is_sensitive());
        assert_eq!(client.api_url(), "https://gitlab.example/api/v4");
        assert!(!format!("{client:?}").contains("glpat-secret-value-1"));
        let url = client.url("/projects/g%2Fp/issues", &[("state", "opened".into())]).unwrap();
        assert_eq!(url.as_str(), "https://gitlab.example/api/v4/projects/g%2Fp/issues?state=opened");
    }

    #[test]
    fn bad_api_urls_and_tokens_are_setup_errors() {
        for url in ["gitlab.example", "ftp://gitlab.example/api/v4", ""] {
            let error = Client::new(url, &SecretString::from("token")).unwrap_err();
            assert!(matches!(error, Error::Setup { .. }), "{url}: {error}");
        }
        let error = Client::new("https://gitlab.example", &SecretString::from("bad\ntoken")).unwrap_err();
        assert!(matches!(error, Error::Setup { .. }));
        assert!(!error.to_string().contains("bad"));
    }

    /// A redirect to another origin is not followed, so the token never reaches that host.
    #[tokio::test]
    async fn the_token_does_not_follow_a_redirect_to_another_origin() {
        use std::sync::{Arc, Mutex};

        let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
        let record = Arc::clone(&seen);
        let elsewhere = axum::Router::new().route(
            "/{*rest}",
            axum::routing::get(move |headers: axum::http::HeaderMap| async move {
                let token = headers.get("private-token").map(|value| value.to_str().unwrap_or("").to_owned());
                record.lock().unwrap().push(token);
                "{}"
            }),
        );
        let other = serve(elsewhere).await;
        let target = format!("http://{other}/stolen");
        let redirecting = axum::Router::new().route(
            "/api/v4/user",
            axum::routing::get(move || async move { axum::response::Redirect::temporary(&target) }),
        );
        let gitlab = serve(redirecting).await;
        let client =
            Client::new(&format!("http://{gitlab}/api/v4"), &SecretString::from("glpat-redirect-secret")).unwrap();
        let error = client.current_user().await.unwrap_err();
        assert!(matches!(error, Error::Status { code: 307, .. }), "{error}");
        assert!(seen.lock().unwrap().is_empty(), "the other origin was called: {:?}", seen.lock().unwrap());
    }

    /// Keyset pagination answers with a `Link` header only; a `Link` to another origin is refused.
    #[tokio::test]
    async fn pages_linked_only_by_the_link_header_are_followed_within_the_origin() {
        use axum::extract::{Query, State};
        use axum::http::header::LINK;

        type Base = Arc<std::sync::OnceLock<String>>;
        async fn items(
            State(base): State<Base>,
            Query(query): Query<std::collections::HashMap<String, String>>,
        ) -> impl axum::response::IntoResponse {
            let cursor: u32 = query.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
            let base = base.get().cloned().unwrap_or_default();
            let link = if cursor < 2 {
                format!("<{base}/api/v4/items?cursor={}&pagination=keyset>; rel=\"next\"", cursor + 1)
            } else {
                String::new()
            };
            ([(LINK, link)], serde_json::json!([cursor * 2, cursor * 2 + 1]).to_string())
        }
        async fn foreign() -> impl axum::response::IntoResponse {
            ([(LINK, "<http://elsewhere.invalid/api/v4/foreign?cursor=1>; rel=\"next\"")], "[1]")
        }
        let base: Base = Arc::default();
        let router = axum::Router::new()
            .route("/api/v4/items", axum::routing::get(items))
            .route("/api/v4/foreign", axum::routing::get(foreign))
            .with_state(Arc::clone(&base));
        let addr = serve(router).await;
        base.set(format!("http://{addr}")).unwrap();
        let client = Client::new(&format!("http://{addr}/api/v4"), &SecretString::from("token-for-pages")).unwrap();
        let all = client.get_all::<u32>("/items", &[("pagination", "keyset".into())]).await.unwrap();
        assert_eq!(all, [0, 1, 2, 3, 4, 5]);
        let error = client.get_all::<u32>("/foreign", &[]).await.unwrap_err();
        assert!(matches!(&error, Error::Decode { path, .. } if path == "link"), "{error}");
    }

    async fn serve(router: axum::Router) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        addr
    }

    #[test]
    fn decode_errors_name_the_json_path() {
        #[derive(Debug, serde::Deserialize)]
        struct Outer {
            #[expect(dead_code, reason = "only decoded")]
            items: Vec<Inner>,
        }
        #[derive(Debug, serde::Deserialize)]
        struct Inner {
            #[expect(dead_code, reason = "only decoded")]
            id: u64,
        }
        let error = decode_json::<Outer>("GET /x", br#"{"items":[{"id":1},{"id":"two"}]}"#).unwrap_err();
        let Error::Decode { path, .. } = &error else { panic!("{error}") };
        assert_eq!(path, "items[1].id");
    }
}
