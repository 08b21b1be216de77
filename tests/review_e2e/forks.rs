//! A merge request from a fork is reviewed like any other: the job reads its head from the
//! target project's `refs/merge-requests/<iid>/head` (the fork's branch is not in the target,
//! and the agent need not read the fork), places its findings inline on the fork's changes, and
//! after a push to the fork reviews only what the push changed.

use copilot_runner::gitlab::{Client, ClientOptions, MergeRequestUpdate};
use copilot_runner_testkit::fake_gitlab::AGENT;
use copilot_runner_testkit::mock_model::MockModel;
use secrecy::SecretString;
use serde_json::json;

use super::{NEW_LIB_RS, PROJECT, Rig, finding, review_prompts, run_ok};

const FORK: &str = "olga/widgets";
const BRANCH: &str = "rework";

#[tokio::test]
async fn a_merge_request_from_a_fork_is_reviewed_inline_and_again_after_a_push_to_the_fork() {
    let rig = Rig::new().await;
    rig.gitlab.fork_project(PROJECT, FORK, "outsider").await.unwrap();
    rig.gitlab.push_files(FORK, BRANCH, &[("src/lib.rs", Some(NEW_LIB_RS))], "Rework sub", "outsider").await.unwrap();
    let mr_iid = rig.gitlab.open_fork_merge_request(PROJECT, FORK, BRANCH, "outsider", "Rework sub").await.unwrap();
    // The project has a branch of the same name that is something else entirely.
    rig.gitlab.push_files(PROJECT, BRANCH, &[("OTHER.md", Some("other\n"))], "Unrelated", "alice").await.unwrap();
    // alice, a Developer of the target, asks the agent to review.
    let alice = SecretString::from(rig.gitlab.token("alice"));
    let client = Client::with_options(&rig.gitlab.api_url(), &alice, &ClientOptions::default()).unwrap();
    let ask = MergeRequestUpdate { reviewer_ids: Some(vec![rig.gitlab.user_id(AGENT)]), ..Default::default() };
    client.update_merge_request(PROJECT, mr_iid, &ask).await.unwrap();

    let first = json!([finding("src/lib.rs", 8, "The temporary is needless")]).to_string();
    let second = json!([finding("src/greet.rs", 1, "The greeting says nothing")]).to_string();
    let model = MockModel::start(rig.script_and_follow_up(&first, &second)).await.unwrap();
    let job = rig.job(&model, mr_iid).await;
    run_ok(&job).await;

    let fork_head = rig.gitlab.branch_head(FORK, BRANCH).await.unwrap();
    assert_eq!(rig.head(mr_iid), fork_head);
    let prompt = review_prompts(&rig.artifacts()).remove(0);
    assert!(prompt.contains("let d = a - b;"), "the fork's change is reviewed:\n{prompt}");
    assert!(!prompt.contains("OTHER.md"), "not the project's branch of the same name:\n{prompt}");
    let inline = rig.inline(mr_iid);
    assert_eq!(inline.len(), 1, "{inline:#?}");
    let position = inline[0].position.as_ref().unwrap();
    assert_eq!((position["new_path"].clone(), position["new_line"].clone()), (json!("src/lib.rs"), json!(8)));
    assert_eq!(position["head_sha"], json!(fork_head), "on the fork's head");
    let summaries = rig.summaries(mr_iid);
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    assert!(summaries[0].contains(&format!("<!-- copilot-runner:review head={fork_head} -->")), "{}", summaries[0]);

    // The author pushes to the fork: the next review covers that push alone.
    rig.gitlab
        .push_files(FORK, BRANCH, &[("src/greet.rs", Some("pub fn greet() {}\n"))], "Greet", "outsider")
        .await
        .unwrap();
    let pushed = rig.gitlab.branch_head(FORK, BRANCH).await.unwrap();
    assert_eq!(rig.head(mr_iid), pushed, "the push reached the merge request");
    run_ok(&job).await;
    let prompt = review_prompts(&rig.artifacts()).remove(0);
    assert!(prompt.contains(&format!("An earlier review covered the changes up to `{fork_head}`")), "{prompt}");
    assert!(!prompt.contains("let d = a - b;"), "lib.rs did not change since:\n{prompt}");
    let inline = rig.inline(mr_iid);
    assert_eq!(inline.len(), 2, "{inline:#?}");
    assert!(inline.iter().any(|note| note.body.contains("The greeting says nothing")));
    assert_eq!(rig.summaries(mr_iid).len(), 2);
    assert!(rig.gitlab.branch_head(PROJECT, BRANCH).await.is_some(), "the project's own branch is untouched");
}
