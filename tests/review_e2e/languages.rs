//! The summary speaks each of the six languages; a review-like MR note starts the same review;
//! with `ENABLE_INLINE_REVIEW_COMMENTS=false` every finding is in the summary and none inline.

use serde_json::json;

use super::{NEW_LIB_RS, PROJECT, Rig, run_ok, valid_quality_report};
use copilot_runner_testkit::mock_model::MockModel;

fn findings() -> String {
    json!([
        {"file": "src/lib.rs", "line": 8, "side": "new", "severity": "minor", "category": "maintainability",
         "title": "The temporary is needless", "body": "Return the expression."},
        {"file": "docs/missing.md", "line": 1, "side": "new", "severity": "info", "category": "style",
         "title": "Document the change", "body": "Nothing documents it."},
    ])
    .to_string()
}

#[tokio::test]
async fn the_summary_is_written_in_each_of_the_six_languages() {
    // Each language's verdict heading for a minor finding, and its heading for unplaced findings.
    let expected = [
        ("en", "### 🔍 Review: 💬 Needs discussion", "Findings outside the diff"),
        ("zh", "### 🔍 评审：💬 有意见", "差异之外的问题"),
        ("ja", "### 🔍 レビュー：💬 コメントあり", "差分の外にある指摘"),
        ("ko", "### 🔍 리뷰: 💬 의견 있음", "차이 밖의 지적"),
        ("hi", "### 🔍 समीक्षा: 💬 टिप्पणियाँ", "डिफ़ के बाहर के निष्कर्ष"),
        ("th", "### 🔍 รีวิว: 💬 มีความคิดเห็น", "ประเด็นที่อยู่นอก diff"),
    ];
    let rig = Rig::new().await;
    let model = MockModel::start(rig.script(&findings())).await.unwrap();
    for (language, heading, unplaced) in expected {
        let mr_iid = rig.open_mr(&format!("feature/{language}"), &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
        let mut job = rig.job(&model, mr_iid).await;
        job.set("COPILOT_LANGUAGE", language);
        run_ok(&job).await;
        let summaries = rig.summaries(mr_iid);
        assert_eq!(summaries.len(), 1, "{language}: {summaries:#?}");
        let summary = &summaries[0];
        assert!(summary.starts_with(heading), "{language}:\n{summary}");
        assert!(summary.contains(unplaced) && summary.contains("docs/missing.md"), "{language}:\n{summary}");
        assert!(summary.contains("| 0 | 0 | 1 | 1 |"), "{language}:\n{summary}");
        assert_eq!(rig.inline(mr_iid).len(), 1, "{language}");
    }
}

#[tokio::test]
async fn a_review_note_starts_a_summary_only_review_when_inline_comments_are_off() {
    let rig = Rig::new().await;
    let mr_iid = rig.open_mr("feature/note", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    let note_id = rig.gitlab.add_mr_note(PROJECT, mr_iid, "dave", "@copilot-agent review this please");
    let model = MockModel::start(rig.script(&findings())).await.unwrap();
    let mut job = rig.note_job(&model, mr_iid, note_id).await;
    job.set("ENABLE_INLINE_REVIEW_COMMENTS", "false");
    run_ok(&job).await;

    assert!(rig.inline(mr_iid).is_empty(), "no inline discussion when they are off");
    let summaries = rig.summaries(mr_iid);
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    let summary = &summaries[0];
    assert!(summary.contains("#### Findings\n"), "{summary}");
    assert!(
        summary.contains("**The temporary is needless**") && summary.contains("**Document the change**"),
        "{summary}"
    );
    assert!(summary.contains("Findings posted as discussions on the diff: 0."), "{summary}");
    assert!(rig.gitlab.note_awards(note_id).contains(&("eyes".to_owned(), "copilot-agent".to_owned())));
    // The note asked for a review: nothing was pushed to the merge request's branch.
    assert_eq!(rig.gitlab.merge_request(PROJECT, mr_iid).unwrap().versions.len(), 1);
    assert_eq!(valid_quality_report(&rig.artifacts()).as_array().unwrap().len(), 2);
}
