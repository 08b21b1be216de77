//! Findings the agent writes wrong get one retry whose prompt quotes the problems; the valid
//! second answer is posted. Twice wrong, the files of that prompt are named in the summary as
//! not reviewed, and the review still finishes.

use serde_json::json;

use super::{NEW_LIB_RS, Rig, review_prompts, review_rule, run_ok};
use copilot_runner_testkit::mock_model::{MockModel, Script};

const BROKEN: &str = r#"[{"file": "src/lib.rs", "line": "eight", "severity": "urgent", "title": "Broken"}]"#;

#[tokio::test]
async fn invalid_findings_get_one_retry_that_quotes_the_problems() {
    let rig = Rig::new().await;
    let mr_iid = rig.open_mr("feature/retry", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    let valid = json!([{"file": "src/lib.rs", "line": 8, "side": "new", "severity": "minor",
        "category": "maintainability", "title": "The temporary is needless", "body": "Return it."}])
    .to_string();
    let path = rig.findings_path(1);
    let script = Script::new().rule(review_rule("## Your previous attempt", &path, &valid)).rule(review_rule(
        "copilot-runner-stage: review",
        &path,
        BROKEN,
    ));
    let model = MockModel::start(script).await.unwrap();
    run_ok(&rig.job(&model, mr_iid).await).await;

    let retried = std::fs::read_to_string(rig.artifacts().join("review/1-review/prompt-2.md")).unwrap();
    assert!(retried.contains("`line` must be a line number"), "{retried}");
    assert!(retried.contains("`severity` must be one of"), "{retried}");
    let inline = rig.inline(mr_iid);
    assert_eq!(inline.len(), 1);
    assert!(inline[0].body.contains("The temporary is needless"));
    assert_eq!(review_prompts(&rig.artifacts()).len(), 1);
}

#[tokio::test]
async fn findings_wrong_twice_leave_their_files_named_as_not_reviewed() {
    let rig = Rig::new().await;
    let mr_iid = rig.open_mr("feature/broken", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    let model = MockModel::start(rig.script(BROKEN)).await.unwrap();
    run_ok(&rig.job(&model, mr_iid).await).await;

    assert!(rig.inline(mr_iid).is_empty());
    let summary = rig.summaries(mr_iid).pop().unwrap();
    assert!(summary.contains("- `src/lib.rs`: the agent's findings were invalid twice"), "{summary}");
}
