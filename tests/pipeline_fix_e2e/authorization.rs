//! Who a `pipeline_failed` job works for: the trigger's pipeline and merge request are checked
//! against the API before any model call. A pipeline of another ref, a merge request a person
//! opened on an agent-looking branch, one from a fork, and a requester who lost their access
//! are refused without a note, a prompt or a push; the agent's own merge request, asked for by
//! a member with access, is fixed.

use std::collections::BTreeMap;

use copilot_runner::gitlab::{Client, NewMergeRequest};
use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::fake_gitlab::{Outcome, ProjectSeed, access};
use secrecy::SecretString;

use super::rig::{BRANCH, PROJECT, REQUESTER, Rig, on_branch, test_fails};

/// A fork of the project by `outsider`, where the agent may push too.
const FORK: &str = "olga/widgets";

/// Runs the job for `pipeline` of `mr_iid` and checks it was refused for `reason`, untouched.
async fn assert_refused(rig: &Rig, pipeline: u64, mr_iid: u64, reason: &str) {
    let out = rig.run_for(pipeline, mr_iid).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("refused to fix the pipeline") && stderr.contains(reason), "{reason}:\n{stderr}");
    assert_eq!(rig.fix_prompts(), 0, "{stderr}");
    assert_eq!(rig.agent_fix_pushes(), 0);
    assert!(rig.agent_notes().is_empty(), "{:#?}", rig.agent_notes());
}

/// `author` pushes `branch` (its pipeline fails) and opens a merge request from it with
/// `reviewers`; returns the pipeline's id and the merge request's iid.
async fn pushed_merge_request(rig: &Rig, author: &str, branch: &str, reviewers: &[&str]) -> (u64, u64) {
    let files = [("src/greet.rs", Some("pub fn greet(name: &str) -> String { String::new() }\n"))];
    rig.gitlab.push_files(PROJECT, branch, &files, "Start", author).await.unwrap();
    let pipeline = rig.gitlab.pipelines(PROJECT).into_iter().map(|pipeline| pipeline.id).max().unwrap();
    let client = Client::new(&rig.gitlab.api_url(), &SecretString::from(rig.gitlab.token(author))).unwrap();
    let new = NewMergeRequest {
        source_branch: branch.into(),
        target_branch: "main".into(),
        title: format!("Work on {branch}"),
        reviewer_ids: reviewers.iter().map(|username| rig.gitlab.user_id(username)).collect(),
        ..Default::default()
    };
    (pipeline, client.create_merge_request(rig.gitlab.project_id(PROJECT), &new).await.unwrap().iid)
}

#[tokio::test]
async fn only_the_agents_own_merge_request_asked_for_by_a_member_is_fixed() {
    let rig = Rig::new(test_fails()).await;

    // Alice's own merge request from a branch that merely looks like the agent's.
    let (alices_pipeline, alices_mr) = pushed_merge_request(&rig, "alice", "copilot/issue-7", &[]).await;
    assert_refused(&rig, alices_pipeline, alices_mr, "opened by `alice`").await;

    // A pipeline of the default branch, passed off as the merge request's.
    rig.gitlab.push_files(PROJECT, "main", &[("NOTES.md", Some("notes\n"))], "Notes", "maria").await.unwrap();
    let main_pipeline = rig
        .gitlab
        .pipelines(PROJECT)
        .into_iter()
        .filter(|pipeline| pipeline.git_ref == "main")
        .map(|pipeline| pipeline.id)
        .max()
        .unwrap();
    assert_refused(&rig, main_pipeline, rig.mr_iid, "the pipeline ran for `main`").await;

    // A merge request the agent opened from a fork's branch of the same name.
    let members =
        BTreeMap::from([("outsider".to_owned(), access::OWNER), ("copilot-agent".to_owned(), access::DEVELOPER)]);
    rig.gitlab.add_project(ProjectSeed { members, ..ProjectSeed::new(FORK) }).await.unwrap();
    rig.gitlab.push_files(FORK, BRANCH, &[("src/fork.rs", Some("// fork\n"))], "Fork work", "outsider").await.unwrap();
    let fork_mr =
        rig.gitlab.open_fork_merge_request(PROJECT, FORK, BRANCH, "copilot-agent", "From the fork").await.unwrap();
    assert_refused(&rig, rig.first_pipeline, fork_mr, "comes from a fork").await;

    // Alice, who assigned the issue, is a guest now.
    rig.gitlab.set_access(PROJECT, REQUESTER, access::GUEST);
    assert_refused(&rig, rig.first_pipeline, rig.mr_iid, "`alice`, who asked for this work").await;

    // With her role back, the agent's merge request is fixed.
    rig.gitlab.set_access(PROJECT, REQUESTER, access::DEVELOPER);
    rig.gitlab.add_ci_rule(PROJECT, on_branch(Outcome::Succeed, 2));
    let out = rig.run_for(rig.first_pipeline, rig.mr_iid).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!((rig.fix_prompts(), rig.agent_fix_pushes()), (1, 1), "{stderr}");
    assert!(rig.status_note().contains("✅ Pipeline fixed"));
}

#[tokio::test]
async fn without_a_traceable_request_an_assignee_or_reviewer_with_access_vouches() {
    let rig = Rig::new(test_fails()).await;
    let project_id = rig.gitlab.project_id(PROJECT);
    // An agent merge request whose branch names no issue: nobody to trace, a guest reviewing.
    let (pipeline, mr) = pushed_merge_request(&rig, "copilot-agent", "copilot/tidy", &["gus"]).await;
    assert_refused(&rig, pipeline, mr, "none of its assignees or reviewers").await;

    // A developer as reviewer vouches for it.
    let update = copilot_runner::gitlab::MergeRequestUpdate {
        reviewer_ids: Some(vec![rig.gitlab.user_id("gus"), rig.gitlab.user_id("dave")]),
        ..Default::default()
    };
    let agent = Client::new(&rig.gitlab.api_url(), &SecretString::from(rig.gitlab.agent_token())).unwrap();
    agent.update_merge_request(project_id, mr, &update).await.unwrap();
    rig.gitlab.add_ci_rule(PROJECT, on_branch(Outcome::Succeed, 2));
    let out = rig.run_for(pipeline, mr).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(rig.fix_prompts(), 1, "{stderr}");
}
