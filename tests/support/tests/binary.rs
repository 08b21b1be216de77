//! The standalone `fake-gitlab` binary starts, prints its URL and tokens as one JSON line on
//! stdout, serves the API, takes its users and projects from a JSON seed file, and serves its
//! request log for the tests that cannot read it in process.
#![expect(clippy::disallowed_methods, reason = "this test runs the built binary and talks to it over HTTP")]

mod common;

use std::process::Stdio;

use copilot_runner_testkit::fake_gitlab::{REQUEST_LOG, RecordedRequest};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};

async fn start(args: &[&str]) -> (tokio::process::Child, Value) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fake-gitlab"))
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("fake-gitlab starts");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(std::time::Duration::from_secs(30), BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("the ready line comes within 30s")
        .unwrap();
    (child, serde_json::from_str(&line).expect("the ready line is JSON"))
}

/// `GET <api_url><path>` as `token`, the JSON body.
async fn get_json(ready: &Value, path: &str, token: &str) -> Value {
    let url = format!("{}{path}", ready["api_url"].as_str().unwrap());
    common::http_client().get(url).header("PRIVATE-TOKEN", token).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn the_binary_prints_its_url_and_tokens_and_serves_the_standard_seed() {
    let (mut child, ready) = start(&[]).await;
    let token = ready["users"]["copilot-agent"]["token"].as_str().unwrap();
    let user = get_json(&ready, "/user", token).await;
    assert_eq!(user["username"], "copilot-agent");
    assert_eq!(ready["projects"]["acme/copilot-agent"]["trigger_tokens"], json!(["glptt-fake-agent"]));
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_binary_seeds_users_and_projects_from_a_json_file() {
    let dir = tempfile::tempdir().unwrap();
    let seed = json!({
        "users": [{"username": "robot", "token": "tok-robot", "bot": true}, {"username": "pat"}],
        "projects": [{"path": "team/app", "members": {"robot": 30, "pat": 40},
                      "files": {"main.py": "print('hi')\n"},
                      "issues": [{"title": "Crash", "author": "pat", "assignees": ["robot"]}],
                      "notes": [{"issue": 1, "author": "pat", "body": "assigned to @robot", "system": true},
                                {"issue": 1, "author": "pat", "body": "Any news?"}]}]
    });
    let path = dir.path().join("seed.json");
    std::fs::write(&path, seed.to_string()).unwrap();
    let (mut child, ready) = start(&["--seed", path.to_str().unwrap(), "--listen", "127.0.0.1:0"]).await;
    assert_eq!(ready["users"]["pat"]["token"], "glpat-fake-pat");
    let issue = get_json(&ready, "/projects/team%2Fapp/issues/1", "tok-robot").await;
    assert_eq!((issue["title"].as_str(), issue["assignees"][0]["username"].as_str()), (Some("Crash"), Some("robot")));
    let notes = get_json(&ready, "/projects/team%2Fapp/issues/1/notes?sort=asc", "tok-robot").await;
    let seen: Vec<_> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|note| (note["author"]["username"].as_str(), note["body"].as_str(), note["system"].as_bool()))
        .collect();
    assert_eq!(
        seen,
        vec![(Some("pat"), Some("assigned to @robot"), Some(true)), (Some("pat"), Some("Any news?"), Some(false))]
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_binary_serves_its_request_log_with_form_bodies_as_sent() {
    let (mut child, ready) = start(&[]).await;
    assert_eq!(ready["users"]["alice"]["name"], "Alice Developer", "the ready line names the users");
    let project = ready["projects"]["acme/copilot-agent"]["id"].as_u64().unwrap();
    let url = format!("{}/projects/{project}/trigger/pipeline", ready["api_url"].as_str().unwrap());
    let form = [("token", "glptt-fake-agent"), ("ref", "main"), ("inputs[trigger_type]", "issue_note")];
    let created = common::http_client().post(url).form(&form).send().await.unwrap();
    assert_eq!(created.status(), 201);

    let log = format!("{}{}", ready["url"].as_str().unwrap(), REQUEST_LOG);
    let log: Vec<RecordedRequest> = common::http_client().get(log).send().await.unwrap().json().await.unwrap();
    let triggers: Vec<&RecordedRequest> =
        log.iter().filter(|request| request.matches("POST /projects/*/trigger/pipeline")).collect();
    assert_eq!(triggers.len(), 1, "{log:#?}");
    assert_eq!(
        (triggers[0].status, triggers[0].path.as_str()),
        (Some(201), &*format!("/api/v4/projects/{project}/trigger/pipeline"))
    );
    let sent: Vec<(String, String)> =
        form.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
    assert_eq!(triggers[0].form(), sent);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_seed_note_on_a_missing_issue_stops_the_binary_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let seed = json!({
        "users": [{"username": "pat"}],
        "projects": [{"path": "team/app", "notes": [{"issue": 3, "author": "pat", "body": "hello"}]}]
    });
    let path = dir.path().join("seed.json");
    std::fs::write(&path, seed.to_string()).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_fake-gitlab"))
        .args(["--seed", path.to_str().unwrap()])
        .output()
        .await
        .expect("fake-gitlab runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown issue #3"), "{stderr}");
}
