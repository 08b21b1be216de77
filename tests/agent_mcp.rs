//! MCP servers through the real Copilot CLI and the scripted mock model: a server the admin's
//! `COPILOT_MCP_CONFIG` allows is started and its tool called, with its `$VAR` secret in its
//! environment and in no artifact; servers a checkout declares on its own (`.mcp.json`,
//! `.github/mcp.json`) or a repository asks for without the admin's leave are not.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly on any setup error")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use copilot_runner::agent::copilot::MCP_CONFIG_FILE;
use copilot_runner::agent::mcp::McpProblem;
use copilot_runner::agent::{Agent, AgentOutcome, ToolOutcome};
use copilot_runner::config::Env;
use copilot_runner_testkit::mock_model::{MockModel, Reply, Rule, Script};
use serde_json::{Value, json};

use crate::agent_copilot::Fixture;

const TICKET_SECRET: &str = "tk-mcp-secret-never-in-artifacts";

/// The test rig's MCP server, built beside `copilot-runner`.
fn mcp_server() -> PathBuf {
    copilot_runner_testkit::testkit_bin!("mcp-server")
}

/// A server entry running the rig's MCP server, recording its calls in `calls`.
fn server(program: &Path, calls: &Path, env: &Value) -> Value {
    json!({
        "type": "local",
        "command": program.display().to_string(),
        "args": ["--calls", calls.display().to_string(), "--show-env", "TICKET_TOKEN"],
        "env": env,
        "tools": ["*"],
    })
}

/// The JSON lines the server at `calls` recorded (none when it was never called).
fn calls(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .map(|text| text.lines().map(|line| serde_json::from_str(line).unwrap()).collect())
        .unwrap_or_default()
}

/// Every file under `dir`, as text.
fn all_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(all_files(&path));
        } else {
            found.push((path.clone(), String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()));
        }
    }
    found
}

/// The fixture's environment plus `extra`.
fn env_with(fixture: &Fixture, model: &MockModel, extra: &[(&str, &str)]) -> Env {
    let base = fixture.env(&model.base_url());
    let pairs: Vec<(String, String)> = base
        .iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .chain(extra.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())))
        .collect();
    Env::from_pairs(pairs)
}

fn lookup_script(marker: &str, tool: &str) -> Script {
    Script::new()
        .rule(Rule::when(marker).then(Reply::tool(tool, json!({"id": "T-7"}))).then(Reply::text("Ticket T-7 is open.")))
}

async fn run(fixture: &Fixture, agent: copilot_runner::agent::copilot::CopilotAgent, prompt: &str) -> AgentOutcome {
    match agent.run_stage(fixture.request(prompt, Duration::from_secs(50))).await {
        Ok(outcome) => outcome,
        Err(error) => panic!("stage failed: {error:?}"),
    }
}

#[tokio::test]
async fn an_allowed_server_is_called_through_the_real_cli_and_its_secret_stays_out_of_the_artifacts() {
    let fixture = Fixture::new().await;
    let program = tokio::task::spawn_blocking(mcp_server).await.unwrap();
    let calls_file = fixture.dirs.path().join("scratch/tickets-calls.jsonl");
    let admin = fixture.dirs.path().join("mcp-servers.json");
    let config = json!({"mcpServers": {
        "tickets": server(&program, &calls_file, &json!({"TICKET_TOKEN": "$TICKETS_API_TOKEN"})),
    }});
    std::fs::write(&admin, config.to_string()).unwrap();
    // After the lookup the agent looks for the secret where it could be: its environment and
    // the servers' file the CLI was given.
    // (The path is built in the shell: the CLI would refuse a literal path outside its folders.)
    let snoop = format!("env; up=$(dirname \"$PWD\"); cat \"$up/agent/{MCP_CONFIG_FILE}\"");
    let model = MockModel::start(
        Script::new().rule(
            Rule::when("STAGE mcp")
                .then(Reply::tool("tickets-lookup_ticket", json!({"id": "T-7"})))
                .then(Reply::bash(&snoop, "Look for the ticket secret"))
                .then(Reply::text("Ticket T-7 is open.")),
        ),
    )
    .await
    .unwrap();
    let env = env_with(
        &fixture,
        &model,
        &[("COPILOT_MCP_CONFIG", &admin.display().to_string()), ("TICKETS_API_TOKEN", TICKET_SECRET)],
    );

    let outcome = run(&fixture, fixture.agent_with(&env), "STAGE mcp: look up ticket T-7").await;

    let recorded = calls(&calls_file);
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["tool"], "lookup_ticket");
    assert_eq!(recorded[0]["arguments"]["id"], "T-7");
    assert_eq!(recorded[0]["env"]["TICKET_TOKEN"], TICKET_SECRET, "the `$VAR` secret reached the server");
    let tool = outcome.tools.iter().find(|tool| tool.name == "tickets-lookup_ticket").expect("the MCP tool call");
    assert_eq!(tool.outcome, ToolOutcome::Succeeded);
    let results = model.completions().last().unwrap().tool_results();
    assert!(results.iter().any(|result| result.contains("T-7 is open")), "{results:?}");
    assert!(results.iter().any(|result| result.contains("PATH=")), "the shell ran: {results:?}");
    // The secret is in no artifact, never reached the model, and its file is gone.
    let artifacts = all_files(&fixture.dirs.path().join("artifacts"));
    assert!(!artifacts.is_empty());
    for (path, text) in &artifacts {
        assert!(!text.contains(TICKET_SECRET), "the secret is in {}", path.display());
    }
    assert!(!model.saw(TICKET_SECRET), "the secret reached the model");
    assert!(!fixture.dirs.path().join("agent").join(MCP_CONFIG_FILE).exists());
}

#[tokio::test]
async fn servers_the_repository_adds_on_its_own_are_not_loaded_and_unknown_picks_are_named() {
    let fixture = Fixture::new().await;
    let program = tokio::task::spawn_blocking(mcp_server).await.unwrap();
    let scratch = fixture.dirs.path().join("scratch");
    // The same program, once allowed by the admin (the control) and twice declared by the
    // checkout itself; each records its calls in a file of its own.
    let admin = fixture.dirs.path().join("mcp-servers.json");
    let allowed = json!({"mcpServers": {"tickets": server(&program, &scratch.join("admin.jsonl"), &json!({}))}});
    std::fs::write(&admin, allowed.to_string()).unwrap();
    let repo = fixture.repo();
    std::fs::create_dir_all(repo.join(".github")).unwrap();
    let own =
        |name: &str, calls: &str| json!({"mcpServers": {name: server(&program, &scratch.join(calls), &json!({}))}});
    std::fs::write(repo.join(".mcp.json"), own("repo-tickets", "repo.jsonl").to_string()).unwrap();
    std::fs::write(repo.join(".github/mcp.json"), own("gh-tickets", "github.jsonl").to_string()).unwrap();
    let model = MockModel::start(lookup_script("STAGE mcp", "tickets-lookup_ticket")).await.unwrap();
    // `COPILOT_ALLOW_ALL=true` makes the CLI trust the checkout and load its MCP files.
    let env = env_with(
        &fixture,
        &model,
        &[("COPILOT_MCP_CONFIG", &admin.display().to_string()), ("COPILOT_ALLOW_ALL", "true")],
    );
    let wanted = ["tickets".to_owned(), "repo-tickets".to_owned()];

    let (agent, problems) = fixture.agent_with(&env).with_mcp_servers(Some(&wanted));
    let outcome = run(&fixture, agent, "STAGE mcp: look up ticket T-7").await;

    assert_eq!(
        problems,
        [McpProblem::NotAllowed { name: "repo-tickets".to_owned(), allowed: vec!["tickets".to_owned()] }]
    );
    let advertised = model.completions()[0].tool_names();
    assert!(advertised.iter().any(|name| name == "tickets-lookup_ticket"), "{advertised:?}");
    for own in ["repo-tickets-lookup_ticket", "gh-tickets-lookup_ticket"] {
        assert!(!advertised.iter().any(|name| name == own), "`{own}` was loaded: {advertised:?}");
    }
    assert_eq!(calls(&scratch.join("admin.jsonl")).len(), 1);
    assert!(calls(&scratch.join("repo.jsonl")).is_empty() && calls(&scratch.join("github.jsonl")).is_empty());
    assert_eq!(outcome.final_message.as_deref(), Some("Ticket T-7 is open."));
}
