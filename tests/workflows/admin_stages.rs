//! Stages the agent project turns off (`COPILOT_DISABLED_STAGES`) in issue work: a plan that
//! would write docs does not, and a repository's `.gitlab/copilot-agent.yml` asking for docs gets
//! a note naming its line and cannot turn them back on. The control runs the same plan without
//! the setting, and docs runs; a stage that always runs cannot be named.

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::mock_model::{Reply, Rule};

use super::rig::{API_ASK, PROJECT, Rig, designed_greeting_script};

const DOCS_FILE: &str = "API.md";

/// The model designs, implements and, if asked to, documents; an issue asking for the API is
/// assigned to the agent. Returns the rig and the issue.
async fn assigned() -> (Rig, u64) {
    let mut rig = Rig::start(|paths| {
        designed_greeting_script(paths).rule(
            Rule::when("copilot-runner-stage: docs")
                .then(Reply::create(&paths.in_clone(DOCS_FILE), "# Greeting\n\n`GET /greeting` greets.\n"))
                .then(Reply::text("Documented.")),
        )
    })
    .await;
    let iid = rig.issue("alice", "Greeting API", API_ASK);
    rig.assign(iid, "alice");
    (rig, iid)
}

/// The steps the last status note of the issue lists, and the docs file on the agent's branch.
async fn outcome(rig: &Rig, iid: u64) -> (String, Option<String>) {
    let status = rig.status_history(&format!("issue-{iid}")).pop().unwrap();
    let docs = rig.gitlab.read_file(PROJECT, &format!("copilot/issue-{iid}"), DOCS_FILE).await;
    (status, docs)
}

#[tokio::test]
async fn docs_turned_off_by_the_agent_project_do_not_run_even_when_the_repository_asks() {
    let (mut rig, iid) = assigned().await;
    let rules = "# Rules of acme/widgets\nstages:\n  docs: true\n";
    rig.gitlab
        .push_files(PROJECT, "main", &[(".gitlab/copilot-agent.yml", Some(rules))], "Agent rules", "alice")
        .await
        .unwrap();
    rig.job.set("COPILOT_DISABLED_STAGES", "docs");

    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let stages = rig.paths.stage_dirs();
    assert_eq!(stages, ["1-analysis", "2-architecture", "3-implementation", "4-tests"], "no docs stage folder");
    let (status, docs) = outcome(&rig, iid).await;
    assert!(status.contains("Design") && !status.contains("Documentation"), "{status}");
    assert_eq!(docs, None, "nothing documented");

    let notes = rig.agent_notes(rig.on_issue(iid));
    let noted: Vec<&String> = notes.iter().filter(|note| note.contains("copilot-runner:repo-config")).collect();
    assert_eq!(noted.len(), 1, "{notes:#?}");
    let line = "line 3, `stages.docs`: allowed is `false`: the agent project turned this stage off";
    assert!(noted[0].contains(line), "{}", noted[0]);
    assert!(notes.iter().any(|note| note.contains("### ✅ Done")), "the work went on: {notes:#?}");
}

#[tokio::test]
async fn without_the_setting_the_same_plan_runs_docs() {
    let (rig, iid) = assigned().await;

    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let stages = rig.paths.stage_dirs();
    assert_eq!(stages, ["1-analysis", "2-architecture", "3-implementation", "4-tests", "5-docs"]);
    let (status, docs) = outcome(&rig, iid).await;
    assert!(status.contains("Design") && status.contains("Documentation"), "{status}");
    assert!(docs.is_some_and(|text| text.contains("GET /greeting")), "the docs stage wrote its file");
    let notes = rig.agent_notes(rig.on_issue(iid));
    assert!(notes.iter().all(|note| !note.contains("copilot-runner:repo-config")), "{notes:#?}");
}

#[tokio::test]
async fn naming_a_stage_that_always_runs_stops_the_job_as_bad_configuration() {
    let (mut rig, iid) = assigned().await;
    rig.job.set("COPILOT_DISABLED_STAGES", "docs,implementation");

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`COPILOT_DISABLED_STAGES` = `docs,implementation`"), "{stderr}");
    assert!(stderr.contains("`architecture`, `tests` and `docs` (`implementation` is not one of them"), "{stderr}");
    assert!(rig.agent_notes(rig.on_issue(iid)).is_empty(), "no work started");
    assert_eq!(rig.gitlab.branch_head(PROJECT, &format!("copilot/issue-{iid}")).await, None);
}
