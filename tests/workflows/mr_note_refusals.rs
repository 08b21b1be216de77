//! mr_note's refusals: a note on a closed merge request, on one from a fork, or one that asks
//! nothing gets a reply that says why, and nothing else happens: no model call, no push, no
//! second merge request. Beside each refusal the same request is shown accepted where the rule
//! allows it (an open merge request of the project, a note that asks something), so a refusal is
//! the rule at work and not a broken run.

use copilot_runner::gitlab::{Client, MergeRequestUpdate};
use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::fake_gitlab::{Noteable, access};

use secrecy::SecretString;

use super::rig::{PROJECT, Rig, greeting_script};

const BRANCH: &str = "feature/greeting";
const FORK: &str = "olga/widgets";
const REQUEST: &str = "@copilot-agent add a greeting file";

/// A reply of the agent's on `mr_iid` that starts the refusal for `reason` (English template).
fn refusal(rig: &Rig, mr_iid: u64, reason: &str) -> String {
    let on = Noteable::MergeRequest { project_id: rig.project_id, iid: mr_iid };
    let notes = rig.agent_notes(on);
    let found = notes.iter().find(|body| body.contains("I cannot do this:") && body.contains(reason));
    found.unwrap_or_else(|| panic!("no refusal saying `{reason}` in {notes:#?}")).clone()
}

/// Runs the job for `body` written by alice on `mr_iid`; returns the run's stderr.
async fn note_and_run(rig: &mut Rig, mr_iid: u64, body: &str) -> String {
    rig.comment_on_merge_request(mr_iid, "alice", body);
    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "a refusal is a decision, not a failure: {stderr}");
    stderr
}

#[tokio::test]
async fn a_closed_merge_request_is_refused_and_an_open_one_is_not() {
    let mut rig = Rig::start(greeting_script).await;
    rig.job.set("USE_ORCHESTRATED_MR_NOTE", "true");
    let open = rig.open_merge_request("alice", BRANCH, &[("NOTES.md", Some("Ideas.\n"))]).await;
    note_and_run(&mut rig, open, REQUEST).await;
    assert_eq!(rig.gitlab.read_file(PROJECT, BRANCH, "greeting.txt").await.as_deref(), Some("hello\n"));
    let calls = rig.model.requests().len();
    assert!(calls > 0);

    let closed = rig.open_merge_request("alice", "feature/closed", &[("OLD.md", Some("Old.\n"))]).await;
    let alice = Client::new(&rig.gitlab.api_url(), &SecretString::from(rig.gitlab.token("alice"))).unwrap();
    let close = MergeRequestUpdate { state_event: Some("close".to_owned()), ..Default::default() };
    alice.update_merge_request(rig.project_id, closed, &close).await.unwrap();
    let head = rig.gitlab.branch_head(PROJECT, "feature/closed").await;
    let stderr = note_and_run(&mut rig, closed, REQUEST).await;
    refusal(&rig, closed, "it is closed or merged");
    assert_eq!(rig.model.requests().len(), calls, "the model was asked: {stderr}");
    assert_eq!(rig.gitlab.branch_head(PROJECT, "feature/closed").await, head, "pushed to a closed MR");
}

#[tokio::test]
async fn a_merge_request_from_a_fork_is_refused() {
    let mut rig = Rig::start(greeting_script).await;
    rig.gitlab.fork_project(PROJECT, FORK, "outsider").await.unwrap();
    // The agent could push to the fork (a Developer there): only the rule keeps it out.
    rig.gitlab.set_access(FORK, "alice", access::DEVELOPER);
    rig.gitlab.set_access(FORK, "copilot-agent", access::DEVELOPER);
    rig.gitlab.push_files(FORK, BRANCH, &[("FORK.md", Some("fork\n"))], "Fork work", "outsider").await.unwrap();
    let fork_mr = rig.gitlab.open_fork_merge_request(PROJECT, FORK, BRANCH, "outsider", "From the fork").await.unwrap();
    let fork_head = rig.gitlab.branch_head(FORK, BRANCH).await;

    let stderr = note_and_run(&mut rig, fork_mr, REQUEST).await;
    refusal(&rig, fork_mr, "comes from a fork");
    assert!(rig.model.requests().is_empty(), "the model was asked: {stderr}");
    assert_eq!(rig.gitlab.branch_head(FORK, BRANCH).await, fork_head, "pushed to the fork");
    assert!(rig.gitlab.branch_head(PROJECT, BRANCH).await.is_none(), "a branch appeared in the project");
    assert_eq!(rig.gitlab.merge_requests(PROJECT).len(), 1, "no follow-up merge request");
}

#[tokio::test]
async fn a_mention_that_asks_nothing_is_answered_with_how_to_ask() {
    let mut rig = Rig::start(greeting_script).await;
    rig.job.set("USE_ORCHESTRATED_MR_NOTE", "true");
    let mr = rig.open_merge_request("alice", BRANCH, &[("NOTES.md", Some("Ideas.\n"))]).await;
    let head = rig.gitlab.branch_head(PROJECT, BRANCH).await;

    let stderr = note_and_run(&mut rig, mr, "@copilot-agent <!-- nothing a person sees -->").await;
    refusal(&rig, mr, "the comment does not say what to do");
    assert!(rig.model.requests().is_empty(), "the model was asked: {stderr}");
    assert_eq!(rig.gitlab.branch_head(PROJECT, BRANCH).await, head);

    // The same mention with a request is worked on.
    note_and_run(&mut rig, mr, REQUEST).await;
    assert_eq!(rig.gitlab.read_file(PROJECT, BRANCH, "greeting.txt").await.as_deref(), Some("hello\n"));
}
