//! Internal notes: when the note that asked is internal, every note the agent posts in reply
//! (status, final, refusal) is internal too, and stays so when edited; a public note's replies
//! stay public.

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::fake_gitlab::{AGENT, Note};

use super::rig::{Rig, greeting_script};

/// The agent's own notes on `on`, oldest first.
fn agent_notes(rig: &Rig, on: copilot_runner_testkit::fake_gitlab::Noteable) -> Vec<Note> {
    let agent = rig.gitlab.user_id(AGENT);
    rig.gitlab.notes_on(on).into_iter().filter(|note| note.author_id == agent && !note.system).collect()
}

#[tokio::test]
async fn replies_to_an_internal_issue_note_are_internal_and_a_public_notes_are_not() {
    let mut rig = Rig::start(greeting_script).await;
    let iid = rig.issue("alice", "Greetings", "The widgets should greet people.");
    let on = rig.on_issue(iid);
    let note_id = rig.comment_internally(on, "dave", "@copilot-agent add a greeting file");

    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let replies = agent_notes(&rig, on);
    assert_eq!(replies.len(), 2, "status and final note: {replies:#?}");
    assert!(replies.iter().all(|note| note.internal), "{replies:#?}");
    let edits = rig.status_history(&format!("issue-{iid}-note-{note_id}"));
    assert!(edits.len() > 2, "the status note was edited and stayed internal: {edits:#?}");
    let posts = rig.gitlab.requests_to("POST /projects/*/issues/*/notes");
    assert!(posts.iter().all(|post| post.json().and_then(|json| json.get("internal").cloned()) == Some(true.into())));

    // A public request on the same issue gets public replies.
    rig.comment_on_issue(iid, "dave", "@copilot-agent add a greeting file too");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let replies = agent_notes(&rig, on);
    assert!(replies.len() > 2, "{replies:#?}");
    assert!(replies[2..].iter().all(|note| !note.internal), "{replies:#?}");
}

#[tokio::test]
async fn a_refusal_of_an_internal_merge_request_note_is_internal() {
    let mut rig = Rig::start(greeting_script).await;
    let mr_iid = rig.open_merge_request("alice", "feature/greeting", &[("greeting.txt", Some("hi\n"))]).await;
    let on = rig.on_merge_request(mr_iid);

    rig.comment_internally(on, "gus", "@copilot-agent add a greeting file");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let replies = agent_notes(&rig, on);
    assert_eq!(replies.len(), 1, "{replies:#?}");
    assert!(replies[0].body.contains("@gus") && replies[0].internal, "{:#?}", replies[0]);

    rig.comment_on_merge_request(mr_iid, "gus", "@copilot-agent add a greeting file");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let replies = agent_notes(&rig, on);
    assert_eq!(replies.len(), 2, "{replies:#?}");
    assert!(!replies[1].internal, "a public request's refusal is public: {:#?}", replies[1]);
    assert!(rig.model.completions().is_empty(), "the agent ran for a guest");
}
