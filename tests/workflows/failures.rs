//! Failures end the same way in every workflow: the status note shows the step that failed, a
//! failure note names it and links the job log, nothing is pushed half-way without the note
//! saying so, and the job exits 1.

use copilot_runner_testkit::ci_job::{JOB_URL, text};
use copilot_runner_testkit::fake_gitlab::Fault;
use copilot_runner_testkit::mock_model::{Reply, Rule, Script};

use super::rig::{ANALYSIS_STAGE, PROJECT, Rig, greeting_script, status_notes};

/// Runs an assignment that fails; asserts the failure was reported at `step`, that `error` is
/// in the failure note and that no MR was opened. Returns the failure note.
async fn assignment_failing_at(rig: &mut Rig, step: &str, error: &str) -> String {
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");

    let notes = rig.agent_notes(rig.on_issue(iid));
    let status = status_notes(&notes);
    assert_eq!(status.len(), 1, "{notes:#?}");
    assert!(status[0].contains(&format!("- ❌ {step}")), "{}", status[0]);
    assert!(!status[0].contains('⏳'), "a step still shows as running: {}", status[0]);
    let failure = notes.iter().find(|body| body.contains("The work failed")).unwrap_or_else(|| panic!("{notes:#?}"));
    assert!(failure.contains(&format!("(step: {step})")), "{failure}");
    assert!(failure.contains(error), "{failure}");
    assert!(failure.contains(&format!("Job log: {JOB_URL}")), "{failure}");
    assert!(rig.gitlab.merge_requests(PROJECT).is_empty());
    failure.clone()
}

/// The branch of the issue the test opens (the standard seed already holds issue #1).
const BRANCH: &str = "copilot/issue-2";

#[tokio::test]
async fn an_agent_past_the_stage_timeout_fails_the_job() {
    let mut rig = Rig::start(|_| Script::new().fallback(Reply::Hang)).await;
    rig.job.set("USE_ORCHESTRATED_ISSUE", "false").set("COPILOT_STAGE_TIMEOUT", "30");

    assignment_failing_at(&mut rig, "Implementation", "implementation").await;
    assert!(!rig.model.completions().is_empty(), "the agent never asked the model");
    assert_eq!(rig.gitlab.branch_head(PROJECT, BRANCH).await, None, "pushed half-way");
}

#[tokio::test]
async fn a_model_answering_garbage_fails_the_stage_after_one_retry() {
    let mut rig = Rig::start(|paths| {
        let garbage = Reply::create(&paths.analysis_output(), "this is not JSON at all");
        Script::new().rule(Rule::when(ANALYSIS_STAGE).then(garbage).then(Reply::text("Done.")))
    })
    .await;

    assignment_failing_at(&mut rig, "Analysis", "analysis.json").await;
    assert_eq!(rig.gitlab.branch_head(PROJECT, BRANCH).await, None, "pushed half-way");
    let analysis_calls = rig.model.completions().iter().filter(|request| request.body.contains(ANALYSIS_STAGE)).count();
    assert!(analysis_calls >= 4, "two attempts of two turns each, got {analysis_calls}");
}

#[tokio::test]
async fn a_refused_merge_request_after_the_push_says_the_branch_is_pushed() {
    let mut rig = Rig::start(greeting_script).await;
    rig.job.set("USE_ORCHESTRATED_ISSUE", "false");
    rig.gitlab.inject(Fault::on("POST", "/projects/*/merge_requests").status(403));

    let failure = assignment_failing_at(&mut rig, "Merge request", "403").await;
    assert!(failure.contains(&format!("pushed to `{BRANCH}`")), "{failure}");
    assert_eq!(rig.gitlab.read_file(PROJECT, BRANCH, "greeting.txt").await.as_deref(), Some("hello\n"));
}
