use serde_json::json;

use super::*;

/// A major correctness finding on new line `line` of `src/lib.rs` (also for the other review
/// modules' tests).
pub(crate) fn finding(title: &str, line: u32) -> Finding {
    Finding {
        file: "src/lib.rs".into(),
        line,
        end_line: None,
        side: Side::New,
        severity: Severity::Major,
        category: Category::Correctness,
        title: title.into(),
        body: "Explained.".into(),
        replacement: None,
    }
}

#[test]
fn the_prompt_example_and_a_multi_line_finding_parse() {
    let text = r#"[
      {"file": "./src/example.rs", "line": 42, "side": "new", "severity": "major", "category": "correctness", "title": "Off by one", "body": "The loop skips the last item.", "replacement": "for i in 0..=n {"},
      {"file": "src/gone.rs", "line": 3, "end_line": 5, "side": "old", "severity": "info", "category": "style", "title": "t", "body": "b"}
    ]"#;
    let parsed = parse_findings(text);
    assert_eq!(parsed.problems, Vec::<String>::new());
    assert_eq!(parsed.findings.len(), 2);
    assert_eq!(parsed.findings[0].file, "src/example.rs");
    assert_eq!(parsed.findings[0].replacement.as_deref(), Some("for i in 0..=n {"));
    assert_eq!((parsed.findings[1].line, parsed.findings[1].last_line(), parsed.findings[1].side), (3, 5, Side::Old));
    assert_eq!(parsed.retry_request("findings.json"), None);
}

#[test]
fn every_problem_is_listed_for_one_retry_and_valid_findings_survive() {
    let text = json!([
        {"file": "a.rs", "line": 1, "severity": "minor", "category": "style", "title": "ok", "body": "fine"},
        {"file": "", "line": 0, "side": "left", "severity": "blocker", "category": "style", "title": "a\nb", "body": "x", "extra": 1},
        {"file": "b.rs", "line": 9, "end_line": 4, "severity": "info", "category": "security", "title": "t", "body": "b", "replacement": 5},
        "not an object"
    ])
    .to_string();
    let parsed = parse_findings(&text);
    assert_eq!(parsed.findings.len(), 1, "the valid finding is kept; side defaults to new");
    assert_eq!(parsed.findings[0].side, Side::New);
    insta::assert_snapshot!(parsed.retry_request("/tmp/out/findings.json").expect("problems"), @r#"
    The findings file `/tmp/out/findings.json` is not valid. Fix these problems and write the whole file again (one JSON array, nothing around it):
    - finding 2 (index 1): unknown key `extra`; the keys are `file`, `line`, `end_line`, `side`, `severity`, `category`, `title`, `body` and `replacement`
    - finding 2 (index 1): `file` must not be empty
    - finding 2 (index 1): `line` must be a line number (an integer from 1), found 0
    - finding 2 (index 1): `side` must be "new" or "old", found "left"
    - finding 2 (index 1): `severity` must be one of "critical", "major", "minor", "info", found "blocker"
    - finding 2 (index 1): `title` must be one line
    - finding 3 (index 2): `replacement` must be a string, found 5
    - finding 3 (index 2): `end_line` (4) must not be before `line` (9)
    - finding 4 (index 3): must be an object, found a string
    "#);
}

#[test]
fn a_file_that_is_only_the_current_folder_is_a_problem() {
    let text = json!([{"file": "./", "line": 1, "severity": "minor", "category": "style", "title": "t", "body": "b"}]);
    let parsed = parse_findings(&text.to_string());
    assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
    assert_eq!(parsed.problems, ["finding 1 (index 0): `file` must name a file of the diff, not only `./`"]);
}

#[test]
fn text_that_is_not_a_json_array_is_one_problem() {
    assert!(parse_findings("```json\n[]\n```").problems[0].starts_with("the file is not valid JSON"));
    assert_eq!(parse_findings("{}").problems, ["the file must hold one JSON array, found an object"]);
    assert_eq!(parse_findings(" [] \n"), ParsedFindings::default());
}

#[test]
fn hidden_characters_in_a_replacement_are_refused() {
    let text = json!([{"file": "a.rs", "line": 1, "severity": "minor", "category": "style", "title": "t", "body": "b", "replacement": "let ok = \u{202E}1;"}]).to_string();
    let parsed = parse_findings(&text);
    assert!(parsed.findings.is_empty());
    assert!(parsed.problems[0].contains("bidirectional-control"), "{:?}", parsed.problems);
}

#[test]
fn a_fingerprint_ignores_the_line_and_escapes_but_not_the_title() {
    let a = finding("Unchecked `unwrap()` on user input", 10);
    assert_eq!(a.fingerprint(), finding("unchecked \\`unwrap()\\` on user input!", 99).fingerprint());
    assert_ne!(a.fingerprint(), finding("Another problem", 10).fingerprint());
    assert_eq!(a.fingerprint().as_str().len(), 16);
    let body = format!("text\n\n{}\n\n<!-- copilot-runner:op 1 -->", a.fingerprint().marker().as_str());
    assert_eq!(Fingerprint::find_in(&body), Some(a.fingerprint()));
    assert_eq!(Fingerprint::find_in("<!-- copilot-runner:finding zz -->"), None);
}

fn discussion(author: u64, body: &str, new_line: Option<u32>, old_line: Option<u32>) -> Discussion {
    serde_json::from_value(json!({
        "id": "abc",
        "individual_note": false,
        "notes": [{
            "id": 1, "type": "DiffNote", "body": body, "author": {"id": author, "username": "u", "name": "U", "state": "active"},
            "system": false, "resolvable": true, "resolved": false,
            "position": {"base_sha": "b", "start_sha": "s", "head_sha": "h", "position_type": "text",
                         "old_path": "src/lib.rs", "new_path": "src/lib.rs", "old_line": old_line, "new_line": new_line}
        }]
    }))
    .expect("discussion")
}

#[test]
fn earlier_findings_are_recognised_by_marker_or_by_file_line_and_title() {
    let by_marker = finding("Leaks the token", 5);
    let marked =
        format!("🔴 **Critical** · security · **Old wording**\n\nx\n\n{}", by_marker.fingerprint().marker().as_str());
    let by_title = finding("Missing bounds check", 12);
    let titled = "🟠 **Major** · correctness · **Missing bounds check\\!**\n\nx";
    let discussions = [
        discussion(7, &marked, Some(40), None),
        discussion(7, titled, Some(12), Some(11)),
        // A person's note carrying our marker is not believed.
        discussion(8, finding("Spoofed", 1).fingerprint().marker().as_str(), Some(1), None),
    ];
    let posted = posted_findings(&discussions, 7);
    assert_eq!(posted.len(), 2);
    assert_eq!(posted[1].title.as_deref(), Some("Missing bounds check!"));
    assert_eq!(posted[0].kind, Some((Severity::Critical, Category::Security)));
    assert_eq!(posted[1].kind, Some((Severity::Major, Category::Correctness)));
    assert!(is_posted(&by_marker, &posted), "same fingerprint on another line");
    assert!(is_posted(&by_title, &posted), "same file, line and title");
    assert!(!is_posted(&finding("Missing bounds check", 13), &posted), "another line, no marker");
    assert!(!is_posted(&finding("Spoofed", 1), &posted));
}

#[test]
fn posted_findings_are_listed_for_the_prompt() {
    let posted = [
        PostedFinding {
            file: "a.rs".into(),
            line: Some(3),
            title: Some("Leak".into()),
            fingerprint: None,
            resolved: false,
            kind: None,
        },
        PostedFinding {
            file: "b.rs".into(),
            line: Some(4),
            title: None,
            fingerprint: None,
            resolved: false,
            kind: None,
        },
    ];
    let known = known_findings(&posted);
    assert_eq!(known.len(), 1);
    assert_eq!((known[0].file.as_str(), known[0].line, known[0].title.as_str()), ("a.rs", 3, "Leak"));
}

fn note(id: u64, author: u64, created_at: &str, body: &str) -> Note {
    serde_json::from_value(json!({
        "id": id, "body": body, "author": {"id": author, "username": "u", "name": "U", "state": "active"},
        "system": false, "created_at": created_at
    }))
    .expect("note")
}

#[test]
fn the_next_review_starts_from_the_agent_latest_reviewed_head() {
    use crate::prompts::markers::Marker;
    let summary = |head: &str| format!("### Review\n\n{}\n", Marker::review(head).as_str());
    let notes = [
        note(1, 7, "2026-11-20T10:00:00Z", &summary("aaaa")),
        note(3, 7, "2026-11-22T10:00:00Z", &summary("cccc")),
        note(2, 7, "2026-11-21T10:00:00Z", &summary("bbbb")),
        // Someone else's note cannot move the starting point.
        note(4, 8, "2026-11-23T10:00:00Z", &summary("ffff")),
    ];
    assert_eq!(previous_review_head(&notes, 7).as_deref(), Some("cccc"));
    assert_eq!(previous_review_head(&notes[3..], 7), None);
}

#[test]
fn the_review_prompt_documents_exactly_the_keys_the_parser_reads() {
    for language in crate::config::Language::ALL {
        let path = format!("{}/prompts/{}/review.md.tera", env!("CARGO_MANIFEST_DIR"), language.code());
        let template = std::fs::read_to_string(&path).expect("review template");
        let mut documented: Vec<&str> = template
            .lines()
            .filter_map(|line| line.strip_prefix("   - `")?.split_once('`').map(|(key, _)| key))
            .collect();
        documented.sort_unstable();
        let mut keys = KEYS.to_vec();
        keys.sort_unstable();
        assert_eq!(documented, keys, "{path}");
    }
}
