//! A job that runs again for the same request edits its failure note instead of posting a
//! second one (found by the hidden outcome marker, among the agent's own notes); another request
//! on the same merge request gets a note of its own.

use super::{NEW_LIB_RS, PROJECT, Rig, run_ok};
use copilot_runner_testkit::fake_gitlab::{AGENT, Fault, Note};
use copilot_runner_testkit::mock_model::MockModel;

/// The agent's failure notes on the merge request.
fn failure_notes(rig: &Rig, mr_iid: u64) -> Vec<Note> {
    rig.agent_notes(mr_iid).into_iter().filter(|note| note.body.contains("The work failed")).collect()
}

#[tokio::test]
async fn a_review_job_run_again_edits_its_failure_note_instead_of_posting_another() {
    let rig = Rig::new().await;
    let mr_iid = rig.open_mr("feature/rerun", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    let model = MockModel::start(rig.script("[]")).await.unwrap();
    let job = rig.job(&model, mr_iid).await;
    rig.gitlab.inject(Fault::on("GET", "/projects/*/merge_requests/*/diffs").status(403));

    assert_eq!(job.run().await.status.code(), Some(1), "the first run fails");
    let first = failure_notes(&rig, mr_iid);
    assert_eq!(first.len(), 1, "{first:#?}");
    rig.gitlab.clear_requests();
    assert_eq!(job.run().await.status.code(), Some(1), "the same job fails again");
    let again = failure_notes(&rig, mr_iid);
    assert_eq!(again.len(), 1, "one failure note after two runs: {again:#?}");
    assert_eq!(again[0].id, first[0].id);
    let edits = rig.gitlab.requests_to(&format!("PUT /projects/*/merge_requests/{mr_iid}/notes/{}", first[0].id));
    assert_eq!(edits.len(), 1, "the second run edited the first run's failure note");
    let statuses: Vec<Note> =
        rig.agent_notes(mr_iid).into_iter().filter(|note| note.body.contains("copilot-runner:status mr-")).collect();
    assert_eq!(statuses.len(), 1, "{statuses:#?}");

    // Another request (a review note) is other work: its failure gets a note of its own.
    let note_id = rig.gitlab.add_mr_note(PROJECT, mr_iid, "alice", &format!("@{AGENT} review this please"));
    let by_note = rig.note_job(&model, mr_iid, note_id).await;
    assert_eq!(by_note.run().await.status.code(), Some(1));
    assert_eq!(failure_notes(&rig, mr_iid).len(), 2, "a new request's failure is a new note");

    // Once GitLab serves the diffs, the first request's job ends with the review summary.
    rig.gitlab.clear_faults();
    run_ok(&job).await;
    assert_eq!(rig.summaries(mr_iid).len(), 1);
}
