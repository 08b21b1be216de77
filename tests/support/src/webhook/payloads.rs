//! Webhook payloads built from GitLab's real fixtures, retargeted at the fake's world: the same
//! shape GitLab sends, with the ids of the fake's project, issue, MR, note and users (the fake in
//! the test process, or the world a standalone `fake-gitlab` printed).

use serde_json::{Value, json};

use super::{Directory, WIDGETS};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/gitlab/webhooks");

pub fn fixture(name: &str) -> Value {
    let path = format!("{FIXTURES}/{name}");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))).expect("JSON")
}

/// Every fixture file with the `X-Gitlab-Event` GitLab sends it with.
pub fn every_fixture() -> Vec<(&'static str, &'static str)> {
    vec![
        ("build.json", "Job Hook"),
        ("deployment.json", "Deployment Hook"),
        ("group_merge_request.json", "Merge Request Hook"),
        ("issue.json", "Issue Hook"),
        ("job.json", "Job Hook"),
        ("member.json", "Member Hook"),
        ("merge_request.json", "Merge Request Hook"),
        ("note_commit.json", "Note Hook"),
        ("note_issue.json", "Note Hook"),
        ("note_merge_request.json", "Note Hook"),
        ("note_snippet.json", "Note Hook"),
        ("pipeline.json", "Pipeline Hook"),
        ("push.json", "Push Hook"),
        ("release.json", "Release Hook"),
        ("service_merge_request.json", "Merge Request Hook"),
        ("tag_push.json", "Tag Push Hook"),
    ]
}

/// A user as webhook payloads embed it (`User#hook_attrs`).
pub fn hook_user(fake: &impl Directory, username: &str) -> Value {
    json!({
        "id": fake.id_of_user(username),
        "name": fake.name_of_user(username),
        "username": username,
        "avatar_url": "https://secure.gravatar.com/avatar/0?s=80&d=identicon",
        "email": "[REDACTED]",
    })
}

fn retarget_project(fake: &impl Directory, payload: &mut Value) {
    let id = fake.id_of_project(WIDGETS);
    payload["project"]["id"] = json!(id);
    payload["project"]["path_with_namespace"] = json!(WIDGETS);
    if payload.get("project_id").is_some() {
        payload["project_id"] = json!(id);
    }
    if payload["object_attributes"].get("project_id").is_some() {
        payload["object_attributes"]["project_id"] = json!(id);
    }
}

/// `Issue Hook`: `actor` changed issue `iid`'s assignees from `previous` to `current`.
pub fn issue_assignees(fake: &impl Directory, actor: &str, iid: u64, previous: &[&str], current: &[&str]) -> Value {
    let mut payload = fixture("issue.json");
    retarget_project(fake, &mut payload);
    payload["user"] = hook_user(fake, actor);
    payload["object_attributes"]["iid"] = json!(iid);
    payload["object_attributes"]["action"] = json!("update");
    let users = |names: &[&str]| Value::Array(names.iter().map(|name| hook_user(fake, name)).collect());
    if current.is_empty() {
        payload.as_object_mut().expect("object").remove("assignees");
    } else {
        payload["assignees"] = users(current);
    }
    if previous != current {
        payload["changes"]["assignees"] = json!({"previous": users(previous), "current": users(current)});
    }
    payload["object_attributes"]["updated_at"] = json!(changed_now(Form::Iso));
    payload
}

/// `Note Hook`: `author` wrote note `note_id` with `text` on issue `iid`.
pub fn issue_note(fake: &impl Directory, author: &str, iid: u64, note_id: u64, text: &str) -> Value {
    let mut payload = fixture("note_issue.json");
    retarget_project(fake, &mut payload);
    payload["user"] = hook_user(fake, author);
    payload["object_attributes"]["id"] = json!(note_id);
    payload["object_attributes"]["note"] = json!(text);
    payload["object_attributes"]["description"] = json!(text);
    payload["object_attributes"]["author_id"] = json!(fake.id_of_user(author));
    payload["issue"]["iid"] = json!(iid);
    payload
}

/// The same note as an internal note on a confidential issue (`Confidential Note Hook`).
pub fn confidential(mut payload: Value) -> Value {
    payload["event_type"] = json!("confidential_note");
    payload["issue"]["confidential"] = json!(true);
    payload["object_attributes"]["internal"] = json!(true);
    payload
}

/// `Note Hook`: `author` wrote note `note_id` with `text` on MR `iid` from `branch` into `main`.
pub fn mr_note(fake: &impl Directory, author: &str, iid: u64, branch: &str, note_id: u64, text: &str) -> Value {
    let mut payload = fixture("note_merge_request.json");
    retarget_project(fake, &mut payload);
    payload["user"] = hook_user(fake, author);
    payload["object_attributes"]["id"] = json!(note_id);
    payload["object_attributes"]["note"] = json!(text);
    payload["object_attributes"]["author_id"] = json!(fake.id_of_user(author));
    payload["merge_request"]["iid"] = json!(iid);
    payload["merge_request"]["source_branch"] = json!(branch);
    payload["merge_request"]["target_branch"] = json!("main");
    payload
}

/// `Merge Request Hook`: `actor` changed MR `iid`'s reviewers from `previous` to `current`.
pub fn mr_reviewers(
    fake: &impl Directory,
    actor: &str,
    iid: u64,
    branch: &str,
    previous: &[&str],
    current: &[&str],
) -> Value {
    let mut payload = fixture("merge_request.json");
    retarget_project(fake, &mut payload);
    payload["user"] = hook_user(fake, actor);
    payload["object_attributes"]["iid"] = json!(iid);
    payload["object_attributes"]["action"] = json!("update");
    payload["object_attributes"]["source_branch"] = json!(branch);
    payload["object_attributes"]["target_branch"] = json!("main");
    let users = |names: &[&str]| Value::Array(names.iter().map(|name| hook_user(fake, name)).collect());
    payload["reviewers"] = users(current);
    payload["changes"]["reviewers"] = json!({"previous": users(previous), "current": users(current)});
    payload["object_attributes"]["updated_at"] = json!(changed_now(Form::Iso));
    payload
}

/// What a `Merge Request Hook` reports about MR `iid` from `branch` into `main`.
#[derive(Debug, Clone, Copy)]
pub struct MergeRequestHook<'a> {
    /// Who caused the event (opened it, pushed, labelled it).
    pub actor: &'a str,
    pub author: &'a str,
    pub iid: u64,
    pub branch: &'a str,
    /// `open`, `update`, `close`, …
    pub action: &'a str,
    /// The source branch's head (`last_commit.id`).
    pub head: &'a str,
    /// The head before a push (`oldrev`, present only when commits were pushed).
    pub oldrev: Option<&'a str>,
    pub labels: &'a [&'a str],
    pub draft: bool,
}

/// `Merge Request Hook` as GitLab sends it for `hook`, with the change's time now; a label
/// change or a draft change go in `changes` by the caller.
pub fn merge_request_hook(fake: &impl Directory, hook: &MergeRequestHook<'_>) -> Value {
    let mut payload = fixture("merge_request.json");
    retarget_project(fake, &mut payload);
    let project = fake.id_of_project(WIDGETS);
    payload["user"] = hook_user(fake, hook.actor);
    let labels: Vec<Value> = hook
        .labels
        .iter()
        .enumerate()
        .map(|(index, title)| {
            json!({"id": index + 1, "title": title, "color": "#428BCA", "project_id": project,
            "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z", "template": false,
            "description": null, "type": "ProjectLabel", "group_id": null})
        })
        .collect();
    let attributes = &mut payload["object_attributes"];
    attributes["iid"] = json!(hook.iid);
    attributes["action"] = json!(hook.action);
    attributes["source_branch"] = json!(hook.branch);
    attributes["target_branch"] = json!("main");
    attributes["source_project_id"] = json!(project);
    attributes["target_project_id"] = json!(project);
    attributes["author_id"] = json!(fake.id_of_user(hook.author));
    attributes["last_commit"]["id"] = json!(hook.head);
    attributes["draft"] = json!(hook.draft);
    attributes["work_in_progress"] = json!(hook.draft);
    attributes["labels"] = Value::Array(labels.clone());
    attributes["updated_at"] = json!(changed_now(Form::Iso));
    if let Some(oldrev) = hook.oldrev {
        attributes["oldrev"] = json!(oldrev);
    }
    payload["labels"] = Value::Array(labels);
    payload["changes"] = json!({});
    payload
}

/// `Pipeline Hook`: pipeline `id` on branch `git_ref`, started by `user`, ended with `status`.
pub fn pipeline(fake: &impl Directory, user: &str, id: u64, git_ref: &str, status: &str) -> Value {
    let mut payload = fixture("pipeline.json");
    retarget_project(fake, &mut payload);
    payload["user"] = hook_user(fake, user);
    payload["object_attributes"]["id"] = json!(id);
    payload["object_attributes"]["ref"] = json!(git_ref);
    payload["object_attributes"]["status"] = json!(status);
    payload["object_attributes"]["source"] = json!("push");
    payload["object_attributes"]["finished_at"] = json!(changed_now(Form::Utc));
    payload["merge_request"] = Value::Null;
    payload
}

/// The two forms GitLab's hooks write times in.
#[derive(Debug, Clone, Copy)]
pub enum Form {
    /// `2013-12-03T17:15:43Z`: issue and merge request hooks.
    Iso,
    /// `2016-08-12 15:26:29 UTC`: pipeline hooks.
    Utc,
}

/// The time a hook reports for a change made now: to the second, as GitLab writes it.
pub fn changed_now(form: Form) -> String {
    changed_before(std::time::Duration::ZERO, form)
}

/// The time a hook reports for a change made `ago`.
pub fn changed_before(ago: std::time::Duration, form: Form) -> String {
    let at = time::OffsetDateTime::now_utc() - ago;
    let (date, clock) = (at.date(), at.time());
    let (year, month, day) = (date.year(), u8::from(date.month()), date.day());
    let (hour, minute, second) = (clock.hour(), clock.minute(), clock.second());
    match form {
        Form::Iso => format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"),
        Form::Utc => format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} UTC"),
    }
}
