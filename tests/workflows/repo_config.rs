//! The repository's `.gitlab/copilot-agent.yml` in issue work: stages it turns off do not run,
//! the prompts name its test command, and a cap above the admin's is refused with a note naming
//! its line while the work goes on under the admin's cap.

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::mock_model::{Reply, Rule};
use serde_json::Value;

use super::rig::{PROJECT, Rig, implementation_script};

/// The same request as `issue_note::a_notes_instruction_shapes_the_plan_of_a_small_issue`, whose
/// plan runs architecture and docs as well.
const ASK: &str = "Serve the greeting from a new REST API endpoint and keep greetings in a database table";

#[tokio::test]
async fn stages_turned_off_do_not_run_and_a_higher_cap_is_refused_with_a_note() {
    let mut rig = Rig::start(|paths| {
        let architecture = paths.work.join("stages/2-architecture/scratch/architecture.json");
        let design = r#"{"components": ["api"], "files_to_change": [{"path": "greeting.txt", "change": "add"}], "interfaces": [], "notes": "One endpoint."}"#;
        let create = Reply::create(&paths.in_clone("greeting.txt"), "hello\n");
        implementation_script(paths, create, "Added the greeting.").rule(
            Rule::when("copilot-runner-stage: architecture")
                .then(Reply::create(&architecture.display().to_string(), design))
                .then(Reply::text("Designed.")),
        )
    })
    .await;
    let rules = "# Rules of acme/widgets\nstages: {architecture: false, docs: false}\nmax_premium_requests: 90\n\
                 test_command: \"make check-widgets\"\n";
    rig.gitlab
        .push_files(PROJECT, "main", &[(".gitlab/copilot-agent.yml", Some(rules))], "Agent rules", "alice")
        .await
        .unwrap();
    rig.job.set("COPILOT_MAX_PREMIUM_REQUESTS", "50");
    let iid = rig.issue("alice", "Greetings", "The widgets should greet people.");
    rig.comment_on_issue(iid, "dave", &format!("@copilot-agent {ASK}"));

    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let stages = rig.paths.stage_dirs();
    assert!(stages.iter().all(|dir| !dir.ends_with("-architecture") && !dir.ends_with("-docs")), "{stages:?}");
    assert_eq!(stages[..2], ["1-analysis", "2-implementation"], "{stages:?}");
    let prompt = rig.paths.stage_prompt(2, "implementation");
    assert!(prompt.contains("make check-widgets"), "{prompt}");

    let notes = rig.agent_notes(rig.on_issue(iid));
    let noted: Vec<&String> = notes.iter().filter(|note| note.contains("copilot-runner:repo-config")).collect();
    assert_eq!(noted.len(), 1, "{notes:#?}");
    assert!(noted[0].contains("line 3, `max_premium_requests`: allowed is 50 or less"), "{}", noted[0]);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(rig.paths.artifacts.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary.pointer("/spend/cap").and_then(Value::as_f64), Some(50.0), "the admin's cap holds");
    assert!(notes.iter().any(|note| note.contains("### ✅ Done")), "the work went on: {notes:#?}");
}
