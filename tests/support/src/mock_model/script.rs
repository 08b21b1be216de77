//! What the mock model answers: a per-test script of rules, written in Rust or loaded from JSON.
//!
//! A rule matches a marker (a stage name, a phrase) in the conversation's user messages, or in
//! its latest user or tool message, and answers from its own sequence of replies indexed by how
//! many assistant turns the conversation already has. The CLI resends the whole conversation on
//! every call, so the script needs no state: the first call of a stage gets reply 0 (say a tool
//! call), the call that carries the tool's result gets reply 1 (say the final text).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The whole script: rules tried in order, then the fallback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Script {
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Answer when no rule matches (or a rule ran out of replies).
    #[serde(default = "Script::default_fallback")]
    pub fallback: Reply,
    /// Token counts reported in every answer's usage.
    #[serde(default)]
    pub usage: Usage,
    /// Model id listed by `GET /v1/models` and echoed in answers.
    #[serde(default = "Script::default_model")]
    pub model: String,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            fallback: Self::default_fallback(),
            usage: Usage::default(),
            model: Self::default_model(),
        }
    }
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    fn default_fallback() -> Reply {
        Reply::Text { text: "Nothing scripted for this request.".to_owned() }
    }

    fn default_model() -> String {
        "gpt-4.1".to_owned()
    }

    /// Adds a rule.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Sets the answer for unmatched requests.
    pub fn fallback(mut self, reply: Reply) -> Self {
        self.fallback = reply;
        self
    }

    pub fn usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        self.usage = Usage { prompt_tokens, completion_tokens };
        self
    }

    /// The reply for a request's messages.
    pub fn reply_for(&self, messages: &[Value]) -> Reply {
        let turns = messages.iter().filter(|message| role(message) == "assistant").count();
        self.rules
            .iter()
            .find(|rule| rule.matches(messages))
            .map(|rule| rule.replies.get(turns).cloned().unwrap_or_else(|| self.fallback.clone()))
            .unwrap_or_else(|| self.fallback.clone())
    }
}

/// Where a rule looks for its marker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Any user message of the conversation (the prompt).
    #[default]
    AnyUserMessage,
    /// Only the latest user or tool message (what the CLI just sent back).
    LatestMessage,
}

/// One rule: a marker and the replies for successive turns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub marker: String,
    #[serde(default)]
    pub scope: Scope,
    pub replies: Vec<Reply>,
}

impl Rule {
    /// A rule matching `marker` in any user message.
    pub fn when(marker: impl Into<String>) -> Self {
        Self { marker: marker.into(), scope: Scope::AnyUserMessage, replies: Vec::new() }
    }

    /// A rule matching `marker` in the latest user or tool message only.
    pub fn when_latest(marker: impl Into<String>) -> Self {
        Self { marker: marker.into(), scope: Scope::LatestMessage, replies: Vec::new() }
    }

    /// Adds the reply for the next turn.
    pub fn then(mut self, reply: Reply) -> Self {
        self.replies.push(reply);
        self
    }

    fn matches(&self, messages: &[Value]) -> bool {
        match self.scope {
            Scope::AnyUserMessage => messages
                .iter()
                .filter(|message| role(message) == "user")
                .any(|message| content_text(message).contains(&self.marker)),
            Scope::LatestMessage => messages
                .iter()
                .rev()
                .find(|message| matches!(role(message), "user" | "tool"))
                .is_some_and(|message| content_text(message).contains(&self.marker)),
        }
    }
}

/// One answer of the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// Final text; the CLI ends the turn.
    Text { text: String },
    /// Tool calls; the CLI runs them and calls again with the results.
    ToolCalls { calls: Vec<ToolCall> },
    /// An HTTP error status with a body.
    Error { status: u16, body: String },
    /// Never answers (the connection stays open).
    Hang,
    /// Waits until the test opens `gate` ([`super::MockModel::open_gate`]), then answers `reply`:
    /// the test acts at a known point of a stage while the agent waits for the model.
    Held { gate: String, reply: Box<Reply> },
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }

    /// `reply`, once the test opens `gate`.
    pub fn held(gate: &str, reply: Reply) -> Self {
        Self::Held { gate: gate.to_owned(), reply: Box::new(reply) }
    }

    /// One tool call.
    pub fn tool(name: &str, arguments: Value) -> Self {
        Self::ToolCalls { calls: vec![ToolCall { name: name.to_owned(), arguments }] }
    }

    /// The CLI's `create` tool: a new file at an absolute path.
    pub fn create(path: &str, file_text: &str) -> Self {
        Self::tool("create", serde_json::json!({ "path": path, "file_text": file_text }))
    }

    /// The CLI's `edit` tool: replace one occurrence of `old_str` in the file at `path`.
    pub fn edit(path: &str, old_str: &str, new_str: &str) -> Self {
        Self::tool("edit", serde_json::json!({ "path": path, "old_str": old_str, "new_str": new_str }))
    }

    /// The CLI's `bash` tool, run synchronously.
    pub fn bash(command: &str, description: &str) -> Self {
        Self::tool(
            "bash",
            serde_json::json!({ "command": command, "description": description, "mode": "sync", "initial_wait": 30 }),
        )
    }
}

/// A function call in the shape the CLI's tool schemas advertise.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Value,
}

/// Token counts reported per answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Default for Usage {
    fn default() -> Self {
        Self { prompt_tokens: 100, completion_tokens: 10 }
    }
}

fn role(message: &Value) -> &str {
    message.get("role").and_then(Value::as_str).unwrap_or_default()
}

/// A message's text whether `content` is a string or a list of parts.
pub fn content_text(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|part| part.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn replies_follow_the_number_of_assistant_turns() {
        let script = Script::new()
            .rule(Rule::when("STAGE: build").then(Reply::bash("make", "build")).then(Reply::text("built")));
        let first = [json!({"role": "system", "content": "x"}), json!({"role": "user", "content": "STAGE: build"})];
        assert!(matches!(script.reply_for(&first), Reply::ToolCalls { .. }));
        let second = [
            first[0].clone(),
            first[1].clone(),
            json!({"role": "assistant", "content": null, "tool_calls": []}),
            json!({"role": "tool", "content": "ok"}),
        ];
        assert!(matches!(script.reply_for(&second), Reply::Text { text } if text == "built"));
        let other = [json!({"role": "user", "content": [{"type": "text", "text": "something else"}]})];
        assert!(matches!(script.reply_for(&other), Reply::Text { text } if text.starts_with("Nothing scripted")));
    }

    #[test]
    fn a_script_round_trips_through_json() {
        let text = r#"{"rules": [{"marker": "hi", "replies": [{"kind": "hang"},
            {"kind": "tool_calls", "calls": [{"name": "create", "arguments": {"path": "/a", "file_text": "b"}}]}]}]}"#;
        let script: Script = serde_json::from_str(text).unwrap();
        assert_eq!(script.rules[0].scope, Scope::AnyUserMessage);
        assert!(matches!(script.rules[0].replies[0], Reply::Hang));
        assert_eq!(script.model, "gpt-4.1");
    }
}
