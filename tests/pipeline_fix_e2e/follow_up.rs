//! A "fix the pipeline" request on a merge request whose branch the requester may not push to
//! (protected for maintainers; she is a developer): the agent says why, cuts a branch of its own
//! from that branch, opens a Draft merge request into it, and runs the loop there on the failed
//! pipeline. The protected branch keeps its commits; the fix arrives through the follow-up.

use copilot_runner::gitlab::{Client, NewMergeRequest};
use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::fake_gitlab::{CiRule, Outcome};
use secrecy::SecretString;

use super::rig::{PROJECT, Rig, on_branch, test_fails};

const RELEASE: &str = "release/1.x";

#[tokio::test]
async fn a_fix_request_on_a_branch_the_requester_may_not_push_to_goes_to_a_follow_up_merge_request() {
    let rig = Rig::new(Outcome::Succeed).await;
    let gitlab = &rig.gitlab;
    gitlab.protect_branch(PROJECT, "release/*", 40, &[]);
    gitlab.add_ci_rule(PROJECT, CiRule { ref_pattern: "release/*".into(), outcome: test_fails(), reads_until_done: 0 });
    let files = [("src/greet.rs", Some("pub fn greet(name: &str) -> String { name.into() }\n"))];
    let theirs = gitlab.push_files(PROJECT, RELEASE, &files, "Release greet", "alice").await.unwrap();
    let alice = Client::new(&gitlab.api_url(), &SecretString::from(gitlab.token("alice"))).unwrap();
    let new = NewMergeRequest {
        source_branch: RELEASE.into(),
        target_branch: "main".into(),
        title: "Release 1.x".into(),
        ..Default::default()
    };
    let mr_iid = alice.create_merge_request(gitlab.project_id(PROJECT), &new).await.unwrap().iid;
    let note_id = gitlab.add_mr_note(PROJECT, mr_iid, "alice", "@copilot-agent please fix the pipeline");
    gitlab.add_ci_rule(PROJECT, on_branch(Outcome::Succeed, 0));
    let mut job = rig.job.clone();
    job.trigger(
        "mr_note",
        &[
            ("TARGET_PROJECT_ID", gitlab.project_id(PROJECT).to_string()),
            ("TARGET_MR_IID", mr_iid.to_string()),
            ("TARGET_NOTE_ID", note_id.to_string()),
        ],
    );

    let out = job.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // Nothing was pushed to the protected branch.
    assert_eq!(gitlab.branch_head(PROJECT, RELEASE).await.as_deref(), Some(theirs.as_str()), "{stderr}");
    // The reply on alice's merge request says why and offers the follow-up.
    let agent = gitlab.user_id("copilot-agent");
    let replies: Vec<String> = gitlab
        .mr_notes(PROJECT, mr_iid)
        .into_iter()
        .filter(|note| note.author_id == agent && !note.system)
        .map(|note| note.body)
        .collect();
    assert!(
        replies.iter().any(|body| body.contains("Draft merge request into this merge request's branch")),
        "{replies:#?}"
    );
    // One Draft follow-up merge request from the agent's branch into the protected one, fixed.
    let follow_branch = format!("copilot/mr-{mr_iid}-note-{note_id}");
    let follow: Vec<_> =
        gitlab.merge_requests(PROJECT).into_iter().filter(|mr| mr.source_branch == follow_branch).collect();
    assert_eq!(follow.len(), 1, "{stderr}");
    assert!(follow[0].draft() && follow[0].target_branch == RELEASE, "{:?}", follow[0]);
    assert!(rig.fix_prompts() >= 1, "{stderr}");
    let fix_pipelines =
        gitlab.pipelines(PROJECT).into_iter().filter(|pipeline| pipeline.git_ref == follow_branch).count();
    assert!(fix_pipelines >= 1, "the fix was pushed to the follow-up branch: {stderr}");
    let fixed = gitlab
        .mr_notes(PROJECT, follow[0].iid)
        .into_iter()
        .any(|note| note.author_id == agent && note.body.contains("✅ Pipeline fixed"));
    assert!(fixed, "{stderr}");
}
