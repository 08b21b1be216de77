//! The pipelines real projects have: a failure inside a child pipeline (found through its
//! bridge and fixed like the pipeline's own), one inside another project's pipeline (retried
//! there when the agent may read it; reported, not guessed at, when it may not), and
//! merged-results pipelines (on a merge commit of the branch into the target, which is not the
//! branch head and still current).

use std::collections::BTreeMap;

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::fake_gitlab::{CiRule, Outcome, Pipeline, ProjectSeed};

use super::rig::{BRANCH, FAILING_TRACE, PROJECT, Rig, on_branch, test_fails};

/// The bridge of the tests' parent pipelines.
const BRIDGE: &str = "integration-tests";
/// Another project, whose pipeline a bridge starts; the agent is no member of it.
const DOWNSTREAM_PROJECT: &str = "acme/deployments";

/// The `test` job fails on the first run of its rule and passes on the next.
fn test_fails_once() -> Outcome {
    Outcome::FailFirst {
        runs: 1,
        job: "test".into(),
        trace: FAILING_TRACE.into(),
        failure_reason: "script_failure".into(),
    }
}

/// Statuses of the project's pipelines that `keep` selects, oldest first.
fn statuses(rig: &Rig, keep: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let mut pipelines = rig.gitlab.pipelines(PROJECT);
    pipelines.retain(|pipeline| keep(&pipeline.git_ref, &pipeline.source));
    pipelines.sort_by_key(|pipeline| pipeline.id);
    pipelines.iter().map(|pipeline| rig.gitlab.pipeline_status(pipeline.id).unwrap()).collect()
}

/// The agent's first push passed; a second one fails in the pipeline its bridge starts in
/// [`DOWNSTREAM_PROJECT`], whose jobs end as `outcome` and which the agent may read when
/// `agent_is_member`. Returns the parent pipeline and the downstream one.
async fn downstream_fails(outcome: Outcome, agent_is_member: bool) -> (Rig, u64, Pipeline) {
    let rig = Rig::new(Outcome::Succeed).await;
    let mut members: BTreeMap<String, u32> = [("maria".to_owned(), 40)].into_iter().collect();
    if agent_is_member {
        members.insert("copilot-agent".to_owned(), 30);
    }
    rig.gitlab.add_project(ProjectSeed { members, ..ProjectSeed::new(DOWNSTREAM_PROJECT) }).await.unwrap();
    let downstream =
        Outcome::Child { bridge: BRIDGE.into(), outcome: Box::new(outcome), project: Some(DOWNSTREAM_PROJECT.into()) };
    rig.gitlab.add_ci_rule(PROJECT, on_branch(downstream, 0));
    let files = [("src/greet.rs", Some("pub fn greet(name: &str) -> String { name.to_owned() }\n"))];
    rig.gitlab.push_files(PROJECT, BRANCH, &files, "Greet by name", "copilot-agent").await.unwrap();
    let (parent, status, _) = rig.branch_pipelines().pop().unwrap();
    assert_eq!(status, "failed");
    let downstream = rig.gitlab.pipelines(DOWNSTREAM_PROJECT).pop().expect("the bridge started a downstream pipeline");
    assert_eq!(downstream.source, "pipeline");
    (rig, parent, downstream)
}

#[tokio::test]
async fn a_failure_in_a_child_pipeline_is_fixed_through_its_bridge() {
    let child = Outcome::Child { bridge: BRIDGE.into(), outcome: Box::new(test_fails_once()), project: None };
    let rig = Rig::new(child).await;
    // The parent's own jobs passed; only its bridge failed, with the child pipeline.
    let own_failed = rig.gitlab.jobs(rig.first_pipeline).into_iter().filter(|job| job.status == "failed").count();
    assert_eq!(own_failed, 0);
    assert_eq!(rig.gitlab.pipeline_status(rig.first_pipeline).as_deref(), Some("failed"));

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // The child's failed job and its log line reached the agent; one fix, one push.
    assert_eq!(rig.fix_prompts(), 1, "{stderr}");
    assert!(rig.model.saw("assertion failed: greet("), "the child job's log did not reach the agent");
    assert_eq!(rig.agent_fix_pushes(), 1);
    assert_eq!(rig.gitlab.read_file(PROJECT, BRANCH, "fix-attempt-1.txt").await.as_deref(), Some("fix 1\n"));
    let parents: Vec<String> = rig.branch_pipelines().into_iter().map(|(_, status, _)| status).collect();
    assert_eq!(parents, ["failed", "success"]);
    assert_eq!(statuses(&rig, |_, source| source == "parent_pipeline"), ["failed", "success"]);

    let status = rig.status_note();
    assert!(status.contains("`test: script_failure`"), "{status}");
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert!(ends[0].contains("✅ Pipeline fixed"), "{}", ends[0]);
}

#[tokio::test]
async fn a_child_pipelines_own_failure_event_is_left_to_its_parent() {
    let child = Outcome::Child { bridge: BRIDGE.into(), outcome: Box::new(test_fails()), project: None };
    let rig = Rig::new(child).await;
    let child = rig.gitlab.pipelines(PROJECT).into_iter().find(|pipeline| pipeline.source == "parent_pipeline");
    let child = child.expect("the bridge started a child pipeline").id;

    let out = rig.run_for(child, rig.mr_iid).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(rig.fix_prompts(), 0, "{stderr}");
    assert!(rig.agent_notes().is_empty(), "{:#?}", rig.agent_notes());
}

#[tokio::test]
async fn a_failure_in_another_projects_pipeline_the_agent_cannot_read_is_reported_not_fixed() {
    let (rig, parent, hidden) = downstream_fails(test_fails(), false).await;

    let out = rig.run_for(parent, rig.mr_iid).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");

    // Nothing was guessed at: no prompt, no push.
    assert_eq!(rig.fix_prompts(), 0, "the agent was asked to fix a pipeline it cannot see");
    assert_eq!(rig.branch_pipelines().len(), 2, "the loop pushed");
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    let end = &ends[0];
    assert!(end.contains("🆘 The pipeline needs a human"), "{end}");
    assert!(end.contains("downstream pipeline I cannot see"), "{end}");
    assert!(end.contains(&format!("`{BRIDGE}`")), "{end}");
    let downstream_project = rig.gitlab.project_id(DOWNSTREAM_PROJECT);
    assert!(end.contains(&format!("pipeline {} of project {downstream_project}", hidden.id)), "{end}");
    assert!(end.contains("Reporter role"), "{end}");
}

#[tokio::test]
async fn an_infrastructure_failure_in_a_readable_projects_pipeline_is_retried_through_that_project() {
    // Run 0 on the branch was the agent's first push: run 1 fails, the retry (run 2) passes.
    let runner_died = Outcome::FailFirst {
        runs: 2,
        job: "build".into(),
        trace: "ERROR: Job failed (system failure): pod status is Failed\n".into(),
        failure_reason: "runner_system_failure".into(),
    };
    let (rig, parent, downstream) = downstream_fails(runner_died, true).await;

    let out = rig.run_for(parent, rig.mr_iid).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // The other project's job was retried there (no fix, no push), and the parent passed.
    assert_eq!(rig.fix_prompts(), 0, "the agent was asked to fix an infrastructure failure");
    assert_eq!(rig.branch_pipelines().len(), 2, "the loop pushed");
    let retried: Vec<_> = rig.gitlab.jobs(downstream.id).into_iter().filter(|job| job.retried).collect();
    assert_eq!(retried.len(), 1, "{retried:?}");
    assert_eq!(rig.gitlab.pipeline_status(parent).as_deref(), Some("success"));
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert!(ends[0].contains("✅ Pipeline fixed"), "{}", ends[0]);
}

#[tokio::test]
async fn a_failed_merged_results_pipeline_is_fixed_and_followed_to_the_next_one() {
    let rig = Rig::new(test_fails()).await;
    rig.gitlab.set_merged_results(PROJECT, true);
    let merge_rule =
        CiRule { ref_pattern: "refs/merge-requests/*".into(), outcome: test_fails_once(), reads_until_done: 2 };
    rig.gitlab.add_ci_rule(PROJECT, merge_rule);
    let merge_ref = format!("refs/merge-requests/{}/merge", rig.mr_iid);
    let first = rig.gitlab.run_merge_request_pipeline(PROJECT, rig.mr_iid).await.unwrap();
    let pipeline = rig.gitlab.pipeline(first).unwrap();
    assert_eq!((pipeline.git_ref.as_str(), pipeline.source.as_str()), (merge_ref.as_str(), "merge_request_event"));
    // Its sha is a merge commit of the branch into `main`, not the branch head.
    let head = rig.gitlab.branch_head(PROJECT, BRANCH).await.unwrap();
    let main = rig.gitlab.branch_head(PROJECT, "main").await.unwrap();
    assert_eq!(rig.gitlab.commit(PROJECT, &pipeline.sha).await.unwrap().parent_ids, [main.clone(), head]);

    let out = rig.run_for(first, rig.mr_iid).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // One fix; its push ran the next merged-results pipeline (no branch pipeline), which passed.
    assert_eq!(rig.fix_prompts(), 1, "{stderr}");
    assert_eq!(rig.branch_pipelines().len(), 1, "a branch pipeline ran besides the merge request's");
    assert_eq!(statuses(&rig, |git_ref, _| git_ref == merge_ref), ["failed", "success"]);
    let fixed = rig.gitlab.branch_head(PROJECT, BRANCH).await.unwrap();
    let next = rig.gitlab.pipelines(PROJECT).into_iter().map(|pipeline| pipeline.id).max().unwrap();
    let next_sha = rig.gitlab.pipeline(next).unwrap().sha;
    assert_eq!(rig.gitlab.commit(PROJECT, &next_sha).await.unwrap().parent_ids, [main, fixed]);
    let ends = rig.end_notes();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert!(ends[0].contains("✅ Pipeline fixed") && !ends[0].contains("the branch changed"), "{}", ends[0]);
}
