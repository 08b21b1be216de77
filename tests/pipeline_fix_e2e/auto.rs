//! `COPILOT_AUTO_FIX_PIPELINE`: the issue workflow opens its merge request and, when the pipeline
//! of its push fails, runs the loop in the same job.

use std::path::Path;

use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::ci_job::{CiJob, text};
use copilot_runner_testkit::fake_gitlab::{IssueSeed, Noteable, Outcome};
use copilot_runner_testkit::mock_model::{MockModel, Reply, Rule, Script};

use super::rig::{FAILING_TRACE, PROJECT, on_branch};

const ANALYSIS: &str = r#"{"summary": "Add a greeting file.", "relevant_files": ["greeting.txt"], "risks": [], "acceptance_criteria": ["greeting.txt exists"], "approach": "Create it."}"#;

#[tokio::test]
async fn the_issue_workflow_fixes_the_pipeline_of_its_own_merge_request() {
    let gitlab = FakeGitLab::start().await.unwrap();
    let project_id = gitlab.project_id(PROJECT);
    let first_run_fails = Outcome::FailFirst {
        runs: 1,
        job: "test".into(),
        trace: FAILING_TRACE.into(),
        failure_reason: "script_failure".into(),
    };
    gitlab.add_ci_rule(PROJECT, on_branch(first_run_fails, 1));
    let issue_iid = gitlab.add_issue(
        PROJECT,
        IssueSeed {
            title: "Add a greeting file".to_owned(),
            description: "Please add greeting.txt.".to_owned(),
            author: "alice".to_owned(),
            assignees: vec!["copilot-agent".to_owned()],
            labels: Vec::new(),
            confidential: false,
        },
    );
    gitlab.add_system_note_by(Noteable::Issue { project_id, iid: issue_iid }, "alice", "assigned to @copilot-agent");
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let analysis = work.join("stages/1-analysis/scratch/analysis.json").display().to_string();
    let checkout = work.join(format!("project-{project_id}"));
    let model = MockModel::start(
        Script::new()
            .rule(
                Rule::when("copilot-runner-stage: analysis")
                    .then(Reply::create(&analysis, ANALYSIS))
                    .then(Reply::text("Written.")),
            )
            .rule(
                Rule::when("copilot-runner-stage: implementation")
                    .then(Reply::create(&checkout.join("greeting.txt").display().to_string(), "hello\n"))
                    .then(Reply::text("Added greeting.txt.")),
            )
            .rule(
                Rule::when("This is fix attempt 1 of")
                    .then(Reply::create(&checkout.join("fix.txt").display().to_string(), "fixed\n"))
                    .then(Reply::text("Fixed the greeting test.")),
            )
            .fallback(Reply::text("Nothing to do.")),
    )
    .await
    .unwrap();
    let program = Path::new(env!("CARGO_BIN_EXE_copilot-runner"));
    let mut job = CiJob::new(program, dir.path(), Path::new(env!("CARGO_TARGET_TMPDIR")), &gitlab, &model).await;
    job.trigger(
        "issue_assignee",
        &[("TARGET_PROJECT_ID", project_id.to_string()), ("TARGET_ISSUE_IID", issue_iid.to_string())],
    );
    job.set("COPILOT_AUTO_FIX_PIPELINE", "true").set("RETRY_INTERVAL_TIME", "0.05").set("COPILOT_FLAKY_CHECK", "false");

    let out = job.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    let mrs = gitlab.merge_requests(PROJECT);
    assert_eq!(mrs.len(), 1, "{mrs:?}");
    let branch = mrs[0].source_branch.clone();
    let mut statuses: Vec<(u64, String)> = gitlab
        .pipelines(PROJECT)
        .into_iter()
        .filter(|pipeline| pipeline.git_ref == branch)
        .map(|pipeline| (pipeline.id, gitlab.pipeline_status(pipeline.id).unwrap()))
        .collect();
    statuses.sort_unstable();
    let statuses: Vec<String> = statuses.into_iter().map(|(_, status)| status).collect();
    assert_eq!(statuses, ["failed", "success"], "{stderr}");
    assert_eq!(gitlab.read_file(PROJECT, &branch, "fix.txt").await.as_deref(), Some("fixed\n"));
    let agent = gitlab.user_id("copilot-agent");
    let notes: Vec<String> = gitlab
        .mr_notes(PROJECT, mrs[0].iid)
        .into_iter()
        .filter(|note| note.author_id == agent && !note.system)
        .map(|note| note.body)
        .collect();
    assert!(
        notes
            .iter()
            .any(|body| body.contains("copilot-runner:status pipeline-fix-end-") && body.contains("✅ Pipeline fixed")),
        "{notes:#?}"
    );
}
