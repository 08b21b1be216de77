//! Findings land on the lines they name: an added line (`new_line` only), a removed line
//! (`old_line` only), a multi-line finding with a committable
//! suggestion over exactly its lines, a suggestion holding a fence (four backticks), and a
//! finding that cannot be placed goes to the summary, as does one on an unchanged line
//! (pre-existing). The Code Quality report follows GitLab's
//! format.

use serde_json::{Value, json};

use super::{NEW_LIB_RS, Rig, run_ok, valid_quality_report};
use copilot_runner_testkit::mock_model::MockModel;

const NEW_README: &str = "# widgets\n\nSmall helpers.\n";

fn findings() -> String {
    json!([
        {"file": "src/lib.rs", "line": 8, "side": "new", "severity": "major", "category": "correctness",
         "title": "Added line: the temporary is needless", "body": "Return the expression."},
        {"file": "src/lib.rs", "line": 8, "side": "old", "severity": "minor", "category": "maintainability",
         "title": "Removed line: the old expression was clearer", "body": "Keep it."},
        {"file": "src/lib.rs", "line": 7, "side": "new", "severity": "info", "category": "style",
         "title": "Context line: document sub", "body": "Add a doc comment."},
        {"file": "src/lib.rs", "line": 8, "end_line": 9, "side": "new", "severity": "minor", "category": "maintainability",
         "title": "Return the difference directly", "body": "Two lines for one expression.", "replacement": "    a - b"},
        {"file": "README.md", "line": 3, "side": "new", "severity": "info", "category": "style",
         "title": "Show an example", "body": "Readers like an example.",
         "replacement": "Small helpers.\n\n```rust\nassert_eq!(widgets::add(1, 2), 3);\n```"},
        {"file": "src/lib.rs", "line": 500, "side": "new", "severity": "critical", "category": "security",
         "title": "Not in the file", "body": "This line does not exist."},
    ])
    .to_string()
}

fn position_of<'a>(inline: &'a [copilot_runner_testkit::fake_gitlab::Note], title: &str) -> &'a Value {
    let note =
        inline.iter().find(|note| note.body.contains(title)).unwrap_or_else(|| panic!("no discussion `{title}`"));
    note.position.as_ref().unwrap()
}

/// The single-line findings on changed lines sit where they belong, on the latest version's
/// head; the one on an unchanged line is not inline.
fn assert_single_lines_placed(rig: &Rig, mr_iid: u64) -> Vec<copilot_runner_testkit::fake_gitlab::Note> {
    let inline = rig.inline(mr_iid);
    assert_eq!(inline.len(), 4, "{:#?}", inline.iter().map(|n| &n.body).collect::<Vec<_>>());
    let added = position_of(&inline, "Added line: the temporary is needless");
    assert_eq!((&added["old_line"], &added["new_line"]), (&Value::Null, &json!(8)));
    assert_eq!(added["head_sha"], json!(rig.head(mr_iid)));
    let removed = position_of(&inline, "Removed line: the old expression was clearer");
    assert_eq!((&removed["old_line"], &removed["new_line"]), (&json!(8), &Value::Null));
    assert!(inline.iter().all(|note| !note.body.contains("Context line: document sub")), "pre-existing");
    inline
}

#[tokio::test]
async fn findings_land_on_added_removed_and_context_lines_and_the_rest_goes_to_the_summary() {
    let rig = Rig::new().await;
    let mr_iid = rig.open_mr("feature/sub", &[("src/lib.rs", Some(NEW_LIB_RS)), ("README.md", Some(NEW_README))]).await;
    let model = MockModel::start(rig.script(&findings())).await.unwrap();
    let mut job = rig.job(&model, mr_iid).await;
    job.set("COPILOT_REVIEW_MIN_SEVERITY", "info");
    run_ok(&job).await;

    let inline = assert_single_lines_placed(&rig, mr_iid);
    let head = rig.head(mr_iid);

    // The multi-line finding sits on its last line with a range and replaces exactly its lines.
    let multi = inline.iter().find(|note| note.body.contains("Return the difference directly")).unwrap();
    let position = multi.position.as_ref().unwrap();
    assert_eq!(position["new_line"], json!(9));
    assert_eq!(position["line_range"]["start"]["new_line"], json!(8));
    assert_eq!(position["line_range"]["end"]["new_line"], json!(9));
    assert!(multi.body.contains("```suggestion:-1+0\n    a - b\n```"), "{}", multi.body);
    let fenced = inline.iter().find(|note| note.body.contains("Show an example")).unwrap();
    assert!(
        fenced
            .body
            .contains("````suggestion:-0+0\nSmall helpers.\n\n```rust\nassert_eq!(widgets::add(1, 2), 3);\n```\n````"),
        "{}",
        fenced.body
    );

    // One summary: verdict, counts, the unplaced finding, and the reviewed head's marker.
    let summaries = rig.summaries(mr_iid);
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    let summary = &summaries[0];
    assert!(summary.contains("⛔ Changes requested"), "{summary}");
    assert!(summary.contains("| 1 | 1 | 2 | 2 |"), "{summary}");
    assert!(summary.contains("Findings posted as discussions on the diff: 4."), "{summary}");
    assert!(summary.contains("#### Pre-existing") && summary.contains("**Context line: document sub**"), "{summary}");
    assert!(summary.contains("#### Findings outside the diff") && summary.contains("**Not in the file**"), "{summary}");
    assert!(summary.contains(&format!("<!-- copilot-runner:review head={head} -->")), "{summary}");
    // The reviewer request was acknowledged and the status note finished.
    let awards = rig.gitlab.mr_awards(super::PROJECT, mr_iid);
    assert!(awards.contains(&("eyes".to_owned(), "copilot-agent".to_owned())), "{awards:?}");
    let status: Vec<_> =
        rig.agent_notes(mr_iid).into_iter().filter(|n| n.body.contains("copilot-runner:status")).collect();
    assert_eq!(status.len(), 1);
    assert!(!status[0].body.contains('⏳') && !status[0].body.contains('❌'), "{}", status[0].body);

    // Every finding is in the Code Quality report, in GitLab's format.
    let report = valid_quality_report(&rig.artifacts());
    let issues = report.as_array().unwrap();
    assert_eq!(issues.len(), 6);
    let multi_issue =
        issues.iter().find(|issue| issue["description"].as_str().unwrap().starts_with("Return the")).unwrap();
    assert_eq!(multi_issue["location"], json!({"path": "src/lib.rs", "lines": {"begin": 8, "end": 9}}));
    assert_eq!(multi_issue["check_name"], "copilot-runner/maintainability");
}

#[tokio::test]
async fn diffs_gitlab_leaves_out_are_read_from_the_checkout_and_placed_the_same() {
    let rig = Rig::new().await;
    let mr_iid =
        rig.open_mr("feature/collapsed", &[("src/lib.rs", Some(NEW_LIB_RS)), ("README.md", Some(NEW_README))]).await;
    rig.gitlab.collapse_diffs_over(Some(1));
    let model = MockModel::start(rig.script(&findings())).await.unwrap();
    let mut job = rig.job(&model, mr_iid).await;
    job.set("COPILOT_REVIEW_MIN_SEVERITY", "info");
    run_ok(&job).await;

    let prompt = super::review_prompts(&rig.artifacts()).remove(0);
    assert!(prompt.contains("+    let d = a - b;") && prompt.contains("-    a - b"), "{prompt}");
    assert_single_lines_placed(&rig, mr_iid);
    let summary = rig.summaries(mr_iid).pop().unwrap();
    assert!(!summary.contains("Not reviewed"), "every file was read:\n{summary}");
}
