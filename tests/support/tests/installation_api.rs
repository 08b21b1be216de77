//! The endpoints an installation is set up through behave like GitLab's: namespaces and groups
//! visible to members only, project creation in a namespace, direct and inherited memberships,
//! repository files, CI/CD variables whose hidden values never come back, and trigger tokens
//! shown in full to their owner only. Answers are checked against GitLab's response schemas
//! where the repository has one.

mod common;

use common::{as_user, status_json};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::{AGENT, SETUP_USER, Seed};
use reqwest::Method;
use serde_json::{Value, json};

async fn empty_instance() -> FakeGitLab {
    FakeGitLab::start_with(Seed::empty_instance()).await.expect("the fake starts")
}

async fn send(client: &common::As<'_>, method: Method, path: &str, body: Value) -> (u16, Value) {
    status_json(client.request(method, path).json(&body).send().await.expect("the fake answers")).await
}

#[tokio::test]
async fn namespaces_and_groups_are_visible_to_their_members_only() {
    let fake = empty_instance().await;
    let owner = as_user(&fake, SETUP_USER);
    let namespace = owner.get_json("/namespaces/acme").await;
    assert_eq!((namespace["kind"].as_str(), namespace["full_path"].as_str()), (Some("group"), Some("acme")));
    let own = owner.get_json(&format!("/namespaces/{SETUP_USER}")).await;
    assert_eq!(own["kind"], "user");
    let projects = owner.get_json("/groups/acme/projects?include_subgroups=true").await;
    let paths: Vec<&str> =
        projects.as_array().unwrap().iter().map(|p| p["path_with_namespace"].as_str().unwrap()).collect();
    assert_eq!(paths, ["acme/widgets", "acme/gadgets"]);

    let agent = as_user(&fake, AGENT);
    let (status, body) = status_json(agent.get("/namespaces/acme").await).await;
    assert_eq!((status, body), (404, json!({"message": "404 Namespace Not Found"})));
    assert_eq!(agent.get("/groups/acme").await.status(), 404);
    assert_eq!(agent.get(&format!("/namespaces/{SETUP_USER}")).await.status(), 404);
}

#[tokio::test]
async fn a_project_is_created_empty_in_its_namespace_and_its_path_is_taken_once() {
    let fake = empty_instance().await;
    let owner = as_user(&fake, SETUP_USER);
    let namespace_id = owner.get_json("/namespaces/acme").await["id"].clone();
    let body = json!({"name": "copilot-agent", "path": "copilot-agent", "namespace_id": namespace_id});
    let (status, project) = send(&owner, Method::POST, "/projects", body.clone()).await;
    assert_eq!(status, 201, "{project}");
    assert_eq!(
        (project["path_with_namespace"].as_str(), project["default_branch"].as_str()),
        (Some("acme/copilot-agent"), Some("main"))
    );
    assert!(fake.branches("acme/copilot-agent").await.unwrap().is_empty(), "the repository starts empty");
    assert_eq!(fake.direct_access("acme/copilot-agent", SETUP_USER), 0, "the group's Owner needs no direct role");
    let (status, error) = send(&owner, Method::POST, "/projects", body).await;
    assert_eq!(status, 400);
    assert_eq!(error["message"]["path"], json!(["has already been taken"]));

    // A group's Developer may create projects there and becomes their Maintainer.
    let dave = as_user(&fake, "dave");
    let (status, _) =
        send(&dave, Method::POST, "/projects", json!({"path": "dave-tool", "namespace_id": namespace_id})).await;
    assert_eq!(status, 201);
    assert_eq!(fake.direct_access("acme/dave-tool", "dave"), 40);
    let agent = as_user(&fake, AGENT);
    let (status, _) = send(&agent, Method::POST, "/projects", json!({"path": "x", "namespace_id": namespace_id})).await;
    assert_eq!(status, 404, "a namespace the caller cannot see does not exist for them");
}

#[tokio::test]
async fn members_are_added_once_raised_in_place_and_inherited_from_groups() {
    let fake = empty_instance().await;
    let owner = as_user(&fake, SETUP_USER);
    let agent_id = fake.user_id(AGENT);
    assert_eq!(owner.get(&format!("/groups/acme/members/all/{agent_id}")).await.status(), 404);
    let (status, member) =
        send(&owner, Method::POST, "/groups/acme/members", json!({"user_id": agent_id, "access_level": 30})).await;
    assert_eq!((status, member["access_level"].clone()), (201, json!(30)));
    let (status, body) =
        send(&owner, Method::POST, "/groups/acme/members", json!({"user_id": agent_id, "access_level": 30})).await;
    assert_eq!((status, body), (409, json!({"message": "Member already exists"})));

    // Inherited on the group's projects: `all` shows it, the direct membership does not exist.
    let inherited = owner.get_json(&format!("/projects/acme%2Fwidgets/members/all/{agent_id}")).await;
    assert_eq!(inherited["access_level"], 30);
    assert_eq!(owner.get(&format!("/projects/acme%2Fwidgets/members/{agent_id}")).await.status(), 404);
    let (status, body) = send(
        &owner,
        Method::POST,
        "/projects/acme%2Fwidgets/members",
        json!({"user_id": agent_id, "access_level": 20}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"]["access_level"][0].as_str().unwrap().contains("inherited membership from group acme"));
    let (status, _) = send(
        &owner,
        Method::POST,
        "/projects/acme%2Fwidgets/members",
        json!({"user_id": agent_id, "access_level": 40}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, raised) =
        send(&owner, Method::PUT, &format!("/groups/acme/members/{agent_id}"), json!({"access_level": 40})).await;
    assert_eq!((status, raised["access_level"].clone()), (200, json!(40)));

    // A Developer manages no members.
    let dave = as_user(&fake, "dave");
    let (status, _) =
        send(&dave, Method::PUT, &format!("/groups/acme/members/{agent_id}"), json!({"access_level": 30})).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn files_are_created_once_updated_and_read_raw_and_protected_branches_hold() {
    let fake = empty_instance().await;
    let owner = as_user(&fake, SETUP_USER);
    let path = "/projects/acme%2Fgadgets/repository/files/.gitlab-ci.yml";
    assert_eq!(owner.get(&format!("{path}/raw?ref=main")).await.status(), 404);
    let config = "spec:\n  inputs:\n    trigger_type:\n      default: ''\n---\njob:\n  script: x\n";
    let body = json!({"branch": "main", "content": config, "commit_message": "add"});
    let (status, answer) = send(&owner, Method::POST, path, body.clone()).await;
    assert_eq!((status, answer), (201, json!({"file_path": ".gitlab-ci.yml", "branch": "main"})));
    let raw = owner.get(&format!("{path}/raw?ref=main")).await;
    assert_eq!(raw.text().await.unwrap(), config);
    let (status, answer) = send(&owner, Method::POST, path, body).await;
    assert_eq!((status, answer["message"].as_str()), (400, Some("A file with this name already exists")));
    let (status, _) =
        send(&owner, Method::PUT, path, json!({"branch": "main", "content": "x: 1\n", "commit_message": "up"})).await;
    assert_eq!(status, 200);
    let (status, _) = send(
        &owner,
        Method::PUT,
        "/projects/acme%2Fgadgets/repository/files/missing.txt",
        json!({"branch": "main", "content": "x", "commit_message": "up"}),
    )
    .await;
    assert_eq!(status, 400);
    // A Developer may not push to the protected default branch.
    let dave = as_user(&fake, "dave");
    let (status, _) =
        send(&dave, Method::PUT, path, json!({"branch": "main", "content": "y: 1\n", "commit_message": "up"})).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn hidden_variables_never_show_their_value_and_stay_hidden() {
    let fake = empty_instance().await;
    let owner = as_user(&fake, SETUP_USER);
    let path = "/projects/acme%2Fgadgets/variables";
    let form = [
        ("key", "GITLAB_TOKEN"),
        ("value", "glpat-hidden-0123456789"),
        ("masked_and_hidden", "true"),
        ("protected", "true"),
    ];
    let (status, created) = status_json(owner.post_form(path, &form).await).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (created["value"].clone(), created["masked"].clone(), created["hidden"].clone()),
        (Value::Null, json!(true), json!(true))
    );
    let read = owner.get_json(&format!("{path}/GITLAB_TOKEN")).await;
    assert_eq!(read["value"], Value::Null);
    assert!(!owner.get_json(path).await.to_string().contains("glpat-hidden"), "listing shows no hidden value");
    let (status, body) = status_json(owner.post_form(path, &form).await).await;
    assert_eq!((status, body), (400, json!({"message": {"key": ["(GITLAB_TOKEN) has already been taken"]}})));
    let unmask =
        owner.request(Method::PUT, &format!("{path}/GITLAB_TOKEN")).form(&[("masked", "false")]).send().await.unwrap();
    assert_eq!(unmask.status(), 400);
    let (status, body) =
        status_json(owner.post_form(path, &[("key", "SHORT"), ("value", "short"), ("masked", "true")]).await).await;
    assert_eq!((status, body), (400, json!({"message": {"value": ["is invalid"]}})));
    assert_eq!(fake.ci_variables("acme/gadgets")[0].value, "glpat-hidden-0123456789", "the test sees the value");
    assert_eq!(as_user(&fake, "dave").get(path).await.status(), 403, "variables are for Maintainers");
}

#[tokio::test]
async fn a_trigger_token_is_shown_in_full_to_its_owner_only() {
    let fake = empty_instance().await;
    let owner = as_user(&fake, SETUP_USER);
    let agent_id = fake.user_id(AGENT);
    owner.post_json("/projects/acme%2Fgadgets/members", json!({"user_id": agent_id, "access_level": 40})).await;
    let agent = as_user(&fake, AGENT);
    let (status, created) =
        send(&agent, Method::POST, "/projects/acme%2Fgadgets/triggers", json!({"description": "hook"})).await;
    assert_eq!(status, 201);
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("glptt-") && token.len() > 10, "{token}");
    assert_eq!(created["owner"]["username"], AGENT);
    assert_eq!(agent.get_json("/projects/acme%2Fgadgets/triggers").await[0]["token"], json!(token));
    assert_eq!(owner.get_json("/projects/acme%2Fgadgets/triggers").await[0]["token"], json!(&token[..4]));
    assert_eq!(fake.trigger_tokens("acme/gadgets")[0].token, token);
}
