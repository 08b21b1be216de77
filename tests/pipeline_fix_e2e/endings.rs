//! Loops that end without a green pipeline and without waiting forever: a blocking manual job,
//! a pipeline no runner picks up, and a person pushing to the branch while the loop watches.

use std::time::Duration;

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::fake_gitlab::{Fault, Outcome};

use super::rig::{BRANCH, PROJECT, Rig, on_branch, test_fails};

#[tokio::test]
async fn a_pipeline_waiting_on_a_manual_job_is_not_waited_for() {
    let rig = Rig::new(test_fails()).await;
    rig.gitlab.add_ci_rule(PROJECT, on_branch(Outcome::Manual { job: "test".into() }, 1));

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(rig.fix_prompts(), 1);
    assert_eq!(rig.agent_fix_pushes(), 1);
    let last = rig.branch_pipelines().last().unwrap().1.clone();
    assert_eq!(last, "manual");
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert!(ends[0].contains("⏸️ The pipeline waits for a manual action"), "{}", ends[0]);
}

#[tokio::test]
async fn a_pipeline_no_runner_picks_up_is_reported() {
    let rig = Rig::new(test_fails()).await;
    rig.gitlab.add_ci_rule(PROJECT, on_branch(Outcome::Pending, 0));

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(rig.fix_prompts(), 1);
    assert_eq!(rig.branch_pipelines().last().unwrap().1, "pending");
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert!(ends[0].contains("⏳ No runner picked the pipeline up"), "{}", ends[0]);
    assert!(rig.status_note().contains("lease=0"));
}

#[tokio::test]
async fn a_person_pushing_mid_loop_stops_it_at_once() {
    let rig = Rig::new(test_fails()).await;
    // The fix's pipeline runs for a while, then fails; the person pushes meanwhile.
    rig.gitlab.add_ci_rule(PROJECT, on_branch(test_fails(), 8));

    let job = rig.job.clone();
    let running = tokio::spawn(async move { job.run().await });
    // Right after its push the loop looks for the new pipeline. From then on its reads of the
    // pipeline wait until the person's push has landed, however long that push takes: the
    // pipeline cannot end first.
    rig.gitlab.wait_for_request("GET /projects/*/pipelines", Duration::from_secs(240)).await.unwrap();
    rig.gitlab.inject(Fault::on("GET", "/projects/*/pipelines/*").hang());
    let files = [("src/greet.rs", Some("pub fn greet(name: &str) -> String { format!(\"Hello, {name}!\") }\n"))];
    let theirs = rig.gitlab.push_files(PROJECT, BRANCH, &files, "Fix greet myself", "alice").await.unwrap();
    rig.gitlab.clear_faults();
    rig.gitlab.release_hung();
    let out = tokio::time::timeout(Duration::from_secs(240), running).await.unwrap().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // One attempt only; the person's commit stays the branch head.
    assert_eq!(rig.fix_prompts(), 1, "{stderr}");
    assert_eq!(rig.agent_fix_pushes(), 1);
    assert_eq!(rig.gitlab.branch_head(PROJECT, BRANCH).await.as_deref(), Some(theirs.as_str()));
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert!(ends[0].contains("⏹️ Stopped: the branch changed"), "{}", ends[0]);
}

#[tokio::test]
async fn a_note_asking_to_fix_the_pipeline_starts_the_loop() {
    let rig = Rig::new(test_fails()).await;
    let note_id = rig.gitlab.add_mr_note(PROJECT, rig.mr_iid, "alice", "@copilot-agent please fix the pipeline");
    let job = rig.note_job(note_id);
    rig.gitlab.add_ci_rule(PROJECT, on_branch(Outcome::Succeed, 0));

    let out = job.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(rig.fix_prompts(), 1, "{stderr}");
    assert_eq!(rig.agent_fix_pushes(), 1);
    assert!(rig.gitlab.note_awards(note_id).contains(&("eyes".to_owned(), "copilot-agent".to_owned())));
    assert!(rig.end_notes().iter().any(|body| body.contains("✅ Pipeline fixed")));
}

/// A "fix the pipeline" request in an internal note: the loop's notes are internal too; the same
/// request in a public note gets public ones (the test above).
#[tokio::test]
async fn a_fix_request_in_an_internal_note_gets_internal_notes_from_the_loop() {
    let rig = Rig::new(test_fails()).await;
    let project_id = rig.gitlab.project_id(PROJECT);
    let on = copilot_runner_testkit::fake_gitlab::Noteable::MergeRequest { project_id, iid: rig.mr_iid };
    let note_id = rig.gitlab.add_internal_note(on, "alice", "@copilot-agent please fix the pipeline");
    let job = rig.note_job(note_id);
    rig.gitlab.add_ci_rule(PROJECT, on_branch(Outcome::Succeed, 0));

    let out = job.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let agent = rig.gitlab.user_id("copilot-agent");
    let replies: Vec<_> = rig
        .gitlab
        .mr_notes(PROJECT, rig.mr_iid)
        .into_iter()
        .filter(|note| note.author_id == agent && !note.system)
        .collect();
    assert!(replies.iter().any(|note| note.body.contains("✅ Pipeline fixed")), "{replies:#?}");
    assert!(replies.iter().all(|note| note.internal), "every reply is internal: {replies:#?}");
}
