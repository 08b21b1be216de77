//! A small stdio MCP server for the tests: one tool, `lookup_ticket`, whose every call is
//! appended as a JSON line to the file given by `--calls`, with the values of the environment
//! variables named by `--show-env` (so a test can see what reached the server's environment
//! without the values ever going back to the model).
//!
//! Usage: `mcp-server --calls FILE [--show-env NAME]...`
#![expect(clippy::disallowed_methods, reason = "the server reports its own environment, which is what the tests check")]

use std::io::{BufRead as _, Write as _};

use anyhow::Context as _;
use serde_json::{Value, json};

fn main() -> anyhow::Result<()> {
    let mut calls = None;
    let mut show_env = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--calls" => calls = Some(args.next().context("--calls needs a file")?),
            "--show-env" => show_env.push(args.next().context("--show-env needs a name")?),
            other => anyhow::bail!("unknown argument `{other}`; usage: mcp-server --calls FILE [--show-env NAME]..."),
        }
    }
    let calls = calls.context("usage: mcp-server --calls FILE [--show-env NAME]...")?;
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line.context("while reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let request: Value = serde_json::from_str(&line).with_context(|| format!("not JSON-RPC: {line}"))?;
        let Some(id) = request.get("id").cloned() else { continue };
        let method = request["method"].as_str().unwrap_or_default();
        let answer = match method {
            "initialize" => json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": request["params"]["protocolVersion"].as_str().unwrap_or("2025-06-18"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "ticket-lookup", "version": "1.0.0"},
            }}),
            "ping" => json!({"jsonrpc": "2.0", "id": id, "result": {}}),
            "tools/list" => json!({"jsonrpc": "2.0", "id": id, "result": {"tools": [{
                "name": "lookup_ticket",
                "description": "Looks up a ticket by its id and returns its status.",
                "inputSchema": {
                    "type": "object",
                    "properties": {"id": {"type": "string", "description": "The ticket id"}},
                    "required": ["id"],
                },
            }]}}),
            "tools/call" => {
                let params = &request["params"];
                let env: serde_json::Map<String, Value> = show_env
                    .iter()
                    .map(|name| (name.clone(), std::env::var(name).map_or(Value::Null, Value::String)))
                    .collect();
                let record = json!({"tool": params["name"], "arguments": params["arguments"], "env": env});
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&calls)
                    .with_context(|| format!("while opening `{calls}`"))?;
                writeln!(file, "{record}").with_context(|| format!("while writing `{calls}`"))?;
                let ticket = params["arguments"]["id"].as_str().unwrap_or("?");
                json!({"jsonrpc": "2.0", "id": id, "result": {
                    "content": [{"type": "text", "text": format!("Ticket {ticket} is open.")}],
                    "isError": false,
                }})
            }
            other => {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": format!("no method `{other}`")}})
            }
        };
        writeln!(stdout, "{answer}").context("while writing stdout")?;
        stdout.flush().context("while writing stdout")?;
    }
    Ok(())
}
