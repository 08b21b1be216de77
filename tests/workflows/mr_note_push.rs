//! Whose branch a note on a merge request may change. The agent pushes to the source branch
//! only when the person who asked could: a protected branch the requester may not push to, and
//! the default branch, are left as they are; the reply says why, and the change arrives as a
//! Draft merge request from a new agent branch into that source branch, linked on the merge
//! request. A request to fix the pipeline there is declined. A maintainer's note on the same
//! protected branch is pushed to it directly.

use copilot_runner::gitlab::{Client, NewMergeRequest};
use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::fake_gitlab::access;
use copilot_runner_testkit::mock_model::Reply;
use secrecy::SecretString;

use super::rig::{PROJECT, Rig, mr_note_script};

const ASK: &str = "@copilot-agent add a greeting file";

async fn rig() -> Rig {
    Rig::start(|paths| mr_note_script(Reply::create(&paths.in_clone("greeting.txt"), "hello\n"), "Added greeting.txt."))
        .await
}

/// The agent's merge requests, oldest first.
fn agents_merge_requests(rig: &Rig) -> Vec<copilot_runner_testkit::fake_gitlab::MergeRequest> {
    let agent = rig.gitlab.user_id("copilot-agent");
    rig.gitlab.merge_requests(PROJECT).into_iter().filter(|mr| mr.author_id == agent).collect()
}

/// Checks the follow-up of note `note_id` on `mr_iid`: a Draft from the agent's branch into
/// `source`, carrying the change, linked in the agent's notes on the merge request; returns
/// the agent's notes there.
async fn assert_follow_up(rig: &Rig, mr_iid: u64, note_id: u64, source: &str) -> Vec<String> {
    let branch = format!("copilot/mr-{mr_iid}-note-{note_id}");
    let own = agents_merge_requests(rig);
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!((own[0].source_branch.as_str(), own[0].target_branch.as_str()), (branch.as_str(), source));
    assert!(own[0].draft(), "{}", own[0].title);
    assert_eq!(rig.gitlab.read_file(PROJECT, &branch, "greeting.txt").await.as_deref(), Some("hello\n"));
    let notes = rig.agent_notes(rig.on_merge_request(mr_iid));
    assert!(notes.iter().any(|body| body.contains(&format!("[!{}](", own[0].iid))), "{notes:#?}");
    notes
}

#[tokio::test]
async fn a_protected_branch_gets_a_follow_up_unless_the_requester_may_push_to_it() {
    let mut rig = rig().await;
    rig.gitlab.protect_branch(PROJECT, "release/*", access::MAINTAINER, &[]);
    let mr_iid = rig.open_merge_request("alice", "release/1.0", &[("NOTES.md", Some("Release notes.\n"))]).await;
    let before = rig.gitlab.branch_head(PROJECT, "release/1.0").await.unwrap();

    // Alice, a developer, may not push to `release/*`: the change comes as a follow-up.
    let note_id = rig.comment_on_merge_request(mr_iid, "alice", ASK);
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(rig.gitlab.branch_head(PROJECT, "release/1.0").await.as_deref(), Some(before.as_str()));
    let notes = assert_follow_up(&rig, mr_iid, note_id, "release/1.0").await;
    assert!(notes.iter().any(|body| body.contains("protected") && body.contains("Draft merge request")), "{notes:#?}");

    // Asked to fix the pipeline there, the agent says why and works on a follow-up branch (its
    // loop is `pipeline_fix_e2e::follow_up`); the protected branch is untouched.
    rig.comment_on_merge_request(mr_iid, "alice", "@copilot-agent fix the pipeline");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let notes = rig.agent_notes(rig.on_merge_request(mr_iid));
    assert_eq!(notes.iter().filter(|body| body.contains("protected")).count(), 2, "{notes:#?}");
    assert!(!notes.iter().any(|body| body.contains("copilot-runner:pipeline-fix")), "{notes:#?}");
    assert_eq!(rig.gitlab.branch_head(PROJECT, "release/1.0").await.as_deref(), Some(before.as_str()));

    // Maria, a maintainer, may: her request is pushed to the branch itself.
    rig.comment_on_merge_request(mr_iid, "maria", ASK);
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let head = rig.gitlab.branch_head(PROJECT, "release/1.0").await.unwrap();
    assert_eq!(rig.gitlab.commit(PROJECT, &head).await.unwrap().parent_ids, vec![before]);
    assert_eq!(rig.gitlab.read_file(PROJECT, "release/1.0", "greeting.txt").await.as_deref(), Some("hello\n"));
    // The change's follow-up and the pipeline fix's; Maria's request made none.
    assert_eq!(agents_merge_requests(&rig).len(), 2, "a third follow-up");
}

#[tokio::test]
async fn the_default_branch_is_never_pushed_to_even_for_a_maintainer() {
    let mut rig = rig().await;
    rig.gitlab.push_files(PROJECT, "stable", &[("STABLE.md", Some("stable\n"))], "Stable", "maria").await.unwrap();
    rig.gitlab.push_files(PROJECT, "main", &[("NEWS.md", Some("news\n"))], "News", "maria").await.unwrap();
    let maria = Client::new(&rig.gitlab.api_url(), &SecretString::from(rig.gitlab.token("maria"))).unwrap();
    let new = NewMergeRequest {
        source_branch: "main".into(),
        target_branch: "stable".into(),
        title: "Bring stable up to date".into(),
        ..Default::default()
    };
    let mr_iid = maria.create_merge_request(rig.project_id, &new).await.unwrap().iid;
    let before = rig.gitlab.branch_head(PROJECT, "main").await;

    let note_id = rig.comment_on_merge_request(mr_iid, "maria", ASK);
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(rig.gitlab.branch_head(PROJECT, "main").await, before, "the default branch moved");
    let notes = assert_follow_up(&rig, mr_iid, note_id, "main").await;
    assert!(notes.iter().any(|body| body.contains("default branch")), "{notes:#?}");
}
