//! Shared plumbing for the fake GitLab's own tests: an HTTP client speaking to it with a token.
#![allow(dead_code, reason = "each test crate uses a different subset")]
#![expect(clippy::disallowed_methods, reason = "the rig's own tests build a plain HTTP client")]

use copilot_runner_testkit::FakeGitLab;
use reqwest::{Method, Response};
use serde_json::Value;

/// A client that authenticates as one user.
pub struct As<'a> {
    pub fake: &'a FakeGitLab,
    pub token: Option<String>,
    http: reqwest::Client,
}

pub fn as_user<'a>(fake: &'a FakeGitLab, username: &str) -> As<'a> {
    As { fake, token: Some(fake.token(username)), http: reqwest::Client::new() }
}

pub fn anonymous(fake: &FakeGitLab) -> As<'_> {
    As { fake, token: None, http: reqwest::Client::new() }
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
