//! The inputs the parsers are fuzzed with: GitLab's real webhook payloads (from the repository's
//! fixtures) with parts replaced by arbitrary JSON, Markdown built from the constructs that hide
//! or show a mention, unified diffs with arbitrary hunk headers and lines, job logs of arbitrary
//! bytes mixed with what CI tools print, and findings files of arbitrary JSON.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Map, Value};

/// `(X-Gitlab-Event, file)` of every webhook fixture.
const FIXTURES: [(&str, &str); 15] = [
    ("Issue Hook", "issue.json"),
    ("Note Hook", "note_issue.json"),
    ("Note Hook", "note_merge_request.json"),
    ("Note Hook", "note_commit.json"),
    ("Note Hook", "note_snippet.json"),
    ("Merge Request Hook", "merge_request.json"),
    ("Merge Request Hook", "service_merge_request.json"),
    ("Merge Request Hook", "group_merge_request.json"),
    ("Pipeline Hook", "pipeline.json"),
    ("Job Hook", "build.json"),
    ("Push Hook", "push.json"),
    ("Tag Push Hook", "tag_push.json"),
    ("Release Hook", "release.json"),
    ("Deployment Hook", "deployment.json"),
    ("Member Hook", "member.json"),
];

/// Keys the router and the parsers look at, so that arbitrary objects often carry them.
const KEYS: [&str; 24] = [
    "object_kind",
    "event_name",
    "object_attributes",
    "user",
    "username",
    "id",
    "iid",
    "project",
    "changes",
    "assignees",
    "reviewers",
    "current",
    "previous",
    "note",
    "noteable_type",
    "action",
    "status",
    "ref",
    "tag",
    "merge_request",
    "system",
    "updated_at",
    "finished_at",
    "re_requested",
];

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gitlab/webhooks").join(name);
    serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("fixture is JSON")
}

/// A string of arbitrary characters, often a key or value the parsers know.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        2 => prop::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
        2 => prop::sample::select(vec![
            "issue", "note", "merge_request", "pipeline", "failed", "update", "open", "Issue", "MergeRequest",
            "copilot-agent", "@copilot-agent go", "copilot/x", "2013-12-03T17:15:43Z", "2016-08-12 15:26:29 UTC",
            "", "new", "old", "critical", "bug", "./",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Arbitrary JSON, a few levels deep.
pub(super) fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |number| number.is_finite()).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Every JSON pointer in `value`, parents before children.
fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.push(path.clone());
                pointers(child, &path, out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let path = format!("{at}/{index}");
                out.push(path.clone());
                pointers(child, &path, out);
            }
        }
        _ => {}
    }
}

/// One change to a payload: the `n`th pointer (modulo their number) replaced or removed.
#[derive(Debug, Clone)]
enum Change {
    Replace(usize, Value),
    Remove(usize),
}

fn apply(payload: &mut Value, change: &Change) {
    let mut paths = Vec::new();
    pointers(payload, "", &mut paths);
    if paths.is_empty() {
        return;
    }
    match change {
        Change::Replace(n, value) => {
            if let Some(slot) = payload.pointer_mut(&paths[n % paths.len()]) {
                *slot = value.clone();
            }
        }
        Change::Remove(n) => {
            let path = &paths[n % paths.len()];
            let (parent, key) = path.rsplit_once('/').expect("a pointer has a slash");
            match payload.pointer_mut(parent) {
                Some(Value::Object(map)) => {
                    map.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) => {
                    if let Ok(index) = key.parse::<usize>()
                        && index < items.len()
                    {
                        items.remove(index);
                    }
                }
                _ => {}
            }
        }
    }
}

/// A delivery: a hook header and a body made from a real payload with up to eight parts
/// replaced or removed, sometimes sent under another hook's header and sometimes cut short.
pub(super) fn event_delivery() -> impl Strategy<Value = (String, Vec<u8>)> {
    let change = prop_oneof![
        3 => (any::<usize>(), json()).prop_map(|(n, value)| Change::Replace(n, value)),
        1 => any::<usize>().prop_map(Change::Remove),
    ];
    (
        0..FIXTURES.len(),
        0..FIXTURES.len(),
        any::<bool>(),
        prop::collection::vec(change, 0..8),
        prop::option::weighted(0.1, any::<prop::sample::Index>()),
    )
        .prop_map(|(body_from, header_from, same_header, changes, cut)| {
            let mut payload = fixture(FIXTURES[body_from].1);
            for change in &changes {
                apply(&mut payload, change);
            }
            let mut body = serde_json::to_vec(&payload).expect("serializable");
            if let Some(cut) = cut {
                body.truncate(cut.index(body.len() + 1));
            }
            let hook = if same_header { FIXTURES[body_from].0 } else { FIXTURES[header_from].0 };
            (hook.to_owned(), body)
        })
}

/// Markdown from the constructs that hide a mention (code spans and blocks, quotes, HTML
/// comments, indentation) and the ones that do not, with mentions and arbitrary characters.
pub(super) fn markdown() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => prop::sample::select(vec![
            "@copilot-agent", "@Copilot-Agent", "@copilot-agent-x", "a@copilot-agent", "@", "@@", "`", "``", "```",
            "```rust\n", "~~~", "    ", "\t", "> ", ">", "<!--", "-->", "\n", "\r\n", "\n\n", " ", "please fix",
            "review", "fix the pipeline", "allow test changes", "plan", "stop", "corrige", "修复", "ü", "\u{200b}",
            "\u{202e}", "- ", "* ", "1. ", "# ", "<details>", "</details>", "[link](http://x)", "\\", "***", "===",
        ])
        .prop_map(str::to_owned),
        1 => prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter),
    ];
    prop::collection::vec(piece, 0..80).prop_map(|pieces| pieces.concat())
}

/// A unified diff's hunks (as GitLab's `diff` field holds them) with hunk headers of arbitrary
/// numbers, and lines to look up on either side.
pub(super) fn unified_diff() -> impl Strategy<Value = (String, Vec<(bool, u32)>)> {
    let number = prop_oneof![4 => 0_u32..24, 1 => any::<u32>()];
    let header = (number.clone(), prop::option::of(number.clone()), number.clone(), prop::option::of(number)).prop_map(
        |(old, old_count, new, new_count)| {
            let range = |start: u32, count: Option<u32>| match count {
                Some(count) => format!("{start},{count}"),
                None => start.to_string(),
            };
            format!("@@ -{} +{} @@ fn context()", range(old, old_count), range(new, new_count))
        },
    );
    let line = prop_oneof![
        3 => header,
        8 => prop::sample::select(vec![
            " unchanged", "+added", "-removed", "+", "-", " ", "", "\\ No newline at end of file", "@@", "@@ -1 @@",
            "--- a/src/lib.rs", "+++ b/src/lib.rs", "diff --git a/x b/x", "Binary files a/x and b/x differ",
            "+ü\u{202e}", "-\t\ttabs",
        ])
        .prop_map(str::to_owned),
        1 => prop::collection::vec(any::<char>(), 0..16).prop_map(String::from_iter),
    ];
    let probes = prop::collection::vec((any::<bool>(), 0_u32..40), 0..12);
    (prop::collection::vec(line, 0..60), any::<bool>(), probes)
        .prop_map(|(lines, trailing, probes)| (lines.join("\n") + if trailing { "\n" } else { "" }, probes))
}

/// A job log: arbitrary bytes mixed with what runners and test tools print (colours, sections,
/// carriage returns, error lines, failing tests, a token, very long lines).
pub(super) fn job_log() -> impl Strategy<Value = Vec<u8>> {
    let chunk = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..256),
        6 => prop::sample::select(vec![
            "\x1b[31;1m", "\x1b[0K", "\x1b[0m", "section_start:1700000000:build\r\x1b[0K", "section_end:1700000000:build\r\x1b[0K",
            "\r", "\n", "\r\n", "error: could not compile `app`\n", "ERROR: Job failed: exit code 1\n",
            "test tests::it_works ... FAILED\n", "FAILED tests/test_app.py::test_login - AssertionError\n",
            "--- FAIL: TestLogin (0.00s)\n", "thread 'main' panicked at src/main.rs:3:5:\n", "npm ERR! code 1\n",
            "glpat-AbCdEfGhIjKlMnOpQrSt\n", "[ERROR] Tests run: 3, Failures: 1\n", "  ● suite › case\n", "\u{fffd}", "\0",
        ])
        .prop_map(|text| text.as_bytes().to_vec()),
        1 => (0_usize..70_000, any::<u8>()).prop_map(|(length, byte)| vec![byte; length]),
    ];
    prop::collection::vec(chunk, 0..64).prop_map(|chunks| chunks.concat())
}

/// A findings file: arbitrary JSON, an array of objects with the findings' keys and arbitrary
/// values, or either cut short.
pub(super) fn findings_json() -> impl Strategy<Value = String> {
    let keys = prop::sample::select(vec![
        "file",
        "line",
        "end_line",
        "side",
        "severity",
        "category",
        "title",
        "body",
        "replacement",
        "other",
    ]);
    let value = prop_oneof![
        2 => json(),
        2 => (1_u64..500).prop_map(Value::from),
        2 => text().prop_map(Value::String),
        1 => prop::sample::select(vec!["new", "old", "critical", "major", "minor", "info", "bug", "security", "./", "./src/a.rs"])
            .prop_map(|text| Value::String(text.to_owned())),
    ];
    let finding = prop::collection::vec((keys, value), 0..10)
        .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(key, value)| (key.to_owned(), value)).collect()));
    // Every key present with a value of the right kind, so that findings are read, not only
    // refused: the checks on what was read get to run.
    let complete = (
        prop::sample::select(vec!["src/a.rs", "./src/a.rs", "./", ".", " ", "a b/ü.rs", "../x"]),
        0_u64..6,
        prop::option::of(0_u64..40),
        prop::sample::select(vec!["new", "old"]),
        prop::sample::select(vec!["critical", "major", "minor", "info"]),
        prop::sample::select(vec!["security", "performance", "correctness", "style", "maintainability"]),
        text(),
        text(),
        prop::option::of(text()),
    )
        .prop_map(|(file, line, end_line, side, severity, category, title, body, replacement)| {
            serde_json::json!({
                "file": file, "line": line, "end_line": end_line, "side": side, "severity": severity,
                "category": category, "title": title, "body": body, "replacement": replacement,
            })
        });
    let item = prop_oneof![1 => finding, 1 => complete];
    let file = prop_oneof![
        1 => json(),
        3 => prop::collection::vec(item, 0..8).prop_map(Value::Array),
    ];
    (file, prop::option::weighted(0.1, any::<prop::sample::Index>())).prop_map(|(file, cut)| {
        let mut text = serde_json::to_string_pretty(&file).expect("serializable");
        if let Some(cut) = cut {
            let mut at = cut.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.truncate(at);
        }
        text
    })
}
