//! The project's `.gitlab/copilot-agent.yml` in the loop: read from the default branch, its
//! language, test command and extra instruction files reach the fix prompt and its notes, and a
//! bad key gets its note on the merge request. The English loop of `fixes` is the same loop
//! without the file.

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::fake_gitlab::Outcome;
use copilot_runner_testkit::mock_model::{Reply, Rule};

use super::rig::{BRANCH, PROJECT, Rig, on_branch, test_fails};

const NOTES: &str = "Greet in the house style (marker NOTE-7F3).\n";

#[tokio::test]
async fn the_loop_follows_the_projects_language_test_command_and_instruction_files() {
    let rig = Rig::with_rules(test_fails(), |checkout| {
        // The Japanese prompt does not say "This is fix attempt 1": answer by the stage's name.
        let fix = checkout.join("fix-attempt-1.txt").display().to_string();
        vec![
            Rule::when("copilot-runner-stage: pipeline_fix")
                .then(Reply::create(&fix, "fix 1\n"))
                .then(Reply::text("Made greet return the greeting.")),
        ]
    })
    .await;
    rig.gitlab.add_ci_rule(PROJECT, on_branch(Outcome::Succeed, 2));
    let rules = "language: ja\ntest_command: \"cargo test --locked greet\"\ninstructions: [docs/agent-notes.md]\n\
                 colour: blue\n";
    let files = [(".gitlab/copilot-agent.yml", Some(rules)), ("docs/agent-notes.md", Some(NOTES))];
    rig.gitlab.push_files(PROJECT, "main", &files, "Agent rules", "alice").await.unwrap();

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(rig.model.saw("copilot-runner-stage: pipeline_fix"), "{stderr}");
    assert!(rig.model.saw("パイプラインの修正"), "the fix prompt is not the Japanese one");
    assert!(rig.model.saw("NOTE-7F3"), "the extra instruction file is not in the prompt");
    assert!(rig.model.saw("cargo test --locked greet"), "the project's test command is not in the prompt");
    assert_eq!(rig.gitlab.read_file(PROJECT, BRANCH, "fix-attempt-1.txt").await.as_deref(), Some("fix 1\n"));

    let status = rig.status_note();
    assert!(status.contains("✅ パイプラインを修正しました"), "{status}");
    let noted: Vec<String> =
        rig.agent_notes().into_iter().filter(|note| note.contains("copilot-runner:repo-config")).collect();
    assert_eq!(noted.len(), 1, "{noted:#?}");
    assert!(noted[0].contains("`colour`") && noted[0].contains('4'), "{}", noted[0]);
}
