//! A scripted OpenAI-compatible model server, so the real Copilot CLI runs offline in tests
//! (`COPILOT_OFFLINE=true`, `COPILOT_PROVIDER_BASE_URL=<base_url>`).
//!
//! It serves `POST /v1/chat/completions` (SSE or plain JSON, as the request asks) and
//! `GET /v1/models` on `127.0.0.1:0`, answers from a [`Script`], and records every request so a
//! test can assert on what the CLI sent: the prompt, the tool results it sent back, and that no
//! secret ever left the process.

mod script;
mod wire;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub use script::{Reply, Rule, Scope, Script, ToolCall, Usage, content_text};
use wire::Answer;

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RecordedRequest {
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The chat messages of a completion request.
    pub fn messages(&self) -> Vec<Value> {
        self.json().get("messages").and_then(Value::as_array).cloned().unwrap_or_default()
    }

    /// The names of the tools the request advertises to the model.
    pub fn tool_names(&self) -> Vec<String> {
        let tools = self.json().get("tools").and_then(Value::as_array).cloned().unwrap_or_default();
        tools.iter().filter_map(|tool| Some(tool.pointer("/function/name")?.as_str()?.to_owned())).collect()
    }

    /// Every tool result (`role: tool`) the CLI sent back in this request.
    pub fn tool_results(&self) -> Vec<String> {
        self.messages()
            .iter()
            .filter(|message| message.get("role").and_then(Value::as_str) == Some("tool"))
            .map(content_text)
            .collect()
    }
}

struct Shared {
    script: Script,
    requests: Mutex<Vec<RecordedRequest>>,
    /// How many requests arrived; waiters watch it.
    arrivals: tokio::sync::watch::Sender<usize>,
    /// The gates the test opened for [`Reply::Held`].
    gates: tokio::sync::watch::Sender<BTreeSet<String>>,
}

/// A running mock model; it stops when dropped.
#[derive(Debug)]
pub struct MockModel {
    addr: SocketAddr,
    shared: Arc<SharedHandle>,
    server: tokio::task::JoinHandle<()>,
}

/// Wraps the state so `MockModel` can derive `Debug` without printing every request.
struct SharedHandle(Shared);

impl std::fmt::Debug for SharedHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockModelState").field("rules", &self.0.script.rules.len()).finish_non_exhaustive()
    }
}

impl MockModel {
    /// Starts serving `script` on a free loopback port.
    pub async fn start(script: Script) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(listener, script)
    }

    /// Serves `script` on an already bound listener (the `mock-model` binary picks its port).
    pub fn serve(listener: tokio::net::TcpListener, script: Script) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(SharedHandle(Shared {
            script,
            requests: Mutex::new(Vec::new()),
            arrivals: tokio::sync::watch::Sender::new(0),
            gates: tokio::sync::watch::Sender::new(BTreeSet::new()),
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .route("/v1/models", get(models))
            .fallback(unknown_route)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            // The server ends only when the test drops the mock; an accept error ends it early
            // and the CLI then sees a closed port, which the test reports.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, server })
    }

    /// The provider base URL for `COPILOT_PROVIDER_BASE_URL` (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.0.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Only the chat-completion requests.
    pub fn completions(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|request| request.path.ends_with("/chat/completions")).collect()
    }

    /// Waits until a request whose body contains `needle` arrives (or has arrived), up to
    /// `timeout`; e.g. the first call of a stage, to act while the agent waits for the answer.
    pub async fn wait_for_request(&self, needle: &str, timeout: Duration) -> anyhow::Result<RecordedRequest> {
        let mut arrivals = self.shared.0.arrivals.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            arrivals.borrow_and_update();
            if let Some(found) = self.requests().into_iter().find(|request| request.body.contains(needle)) {
                return Ok(found);
            }
            tokio::time::timeout_at(deadline, arrivals.changed())
                .await
                .with_context(|| format!("no request containing `{needle}` within {timeout:?}"))?
                .context("the mock model stopped")?;
        }
    }

    /// Opens `gate`: every [`Reply::Held`] waiting on it (and any later one) answers.
    pub fn open_gate(&self, gate: &str) {
        self.shared.0.gates.send_modify(|gates| {
            gates.insert(gate.to_owned());
        });
    }

    /// Whether `needle` appears anywhere in any recorded request (headers or body).
    pub fn saw(&self, needle: &str) -> bool {
        self.requests().iter().any(|request| {
            request.body.contains(needle) || request.headers.iter().any(|(_, value)| value.contains(needle))
        })
    }
}

impl Drop for MockModel {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A provider URL whose port nobody listens on: the "model unreachable" case.
pub async fn unreachable_base_url() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{addr}/v1"))
}

fn record(shared: &Shared, method: &str, path: &str, headers: &HeaderMap, body: &[u8]) {
    let headers = headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let request = RecordedRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
        body: String::from_utf8_lossy(body).into_owned(),
    };
    shared.requests.lock().unwrap_or_else(PoisonError::into_inner).push(request);
    shared.arrivals.send_modify(|count| *count += 1);
}

async fn chat_completions(State(shared): State<Arc<SharedHandle>>, headers: HeaderMap, body: Bytes) -> Response {
    let shared = &shared.0;
    let call_base = {
        record(shared, "POST", "/v1/chat/completions", &headers, &body);
        shared.requests.lock().unwrap_or_else(PoisonError::into_inner).len()
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": "body is not JSON"}}))).into_response();
    };
    let messages = request.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
    let streaming = request.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let mut reply = shared.script.reply_for(&messages);
    while let Reply::Held { gate, reply: then } = reply {
        // The sender lives as long as the server: the wait ends when the test opens the gate.
        let _opened = shared.gates.subscribe().wait_for(|gates| gates.contains(&gate)).await.is_ok();
        reply = *then;
    }
    let answer = match &reply {
        Reply::Text { text } => Answer::Text(text),
        Reply::ToolCalls { calls } => {
            if let Some(unknown) = unadvertised_tool(&request, calls) {
                // A script that calls a tool the CLI did not offer would test nothing: say so loudly.
                let message = format!("mock-model: the script calls `{unknown}`, which the request does not advertise");
                return (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": message}}))).into_response();
            }
            Answer::ToolCalls(calls)
        }
        Reply::Error { status, body } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, [(header::CONTENT_TYPE, "application/json")], body.clone()).into_response();
        }
        // A held reply was resolved above; it never gets here.
        Reply::Hang | Reply::Held { .. } => std::future::pending().await,
    };
    let id = format!("chatcmpl-{call_base}");
    let model = &shared.script.model;
    if streaming {
        let body = wire::stream(&id, model, &answer, shared.script.usage, call_base * 100);
        ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
    } else {
        Json(wire::completion(&id, model, &answer, shared.script.usage, call_base * 100)).into_response()
    }
}

/// The first scripted call whose tool the request's `tools` list does not name (requests
/// without a `tools` list accept any).
fn unadvertised_tool<'a>(request: &Value, calls: &'a [ToolCall]) -> Option<&'a str> {
    let tools = request.get("tools")?.as_array()?;
    let advertised: Vec<&str> =
        tools.iter().filter_map(|tool| tool.pointer("/function/name").and_then(Value::as_str)).collect();
    calls.iter().map(|call| call.name.as_str()).find(|name| !advertised.contains(name))
}

async fn models(State(shared): State<Arc<SharedHandle>>, headers: HeaderMap) -> Response {
    let shared = &shared.0;
    record(shared, "GET", "/v1/models", &headers, b"");
    Json(json!({
        "object": "list",
        "data": [{ "id": shared.script.model, "object": "model", "created": 0, "owned_by": "mock-model" }],
    }))
    .into_response()
}

async fn unknown_route(
    State(shared): State<Arc<SharedHandle>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared.0, method.as_str(), uri.path(), &headers, &body);
    (StatusCode::NOT_FOUND, Json(json!({"error": {"message": format!("no route for {method} {uri}")}}))).into_response()
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// One HTTP/1.1 exchange over a raw socket (the testkit has no HTTP client of its own).
    async fn exchange(model: &MockModel, method: &str, path: &str, body: &str) -> String {
        let mut socket = tokio::net::TcpStream::connect(model.addr()).await.unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\nauthorization: Bearer test-key\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        socket.read_to_string(&mut response).await.unwrap();
        response
    }

    fn script() -> Script {
        Script::new().rule(Rule::when("STAGE one").then(Reply::bash("ls", "List")).then(Reply::text("listed")))
    }

    #[tokio::test]
    async fn streams_tool_calls_as_sse_with_a_usage_chunk_and_records_the_request() {
        let model = MockModel::start(script()).await.unwrap();
        let body = r#"{"stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "STAGE one"}]}"#;
        let response = exchange(&model, "POST", "/v1/chat/completions", body).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("content-type: text/event-stream"), "{response}");
        assert!(response.contains(r#""tool_calls":[{"function":{"arguments":"{\"command\":\"ls\""#), "{response}");
        assert!(response.contains(r#""finish_reason":"tool_calls""#), "{response}");
        assert!(response.contains(r#""usage":{"completion_tokens":10,"prompt_tokens":100,"total_tokens":110}"#));
        assert!(response.trim_end().ends_with("data: [DONE]"), "{response}");
        let recorded = model.requests();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].messages().len(), 1);
        assert!(model.saw("test-key"));
    }

    #[tokio::test]
    async fn answers_plain_json_when_not_streaming_and_lists_its_model() {
        let model = MockModel::start(script()).await.unwrap();
        let body = r#"{"messages": [{"role": "user", "content": "STAGE one"},
            {"role": "assistant", "content": null}, {"role": "tool", "content": "a.txt"}]}"#;
        let response = exchange(&model, "POST", "/v1/chat/completions", body).await;
        let json: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(json["choices"][0]["message"]["content"], "listed");
        assert_eq!(json["choices"][0]["finish_reason"], "stop");
        assert_eq!(model.requests()[0].tool_results(), ["a.txt"]);
        let models = exchange(&model, "GET", "/v1/models", "").await;
        assert!(models.contains(r#""id":"gpt-4.1""#), "{models}");
    }

    #[tokio::test]
    async fn a_script_calling_a_tool_the_request_does_not_offer_is_refused() {
        let model = MockModel::start(script()).await.unwrap();
        let body = r#"{"messages": [{"role": "user", "content": "STAGE one"}],
            "tools": [{"type": "function", "function": {"name": "view"}}]}"#;
        let response = exchange(&model, "POST", "/v1/chat/completions", body).await;
        assert!(response.starts_with("HTTP/1.1 400"), "{response}");
        assert!(response.contains("the script calls `bash`"), "{response}");
    }

    #[tokio::test]
    async fn a_held_reply_answers_once_its_gate_opens() {
        let script = Script::new().rule(Rule::when("STAGE held").then(Reply::held("go", Reply::text("released"))));
        let model = MockModel::start(script).await.unwrap();
        let body = r#"{"messages": [{"role": "user", "content": "STAGE held"}]}"#;
        let call = exchange(&model, "POST", "/v1/chat/completions", body);
        let release = async {
            model.wait_for_request("STAGE held", Duration::from_secs(10)).await.unwrap();
            model.open_gate("go");
        };
        let (response, ()) = tokio::join!(call, release);
        assert!(response.contains("released"), "{response}");
        assert!(model.wait_for_request("never sent", Duration::from_millis(50)).await.is_err());
    }

    #[tokio::test]
    async fn a_closed_port_refuses_connections() {
        let url = unreachable_base_url().await.unwrap();
        let addr = url.trim_start_matches("http://").trim_end_matches("/v1");
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
