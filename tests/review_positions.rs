//! Review findings placed by the pure core are accepted by the fake GitLab, which validates diff
//! positions the way GitLab does, and a second review of the same head posts nothing again.

use copilot_runner::config::Language;
use copilot_runner::gitlab::{Client, ClientOptions};
use copilot_runner::prompts::Prompts;
use copilot_runner::review::diff::LineMap;
use copilot_runner::review::findings::{parse_findings, posted_findings};
use copilot_runner::review::post::plan_review;
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::AGENT;
use secrecy::SecretString;
use serde_json::json;

const WIDGETS: &str = "acme/widgets";

const NEW_LIB_RS: &str = "//! Widgets.\n\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\npub fn sub(a: i32, b: i32) -> i32 {\n    let d = a - b;\n    d\n}\n\npub fn mul(a: i32, b: i32) -> i32 {\n    a * b\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(1, 2), 3);\n    }\n}\n";

fn finding(file: &str, line: u32, side: &str, title: &str) -> serde_json::Value {
    json!({"file": file, "line": line, "side": side, "severity": "minor", "category": "maintainability", "title": title, "body": "Explained."})
}

#[tokio::test]
async fn findings_land_on_positions_gitlab_accepts_and_are_never_posted_twice() {
    let fake = FakeGitLab::start().await.expect("fake GitLab");
    let client =
        Client::with_options(&fake.api_url(), &SecretString::from(fake.agent_token()), &ClientOptions::default())
            .expect("client");
    let branch = "copilot/review";
    fake.push_files(
        WIDGETS,
        branch,
        &[
            ("src/lib.rs", Some(NEW_LIB_RS)),
            ("src/greet.rs", Some("pub fn greet() {}\n")),
            ("README.md", Some("# widgets\n\nSmall helpers.\n")),
        ],
        "Rework sub, add greet, reword the readme",
        AGENT,
    )
    .await
    .expect("push");
    let new = copilot_runner::gitlab::NewMergeRequest {
        source_branch: branch.to_owned(),
        target_branch: "main".to_owned(),
        title: "Rework".to_owned(),
        ..copilot_runner::gitlab::NewMergeRequest::default()
    };
    let mr = client.create_merge_request(WIDGETS, &new).await.expect("merge request");
    let versions = client.merge_request_versions(WIDGETS, mr.iid).await.expect("versions");
    let refs = versions[0].diff_refs();
    let diffs = client.merge_request_diffs(WIDGETS, mr.iid).await.expect("diffs");
    let mut map = LineMap::from_file_diffs(&diffs).expect("GitLab's diffs parse");
    // The checkout tells the length, so unchanged lines after the last hunk can be placed.
    map.file_mut("src/lib.rs").expect("lib.rs changed").set_new_line_count(NEW_LIB_RS.lines().count() as u32);

    let mut multi_line = finding("src/lib.rs", 8, "new", "Return the difference directly");
    multi_line["end_line"] = json!(9);
    multi_line["severity"] = json!("major");
    multi_line["replacement"] = json!("    a - b");
    let text = json!([
        multi_line,
        finding("src/lib.rs", 8, "old", "The old subtraction is gone"),
        finding("src/lib.rs", 7, "new", "Context line in the hunk"),
        finding("src/lib.rs", 1, "new", "Before the first hunk"),
        finding("src/lib.rs", 20, "new", "After the last hunk"),
        finding("src/lib.rs", 500, "new", "Not in the file"),
        finding("README.md", 3, "old", "The old wording was clearer"),
        finding("src/greet.rs", 1, "new", "Greet does nothing"),
    ])
    .to_string();
    let parsed = parse_findings(&text);
    assert_eq!(parsed.problems, Vec::<String>::new());

    let plan = plan_review(parsed.findings.clone(), &map, &refs, &[]);
    assert_eq!(plan.inline.len(), 7);
    assert_eq!(plan.unplaced.len(), 1);
    assert_eq!(plan.unplaced[0].finding.title, "Not in the file");
    let prompts = Prompts::new(None).expect("templates");
    for comment in &plan.inline {
        let body = comment.body(&prompts, Language::Ja).expect("body renders");
        let thread = client
            .create_diff_discussion(WIDGETS, mr.iid, &body, &comment.position)
            .await
            .unwrap_or_else(|error| panic!("GitLab refused `{}`: {error:#}", comment.finding.title));
        let stored = thread.notes[0].position.as_ref().expect("a diff note");
        assert_eq!((stored.old_line, stored.new_line), (comment.position.old_line, comment.position.new_line));
    }
    let multi = plan.inline.iter().find(|c| c.finding.title == "Return the difference directly").expect("placed");
    assert_eq!((multi.position.old_line, multi.position.new_line), (None, Some(9)));
    let multi_body = multi.body(&prompts, Language::En).expect("body renders");
    assert!(multi_body.contains("```suggestion:-1+0\n    a - b\n```"), "{multi_body}");
    let stored = fake.discussions(WIDGETS, mr.iid);
    assert_eq!(stored.len(), 7);
    // The fake refuses what GitLab refuses: an unchanged line without its old number.
    let context = plan.inline.iter().find(|c| c.finding.title == "Context line in the hunk").expect("placed");
    let mut wrong = context.position.clone();
    wrong.old_line = None;
    assert!(client.create_diff_discussion(WIDGETS, mr.iid, "wrong", &wrong).await.is_err());
    let after_last = plan.inline.iter().find(|c| c.finding.title == "After the last hunk").expect("placed");
    assert_eq!((after_last.position.old_line, after_last.position.new_line), (Some(19), Some(20)));

    // The next review of the same head finds every finding it posted and posts none again.
    let discussions = client.merge_request_discussions(WIDGETS, mr.iid).await.expect("discussions");
    let posted = posted_findings(&discussions, fake.user_id(AGENT));
    assert_eq!(posted.len(), 7);
    let again = plan_review(parsed.findings, &map, &refs, &posted);
    assert!(again.inline.is_empty(), "{:?}", again.inline.iter().map(|c| &c.finding.title).collect::<Vec<_>>());
    assert_eq!(again.repeated.len(), 7);
}
