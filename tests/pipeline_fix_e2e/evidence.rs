//! The loop works from evidence: the same failure twice stops it, a fix that weakens the tests is
//! rejected (unless a person allowed test changes), a job that passes when re-run unchanged is
//! reported as flaky, and infrastructure retries are counted across jobs.

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::fake_gitlab::Outcome;
use copilot_runner_testkit::mock_model::{Reply, Rule};

use super::rig::{BRANCH, PROJECT, Rig, TEST_FILE, TEST_FILE_TEXT, on_branch, test_fails, test_fails_in};

/// The test the agent deletes when it takes the short way.
const THE_TEST: &str = "#[test]\nfn greets_ada() {\n    assert_eq!(greet(\"Ada\"), \"Hello, Ada!\");\n}\n";

fn infrastructure_failure() -> Outcome {
    Outcome::Fail {
        job: "build".into(),
        trace: "ERROR: Job failed (system failure): pod status is Failed\n".into(),
        failure_reason: "runner_system_failure".into(),
    }
}

#[tokio::test]
async fn the_same_failure_twice_stops_the_loop_after_two_attempts() {
    // The first attempt turns failure `a` into `b`; the second ends in `b` again.
    let failures =
        Outcome::Each(vec![test_fails_in("greet_a", 9), test_fails_in("greet_b", 9), test_fails_in("greet_b", 12)]);
    let rig = Rig::new(failures).await;

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(rig.fix_prompts(), 2, "the remaining attempts were spent:\n{stderr}");
    assert_eq!(rig.agent_fix_pushes(), 2);
    // The second attempt was told what the first one addressed and changed.
    let second_prompt = rig
        .model
        .requests()
        .into_iter()
        .map(|request| request.body)
        .find(|body| body.contains("This is fix attempt 2 of"))
        .unwrap();
    assert!(
        second_prompt.contains("failure it addressed: `test: test greet_a ... FAILED (failing: greet_a)`"),
        "{second_prompt}"
    );
    assert!(second_prompt.contains("changed: `fix-attempt-1.txt +1 -0`"), "{second_prompt}");
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert!(ends[0].contains("ended in the same failure it set out to fix"), "{}", ends[0]);
    assert!(
        ends[0].contains("The failure that came back: `test: test greet_b ... FAILED (failing: greet_b)`"),
        "{}",
        ends[0]
    );
    assert!(rig.status_note().contains("fixes=2"));
}

/// The agent deletes the failing test on both tries.
fn deletes_the_test(checkout: &std::path::Path) -> Vec<Rule> {
    let path = checkout.join(TEST_FILE).display().to_string();
    vec![
        Rule::when("This is fix attempt 1 of")
            .then(Reply::edit(&path, THE_TEST, ""))
            .then(Reply::text("Removed the failing greeting test.")),
    ]
}

#[tokio::test]
async fn a_fix_that_deletes_a_test_is_rejected_and_the_second_rejection_ends_the_loop() {
    let rig = Rig::with_rules(test_fails(), deletes_the_test).await;
    rig.gitlab.add_ci_rule(PROJECT, on_branch(Outcome::Succeed, 0));

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(rig.model.saw("Your previous change was rejected"), "{stderr}");
    assert!(rig.model.saw("tests/greet.rs:3: removes a test: -#[test]"), "{stderr}");
    assert_eq!(rig.agent_fix_pushes(), 0, "a weakened test suite was pushed");
    assert_eq!(rig.gitlab.read_file(PROJECT, BRANCH, TEST_FILE).await.as_deref(), Some(TEST_FILE_TEXT));
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert!(ends[0].contains("would have weakened the tests or CI"), "{}", ends[0]);
    assert!(ends[0].contains("Rejected lines:"), "{}", ends[0]);
    assert!(ends[0].contains("`tests/greet.rs:3: removes a test: -#[test]`"), "{}", ends[0]);
    assert!(ends[0].contains("🚫 rejected"), "{}", ends[0]);
}

#[tokio::test]
async fn allow_test_changes_lets_the_same_fix_through() {
    let rig = Rig::with_rules(test_fails(), deletes_the_test).await;
    rig.gitlab.add_ci_rule(PROJECT, on_branch(Outcome::Succeed, 0));
    let note_id = rig.gitlab.add_mr_note(PROJECT, rig.mr_iid, "alice", "@copilot-agent allow test changes");
    let job = rig.note_job(note_id);

    let out = job.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(rig.gitlab.note_awards(note_id).contains(&("eyes".to_owned(), "copilot-agent".to_owned())));
    assert!(!rig.model.saw("Your previous change was rejected"), "{stderr}");
    assert_eq!(rig.agent_fix_pushes(), 1);
    let pushed = rig.gitlab.read_file(PROJECT, BRANCH, TEST_FILE).await.unwrap();
    assert!(!pushed.contains("greets_ada"), "{pushed}");
    assert!(rig.end_notes().iter().any(|body| body.contains("✅ Pipeline fixed")));
}

#[tokio::test]
async fn a_job_that_passes_when_re_run_unchanged_is_reported_flaky_and_not_fixed() {
    let once = Outcome::FailFirst {
        runs: 1,
        job: "test".into(),
        trace: super::rig::FAILING_TRACE.into(),
        failure_reason: "script_failure".into(),
    };
    let rig = Rig::new(once).await;
    let mut job = rig.job.clone();
    job.set("COPILOT_FLAKY_CHECK", "true");

    let out = tokio::time::timeout(std::time::Duration::from_secs(300), job.run()).await.unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(rig.fix_prompts(), 0, "a flaky job was \"fixed\"");
    assert_eq!(rig.agent_fix_pushes(), 0);
    let jobs = rig.gitlab.jobs(rig.first_pipeline);
    let failed = jobs.iter().find(|job| job.name == "test" && job.retried).expect("the test job was re-run");
    let passed = jobs.iter().find(|job| job.name == "test" && !job.retried).unwrap();
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert!(ends[0].contains("🎲 The pipeline is flaky, not broken"), "{}", ends[0]);
    assert!(ends[0].contains(&format!("- `test`: ❌ [#{}]", failed.id)), "{}", ends[0]);
    assert!(ends[0].contains(&format!("→ ✅ [#{}]", passed.id)), "{}", ends[0]);
    assert!(rig.status_note().contains("🎲 passed on re-run (flaky)"));
}

#[tokio::test]
async fn a_job_that_fails_again_when_re_run_is_fixed() {
    let rig = Rig::new(Outcome::Each(vec![test_fails(), test_fails(), Outcome::Succeed])).await;
    let mut job = rig.job.clone();
    job.set("COPILOT_FLAKY_CHECK", "true");

    let out = tokio::time::timeout(std::time::Duration::from_secs(300), job.run()).await.unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(rig.fix_prompts(), 1, "{stderr}");
    assert_eq!(rig.agent_fix_pushes(), 1);
    assert_eq!(rig.gitlab.jobs(rig.first_pipeline).iter().filter(|job| job.retried).count(), 1);
    let status = rig.status_note();
    assert!(status.contains("✅ Pipeline fixed") && !status.contains("flaky"), "{status}");
}

#[tokio::test]
async fn infrastructure_retries_count_across_jobs() {
    // Run 0 (the first pipeline) and run 2 (a person's push) fail on the runner; each retry passes.
    let runs = vec![infrastructure_failure(), Outcome::Succeed, infrastructure_failure(), Outcome::Succeed];
    let rig = Rig::new(Outcome::Each(runs)).await;
    let mut job = rig.job.clone();
    job.set("RETRY_MAX_TIME", "1");

    let out = job.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(rig.status_note().contains("retries=1"), "{}", rig.status_note());

    // Alice pushes; her pipeline fails on the runner too. The one retry of this merge request
    // is used: the job says so instead of retrying.
    let files = [("README.md", Some("Greetings.\n"))];
    rig.gitlab.push_files(PROJECT, BRANCH, &files, "Document greet", "alice").await.unwrap();
    let second = rig.branch_pipelines().last().unwrap().0;
    job.set("TARGET_PIPELINE_ID", second.to_string());
    let out = job.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(rig.gitlab.jobs(second).iter().all(|job| !job.retried), "retried past the bound");
    let ends = rig.end_notes();
    assert!(ends.last().unwrap().contains("kept failing for infrastructure reasons"), "{ends:#?}");

    // With room for a second retry, the count goes on at two instead of starting over.
    job.set("RETRY_MAX_TIME", "2");
    let out = job.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(rig.gitlab.jobs(second).iter().filter(|job| job.retried).count(), 1);
    assert!(rig.status_note().contains("retries=2"), "{}", rig.status_note());
}

/// The allowance stands on the merge request: a later run the webhook starts for a failed
/// pipeline reads it from the notes (the rejection test above has no such note).
#[tokio::test]
async fn a_note_allowing_test_changes_lets_a_later_automatic_run_through() {
    let rig = Rig::with_rules(test_fails(), deletes_the_test).await;
    rig.gitlab.add_ci_rule(PROJECT, on_branch(Outcome::Succeed, 0));
    rig.gitlab.add_mr_note(PROJECT, rig.mr_iid, "alice", "@copilot-agent allow test changes");

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!rig.model.saw("Your previous change was rejected"), "{stderr}");
    assert_eq!(rig.agent_fix_pushes(), 1);
    let pushed = rig.gitlab.read_file(PROJECT, BRANCH, TEST_FILE).await.unwrap();
    assert!(!pushed.contains("greets_ada"), "{pushed}");
}
