//! `TOTAL_TIMEOUT` counts from the job's start (`CI_JOB_STARTED_AT`): an issue job whose time has
//! run out starts no stage, marks the step it was on failed, says why in its failure note and
//! exits 1; the same job in time does the work.

use copilot_runner_testkit::ci_job::text;

use super::rig::{PROJECT, Rig, greeting_script, status_notes};

fn started(ago: chrono::Duration) -> String {
    (chrono::Utc::now() - ago).to_rfc3339()
}

async fn assigned_job(started_ago: chrono::Duration) -> (Rig, u64) {
    let mut rig = Rig::start(greeting_script).await;
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");
    rig.job.set("TOTAL_TIMEOUT", "3600").set("CI_JOB_STARTED_AT", started(started_ago));
    (rig, iid)
}

#[tokio::test]
async fn an_issue_job_out_of_time_starts_no_stage_and_says_so() {
    // In time: started a minute ago with an hour to go.
    let (rig, _) = assigned_job(chrono::Duration::minutes(1)).await;
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(rig.gitlab.merge_requests(PROJECT).len(), 1);

    // Out of time: the job started two hours ago with the same hour.
    let (rig, iid) = assigned_job(chrono::Duration::hours(2)).await;
    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(rig.model.requests().is_empty(), "no model call once the time ran out");
    assert!(rig.gitlab.merge_requests(PROJECT).is_empty());
    let notes = rig.agent_notes(rig.on_issue(iid));
    let status = status_notes(&notes);
    assert_eq!(status.len(), 1, "{notes:#?}");
    assert!(status[0].contains('❌'), "the step it was on is marked failed: {}", status[0]);
    assert!(notes.iter().any(|note| note.contains("`TOTAL_TIMEOUT`")), "the failure note says why: {notes:#?}");
}
