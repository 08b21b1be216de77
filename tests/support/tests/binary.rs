//! The standalone `fake-gitlab` binary starts, prints its URL and tokens as one JSON line on
//! stdout, serves the API, and takes its users and projects from a JSON seed file.
#![expect(clippy::disallowed_methods, reason = "this test runs the built binary and talks to it over HTTP")]

mod common;

use std::process::Stdio;

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

#[tokio::test]
async fn the_binary_prints_its_url_and_tokens_and_serves_the_standard_seed() {
    let (mut child, ready) = start(&[]).await;
    let token = ready["users"]["copilot-agent"]["token"].as_str().unwrap();
    let user: Value = common::http_client()
        .get(format!("{}/user", ready["api_url"].as_str().unwrap()))
        .header("PRIVATE-TOKEN", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
                      "issues": [{"title": "Crash", "author": "pat", "assignees": ["robot"]}]}]
    });
    let path = dir.path().join("seed.json");
    std::fs::write(&path, seed.to_string()).unwrap();
    let (mut child, ready) = start(&["--seed", path.to_str().unwrap(), "--listen", "127.0.0.1:0"]).await;
    assert_eq!(ready["users"]["pat"]["token"], "glpat-fake-pat");
    let issue: Value = common::http_client()
        .get(format!("{}/projects/team%2Fapp/issues/1", ready["api_url"].as_str().unwrap()))
        .header("PRIVATE-TOKEN", "tok-robot")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((issue["title"].as_str(), issue["assignees"][0]["username"].as_str()), (Some("Crash"), Some("robot")));
    child.kill().await.unwrap();
}
