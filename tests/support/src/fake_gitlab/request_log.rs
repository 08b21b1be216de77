//! Every request the fake received, in order, for tests to assert on what a client sent (and
//! how often: a retried write shows up twice).

use serde::{Deserialize, Serialize};

use super::faults::path_matches;

/// One received request. API bodies are kept as text; git pack bodies are not kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// The raw path, still URL-encoded (`/api/v4/projects/acme%2Fwidgets`).
    pub path: String,
    pub query: Option<String>,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The status sent back; `None` when the connection was dropped or the response is streaming.
    pub status: Option<u16>,
    /// The injected fault, if one fired (`status 429`, `delay`, `reset`, `apply_then_reset`).
    pub fault: Option<String>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body's form fields (`application/x-www-form-urlencoded`), decoded, in the order sent;
    /// empty when the body is not a form.
    pub fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_str(&self.body).unwrap_or_default()
    }

    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// Whether `"METHOD /pattern"` or `"/pattern"` (any method) names this request; patterns as
    /// in fault rules.
    pub fn matches(&self, route: &str) -> bool {
        let (method, pattern) = match route.split_once(' ') {
            Some((method, pattern)) if !method.starts_with('/') => (Some(method), pattern),
            _ => (None, route),
        };
        method.is_none_or(|m| m == "*" || m.eq_ignore_ascii_case(&self.method)) && path_matches(pattern, &self.path)
    }
}
