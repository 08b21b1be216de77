//! An issue run sends the model each of the repository's instruction files once: in the prompt's
//! project context, neither again inside the facts nor in a system message the Copilot CLI
//! would build from the checkout's files.

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::mock_model::content_text;

use super::rig::{PROJECT, Rig, greeting_script};

const MARKERS: &[&str] = &["AGENTS-MARKER-RUN-CLIPPY", "COPILOT-INSTRUCTIONS-MARKER-SMALL-COMMITS"];

#[tokio::test]
async fn an_issue_run_sends_each_instruction_file_to_the_model_once() {
    let mut rig = Rig::start(greeting_script).await;
    rig.gitlab
        .push_files(
            PROJECT,
            "main",
            &[
                ("AGENTS.md", Some(&format!("{}: run clippy before finishing.\n", MARKERS[0]))),
                (".github/copilot-instructions.md", Some(&format!("{}: keep commits small.\n", MARKERS[1]))),
            ],
            "Add the agent instructions",
            "alice",
        )
        .await
        .unwrap();
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");

    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let requests = rig.model.completions();
    assert!(requests.len() >= 4, "analysis and implementation, two model calls each: {}", requests.len());
    for request in &requests {
        let messages = request.messages();
        let all: String = messages.iter().map(content_text).collect();
        let system: String = messages.iter().filter(|message| message["role"] == "system").map(content_text).collect();
        for marker in MARKERS {
            assert_eq!(all.matches(marker).count(), 1, "`{marker}` not sent exactly once:\n{all}");
            assert!(!system.contains(marker), "`{marker}` is in the system message too");
        }
    }
    for (number, stage) in [(1, "analysis"), (2, "implementation")] {
        let prompt = rig.paths.stage_prompt(number, stage);
        for marker in MARKERS {
            assert_eq!(prompt.matches(marker).count(), 1, "{stage}: `{marker}`:\n{prompt}");
        }
    }
}
