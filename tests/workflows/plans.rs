//! Plans people approve, end to end: `@agent plan` posts the plan and pushes nothing, `proceed`
//! runs exactly the stored plan (its hash checks), an issue changed since is planned again, and
//! with `COPILOT_REQUIRE_PLAN_APPROVAL` an assignment waits for `proceed`.

use base64::Engine as _;
use copilot_runner_testkit::ci_job::{AGENT_PROJECT, text};

use super::rig::{IMPLEMENTATION_STAGE, PROJECT, Rig, greeting_script};

const BRANCH: &str = "copilot/issue-2";

async fn new_pipeline(rig: &mut Rig) {
    let pipeline = rig.gitlab.start_triggered_pipeline(AGENT_PROJECT, &[], &[]).await.unwrap();
    rig.gitlab.hold_running(pipeline);
    rig.job.set("CI_PIPELINE_ID", pipeline.to_string());
}

/// The plan note among the agent's notes on issue `iid`: its stated hash checks against what it
/// stores, and the stages it stores are returned.
fn stored_stages(rig: &Rig, iid: u64) -> Vec<String> {
    let notes = rig.agent_notes(rig.on_issue(iid));
    let plan = notes.iter().rev().find(|note| note.contains("Here is my plan")).unwrap_or_else(|| panic!("{notes:#?}"));
    let marker = |prefix: &str| {
        plan.lines()
            .find_map(|line| line.strip_prefix(prefix)?.strip_suffix(" -->"))
            .unwrap_or_else(|| panic!("{plan}"))
    };
    let data = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(marker("<!-- copilot-runner:plan-data "))
        .expect("the stored plan is base64");
    let digest = hex::encode(ring::digest::digest(&ring::digest::SHA256, &data));
    assert_eq!(marker("<!-- copilot-runner:plan sha256="), digest, "the plan's hash does not check");
    let stored: serde_json::Value = serde_json::from_slice(&data).unwrap();
    let stages: Vec<String> = stored["plan"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|planned| planned["stage"].as_str().unwrap().to_owned())
        .collect();
    assert!(!stages.is_empty(), "{stored}");
    stages
}

#[tokio::test]
async fn plan_then_proceed_runs_the_stored_plan_unchanged() {
    let mut rig = Rig::start(greeting_script).await;
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.\n\n- [ ] greeting.txt says hello\n");
    rig.comment_on_issue(iid, "alice", "@copilot-agent plan");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The plan names its stages, the files the analysis found and the acceptance criteria, and
    // nothing is pushed: the model was not asked to implement anything.
    assert_eq!(rig.gitlab.branch_head(PROJECT, BRANCH).await, None);
    assert!(rig.gitlab.merge_requests(PROJECT).is_empty());
    assert!(!rig.model.completions().iter().any(|call| call.body.contains(IMPLEMENTATION_STAGE)));
    let planned = stored_stages(&rig, iid);
    let notes = rig.agent_notes(rig.on_issue(iid));
    let plan = notes.iter().find(|note| note.contains("Here is my plan")).unwrap();
    assert!(plan.contains("- `greeting.txt`") && plan.contains("**Acceptance criteria:**"), "{plan}");

    rig.comment_on_issue(iid, "dave", "@copilot-agent proceed");
    new_pipeline(&mut rig).await;
    let _ = std::fs::remove_dir_all(rig.paths.artifacts.join("stages"));
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Exactly the stored stages ran, in order, and the work was delivered.
    let ran: Vec<String> = rig.paths.stage_dirs().iter().map(|dir| dir.split_once('-').unwrap().1.to_owned()).collect();
    assert_eq!(ran, planned);
    assert_eq!(rig.gitlab.read_file(PROJECT, BRANCH, "greeting.txt").await.as_deref(), Some("hello\n"));
    assert_eq!(rig.gitlab.merge_requests(PROJECT).len(), 1);
}

#[tokio::test]
async fn an_issue_changed_since_its_plan_is_planned_again() {
    let mut rig = Rig::start(greeting_script).await;
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.comment_on_issue(iid, "alice", "@copilot-agent plan");
    assert_eq!(rig.run().await.status.code(), Some(0));

    rig.gitlab.edit_issue_description(PROJECT, iid, "alice", "Please add greeting.txt and farewell.txt.");
    rig.comment_on_issue(iid, "alice", "@copilot-agent proceed");
    new_pipeline(&mut rig).await;
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let notes = rig.agent_notes(rig.on_issue(iid));
    assert!(notes.iter().any(|note| note.contains("The issue changed since its plan")), "{notes:#?}");
    assert_eq!(notes.iter().filter(|note| note.contains("Here is my plan")).count(), 2, "{notes:#?}");
    assert_eq!(rig.gitlab.branch_head(PROJECT, BRANCH).await, None, "the old plan ran");
    stored_stages(&rig, iid);

    // Control: with the issue as planned, proceed runs.
    rig.comment_on_issue(iid, "alice", "@copilot-agent proceed");
    new_pipeline(&mut rig).await;
    assert_eq!(rig.run().await.status.code(), Some(0));
    assert!(rig.gitlab.branch_head(PROJECT, BRANCH).await.is_some());
}

#[tokio::test]
async fn with_plan_approval_an_assignment_waits_for_proceed() {
    let mut rig = Rig::start(greeting_script).await;
    rig.job.set("COPILOT_REQUIRE_PLAN_APPROVAL", "true");
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(rig.gitlab.branch_head(PROJECT, BRANCH).await, None, "pushed before approval");
    stored_stages(&rig, iid);

    // Without a plan there is nothing to run yet on another issue: proceed plans first.
    rig.comment_on_issue(iid, "alice", "@copilot-agent proceed");
    new_pipeline(&mut rig).await;
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(rig.gitlab.read_file(PROJECT, BRANCH, "greeting.txt").await.as_deref(), Some("hello\n"));
    assert_eq!(rig.gitlab.merge_requests(PROJECT).len(), 1);
}
