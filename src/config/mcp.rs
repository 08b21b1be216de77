//! MCP servers the admin allows the agent (`COPILOT_MCP_CONFIG`): a JSON file in the Copilot
//! CLI's `mcpServers` shape whose `env` and `headers` values may name masked CI variables as
//! `$VAR`. A repository may pick among these servers ([`servers_for_run`]) but never add one:
//! the chosen servers reach the CLI through `--additional-mcp-config @file`, and every server a
//! checkout's own MCP files (`.mcp.json`, `.github/mcp.json`) name is disabled by name.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::Env;

/// The checkout's files the CLI reads MCP servers from (when it trusts the folder).
pub const WORKSPACE_FILES: &[&str] = &[".mcp.json", ".github/mcp.json"];

/// Top-level key of the admin's file that keeps the CLI's built-in GitHub MCP servers on.
pub const BUILTIN_KEY: &str = "builtinMcpServers";

/// Server kinds the CLI knows.
const LOCAL_TYPES: &[&str] = &["local", "stdio"];
const REMOTE_TYPES: &[&str] = &["http", "sse"];

/// The admin's MCP servers, by name, as written (secrets still `$VAR`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct McpConfig {
    servers: BTreeMap<String, Map<String, Value>>,
    /// Whether the CLI's built-in GitHub MCP servers stay on.
    pub builtin: bool,
}

/// Something wrong in the repository's pick of MCP servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpProblem {
    /// The repository asked for a server the admin's config does not name; it was not added.
    NotAllowed { name: String, allowed: Vec<String> },
}

impl fmt::Display for McpProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAllowed { name, allowed } if allowed.is_empty() => {
                write!(f, "MCP server `{name}` was not added: the admin allows no MCP servers")
            }
            Self::NotAllowed { name, allowed } => write!(
                f,
                "MCP server `{name}` was not added: the admin allows only {}",
                allowed.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

impl McpConfig {
    /// Reads and checks the admin's file; the error says what is wrong and what is allowed.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|error| format!("a readable JSON file ({error})"))?;
        Self::parse(&text)
    }

    /// Checks the text of an admin's file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shape = "a JSON object `{\"mcpServers\": {\"name\": {\"type\": \"local\", \"command\": …}}}`";
        let value: Value = serde_json::from_str(text).map_err(|error| format!("{shape} ({error})"))?;
        let Some(top) = value.as_object() else { return Err(shape.to_owned()) };
        if let Some(key) = top.keys().find(|key| !["mcpServers", BUILTIN_KEY].contains(&key.as_str())) {
            return Err(format!("{shape}; `{key}` is not a known key (`mcpServers`, `{BUILTIN_KEY}`)"));
        }
        let builtin = match top.get(BUILTIN_KEY) {
            None => false,
            Some(Value::Bool(on)) => *on,
            Some(_) => return Err(format!("`{BUILTIN_KEY}` to be `true` or `false`")),
        };
        let Some(servers) = top.get("mcpServers").and_then(Value::as_object) else {
            return Err(format!("{shape}: `mcpServers` is missing or not an object"));
        };
        let mut checked = BTreeMap::new();
        for (name, server) in servers {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(format!("server names of letters, digits, `_` and `-` (not `{name}`)"));
            }
            let server = check_server(name, server)?;
            checked.insert(name.clone(), server);
        }
        Ok(Self { servers: checked, builtin })
    }

    /// The servers' names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.servers.keys().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The masked variables the servers' `env` and `headers` name (`$VAR`).
    pub fn variables(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.secret_values().filter_map(|value| variable(value).map(str::to_owned)).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Folders holding the local servers' programs named by absolute path (the sandbox must
    /// let the agent execute them; programs found on `PATH` are reachable already).
    pub fn program_dirs(&self) -> Vec<PathBuf> {
        self.servers
            .values()
            .filter_map(|server| server.get("command").and_then(Value::as_str))
            .map(Path::new)
            .filter(|command| command.is_absolute())
            .filter_map(|command| command.parent().map(Path::to_owned))
            .collect()
    }

    /// The CLI's `--additional-mcp-config` JSON with every `$VAR` replaced by its value from
    /// `env`, and those values (to keep out of logs).
    pub fn resolve(&self, env: &Env) -> Result<(String, Vec<String>), String> {
        let mut secrets = Vec::new();
        let mut servers = Map::new();
        for (name, server) in &self.servers {
            let mut server = server.clone();
            for key in ["env", "headers"] {
                let Some(Value::Object(map)) = server.get_mut(key) else { continue };
                for value in map.values_mut() {
                    let Some(var) = value.as_str().and_then(variable) else { continue };
                    let Some(resolved) = env.get(var) else {
                        return Err(format!("MCP server `{name}` names `${var}` in `{key}`, which is not set"));
                    };
                    secrets.push(resolved.to_owned());
                    *value = Value::String(resolved.to_owned());
                }
            }
            servers.insert(name.clone(), Value::Object(server));
        }
        let config = serde_json::json!({ "mcpServers": servers });
        Ok((config.to_string(), secrets))
    }

    fn secret_values(&self) -> impl Iterator<Item = &str> {
        self.servers
            .values()
            .flat_map(|server| ["env", "headers"].into_iter().filter_map(|key| server.get(key)?.as_object()))
            .flat_map(|map| map.values().filter_map(Value::as_str))
    }
}

/// The servers for one run: all the admin's when the repository picks none (`wanted` is
/// `None`), else those of its pick the admin allows. A name the admin does not allow is a
/// problem, never added.
pub fn servers_for_run(admin: &McpConfig, wanted: Option<&[String]>) -> (McpConfig, Vec<McpProblem>) {
    let Some(wanted) = wanted else { return (admin.clone(), Vec::new()) };
    let mut chosen = McpConfig { servers: BTreeMap::new(), builtin: admin.builtin };
    let mut problems = Vec::new();
    for name in wanted {
        match admin.servers.get(name) {
            Some(server) => {
                chosen.servers.insert(name.clone(), server.clone());
            }
            None => problems.push(McpProblem::NotAllowed { name: name.clone(), allowed: admin.names() }),
        }
    }
    (chosen, problems)
}

/// Names of the servers the checkout's own MCP files declare, minus `keep` (the chosen admin
/// servers, which the CLI's `--additional-mcp-config` overrides by name anyway).
pub fn workspace_servers(repo_dir: &Path, keep: &McpConfig) -> Vec<String> {
    let mut names = Vec::new();
    for file in WORKSPACE_FILES {
        let Ok(text) = std::fs::read_to_string(repo_dir.join(file)) else { continue };
        let Ok(Value::Object(top)) = serde_json::from_str::<Value>(&text) else { continue };
        for key in ["mcpServers", "servers"] {
            let Some(servers) = top.get(key).and_then(Value::as_object) else { continue };
            names.extend(servers.keys().filter(|name| !keep.servers.contains_key(*name)).cloned());
        }
    }
    names.sort_unstable();
    names.dedup();
    names
}

fn check_server(name: &str, server: &Value) -> Result<Map<String, Value>, String> {
    let Some(server) = server.as_object() else { return Err(format!("MCP server `{name}` to be an object")) };
    let kind = server.get("type").and_then(Value::as_str).unwrap_or("local");
    let required = if LOCAL_TYPES.contains(&kind) {
        "command"
    } else if REMOTE_TYPES.contains(&kind) {
        "url"
    } else {
        return Err(format!("MCP server `{name}`'s `type` to be `local`, `stdio`, `http` or `sse` (not `{kind}`)"));
    };
    if server.get(required).and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(format!("MCP server `{name}` of type `{kind}` to have a `{required}` string"));
    }
    for key in ["env", "headers"] {
        let Some(map) = server.get(key) else { continue };
        let Some(map) = map.as_object() else { return Err(format!("MCP server `{name}`'s `{key}` to be an object")) };
        for (entry, value) in map {
            let Some(text) = value.as_str() else {
                return Err(format!("MCP server `{name}`'s `{key}.{entry}` to be a string"));
            };
            if text.starts_with('$') && variable(text).is_none() {
                return Err(format!(
                    "MCP server `{name}`'s `{key}.{entry}` to name a masked CI variable as `$NAME` \
                     (letters, digits and `_`), not `{text}`"
                ));
            }
        }
    }
    Ok(server.clone())
}

/// `NAME` of a `$NAME` value.
fn variable(value: &str) -> Option<&str> {
    let name = value.strip_prefix('$')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    ((first.is_ascii_alphabetic() || first == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = r#"{"mcpServers": {
        "tickets": {"type": "local", "command": "/opt/mcp/tickets", "args": ["--fast"],
                    "env": {"TICKET_TOKEN": "$TICKETS_TOKEN", "MODE": "ro"}, "tools": ["*"]},
        "docs": {"type": "http", "url": "https://docs.example/mcp",
                 "headers": {"Authorization": "$DOCS_AUTH"}, "tools": ["*"]}
    }}"#;

    #[test]
    fn the_admins_file_is_read_and_its_variables_named() {
        let config = McpConfig::parse(ADMIN).unwrap();
        assert_eq!(config.names(), ["docs", "tickets"]);
        assert_eq!(config.variables(), ["DOCS_AUTH", "TICKETS_TOKEN"]);
        assert_eq!(config.program_dirs(), [PathBuf::from("/opt/mcp")]);
        assert!(!config.builtin);
        assert!(McpConfig::parse(r#"{"mcpServers": {}, "builtinMcpServers": true}"#).unwrap().builtin);
    }

    #[test]
    fn a_bad_file_is_refused_with_what_is_allowed() {
        for (text, expected) in [
            ("not json", "a JSON object"),
            (r#"{"servers": {}}"#, "`servers` is not a known key"),
            (r#"{"mcpServers": []}"#, "`mcpServers` is missing or not an object"),
            (r#"{"mcpServers": {"a b": {"command": "x"}}}"#, "not `a b`"),
            (r#"{"mcpServers": {"a": {"type": "ws", "url": "x"}}}"#, "not `ws`"),
            (r#"{"mcpServers": {"a": {"type": "http"}}}"#, "to have a `url` string"),
            (r#"{"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}}"#, "`env.K` to be a string"),
            (r#"{"mcpServers": {"a": {"command": "x", "env": {"K": "$1X"}}}}"#, "not `$1X`"),
            (r#"{"mcpServers": {}, "builtinMcpServers": "yes"}"#, "`true` or `false`"),
        ] {
            let error = McpConfig::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn variables_are_resolved_from_the_environment_and_returned_as_secrets() {
        let config = McpConfig::parse(ADMIN).unwrap();
        let env = Env::from_pairs([("TICKETS_TOKEN", "tk-secret-1"), ("DOCS_AUTH", "Bearer d-secret-2")]);
        let (json, secrets) = config.resolve(&env).unwrap();
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["mcpServers"]["tickets"]["env"]["TICKET_TOKEN"], "tk-secret-1");
        assert_eq!(value["mcpServers"]["tickets"]["env"]["MODE"], "ro");
        assert_eq!(value["mcpServers"]["tickets"]["args"][0], "--fast");
        assert_eq!(value["mcpServers"]["docs"]["headers"]["Authorization"], "Bearer d-secret-2");
        assert_eq!(secrets, ["Bearer d-secret-2", "tk-secret-1"]);
        let error = config.resolve(&Env::from_pairs([("DOCS_AUTH", "x")])).unwrap_err();
        assert!(error.contains("`tickets`") && error.contains("`$TICKETS_TOKEN`"), "{error}");
    }

    #[test]
    fn a_repository_picks_among_the_admins_servers_but_adds_none() {
        let admin = McpConfig::parse(ADMIN).unwrap();
        assert_eq!(servers_for_run(&admin, None), (admin.clone(), Vec::new()));
        let wanted = ["tickets".to_owned(), "evil".to_owned()];
        let (chosen, problems) = servers_for_run(&admin, Some(&wanted));
        assert_eq!(chosen.names(), ["tickets"]);
        assert_eq!(
            problems,
            [McpProblem::NotAllowed {
                name: "evil".to_owned(),
                allowed: vec!["docs".to_owned(), "tickets".to_owned()]
            }]
        );
        assert_eq!(problems[0].to_string(), "MCP server `evil` was not added: the admin allows only `docs`, `tickets`");
        let (none, _) = servers_for_run(&admin, Some(&[]));
        assert!(none.is_empty());
    }

    #[test]
    fn servers_of_the_checkouts_own_files_are_found_for_disabling() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir(repo.path().join(".github")).unwrap();
        std::fs::write(repo.path().join(".mcp.json"), r#"{"mcpServers": {"sneaky": {}, "tickets": {}}}"#).unwrap();
        std::fs::write(repo.path().join(".github/mcp.json"), r#"{"mcpServers": {"other": {}}}"#).unwrap();
        let admin = McpConfig::parse(ADMIN).unwrap();
        assert_eq!(workspace_servers(repo.path(), &admin), ["other", "sneaky"]);
        assert_eq!(workspace_servers(repo.path(), &McpConfig::default()), ["other", "sneaky", "tickets"]);
    }
}
