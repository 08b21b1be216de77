//! Git after the agent trusts nothing in the checkout: an agent that poisons the repository's
//! configuration, attributes, hooks and gitfile and tags `HEAD` sends nothing anywhere but the
//! origin, runs none of the programs it named, and gets no tag pushed.

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::mock_model::Reply;
use copilot_runner_testkit::poisoned_git::Poison;

use super::rig::{PROJECT, Rig, implementation_script};

#[tokio::test]
async fn an_agent_that_poisons_the_git_dir_reroutes_nothing_and_pushes_only_its_branch() {
    let mut rig = Rig::start(|paths| implementation_script(paths, Reply::text("unused"), "unused")).await;
    let traps = tempfile::tempdir().unwrap();
    let poison = Poison::start(traps.path(), &rig.gitlab.git_url(PROJECT)).await;
    let agent = poison.agent(&rig.paths.clone, &rig.paths.git_dir);
    rig.job
        .set("COPILOT_AGENT", "command")
        .set("COPILOT_AGENT_COMMAND", format!("{} {{workdir}} {{prompt_file}}", agent.display()))
        .set("USE_ORCHESTRATED_ISSUE", "false")
        // This is about git, not the sandbox: nothing stops the agent from writing the git dir.
        .set("COPILOT_SANDBOX", "off");
    let refs_before = rig.gitlab.refs(PROJECT).await.unwrap();
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");

    let out = rig.run().await;

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(traps.path().join("applied").exists(), "the agent never ran");
    let merge_requests = rig.gitlab.merge_requests(PROJECT);
    assert_eq!(merge_requests.len(), 1);
    let branch = &merge_requests[0].source_branch;
    assert_eq!(rig.gitlab.read_file(PROJECT, branch, "greeting.txt").await.as_deref(), Some("hello\n"));
    poison.assert_untouched();
    let mut new_refs = rig.gitlab.refs(PROJECT).await.unwrap();
    new_refs.retain(|name| !refs_before.contains(name));
    assert_eq!(new_refs, [format!("refs/heads/{branch}")], "the agent's branch and nothing else, no tag");
    let gitfile = std::fs::read_to_string(rig.paths.clone.join(".git")).unwrap();
    assert_eq!(gitfile, format!("gitdir: {}\n", rig.paths.git_dir.display()), "the gitfile points home again");

    // The control: plain git on the same poison reaches the traps.
    poison.assert_plain_git_falls_for_it(&rig.paths.clone, &rig.paths.git_dir, &rig.gitlab.git_url(PROJECT)).await;
}
