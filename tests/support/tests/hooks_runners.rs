//! The fake's webhooks and runners behave like GitLab's: project hooks for Maintainers with a
//! write-only token, group hooks for Owners and refused on GitLab Free, test deliveries that
//! really reach the receiver with GitLab's headers and report its answer, a delivery log, and
//! runners filtered by tags and status.

mod common;

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use common::{as_user, status_json};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::{HookSeed, RunnerSeed, access};
use reqwest::Method;
use serde_json::{Value, json};

const WIDGETS: &str = "acme%2Fwidgets";
const SECRET: &str = "hook-secret-7";

/// A webhook receiver that answers 200 to the right `X-Gitlab-Token` and 401 otherwise, and
/// keeps every delivery's headers and body.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

async fn receiver() -> Receiver {
    let seen: Arc<Mutex<Vec<(HeaderMap, Value)>>> = Arc::default();
    let record = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/webhook",
        axum::routing::post(move |headers: HeaderMap, body: axum::Json<Value>| async move {
            let token_ok = headers.get("x-gitlab-token").is_some_and(|token| token == SECRET);
            record.lock().unwrap().push((headers, body.0));
            if token_ok {
                (axum::http::StatusCode::OK, r#"{"status":"ignored"}"#)
            } else {
                (axum::http::StatusCode::UNAUTHORIZED, r#"{"status":"rejected"}"#)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, seen }
}

#[tokio::test]
async fn project_hooks_are_for_maintainers_and_never_show_their_token() {
    let fake = FakeGitLab::start().await.unwrap();
    let maria = as_user(&fake, "maria");
    let form = [("url", "https://runner.example/webhook"), ("token", SECRET), ("note_events", "true")];
    let (status, hook) = status_json(maria.post_form(&format!("/projects/{WIDGETS}/hooks"), &form).await).await;
    assert_eq!(status, 201, "{hook}");
    assert_eq!(
        (hook["url"].as_str(), hook["note_events"].as_bool()),
        (Some("https://runner.example/webhook"), Some(true))
    );
    assert_eq!(hook["push_events"], true, "GitLab turns push events on unless told otherwise");
    assert!(!hook.to_string().contains(SECRET), "the token is write-only: {hook}");
    assert_eq!(fake.hook(hook["id"].as_u64().unwrap()).unwrap().token.as_deref(), Some(SECRET));

    let path = format!("/projects/{WIDGETS}/hooks/{}", hook["id"]);
    let edited = maria.put_json(&path, json!({"pipeline_events": true, "push_events": false})).await;
    let (status, edited) = status_json(edited).await;
    assert_eq!(
        (status, edited["pipeline_events"].as_bool(), edited["push_events"].as_bool()),
        (200, Some(true), Some(false))
    );
    assert_eq!(maria.get_json(&format!("/projects/{WIDGETS}/hooks")).await.as_array().unwrap().len(), 1);

    let bad = maria.post_form(&format!("/projects/{WIDGETS}/hooks"), &[("url", "not a url")]).await;
    assert_eq!(status_json(bad).await, (422, json!({"message": "Invalid url given"})));
    let missing = maria.post_form(&format!("/projects/{WIDGETS}/hooks"), &[("token", "x")]).await;
    assert_eq!(status_json(missing).await, (400, json!({"error": "url is missing"})));
    // A Developer may not see hooks; an outsider does not see the project.
    assert_eq!(as_user(&fake, "alice").get(&format!("/projects/{WIDGETS}/hooks")).await.status(), 403);
    assert_eq!(as_user(&fake, "outsider").get(&format!("/projects/{WIDGETS}/hooks")).await.status(), 404);

    let deleted = maria.request(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    let (status, body) = status_json(maria.get(&path).await).await;
    assert_eq!((status, body), (404, json!({"message": "404 Not found"})));
}

#[tokio::test]
async fn a_test_delivery_reaches_the_receiver_with_gitlab_headers_and_reports_its_answer() {
    let fake = FakeGitLab::start().await.unwrap();
    let receiver = receiver().await;
    let hook_id = fake.add_project_hook("acme/widgets", HookSeed::copilot_runner(&receiver.url, SECRET));
    let maria = as_user(&fake, "maria");
    let test = format!("/projects/{WIDGETS}/hooks/{hook_id}/test/push_events");

    let (status, body) = status_json(maria.post_form(&test, &[]).await).await;
    assert_eq!((status, body), (201, json!({"message": "201 Created"})));
    let (headers, payload) = receiver.seen.lock().unwrap()[0].clone();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("x-gitlab-event"), "Push Hook");
    assert_eq!(header("x-gitlab-token"), SECRET);
    assert_eq!(header("x-gitlab-instance"), fake.url());
    assert!(header("user-agent").starts_with("GitLab/"), "{headers:?}");
    for name in ["idempotency-key", "x-gitlab-event-uuid", "x-gitlab-webhook-uuid"] {
        assert!(!header(name).is_empty(), "{name} missing: {headers:?}");
    }
    assert_eq!(header("content-type"), "application/json");
    assert_eq!((payload["object_kind"].as_str(), payload["ref"].as_str()), (Some("push"), Some("refs/heads/main")));
    assert_eq!(payload["project_id"], fake.project_id("acme/widgets"));
    assert_eq!(payload["user_username"], "maria", "the sample push is the caller's");

    // A wrong secret: the receiver's 401 body comes back as the message of a 422.
    fake.set_hook_token(hook_id, Some("not-the-secret"));
    let (status, body) = status_json(maria.post_form(&test, &[]).await).await;
    assert_eq!((status, body), (422, json!({"message": r#"{"status":"rejected"}"#})));

    // Nobody listening: the connection error is the message.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let edit = json!({"url": format!("http://{closed}/webhook"), "token": SECRET});
    assert_eq!(maria.put_json(&format!("/projects/{WIDGETS}/hooks/{hook_id}"), edit).await.status(), 200);
    let (status, body) = status_json(maria.post_form(&test, &[]).await).await;
    assert_eq!(status, 422);
    assert!(body["message"].as_str().unwrap().starts_with("Failed to open TCP connection to 127.0.0.1:"), "{body}");

    // An instance that refuses requests to the local network.
    fake.block_local_requests(true);
    let (status, body) = status_json(maria.post_form(&test, &[]).await).await;
    assert_eq!(
        (status, body),
        (422, json!({"message": "URL is blocked: Requests to the local network are not allowed"}))
    );

    // The delivery log, newest first, with the receiver's status.
    let events = maria.get_json(&format!("/projects/{WIDGETS}/hooks/{hook_id}/events")).await;
    let statuses: Vec<&str> =
        events.as_array().unwrap().iter().map(|e| e["response_status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["internal error", "internal error", "401", "200"]);
    assert_eq!(events[3]["trigger"], "push_hooks");
    assert_eq!(events[2]["request_headers"]["X-Gitlab-Token"], "[REDACTED]");

    let other = maria.post_form(&format!("/projects/{WIDGETS}/hooks/{hook_id}/test/no_such_events"), &[]).await;
    assert_eq!(status_json(other).await, (400, json!({"error": "trigger does not have a valid value"})));
}

#[tokio::test]
async fn group_hooks_need_the_owner_role_and_a_tier_with_group_webhooks() {
    let fake = FakeGitLab::start().await.unwrap();
    let receiver = receiver().await;
    fake.set_group_access("acme", "maria", access::OWNER);
    fake.set_group_access("acme", "alice", access::MAINTAINER);
    let group = fake.group_id("acme");
    let maria = as_user(&fake, "maria");

    let project = maria.get_json(&format!("/projects/{WIDGETS}")).await;
    assert_eq!(project["namespace"]["id"], group, "a project's namespace is its group");
    let found = maria.get_json("/groups/acme").await;
    assert_eq!((found["id"].as_u64(), found["full_path"].as_str()), (Some(group), Some("acme")));
    let projects = as_user(&fake, "gus").get_json(&format!("/groups/{group}/projects")).await;
    assert_eq!(projects.as_array().unwrap().len(), 1, "gus sees only the project he is a member of");
    let projects = as_user(&fake, "alice").get_json(&format!("/groups/{group}/projects")).await;
    assert_eq!(projects.as_array().unwrap().len(), 2, "a Maintainer of the group sees all of its projects");
    assert_eq!(as_user(&fake, "outsider").get("/groups/acme").await.status(), 404);

    let form = [("url", receiver.url.as_str()), ("token", SECRET), ("issues_events", "true")];
    let (status, hook) = status_json(maria.post_form(&format!("/groups/{group}/hooks"), &form).await).await;
    assert_eq!((status, hook["group_id"].as_u64()), (201, Some(group)), "{hook}");
    assert!(hook.get("member_events").is_some() && !hook.to_string().contains(SECRET), "{hook}");
    let test = format!("/groups/{group}/hooks/{}/test/push_events", hook["id"]);
    assert_eq!(maria.post_form(&test, &[]).await.status(), 201);
    let (_, payload) = receiver.seen.lock().unwrap()[0].clone();
    assert_eq!(payload["project"]["path_with_namespace"], "acme/widgets", "the group's first project");

    assert_eq!(as_user(&fake, "alice").get(&format!("/groups/{group}/hooks")).await.status(), 403);
    fake.set_group_webhooks_licensed("acme", false);
    let (status, body) = status_json(maria.get(&format!("/groups/{group}/hooks")).await).await;
    assert_eq!((status, body), (403, json!({"message": "403 Forbidden"})), "GitLab Free has no group webhooks");
    assert_eq!(maria.get("/groups/9999/hooks").await.status(), 404);
}

#[tokio::test]
async fn runners_are_filtered_by_tags_status_and_type_for_maintainers() {
    let fake = FakeGitLab::start().await.unwrap();
    let agent_project = "acme/copilot-agent";
    let tagged = fake.add_runner(RunnerSeed::project(agent_project, &["copilot-agent", "k8s"]));
    fake.add_runner(RunnerSeed::project("acme/widgets", &["copilot-agent"]));
    fake.add_runner(RunnerSeed::instance(&["docker"]));
    let maria = as_user(&fake, "maria");
    let list = |query: &str| format!("/projects/acme%2Fcopilot-agent/runners{query}");

    let all = maria.get_json(&list("")).await;
    assert_eq!(all.as_array().unwrap().len(), 2, "its own runner and the instance's: {all}");
    let by_tag = maria.get_json(&list("?tag_list=copilot-agent&status=online&paused=false")).await;
    assert_eq!(by_tag.as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect::<Vec<_>>(), [tagged]);
    assert_eq!(by_tag[0]["runner_type"], "project_type");
    assert_eq!((by_tag[0]["online"].as_bool(), by_tag[0]["status"].as_str()), (Some(true), Some("online")));
    assert!(maria.get_json(&list("?tag_list=copilot-agent,gpu")).await.as_array().unwrap().is_empty());

    fake.set_runner_online(tagged, false);
    assert!(maria.get_json(&list("?tag_list=copilot-agent&status=online")).await.as_array().unwrap().is_empty());
    let offline = maria.get_json(&list("?tag_list=copilot-agent&status=offline")).await;
    assert_eq!(offline[0]["status"], "offline");
    fake.set_runner_online(tagged, true);
    fake.set_runner_paused(tagged, true);
    let paused = maria.get_json(&list("?tag_list=copilot-agent&paused=true")).await;
    assert_eq!((paused[0]["paused"].as_bool(), paused[0]["active"].as_bool()), (Some(true), Some(false)));
    assert_eq!(maria.get_json(&list("?type=instance_type")).await[0]["is_shared"], true);

    let (status, body) = status_json(maria.get(&list("?status=sleepy")).await).await;
    assert_eq!((status, body), (400, json!({"error": "status does not have a valid value"})));
    assert_eq!(as_user(&fake, "alice").get("/projects/acme%2Fwidgets/runners").await.status(), 403);
    // The runners maria owns: the project runners of the projects she maintains.
    assert_eq!(maria.get_json("/runners").await.as_array().unwrap().len(), 2);
}
