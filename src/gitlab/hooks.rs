//! Webhooks of a project or a group: listing them, adding and editing the one our webhook
//! service needs, and asking GitLab for a test delivery (GitLab's "Project webhooks API",
//! https://docs.gitlab.com/api/project_webhooks/, and "Group webhooks API",
//! https://docs.gitlab.com/api/group_webhooks/; group webhooks need GitLab Premium, and GitLab
//! Free answers 403).
//!
//! The secret token is write-only: GitLab never shows it again, so whether a hook's token is
//! right shows only in a delivery. A test delivery is GitLab POSTing a sample payload to the
//! hook's URL right away; GitLab answers 201 when the receiver answered 2xx, else 422 whose
//! message is the receiver's response body or the connection's error, and it records every
//! delivery in the hook's log (`…/events`, with the receiver's status).
//!
//! Retry rules: reads, edits (a `PUT` of the given fields) and deletes are retried on every
//! transient failure. Adding a hook is sent again only when GitLab certainly did not act;
//! after an ambiguous failure the client looks for a hook with the same URL and returns it.
//! A test delivery is sent again only when GitLab certainly did not act.

use reqwest::Method;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::client::{Client, ProjectId};
use super::error::Error;
use super::retry::{Budget, Replay};

/// Whose hooks: a project's or a group's, by numeric id or full path as `:id` takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookParent {
    Project(ProjectId),
    Group(ProjectId),
}

impl HookParent {
    fn hooks_path(&self) -> String {
        match self {
            HookParent::Project(id) => format!("/projects/{}/hooks", id.segment()),
            HookParent::Group(id) => format!("/groups/{}/hooks", id.segment()),
        }
    }
}

/// A webhook as GitLab shows it (`ProjectHook`/`GroupHook` entities): never its token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Hook {
    pub id: u64,
    pub url: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub project_id: Option<u64>,
    #[serde(default)]
    pub group_id: Option<u64>,
    #[serde(flatten)]
    pub events: HookEvents,
    #[serde(default)]
    pub enable_ssl_verification: bool,
    #[serde(default)]
    pub push_events_branch_filter: Option<String>,
    /// `executable`, `temporarily_disabled` or `disabled` (after repeated failed deliveries).
    #[serde(default)]
    pub alert_status: Option<String>,
}

/// The triggers of a hook that matter to us. GitLab sends `null` for some flags of old hooks;
/// that reads as off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HookEvents {
    #[serde(default, deserialize_with = "null_is_off")]
    pub push_events: bool,
    #[serde(default, deserialize_with = "null_is_off")]
    pub issues_events: bool,
    #[serde(default, deserialize_with = "null_is_off")]
    pub confidential_issues_events: bool,
    #[serde(default, deserialize_with = "null_is_off")]
    pub note_events: bool,
    #[serde(default, deserialize_with = "null_is_off")]
    pub confidential_note_events: bool,
    #[serde(default, deserialize_with = "null_is_off")]
    pub merge_requests_events: bool,
    #[serde(default, deserialize_with = "null_is_off")]
    pub pipeline_events: bool,
}

fn null_is_off<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(false))
}

impl HookEvents {
    /// What copilot-runner's webhook service acts on: issues (assignment), comments (mentions),
    /// merge requests (a reviewer added) and pipelines (failures), confidential ones included.
    pub fn copilot_runner() -> Self {
        Self {
            push_events: false,
            issues_events: true,
            confidential_issues_events: true,
            note_events: true,
            confidential_note_events: true,
            merge_requests_events: true,
            pipeline_events: true,
        }
    }

    /// What `serve` needs delivered: [`HookEvents::copilot_runner`], the confidential issues and
    /// comments only when the agent may work on them (`COPILOT_ALLOW_CONFIDENTIAL`).
    pub fn for_serve(allow_confidential: bool) -> Self {
        Self {
            confidential_issues_events: allow_confidential,
            confidential_note_events: allow_confidential,
            ..Self::copilot_runner()
        }
    }

    /// Every flag with its value, by GitLab's parameter name.
    pub fn flags(&self) -> [(&'static str, bool); 7] {
        [
            ("push_events", self.push_events),
            ("issues_events", self.issues_events),
            ("confidential_issues_events", self.confidential_issues_events),
            ("note_events", self.note_events),
            ("confidential_note_events", self.confidential_note_events),
            ("merge_requests_events", self.merge_requests_events),
            ("pipeline_events", self.pipeline_events),
        ]
    }

    /// The flags `wanted` has on and these have off.
    pub fn missing(&self, wanted: &HookEvents) -> Vec<&'static str> {
        wanted
            .flags()
            .iter()
            .zip(self.flags())
            .filter(|((_, want), (_, have))| *want && !have)
            .map(|((n, _), _)| *n)
            .collect()
    }
}

/// What to set on a hook when adding or editing it.
#[derive(Debug, Clone)]
pub struct HookSpec {
    pub url: String,
    /// The secret token GitLab sends as `X-Gitlab-Token`; `None` leaves it as it is.
    pub token: Option<SecretString>,
    pub events: HookEvents,
    pub enable_ssl_verification: bool,
}

impl HookSpec {
    fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("url".into(), json!(self.url));
        body.insert("enable_ssl_verification".into(), json!(self.enable_ssl_verification));
        for (flag, on) in self.events.flags() {
            body.insert(flag.into(), json!(on));
        }
        if let Some(token) = &self.token {
            crate::redact::register(token.expose_secret());
            body.insert("token".into(), json!(token.expose_secret()));
        }
        Value::Object(body)
    }
}

/// How a test delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestDelivery {
    /// The receiver answered 2xx.
    Delivered,
    /// GitLab's message: the receiver's response body, or why no response came (a refused
    /// connection, a TLS error, a URL the instance does not allow).
    Failed { message: String },
}

/// One delivery in a hook's log (`WebHookLog`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HookEvent {
    pub id: u64,
    #[serde(default)]
    pub url: String,
    /// `push_hooks`, `note_hooks`, …
    #[serde(default)]
    pub trigger: String,
    /// The receiver's HTTP status as text, or `internal error` when no response came.
    #[serde(default, deserialize_with = "status_text")]
    pub response_status: String,
    #[serde(default)]
    pub response_body: String,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// GitLab documents the status as a string; older versions sent a number.
fn status_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => text,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

impl Client {
    /// `GET …/hooks`: every hook of the project or group (Maintainer role for a project's,
    /// Owner for a group's).
    pub async fn hooks(&self, parent: &HookParent) -> Result<Vec<Hook>, Error> {
        self.get_all(&parent.hooks_path(), &[]).await
    }

    /// `POST …/hooks`: adds a hook; see the module comment for how a retry is reconciled.
    pub async fn create_hook(&self, parent: &HookParent, spec: &HookSpec) -> Result<Hook, Error> {
        let path = parent.hooks_path();
        let request = self.request(Method::POST, &path, &[], Some(spec.body()), Replay::OnlyUnsent)?;
        self.call_reconciled(&request, || async {
            Ok(self.hooks(parent).await?.into_iter().find(|hook| hook.url == spec.url))
        })
        .await
    }

    /// `PUT …/hooks/:hook_id`: sets every field of `spec` on the hook.
    pub async fn update_hook(&self, parent: &HookParent, hook_id: u64, spec: &HookSpec) -> Result<Hook, Error> {
        let path = format!("{}/{hook_id}", parent.hooks_path());
        let request = self.request(Method::PUT, &path, &[], Some(spec.body()), Replay::Always)?;
        self.call(&request).await
    }

    /// `DELETE …/hooks/:hook_id`; a hook already gone counts as deleted.
    pub async fn delete_hook(&self, parent: &HookParent, hook_id: u64) -> Result<(), Error> {
        let path = format!("{}/{hook_id}", parent.hooks_path());
        let request = self.request(Method::DELETE, &path, &[], None, Replay::Always)?;
        match self.execute(&request, &mut Budget::new(self.retry_policy())).await {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// `POST …/hooks/:hook_id/test/:trigger`: GitLab delivers a sample `trigger` event
    /// (`push_events`, `note_events`, …) to the hook now and says how it went.
    pub async fn test_hook(&self, parent: &HookParent, hook_id: u64, trigger: &str) -> Result<TestDelivery, Error> {
        let path = format!("{}/{hook_id}/test/{trigger}", parent.hooks_path());
        let request = self.request(Method::POST, &path, &[], None, Replay::OnlyUnsent)?;
        match self.execute(&request, &mut Budget::new(self.retry_policy())).await {
            Ok(_) => Ok(TestDelivery::Delivered),
            Err(Error::Status { code: 422, body, .. }) => Ok(TestDelivery::Failed { message: body }),
            Err(error) => Err(error),
        }
    }

    /// `GET …/hooks/:hook_id/events`: the hook's most recent deliveries, newest first (one
    /// page of 20: GitLab keeps a few days of them).
    pub async fn hook_events(&self, parent: &HookParent, hook_id: u64) -> Result<Vec<HookEvent>, Error> {
        let path = format!("{}/{hook_id}/events", parent.hooks_path());
        self.get(&path, &[("per_page", "20".to_owned())]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_reads_null_flags_as_off_and_never_carries_a_token() {
        let hook: Hook = serde_json::from_value(json!({
            "id": 3, "url": "https://runner.example/webhook", "project_id": 7, "push_events": true,
            "issues_events": true, "confidential_issues_events": null, "note_events": true,
            "confidential_note_events": null, "merge_requests_events": false, "pipeline_events": true,
            "enable_ssl_verification": true, "alert_status": "executable", "push_events_branch_filter": null
        }))
        .unwrap();
        assert!(!hook.events.confidential_issues_events && hook.events.note_events);
        assert_eq!(
            hook.events.missing(&HookEvents::copilot_runner()),
            ["confidential_issues_events", "confidential_note_events", "merge_requests_events"]
        );
        let spec = HookSpec {
            url: hook.url,
            token: Some(SecretString::from("hook-secret-42")),
            events: HookEvents::copilot_runner(),
            enable_ssl_verification: true,
        };
        let body = spec.body();
        assert_eq!(body["token"], "hook-secret-42");
        assert_eq!(body["push_events"], false, "push events are turned off, not left to GitLab's default");
        assert!(!format!("{spec:?}").contains("hook-secret-42"));
    }

    #[test]
    fn a_delivery_status_is_text_even_when_sent_as_a_number() {
        let event: HookEvent = serde_json::from_value(json!({"id": 1, "response_status": 401})).unwrap();
        assert_eq!(event.response_status, "401");
        let event: HookEvent = serde_json::from_value(json!({"id": 2, "response_status": "internal error"})).unwrap();
        assert_eq!(event.response_status, "internal error");
    }
}
