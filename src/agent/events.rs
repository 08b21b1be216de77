//! The Copilot CLI's `--output-format json` stream (JSONL on stdout) and its
//! `--usage-output-file`, turned into a typed record of what happened, plus a readable
//! transcript line per interesting event for the job log.
//!
//! The CLI's exit code says little (a denied tool or an unreachable model after retries can
//! still exit 0 or 1 alike), so the record keeps what decides success: `session.error`, the
//! final `result` and its `exitCode`, and every tool execution with its success or denial.

use serde::Deserialize;
use serde_json::Value;

/// One tool execution as the CLI reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolExecution {
    pub call_id: String,
    /// The tool's name (`bash`, `create`, `edit`, …).
    pub name: String,
    /// A one-line summary of the arguments (the command, the path).
    pub summary: String,
    pub outcome: ToolOutcome,
}

/// How a tool execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolOutcome {
    Succeeded,
    /// Refused by the tool policy (`--deny-tool`) or for want of approval.
    Denied {
        reason: String,
    },
    Failed {
        reason: String,
    },
    /// Started but never completed (the run ended first).
    Unfinished,
}

/// An error the session reported (`session.error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionError {
    pub error_type: String,
    pub message: String,
}

/// Lines changed by the CLI's built-in edit tools (`bash` writes are not counted by the CLI).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeChanges {
    #[serde(default)]
    pub lines_added: u64,
    #[serde(default)]
    pub lines_removed: u64,
    #[serde(default)]
    pub files_modified: Vec<String>,
}

/// The final `result` event.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionResult {
    pub exit_code: i64,
    pub session_id: Option<String>,
    pub premium_requests: f64,
    pub api_duration_ms: u64,
    pub code_changes: CodeChanges,
}

/// Token usage from `--usage-output-file`, summed over models.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub model_requests: u64,
    pub premium_request_cost: f64,
}

/// Everything read from one run's event stream.
#[derive(Debug, Clone, Default)]
pub struct EventRecord {
    /// Assistant messages with text, in order.
    pub messages: Vec<String>,
    pub tools: Vec<ToolExecution>,
    pub errors: Vec<SessionError>,
    pub result: Option<SessionResult>,
    /// Model calls that failed for transport reasons (connection refused, reset).
    pub transport_failures: u32,
    /// Lines that were not JSON events (kept count only; the raw file has them).
    pub unparsed_lines: u32,
}

impl EventRecord {
    /// Reads one JSONL line; returns a transcript line when the event is worth showing.
    pub fn push_line(&mut self, line: &str) -> Option<String> {
        let line = line.trim();
        if line.is_empty() {
            return None;
        }
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            self.unparsed_lines += 1;
            return Some(format!("  {line}"));
        };
        let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
        let data = event.get("data").unwrap_or(&Value::Null);
        match kind {
            "assistant.message" => {
                let content = str_at(data, "content");
                for request in data.get("toolRequests").and_then(Value::as_array).into_iter().flatten() {
                    self.tools.push(ToolExecution {
                        call_id: str_at(request, "toolCallId").to_owned(),
                        name: str_at(request, "name").to_owned(),
                        summary: summarize_arguments(request.get("arguments").unwrap_or(&Value::Null)),
                        outcome: ToolOutcome::Unfinished,
                    });
                }
                if content.trim().is_empty() {
                    return None;
                }
                self.messages.push(content.to_owned());
                Some(format!("💬 {}", indent_continuation(content.trim())))
            }
            "tool.execution_start" => {
                let call_id = str_at(data, "toolCallId");
                let name = str_at(data, "toolName");
                let summary = summarize_arguments(data.get("arguments").unwrap_or(&Value::Null));
                match self.tools.iter_mut().find(|tool| tool.call_id == call_id) {
                    Some(tool) => tool.summary.clone_from(&summary),
                    None => self.tools.push(ToolExecution {
                        call_id: call_id.to_owned(),
                        name: name.to_owned(),
                        summary: summary.clone(),
                        outcome: ToolOutcome::Unfinished,
                    }),
                }
                Some(format!("▶ {name}: {summary}"))
            }
            "tool.execution_complete" => {
                let call_id = str_at(data, "toolCallId");
                let outcome = tool_outcome(data);
                let shown = match &outcome {
                    ToolOutcome::Succeeded => "  ✓ done".to_owned(),
                    ToolOutcome::Denied { reason } => format!("  ✗ denied: {reason}"),
                    ToolOutcome::Failed { reason } => format!("  ✗ failed: {}", first_line(reason)),
                    ToolOutcome::Unfinished => String::new(),
                };
                match self.tools.iter_mut().find(|tool| tool.call_id == call_id) {
                    Some(tool) => tool.outcome = outcome,
                    None => self.tools.push(ToolExecution {
                        call_id: call_id.to_owned(),
                        name: str_at(data, "toolName").to_owned(),
                        summary: String::new(),
                        outcome,
                    }),
                }
                Some(shown)
            }
            "model.call_failure" => {
                if str_at(data, "failureKind") == "transport" {
                    self.transport_failures += 1;
                }
                None
            }
            "session.info" if str_at(data, "infoType") == "model_retry" => {
                Some(format!("… {}", str_at(data, "message")))
            }
            "session.error" => {
                let error = SessionError {
                    error_type: str_at(data, "errorType").to_owned(),
                    message: str_at(data, "message").to_owned(),
                };
                let shown = format!("✗ session error ({}): {}", error.error_type, indent_continuation(&error.message));
                self.errors.push(error);
                Some(shown)
            }
            "result" => {
                let usage = event.get("usage").unwrap_or(&Value::Null);
                let result = SessionResult {
                    exit_code: event.get("exitCode").and_then(Value::as_i64).unwrap_or(-1),
                    session_id: event.get("sessionId").and_then(Value::as_str).map(str::to_owned),
                    premium_requests: usage.get("premiumRequests").and_then(Value::as_f64).unwrap_or(0.0),
                    api_duration_ms: usage.get("totalApiDurationMs").and_then(Value::as_u64).unwrap_or(0),
                    code_changes: usage
                        .get("codeChanges")
                        .and_then(|changes| CodeChanges::deserialize(changes).ok())
                        .unwrap_or_default(),
                };
                let shown = format!(
                    "■ result: exit code {}, {} premium request(s), +{} -{} in {} file(s)",
                    result.exit_code,
                    result.premium_requests,
                    result.code_changes.lines_added,
                    result.code_changes.lines_removed,
                    result.code_changes.files_modified.len()
                );
                self.result = Some(result);
                Some(shown)
            }
            _ => None,
        }
    }

    /// Tool executions refused by policy.
    pub fn denied(&self) -> impl Iterator<Item = &ToolExecution> {
        self.tools.iter().filter(|tool| matches!(tool.outcome, ToolOutcome::Denied { .. }))
    }
}

fn tool_outcome(data: &Value) -> ToolOutcome {
    if data.get("success").and_then(Value::as_bool) == Some(true) {
        return ToolOutcome::Succeeded;
    }
    let error = data.get("error").unwrap_or(&Value::Null);
    let message = match error {
        Value::String(message) => message.clone(),
        _ => str_at(error, "message").to_owned(),
    };
    let message = if message.is_empty() {
        data.pointer("/result/content").and_then(Value::as_str).unwrap_or("no reason given").to_owned()
    } else {
        message
    };
    // `code: denied` for policy rules; "Permission denied because no interactive user…" when
    // nothing could approve the tool.
    let denied = str_at(error, "code") == "denied"
        || data.pointer("/toolTelemetry/properties/shell_error_category").and_then(Value::as_str)
            == Some("permission_denied")
        || message.starts_with("Permission denied because no interactive user");
    if denied { ToolOutcome::Denied { reason: message } } else { ToolOutcome::Failed { reason: message } }
}

fn str_at<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn indent_continuation(text: &str) -> String {
    text.replace('\n', "\n   ")
}

/// A tool call's arguments in one line: the command for shells, the path for file tools.
fn summarize_arguments(arguments: &Value) -> String {
    let text = ["command", "path", "pattern", "query", "url"]
        .iter()
        .find_map(|key| arguments.get(*key).and_then(Value::as_str))
        .map_or_else(|| arguments.to_string(), str::to_owned);
    let line = text.replace('\n', " ⏎ ");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// Parses the `--usage-output-file` JSON; `None` when it is not the expected shape.
pub fn parse_usage(text: &str) -> Option<TokenUsage> {
    let usage: Value = serde_json::from_str(text).ok()?;
    let metrics = usage.get("modelMetrics")?.as_object()?;
    let mut total = TokenUsage {
        premium_request_cost: usage.get("totalPremiumRequestCost").and_then(Value::as_f64).unwrap_or(0.0),
        ..TokenUsage::default()
    };
    for model in metrics.values() {
        let count = |pointer: &str| model.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
        total.input_tokens += count("/usage/inputTokens");
        total.output_tokens += count("/usage/outputTokens");
        total.cache_read_tokens += count("/usage/cacheReadTokens");
        total.cache_write_tokens += count("/usage/cacheWriteTokens");
        total.model_requests += count("/requests/count");
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/copilot-cli");

    fn record_of(file: &str) -> (EventRecord, Vec<String>) {
        let text = std::fs::read_to_string(format!("{CAPTURES}/{file}")).unwrap();
        let mut record = EventRecord::default();
        let transcript = text.lines().filter_map(|line| record.push_line(line)).collect();
        (record, transcript)
    }

    #[test]
    fn a_tool_run_is_read_with_its_success_and_the_final_result() {
        let (record, transcript) = record_of("offline_mock_tool_json.stdout");
        assert_eq!(record.messages, ["Hello from the mock model."]);
        assert_eq!(record.tools.len(), 1);
        let tool = &record.tools[0];
        assert_eq!((tool.name.as_str(), &tool.outcome), ("bash", &ToolOutcome::Succeeded));
        assert_eq!(tool.summary, "echo mock-tool-ran > mock_out.txt && cat mock_out.txt");
        let result = record.result.unwrap();
        assert_eq!(result.exit_code, 0);
        assert!(record.errors.is_empty());
        assert_eq!(record.unparsed_lines, 0);
        assert!(transcript.iter().any(|line| line.starts_with("▶ bash: echo mock-tool-ran")), "{transcript:?}");
    }

    #[test]
    fn an_unreachable_model_shows_as_transport_failures_and_a_session_error() {
        let (record, _) = record_of("offline_closedport_json.stdout");
        assert_eq!(record.transport_failures, 6);
        assert_eq!(record.errors.len(), 1);
        assert!(record.errors[0].message.starts_with("Could not connect to local model provider"));
        assert_eq!(record.result.unwrap().exit_code, 1);
    }

    #[test]
    fn a_policy_denial_is_a_denied_tool_not_a_failure() {
        let line = r#"{"type":"tool.execution_complete","data":{"toolCallId":"c1","success":false,
            "error":{"message":"Permission to run this tool was denied due to the following rules: `shell(git push)`","code":"denied"}}}"#;
        let mut record = EventRecord::default();
        let shown = record.push_line(&line.replace('\n', " ")).unwrap();
        assert!(shown.contains("denied"), "{shown}");
        assert_eq!(record.denied().count(), 1);
    }

    #[test]
    fn usage_sums_tokens_over_models() {
        let text = std::fs::read_to_string(format!("{CAPTURES}/usage.json")).unwrap();
        let usage = parse_usage(&text).unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens, usage.model_requests), (200, 20, 2));
        assert!(parse_usage("{}").is_none());
    }
}
