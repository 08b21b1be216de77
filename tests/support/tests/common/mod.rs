//! Shared plumbing for the fake GitLab's own tests: an HTTP client speaking to it with a token,
//! and a merge request to comment on.
#![allow(dead_code, reason = "each test crate uses a different subset")]
#![expect(clippy::disallowed_methods, reason = "the rig's own tests build a plain HTTP client")]

use copilot_runner_testkit::FakeGitLab;
use reqwest::{Method, Response};
use serde_json::Value;

/// A plain HTTP client. Inside the workspace reqwest is built with `rustls-no-provider` (the
/// product installs ring itself), so the rig's tests install the same provider first.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A client that authenticates as one user.
pub struct As<'a> {
    pub fake: &'a FakeGitLab,
    pub token: Option<String>,
    http: reqwest::Client,
}

pub fn as_user<'a>(fake: &'a FakeGitLab, username: &str) -> As<'a> {
    As { fake, token: Some(fake.token(username)), http: http_client() }
}

pub fn anonymous(fake: &FakeGitLab) -> As<'_> {
    As { fake, token: None, http: http_client() }
}

impl As<'_> {
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}{path}", self.fake.api_url());
        let builder = self.http.request(method, url);
        match &self.token {
            Some(token) => builder.header("PRIVATE-TOKEN", token),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.expect("GET reaches the fake")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert!(response.status().is_success(), "GET {path}: {}", response.status());
        response.json().await.expect("JSON body")
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path).json(&body).send().await.expect("POST reaches the fake")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.request(Method::POST, path).form(form).send().await.expect("POST reaches the fake")
    }

    pub async fn put_json(&self, path: &str, body: Value) -> Response {
        self.request(Method::PUT, path).json(&body).send().await.expect("PUT reaches the fake")
    }
}

/// The status and the JSON body of a response.
pub async fn status_json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// `alice` changes one line of `acme/widgets`' `src/lib.rs` on `feature`, and the agent opens a
/// merge request of it. Returns the merge request as GitLab answered and the changed line.
pub async fn merge_request_changing_one_line(fake: &FakeGitLab) -> (Value, usize) {
    let lib = fake.read_file("acme/widgets", "main", "src/lib.rs").await.unwrap();
    let changed = lib.replace("a * b", "a.wrapping_mul(b)");
    fake.push_files("acme/widgets", "feature", &[("src/lib.rs", Some(&changed))], "Wrap", "alice").await.unwrap();
    let (status, mr) = status_json(
        as_user(fake, "copilot-agent")
            .post_json(
                "/projects/acme%2Fwidgets/merge_requests",
                serde_json::json!({"source_branch": "feature", "target_branch": "main", "title": "Wrap"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 201, "{mr}");
    let line = changed.lines().position(|l| l.contains("wrapping_mul")).unwrap() + 1;
    (mr, line)
}
