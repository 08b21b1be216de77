//! `TOTAL_TIMEOUT` counts from the job's start (`CI_JOB_STARTED_AT`): a review whose time ran out
//! reviews no further chunk, names every file it did not review in its summary, marks the review
//! step failed and exits 1; the same review in time runs its chunk and exits 0.

use super::{NEW_LIB_RS, Rig};
use copilot_runner_testkit::mock_model::MockModel;

fn started(ago: chrono::Duration) -> String {
    (chrono::Utc::now() - ago).to_rfc3339()
}

#[tokio::test]
async fn a_review_out_of_time_names_the_files_it_did_not_review_and_exits_1() {
    let rig = Rig::new().await;
    let model = MockModel::start(rig.script("[]")).await.unwrap();

    // In time: started a minute ago with an hour to go.
    let in_time = rig.open_mr("feature/in-time", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    let mut job = rig.job(&model, in_time).await;
    job.set("TOTAL_TIMEOUT", "3600").set("CI_JOB_STARTED_AT", started(chrono::Duration::minutes(1)));
    let out = job.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!model.completions().is_empty(), "the chunk was reviewed");
    assert!(!rig.summaries(in_time)[0].contains("TOTAL_TIMEOUT"));
    let summary = &rig.summaries(in_time)[0];
    assert!(
        summary.contains("| Review | 0 | ") && summary.contains("| **Total** | **0** |"),
        "what it spent: {summary}"
    );

    // Out of time: the job started two hours ago with the same hour.
    let calls = model.completions().len();
    let late = rig.open_mr("feature/late", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    let mut job = rig.job(&model, late).await;
    job.set("TOTAL_TIMEOUT", "3600").set("CI_JOB_STARTED_AT", started(chrono::Duration::hours(2)));
    let out = job.run().await;
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(model.completions().len(), calls, "no model call once the time ran out");
    let summaries = rig.summaries(late);
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    assert!(
        summaries[0].contains("`src/lib.rs`") && summaries[0].contains("`TOTAL_TIMEOUT`) ran out"),
        "{}",
        summaries[0]
    );
    let status = rig.agent_notes(late).into_iter().find(|note| note.body.contains("copilot-runner:status")).unwrap();
    assert!(status.body.contains('❌'), "the review step is marked failed: {}", status.body);
}
