//! A review asked for in an internal note: GitLab's diff discussions cannot be internal, so no
//! finding becomes one; every finding is in the summary, which is internal like every reply to
//! that note. The same review asked for in a public note posts its findings inline.

use serde_json::json;

use super::{NEW_LIB_RS, PROJECT, Rig, finding, run_ok};
use copilot_runner_testkit::fake_gitlab::{AGENT, Noteable};
use copilot_runner_testkit::mock_model::MockModel;

#[tokio::test]
async fn a_review_asked_in_an_internal_note_keeps_its_findings_in_the_internal_summary() {
    let rig = Rig::new().await;
    let findings = json!([finding("src/lib.rs", 8, "The temporary is needless")]).to_string();
    let model = MockModel::start(rig.script(&findings)).await.unwrap();
    let ask = format!("@{AGENT} review this please");

    // Asked in a public note: the finding is an inline discussion.
    let public = rig.open_mr("feature/public", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    let note_id = rig.gitlab.add_mr_note(PROJECT, public, "alice", &ask);
    run_ok(&rig.note_job(&model, public, note_id).await).await;
    assert_eq!(rig.inline(public).len(), 1);

    // Asked in an internal note: no inline discussion, the finding is in the internal summary.
    let internal = rig.open_mr("feature/internal", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    let project_id = rig.gitlab.project_id(PROJECT);
    let on = Noteable::MergeRequest { project_id, iid: internal };
    let note_id = rig.gitlab.add_internal_note(on, "alice", &ask);
    run_ok(&rig.note_job(&model, internal, note_id).await).await;
    assert!(rig.inline(internal).is_empty(), "{:#?}", rig.inline(internal));
    let replies = rig.agent_notes(internal);
    let summary = replies.iter().find(|note| note.body.contains("<!-- copilot-runner:review head=")).unwrap();
    assert!(summary.body.contains("The temporary is needless"), "{}", summary.body);
    assert!(replies.iter().all(|note| note.internal), "every reply is internal: {replies:#?}");
}
