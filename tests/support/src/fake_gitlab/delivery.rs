//! Webhook deliveries as GitLab makes them: the sample payload of a test delivery, the headers
//! GitLab sends with it, the POST itself, and the record `…/hooks/:hook_id/events` lists.
//!
//! GitLab's `WebHookService` posts the JSON body with `Content-Type`, `User-Agent:
//! GitLab/<version>`, `Idempotency-Key`, `X-Gitlab-Event`, `X-Gitlab-Webhook-UUID`,
//! `X-Gitlab-Instance`, `X-Gitlab-Event-UUID` and, when the hook has a secret token,
//! `X-Gitlab-Token`. A response of any status is a response (its body is kept, 8 KiB at most);
//! a connection that fails, times out or is refused by the instance's outbound-request rules is
//! an `internal error` with the error's text, worded as GitLab's Ruby HTTP client words it.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::clock::now;
use super::model::{Hook, HookDelivery, Project, State, User};
use super::repo::CommitInfo;

/// The version the fake calls itself in `User-Agent`.
pub const GITLAB_VERSION: &str = "18.6.0";

/// GitLab.com's webhook timeout (self-managed: `gitlab_rails['webhook_timeout']`, also 10 s).
const TIMEOUT: Duration = Duration::from_secs(10);

/// What GitLab keeps of a response body.
const RESPONSE_BODY_LIMIT: usize = 8 * 1024;

/// The test triggers GitLab offers (`ProjectHook.triggers`) and the event header each sends.
pub const TEST_TRIGGERS: &[(&str, &str)] = &[
    ("push_events", "Push Hook"),
    ("tag_push_events", "Tag Push Hook"),
    ("issues_events", "Issue Hook"),
    ("confidential_issues_events", "Confidential Issue Hook"),
    ("note_events", "Note Hook"),
    ("confidential_note_events", "Confidential Note Hook"),
    ("merge_requests_events", "Merge Request Hook"),
    ("job_events", "Job Hook"),
    ("pipeline_events", "Pipeline Hook"),
    ("wiki_page_events", "Wiki Page Hook"),
    ("releases_events", "Release Hook"),
    ("emoji_events", "Emoji Hook"),
    ("resource_access_token_events", "Resource Access Token Hook"),
];

/// One outgoing delivery, ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub hook: Hook,
    /// `push_hooks`, as GitLab names the trigger in its delivery log.
    pub trigger: String,
    pub event: String,
    pub payload: Value,
    pub instance_url: String,
    pub local_requests_blocked: bool,
}

/// `Gitlab::DataBuilder::Push.build_sample`: a push of the default branch's latest commit.
pub fn sample_push(state: &State, project: &Project, user: &User, head: &CommitInfo) -> Value {
    let web_url = state.web_url_of_project(project);
    let project_value = json!({
        "id": project.id,
        "name": project.name(),
        "description": "",
        "web_url": web_url,
        "avatar_url": null,
        "git_ssh_url": format!("git@{}:{}.git", host_of(&state.base_url), project.path_with_namespace),
        "git_http_url": format!("{web_url}.git"),
        "namespace": project.namespace(),
        "visibility_level": 0,
        "path_with_namespace": project.path_with_namespace,
        "default_branch": project.default_branch,
        "ci_config_path": null,
        "homepage": web_url,
        "url": format!("git@{}:{}.git", host_of(&state.base_url), project.path_with_namespace),
        "ssh_url": format!("git@{}:{}.git", host_of(&state.base_url), project.path_with_namespace),
        "http_url": format!("{web_url}.git"),
    });
    json!({
        "object_kind": "push",
        "event_name": "push",
        "before": head.parent_ids.first().cloned().unwrap_or_else(|| "0".repeat(40)),
        "after": head.id,
        "ref": format!("refs/heads/{}", project.default_branch),
        "ref_protected": true,
        "checkout_sha": head.id,
        "message": null,
        "user_id": user.id,
        "user_name": user.name,
        "user_username": user.username,
        "user_email": "[REDACTED]",
        "user_avatar": format!("{}/uploads/-/system/user/avatar/{}/avatar.png", state.base_url, user.id),
        "project_id": project.id,
        "project": project_value,
        "commits": [{
            "id": head.id,
            "message": head.message,
            "title": head.title,
            "timestamp": head.committed_date,
            "url": format!("{web_url}/-/commit/{}", head.id),
            "author": {"name": head.author_name, "email": "[REDACTED]"},
            "added": [],
            "modified": [],
            "removed": [],
        }],
        "total_commits_count": 1,
        "push_options": {},
        "repository": {
            "name": project.name(),
            "url": format!("git@{}:{}.git", host_of(&state.base_url), project.path_with_namespace),
            "description": "",
            "homepage": web_url,
            "git_http_url": format!("{web_url}.git"),
            "git_ssh_url": format!("git@{}:{}.git", host_of(&state.base_url), project.path_with_namespace),
            "visibility_level": 0,
        },
    })
}

fn host_of(base_url: &str) -> &str {
    base_url.split_once("://").map_or(base_url, |(_, rest)| rest).split(['/', ':']).next().unwrap_or_default()
}

/// A UUID-shaped identifier, unique within the process.
fn uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:08x}-7a6b-4c3d-8e9f-{:012x}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Whether `url` points at this machine or a private network, which GitLab refuses unless the
/// admin allows "requests to the local network from webhooks and integrations".
pub fn is_local(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified(),
        Ok(IpAddr::V6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    }
}

/// Sends `outgoing` and returns the record of what happened (its `id` is set by the caller).
pub async fn send(outgoing: Outgoing) -> HookDelivery {
    let Outgoing { hook, trigger, event, payload, instance_url, local_requests_blocked } = outgoing;
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("User-Agent".to_owned(), format!("GitLab/{GITLAB_VERSION}")),
        ("Idempotency-Key".to_owned(), uuid()),
        ("X-Gitlab-Event".to_owned(), event),
        ("X-Gitlab-Webhook-UUID".to_owned(), format!("hook-{}-{}", hook.id, uuid())),
        ("X-Gitlab-Instance".to_owned(), instance_url),
        ("X-Gitlab-Event-UUID".to_owned(), uuid()),
    ];
    let body = payload.to_string();
    let started = Instant::now();
    let outcome = post(&hook, &headers, &body, local_requests_blocked).await;
    // The log shows the request's headers with the secret token hidden, as GitLab's does.
    if hook.token.is_some() {
        headers.push(("X-Gitlab-Token".to_owned(), "[REDACTED]".to_owned()));
    }
    let (response_status, response_body, internal_error_message) = match outcome {
        Ok((status, body)) => (status.to_string(), truncate(body), None),
        Err(message) => ("internal error".to_owned(), String::new(), Some(message)),
    };
    HookDelivery {
        id: 0,
        hook_id: hook.id,
        trigger,
        url: hook.url.clone(),
        request_headers: headers,
        request_data: body,
        response_status,
        response_body,
        internal_error_message,
        execution_duration: started.elapsed().as_secs_f64(),
        created_at: now(),
    }
}

fn truncate(mut body: String) -> String {
    if body.len() > RESPONSE_BODY_LIMIT {
        let mut cut = RESPONSE_BODY_LIMIT;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
    }
    body
}

/// The POST: the status and body, or the error text GitLab reports.
async fn post(
    hook: &Hook,
    headers: &[(String, String)],
    body: &str,
    local_requests_blocked: bool,
) -> Result<(u16, String), String> {
    let url = reqwest::Url::parse(&hook.url).map_err(|error| format!("bad URI(is not URI?): {error}"))?;
    if local_requests_blocked && is_local(&url) {
        return Err("URL is blocked: Requests to the local network are not allowed".to_owned());
    }
    if url.scheme() == "https" {
        // The fake speaks plain HTTP only; a TLS endpoint is out of its reach.
        return Err(format!(
            "SSL_connect returned=1 errno=0 peeraddr={}:{} state=error: certificate verify failed",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(443)
        ));
    }
    // Whichever caller came first installed it; the error only says one is there already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    #[expect(clippy::disallowed_methods, reason = "the fake GitLab is a separate program with its own HTTP client")]
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| error.to_string())?;
    let mut request = client.post(url.clone()).body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if let Some(token) = &hook.token {
        request = request.header("X-Gitlab-Token", token);
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            Ok((status, response.text().await.unwrap_or_default()))
        }
        Err(error) if error.is_connect() => Err(format!(
            "Failed to open TCP connection to {host}:{port} (Connection refused - connect(2) for \"{host}\" port {port})"
        )),
        Err(error) if error.is_timeout() => Err("Net::ReadTimeout with #<TCPSocket:(closed)>".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}
