//! The project's `.gitlab/copilot-agent.yml` in issue work beyond its notes: its language is the
//! stage prompts' language, and the extra instruction files it names, read from the default
//! branch, are in every stage prompt. The same rig's first job, before the file exists, is the
//! control: English prompts without the files.

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::mock_model::Reply;

use super::rig::{PROJECT, Rig, implementation_script};

const NOTES: &str = "Greetings end with an exclamation mark (marker NOTE-5C1).\n";

#[tokio::test]
async fn the_projects_language_and_instruction_files_reach_the_stage_prompts() {
    let mut rig = Rig::start(|paths| {
        implementation_script(paths, Reply::create(&paths.in_clone("greeting.txt"), "hello\n"), "Added greeting.txt.")
    })
    .await;
    rig.job.set("USE_ORCHESTRATED_ISSUE", "false");
    rig.gitlab.push_files(PROJECT, "main", &[("docs/agent-notes.md", Some(NOTES))], "Notes", "alice").await.unwrap();
    let first = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(first, "alice");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let before = rig.paths.stage_prompt(1, "implementation");
    assert!(before.contains("# Stage: implementation") && !before.contains("NOTE-5C1"), "{before}");

    let rules = "language: ja\ninstructions: [docs/agent-notes.md]\n";
    rig.gitlab
        .push_files(PROJECT, "main", &[(".gitlab/copilot-agent.yml", Some(rules))], "Agent rules", "alice")
        .await
        .unwrap();
    let second = rig.issue("alice", "Add a farewell file", "Please add greeting.txt again.");
    rig.assign(second, "alice");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let after = rig.paths.stage_prompt(1, "implementation");
    assert!(after.contains("# 段階：実装"), "the prompt is not the Japanese one: {after}");
    assert!(after.contains("docs/agent-notes.md") && after.contains("NOTE-5C1"), "{after}");
    let notes = rig.agent_notes(rig.on_issue(second));
    assert!(!notes.iter().any(|note| note.contains("copilot-runner:repo-config")), "{notes:#?}");
}
