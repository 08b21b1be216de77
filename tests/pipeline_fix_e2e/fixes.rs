//! Loops that change something: a fix that works, fixes that never do (and the count surviving a
//! re-triggered job), and an infrastructure failure that needs a retry, not a fix.

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::fake_gitlab::Outcome;

use super::rig::{BRANCH, PROJECT, Rig, on_branch, test_fails, test_fails_in};

#[tokio::test]
async fn a_failed_pipeline_is_fixed_in_one_attempt() {
    let rig = Rig::new(test_fails()).await;
    rig.gitlab.add_ci_rule(PROJECT, on_branch(Outcome::Succeed, 2));

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // One attempt: one prompt with the failing line of the log, one commit, a green pipeline.
    assert_eq!(rig.fix_prompts(), 1, "{stderr}");
    assert!(rig.model.saw("assertion failed: greet(\\\"Ada\\\")") || rig.model.saw("assertion failed: greet("));
    assert!(!rig.model.saw("section_start:"), "the log reached the agent unexcerpted");
    assert_eq!(rig.agent_fix_pushes(), 1);
    assert_eq!(rig.gitlab.read_file(PROJECT, BRANCH, "fix-attempt-1.txt").await.as_deref(), Some("fix 1\n"));
    let statuses: Vec<String> = rig.branch_pipelines().into_iter().map(|(_, status, _)| status).collect();
    assert_eq!(statuses, ["failed", "success"]);

    // The status note lists the attempt with its job, reason and change; one end note says fixed.
    let status = rig.status_note();
    assert!(status.contains("✅ Pipeline fixed"), "{status}");
    assert!(status.contains("`test: script_failure`") && status.contains("Made greet return the greeting"), "{status}");
    assert!(status.contains("fixes=1") && status.contains("lease=0"), "{status}");
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert!(ends[0].contains("✅ Pipeline fixed") && !ends[0].contains("```text"), "{}", ends[0]);
    assert!(rig.gitlab.merge_requests(PROJECT).len() == 1, "the loop opened a merge request");
}

#[tokio::test]
async fn five_failed_attempts_need_a_human_and_a_retriggered_job_continues_the_count() {
    // A new failure after every attempt: the loop goes on to its bound.
    let failures = (1..=8).map(|n| test_fails_in(&format!("greet_case_{n}"), 9)).collect();
    let rig = Rig::new(Outcome::Each(failures)).await;

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(rig.fix_prompts(), 5, "{stderr}");
    assert_eq!(rig.agent_fix_pushes(), 5);
    let pipelines = rig.branch_pipelines();
    assert_eq!(pipelines.len(), 6);
    assert!(pipelines.iter().all(|(_, status, _)| status == "failed"), "{pipelines:?}");
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert!(ends[0].contains("🆘 The pipeline needs a human"), "{}", ends[0]);
    assert!(ends[0].contains("5 of at most 5 fix attempts"), "{}", ends[0]);
    assert!(ends[0].contains("```text") && ends[0].contains("assertion failed"), "{}", ends[0]);
    for attempt in 1..=5 {
        assert!(ends[0].contains(&format!("(attempt {attempt}\\)")), "{}", ends[0]);
    }
    assert!(rig.status_note().contains("fixes=5"));

    // The last pipeline's failure triggers the job again (the agent caused it): nothing more.
    let last = pipelines.last().unwrap().0;
    let mut again = rig.job.clone();
    again.set("TARGET_PIPELINE_ID", last.to_string());
    let out = again.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(rig.agent_fix_pushes(), 5);
    assert_eq!(rig.end_notes().len(), 1);

    // With one more attempt allowed, the count goes on at six instead of starting over.
    again.set("DEBUG_MAX_TIME", "6");
    let out = again.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(rig.model.saw("This is fix attempt 6 of 6"), "{stderr}");
    assert_eq!(rig.agent_fix_pushes(), 6);
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 2, "{ends:#?}");
    assert!(ends[1].contains("6 of at most 6 fix attempts"), "{}", ends[1]);
    assert!(rig.status_note().contains("fixes=6"));
}

#[tokio::test]
async fn an_infrastructure_failure_is_retried_not_fixed() {
    let runner_died = Outcome::FailFirst {
        runs: 1,
        job: "build".into(),
        trace: "ERROR: Job failed (system failure): pod status is Failed\n".into(),
        failure_reason: "runner_system_failure".into(),
    };
    let rig = Rig::new(runner_died).await;

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(rig.fix_prompts(), 0, "the agent was asked to fix an infrastructure failure");
    assert_eq!(rig.agent_fix_pushes(), 0);
    let retried: Vec<_> = rig.gitlab.jobs(rig.first_pipeline).into_iter().filter(|job| job.retried).collect();
    assert_eq!(retried.len(), 1, "{retried:?}");
    assert_eq!(rig.gitlab.pipeline_status(rig.first_pipeline).as_deref(), Some("success"));
    let status = rig.status_note();
    assert!(
        status.contains("🔁 retried (infrastructure)") && status.contains("build: runner_system_failure"),
        "{status}"
    );
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert!(ends[0].contains("✅ Pipeline fixed"), "{}", ends[0]);
}
