//! MCP servers in a job, end to end: the server the admin's `COPILOT_MCP_CONFIG` allows is
//! started by the real CLI and its tool called while the agent works on an issue; a server the
//! repository declares on its own (`.mcp.json` on its default branch) is never started.

use std::path::{Path, PathBuf};

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::mock_model::{Reply, Rule, Script};
use serde_json::json;

use super::rig::{IMPLEMENTATION_STAGE, PROJECT, Rig};

/// The test rig's MCP server, built beside `copilot-runner`.
fn mcp_server() -> PathBuf {
    copilot_runner_testkit::testkit_bin!("mcp-server")
}

fn server(calls: &Path) -> serde_json::Value {
    json!({
        "type": "local",
        "command": mcp_server().display().to_string(),
        "args": ["--calls", calls.display().to_string()],
        "tools": ["*"],
    })
}

#[tokio::test]
async fn the_admins_server_is_called_in_a_job_and_the_repositorys_own_is_not() {
    let mut rig = Rig::start(|paths| {
        let greeting = Reply::create(&paths.in_clone("greeting.txt"), "hello\n");
        Script::new()
            .rule(
                Rule::when(IMPLEMENTATION_STAGE)
                    .then(Reply::tool("tickets-lookup_ticket", json!({"id": "T-7"})))
                    .then(greeting)
                    .then(Reply::text("Added greeting.txt.")),
            )
            .fallback(Reply::text("Nothing to do."))
    })
    .await;
    // The agent and the servers it starts may write only where the sandbox lets them: the stage's
    // scratch folder is one such place.
    let scratch = rig.paths.work.join("stages/1-implementation/scratch");
    let (admin_calls, repo_calls) = (scratch.join("admin-calls.jsonl"), scratch.join("repo-calls.jsonl"));
    let admin = rig.paths.job_dir.join("mcp.json");
    std::fs::write(&admin, json!({"mcpServers": {"tickets": server(&admin_calls)}}).to_string()).unwrap();
    let own = json!({"mcpServers": {"repo-tickets": server(&repo_calls)}}).to_string();
    rig.gitlab
        .push_files(PROJECT, "main", &[(".mcp.json", Some(own.as_str()))], "Add an MCP server", "alice")
        .await
        .unwrap();
    rig.job
        .set("USE_ORCHESTRATED_ISSUE", "false")
        .set("COPILOT_MCP_CONFIG", admin.display().to_string())
        .set("COPILOT_ALLOW_ALL", "true");
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");

    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let called = std::fs::read_to_string(&admin_calls).unwrap_or_default();
    assert!(called.contains("T-7"), "the admin's server was not called: {called:?}");
    assert!(!repo_calls.exists(), "the repository's own server ran: {:?}", std::fs::read_to_string(&repo_calls));
    // The model was offered the admin's tool and not the repository's.
    let offered: Vec<String> = rig.model.completions().iter().flat_map(|call| call.tool_names()).collect();
    assert!(offered.iter().any(|name| name == "tickets-lookup_ticket"), "{offered:?}");
    assert!(!offered.iter().any(|name| name.starts_with("repo-tickets")), "{offered:?}");
    assert_eq!(rig.gitlab.read_file(PROJECT, "copilot/issue-2", "greeting.txt").await.as_deref(), Some("hello\n"));
}

#[tokio::test]
async fn a_repository_picks_among_the_admins_servers_and_one_it_names_on_its_own_is_refused() {
    let mut rig = Rig::start(|paths| {
        let greeting = Reply::create(&paths.in_clone("greeting.txt"), "hello\n");
        Script::new()
            .rule(
                Rule::when(IMPLEMENTATION_STAGE)
                    .then(Reply::tool("wiki-lookup_ticket", json!({"id": "W-1"})))
                    .then(greeting)
                    .then(Reply::text("Added greeting.txt.")),
            )
            .fallback(Reply::text("Nothing to do."))
    })
    .await;
    let scratch = rig.paths.work.join("stages/1-implementation/scratch");
    let (tickets_calls, wiki_calls) = (scratch.join("tickets-calls.jsonl"), scratch.join("wiki-calls.jsonl"));
    let admin = rig.paths.job_dir.join("mcp.json");
    let servers = json!({"mcpServers": {"tickets": server(&tickets_calls), "wiki": server(&wiki_calls)}});
    std::fs::write(&admin, servers.to_string()).unwrap();
    let rules = "# The wiki only\nmcp_servers: [wiki, own-server]\n";
    rig.gitlab
        .push_files(PROJECT, "main", &[(".gitlab/copilot-agent.yml", Some(rules))], "Agent rules", "alice")
        .await
        .unwrap();
    rig.job.set("USE_ORCHESTRATED_ISSUE", "false").set("COPILOT_MCP_CONFIG", admin.display().to_string());
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");

    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let called = std::fs::read_to_string(&wiki_calls).unwrap_or_default();
    assert!(called.contains("W-1"), "the picked server was not called: {called:?}");
    // Without a pick both would be offered (the test above offers the admin's one).
    let offered: Vec<String> = rig.model.completions().iter().flat_map(|call| call.tool_names()).collect();
    assert!(offered.iter().any(|name| name == "wiki-lookup_ticket"), "{offered:?}");
    assert!(!offered.iter().any(|name| name.starts_with("tickets-")), "a server not picked was offered: {offered:?}");
    assert!(!tickets_calls.exists());
    let notes = rig.agent_notes(rig.on_issue(iid));
    let noted: Vec<&String> = notes.iter().filter(|note| note.contains("copilot-runner:repo-config")).collect();
    assert_eq!(noted.len(), 1, "{notes:#?}");
    assert!(noted[0].contains("line 2, `mcp_servers`") && noted[0].contains("`tickets`, `wiki`"), "{}", noted[0]);
}
