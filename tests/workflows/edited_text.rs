//! A guest's text: when the description the agent follows was last edited by someone below
//! `COPILOT_MIN_ACCESS_LEVEL` (GitLab records each edit as a "changed the description" system
//! note by the editor), the status note says so before the work starts and names the author and
//! the editor. An edit by someone who may start work, or none, says nothing.

use copilot_runner_testkit::ci_job::text;

use super::rig::{Rig, greeting_script, status_notes};

const WARNING: &str = "last edited by @gus";

/// An issue by alice whose description `editor` changed, assigned to the agent by dave; returns
/// the first status note the run posted and its last form.
async fn assigned_after_an_edit_by(editor: &str) -> (String, String) {
    let mut rig = Rig::start(greeting_script).await;
    let iid = rig.issue("alice", "Greetings", "Please add greeting.txt.");
    rig.gitlab.add_system_note_by(rig.on_issue(iid), editor, "changed the description");
    rig.assign(iid, "dave");

    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let history = rig.status_history(&format!("issue-{iid}"));
    let notes = rig.agent_notes(rig.on_issue(iid));
    let status = status_notes(&notes);
    assert_eq!(status.len(), 1, "{notes:#?}");
    (history.first().cloned().unwrap(), status[0].clone())
}

#[tokio::test]
async fn an_issue_last_edited_by_a_guest_is_named_in_the_status_note_before_the_work() {
    let (first, last) = assigned_after_an_edit_by("gus").await;
    assert!(first.contains(WARNING) && first.contains("Developer"), "not said before the work: {first}");
    assert!(first.contains("Written by @alice"), "{first}");
    assert!(last.contains(WARNING), "{last}");
}

#[tokio::test]
async fn an_issue_last_edited_by_a_developer_says_nothing() {
    let (first, last) = assigned_after_an_edit_by("maria").await;
    assert!(!first.contains("last edited by") && !last.contains("last edited by"), "{first}\n{last}");
}

#[tokio::test]
async fn a_merge_request_description_last_edited_by_a_guest_is_named_in_the_status_note() {
    let mut rig = Rig::start(greeting_script).await;
    let mr_iid = rig.open_merge_request("alice", "feature/greeting", &[("greeting.txt", Some("hi\n"))]).await;
    rig.gitlab.add_system_note_by(rig.on_merge_request(mr_iid), "gus", "changed the description");
    let note_id = rig.comment_on_merge_request(mr_iid, "dave", "@copilot-agent add a greeting file");

    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let history = rig.status_history(&format!("mr-{mr_iid}-note-{note_id}"));
    let first = history.first().unwrap();
    assert!(first.contains(WARNING) && first.contains("Written by @alice"), "{first}");
}
