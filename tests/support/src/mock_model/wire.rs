//! The OpenAI chat-completions wire format the Copilot CLI's SDK reads: one JSON completion, or
//! an SSE stream of chunks ending with a usage chunk (`stream_options.include_usage`) and
//! `data: [DONE]`.

use serde_json::{Value, json};

use super::script::{ToolCall, Usage};

/// What one answer carries before it is put on the wire.
pub(super) enum Answer<'a> {
    Text(&'a str),
    ToolCalls(&'a [ToolCall]),
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    })
}

fn tool_calls_json(calls: &[ToolCall], call_base: usize) -> Vec<Value> {
    calls
        .iter()
        .enumerate()
        .map(|(index, call)| {
            json!({
                "index": index,
                "id": format!("call_{}", call_base + index),
                "type": "function",
                "function": { "name": call.name, "arguments": call.arguments.to_string() },
            })
        })
        .collect()
}

/// A complete (non-streaming) `chat.completion`.
pub(super) fn completion(id: &str, model: &str, answer: &Answer<'_>, usage: Usage, call_base: usize) -> Value {
    let (message, finish_reason) = match answer {
        Answer::Text(text) => (json!({ "role": "assistant", "content": text }), "stop"),
        Answer::ToolCalls(calls) => (
            json!({ "role": "assistant", "content": null, "tool_calls": tool_calls_json(calls, call_base) }),
            "tool_calls",
        ),
    };
    json!({
        "id": id,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{ "index": 0, "message": message, "finish_reason": finish_reason }],
        "usage": usage_json(usage),
    })
}

/// The same answer as a server-sent-events body.
pub(super) fn stream(id: &str, model: &str, answer: &Answer<'_>, usage: Usage, call_base: usize) -> String {
    let chunk = |choices: Value, usage: Option<Value>| {
        let mut chunk = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": choices,
        });
        if let Some(usage) = usage {
            chunk["usage"] = usage;
        }
        format!("data: {chunk}\n\n")
    };
    let mut body =
        chunk(json!([{ "index": 0, "delta": { "role": "assistant", "content": "" }, "finish_reason": null }]), None);
    let finish_reason = match answer {
        Answer::Text(text) => {
            body.push_str(&chunk(json!([{ "index": 0, "delta": { "content": text }, "finish_reason": null }]), None));
            "stop"
        }
        Answer::ToolCalls(calls) => {
            let calls = tool_calls_json(calls, call_base);
            body.push_str(&chunk(
                json!([{ "index": 0, "delta": { "tool_calls": calls }, "finish_reason": null }]),
                None,
            ));
            "tool_calls"
        }
    };
    body.push_str(&chunk(json!([{ "index": 0, "delta": {}, "finish_reason": finish_reason }]), None));
    body.push_str(&chunk(json!([]), Some(usage_json(usage))));
    body.push_str("data: [DONE]\n\n");
    body
}
