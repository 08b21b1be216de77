//! The issue workflow continues only merge requests the agent opened in this project. A person's
//! merge request from the agent's branch name, or a fork's from a branch of that name, is left
//! as it was (description and commits): the agent opens its own from `…-2`, and a re-run
//! continues that one.

use std::collections::BTreeMap;

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::fake_gitlab::{ProjectSeed, access};

use super::rig::{PROJECT, Rig, greeting_script};

const FORK: &str = "olga/widgets";

#[tokio::test]
async fn others_merge_requests_from_the_agents_branch_name_are_left_alone() {
    let mut rig = Rig::start(greeting_script).await;
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    let branch = format!("copilot/issue-{iid}");

    // Dave's merge request from `copilot/issue-N` in the project.
    let daves_mr = rig.open_merge_request("dave", &branch, &[("DAVE.md", Some("dave\n"))]).await;
    let daves_head = rig.gitlab.branch_head(PROJECT, &branch).await;
    // An outsider's merge request from a fork's branch of the same name.
    let members = BTreeMap::from([("outsider".to_owned(), access::OWNER)]);
    rig.gitlab.add_project(ProjectSeed { members, ..ProjectSeed::new(FORK) }).await.unwrap();
    rig.gitlab.push_files(FORK, &branch, &[("FORK.md", Some("fork\n"))], "Fork's", "outsider").await.unwrap();
    let fork_mr = rig.gitlab.open_fork_merge_request(PROJECT, FORK, &branch, "outsider", "Fork's take").await.unwrap();
    let untouched = |rig: &Rig| {
        let dave = rig.gitlab.merge_request(PROJECT, daves_mr).unwrap();
        let fork = rig.gitlab.merge_request(PROJECT, fork_mr).unwrap();
        (dave.title, dave.description, fork.title, fork.description)
    };
    let before = untouched(&rig);

    rig.assign(iid, "alice");
    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // Nobody's merge request or branch changed; the agent's own comes from `copilot/issue-N-2`.
    assert_eq!(untouched(&rig), before);
    assert_eq!(rig.gitlab.branch_head(PROJECT, &branch).await, daves_head);
    let agent = rig.gitlab.user_id("copilot-agent");
    let own: Vec<_> = rig.gitlab.merge_requests(PROJECT).into_iter().filter(|mr| mr.author_id == agent).collect();
    assert_eq!(own.len(), 1, "{own:?}\n{stderr}");
    assert_eq!(own[0].source_branch, format!("{branch}-2"));
    assert!(own[0].description.contains(&format!("Closes #{iid}")), "{}", own[0].description);
    let own_file = rig.gitlab.read_file(PROJECT, &own[0].source_branch, "greeting.txt").await;
    assert_eq!(own_file.as_deref(), Some("hello\n"));

    // A re-run continues the agent's own merge request, and still leaves the others alone.
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let again: Vec<_> = rig.gitlab.merge_requests(PROJECT).into_iter().filter(|mr| mr.author_id == agent).collect();
    assert_eq!(again.iter().map(|mr| mr.iid).collect::<Vec<_>>(), [own[0].iid]);
    assert_eq!(untouched(&rig), before);
}
