use serde_json::json;

use super::*;
use crate::review::findings::tests::finding;

const AGENT: u64 = 7;
const ALICE: u64 = 42;
const BOB: u64 = 43;
const MARKER: &str = "<!-- copilot-runner:finding 0123456789abcdef -->";

fn at(file: &str, category: Category, title: &str) -> Finding {
    Finding { file: file.into(), category, ..finding(title, 3) }
}

#[test]
fn a_title_shape_forgets_names_paths_and_numbers_but_keeps_the_words() {
    assert_eq!(title_shape("Unused variable `x`"), "unused variable {name}");
    assert_eq!(title_shape("unused variable `total_count`."), title_shape("Unused variable `x`"));
    assert_eq!(title_shape("Unused variable \"x\""), title_shape("Unused variable 'y'"));
    assert_eq!(title_shape("Magic number 42 in src/lib.rs"), "magic number {n} in {path}");
    assert_eq!(title_shape("Magic number 7 in config.toml"), title_shape("Magic number 42 in src/lib.rs"));
    assert_eq!(title_shape("The loop doesn't stop"), "the loop doesn t stop");
    assert_eq!(title_shape("未使用的变量「x」"), title_shape("未使用的变量「count」"));
    assert_ne!(title_shape("Unused variable `x`"), title_shape("Unused import `x`"));
    assert_ne!(title_shape("Unused variable `x`"), title_shape("Unused variable `x` shadows a parameter"));
}

#[test]
fn a_path_pattern_is_the_folder_and_the_extension() {
    assert_eq!(path_pattern("src/lib.rs"), "src/*.rs");
    assert_eq!(path_pattern("build.rs"), "*.rs");
    assert_eq!(path_pattern("docker/Dockerfile"), "docker/Dockerfile");
    assert_eq!(path_pattern(".gitignore"), ".gitignore");
    assert!(path_matches("src/*.rs", "src/greet.rs"));
    assert!(path_matches("*.rs", "main.rs"));
    for other in ["src/net/tcp.rs", "tests/lib.rs", "src/lib.py", "src/.rs", "main.rs"] {
        assert!(!path_matches("src/*.rs", other), "{other}");
    }
    assert!(path_matches("docker/Dockerfile", "docker/Dockerfile"));
    assert!(!path_matches("docker/Dockerfile", "other/Dockerfile"));
}

#[test]
fn a_rule_holds_back_its_kind_and_nothing_else() {
    let rule = Rule::of(Category::Maintainability, "Unused variable `d`", "src/lib.rs");
    assert!(rule.matches(&at("src/greet.rs", Category::Maintainability, "unused variable `g`")));
    assert!(rule.matches(&at("src/lib.rs", Category::Maintainability, "Unused variable `d`")));
    // Another category, another title or another folder or kind of file is another finding.
    assert!(!rule.matches(&at("src/lib.rs", Category::Correctness, "Unused variable `d`")));
    assert!(!rule.matches(&at("src/lib.rs", Category::Maintainability, "Unused import `d`")));
    assert!(!rule.matches(&at("src/net/tcp.rs", Category::Maintainability, "Unused variable `d`")));
    assert!(!rule.matches(&at("src/lib.py", Category::Maintainability, "Unused variable `d`")));

    let findings = vec![
        at("src/greet.rs", Category::Maintainability, "Unused variable `g`"),
        at("src/greet.rs", Category::Security, "Unused variable `g`"),
        at("src/greet.rs", Category::Maintainability, "Needless clone of `g`"),
    ];
    let (kept, held) = hold_back_suppressed(findings.clone(), std::slice::from_ref(&rule));
    assert_eq!(held, findings[..1]);
    assert_eq!(kept, findings[1..]);
    let (kept, held) = hold_back_suppressed(findings, &[]);
    assert_eq!((kept.len(), held.len()), (3, 0), "no rule, nothing held back");
}

fn note(id: u64, author: u64, username: &str, body: &str, system: bool) -> serde_json::Value {
    json!({"id": id, "type": "DiffNote", "body": body, "system": system, "resolvable": true, "resolved": false,
        "created_at": "2026-12-01T10:00:00.000Z",
        "author": {"id": author, "username": username, "name": username, "state": "active"},
        "position": {"base_sha": "b", "start_sha": "b", "head_sha": "h", "position_type": "text",
            "old_path": "src/lib.rs", "new_path": "src/lib.rs", "new_line": 8}})
}

fn discussion(id: &str, first: serde_json::Value, replies: Vec<serde_json::Value>) -> Discussion {
    let mut notes = vec![first];
    notes.extend(replies);
    serde_json::from_value(json!({"id": id, "individual_note": false, "notes": notes})).expect("discussion")
}

fn award(id: u64, name: &str, user: u64, username: &str) -> AwardEmoji {
    serde_json::from_value(json!({"id": id, "name": name, "created_at": "2026-12-01T11:00:00.000Z",
        "user": {"id": user, "username": username, "name": username, "state": "active"}}))
    .expect("award")
}

fn finding_note(id: u64, author: u64, category: &str, title: &str) -> serde_json::Value {
    note(id, author, "copilot-agent", &format!("🟡 Minor · {category} · **{title}**\n\nExplained.\n\n{MARKER}"), false)
}

#[test]
fn feedback_is_read_from_the_agents_threads_from_people_only() {
    let discussions = [
        discussion(
            "t1",
            finding_note(1, AGENT, "maintainability", "Unused variable `d`"),
            vec![
                note(2, ALICE, "alice", "False positive: `d` is read by the macro.", false),
                note(3, AGENT, "copilot-agent", "false positive", false),
                note(4, BOB, "bob", "Is this a false positive?", false),
                note(5, BOB, "renovate-bot", "not an issue", false),
                note(6, BOB, "bob", "not an issue", true),
            ],
        ),
        discussion("t2", finding_note(10, AGENT, "security", "Token in a log line"), vec![]),
        // Someone else's thread quoting a finding is not the agent's.
        discussion("t3", finding_note(20, ALICE, "style", "Rename it"), vec![note(21, BOB, "bob", "not a bug", false)]),
    ];
    let threads = finding_threads(&discussions, AGENT);
    let ids: Vec<&str> = threads.iter().map(|thread| thread.discussion_id.as_str()).collect();
    assert_eq!(ids, ["t1", "t2"]);
    assert_eq!(threads[0].rule, Rule::of(Category::Maintainability, "unused variable `x`", "src/lib.rs"));

    let awards = HashMap::from([
        (1, vec![award(100, THUMBS_DOWN, ALICE, "alice"), award(101, THUMBS_DOWN, AGENT, "copilot-agent")]),
        (10, vec![award(102, THUMBS_UP, BOB, "bob"), award(103, "eyes", ALICE, "alice")]),
        (20, vec![award(104, THUMBS_DOWN, BOB, "bob")]),
    ]);
    let feedback = read_feedback(&threads, &discussions, &awards, (AGENT, "copilot-agent"));
    let read: Vec<(&str, Reaction, &str)> =
        feedback.iter().map(|item| (item.id.as_str(), item.reaction, item.thread.discussion_id.as_str())).collect();
    assert_eq!(
        read,
        [
            ("award-100", Reaction::ThumbsDown, "t1"),
            ("note-2", Reaction::FalsePositive, "t1"),
            ("award-102", Reaction::ThumbsUp, "t2"),
        ]
    );
    // Read twice, the same feedback has the same names: the store keeps one record each.
    assert_eq!(read_feedback(&threads, &discussions, &awards, (AGENT, "copilot-agent")), feedback);
    assert_eq!(feedback[0].at.as_deref(), Some("2026-12-01T11:00:00.000Z"));

    let acceptance = acceptance(&threads, &feedback);
    assert_eq!(
        acceptance.get("maintainability"),
        Some(&CategoryAcceptance { threads: 1, thumbs_up: 0, thumbs_down: 1, false_positive_replies: 1 })
    );
    assert_eq!(
        acceptance.get("security"),
        Some(&CategoryAcceptance { threads: 1, thumbs_up: 1, thumbs_down: 0, false_positive_replies: 0 })
    );
    assert_eq!(acceptance.len(), 2);
}
