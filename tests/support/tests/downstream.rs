//! Pipelines real projects have: a bridge (a `trigger:` job, kept out of `/jobs` and listed
//! under `/bridges`) whose status follows its child or other-project pipeline, the child's
//! retried job re-running both; another project's pipeline hidden from non-members; and
//! merged-results pipelines on a real merge commit of the branch into the target.

mod common;

use common::{as_user, status_json};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::{CiRule, Outcome, ProjectSeed};
use serde_json::json;

const WIDGETS: &str = "acme%2Fwidgets";

fn child_fails_once(project: Option<&str>) -> CiRule {
    let failing = Outcome::FailFirst {
        runs: 1,
        job: "test".into(),
        trace: "error: test failed\n".into(),
        failure_reason: "script_failure".into(),
    };
    let outcome =
        Outcome::Child { bridge: "downstream".into(), outcome: Box::new(failing), project: project.map(Into::into) };
    CiRule { ref_pattern: "feature".into(), outcome, reads_until_done: 0 }
}

#[tokio::test]
async fn a_bridge_follows_its_child_pipeline_and_a_retried_child_job_reruns_both() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.add_ci_rule("acme/widgets", child_fails_once(None));
    let sha = fake.push_files("acme/widgets", "feature", &[("f.txt", Some("f\n"))], "f", "alice").await.unwrap();
    let agent = as_user(&fake, "copilot-agent");

    // The list holds the parent and its child, with the same ref and sha.
    let listed = agent.get_json(&format!("/projects/{WIDGETS}/pipelines?ref=feature&sha={sha}")).await;
    let sources: Vec<&str> = listed.as_array().unwrap().iter().map(|p| p["source"].as_str().unwrap()).collect();
    assert_eq!(sources, ["parent_pipeline", "push"], "newest first");
    let (child, parent) = (listed[0]["id"].as_u64().unwrap(), listed[1]["id"].as_u64().unwrap());
    assert_eq!(listed[1]["status"], "failed");

    // The parent's own jobs passed; its bridge is not among them but under `/bridges`.
    let jobs = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{parent}/jobs")).await;
    assert!(jobs.as_array().unwrap().iter().all(|job| job["status"] == "success" && job["name"] != "downstream"));
    let bridges = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{parent}/bridges?scope[]=failed")).await;
    assert_eq!(bridges.as_array().unwrap().len(), 1);
    assert_eq!(
        (bridges[0]["name"].as_str(), bridges[0]["failure_reason"].as_str()),
        (Some("downstream"), Some("unknown_failure"))
    );
    assert_eq!(bridges[0]["downstream_pipeline"]["id"], child);
    let passed = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{parent}/bridges?scope[]=success")).await;
    assert_eq!(passed, json!([]));

    // Retrying the child's failed job is a new run of the rule: it passes, and so do the bridge
    // and the parent.
    let failed = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{child}/jobs?scope[]=failed")).await;
    let job_id = failed[0]["id"].as_u64().unwrap();
    let (status, _) =
        status_json(agent.post_form(&format!("/projects/{WIDGETS}/jobs/{job_id}/retry"), &[]).await).await;
    assert_eq!(status, 201);
    assert_eq!(agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{parent}")).await["status"], "success");
    let bridges = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{parent}/bridges")).await;
    assert_eq!(bridges[0]["status"], "success");
    assert!(bridges[0].get("failure_reason").is_none());
}

#[tokio::test]
async fn another_projects_downstream_pipeline_is_hidden_from_non_members() {
    let fake = FakeGitLab::start().await.unwrap();
    let members = [("maria".to_owned(), 40)].into_iter().collect();
    let other_id = fake.add_project(ProjectSeed { members, ..ProjectSeed::new("acme/deployments") }).await.unwrap();
    fake.add_ci_rule("acme/widgets", child_fails_once(Some("acme/deployments")));
    fake.push_files("acme/widgets", "feature", &[("f.txt", Some("f\n"))], "f", "alice").await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    let parent = fake.pipelines("acme/widgets").last().unwrap().id;
    let bridges = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{parent}/bridges")).await;
    let downstream = &bridges[0]["downstream_pipeline"];
    assert_eq!((downstream["project_id"].as_u64(), downstream["status"].as_str()), (Some(other_id), Some("failed")));
    let jobs = format!("/projects/{other_id}/pipelines/{}/jobs", downstream["id"]);
    assert_eq!(agent.get(&jobs).await.status(), 404, "the agent is no member of the other project");
    let seen = as_user(&fake, "maria").get_json(&jobs).await;
    assert!(seen.as_array().unwrap().iter().any(|job| job["status"] == "failed"));
    let pipeline = fake.pipeline(downstream["id"].as_u64().unwrap()).unwrap();
    assert_eq!((pipeline.source.as_str(), pipeline.git_ref.as_str()), ("pipeline", "main"));
}

#[tokio::test]
async fn with_merged_results_a_push_runs_the_merge_requests_pipeline_on_a_merge_commit() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.set_merged_results("acme/widgets", true);
    fake.push_files("acme/widgets", "feature", &[("f.txt", Some("f\n"))], "f", "alice").await.unwrap();
    let alice = as_user(&fake, "alice");
    let form = [("source_branch", "feature"), ("target_branch", "main"), ("title", "Feature")];
    let (_, mr) = status_json(alice.post_form(&format!("/projects/{WIDGETS}/merge_requests"), &form).await).await;
    let iid = mr["iid"].as_u64().unwrap();
    let before = fake.pipelines("acme/widgets").len();

    let head = fake.push_files("acme/widgets", "feature", &[("g.txt", Some("g\n"))], "g", "alice").await.unwrap();
    let pipelines = fake.pipelines("acme/widgets");
    assert_eq!(pipelines.len(), before + 1, "one pipeline, the merge request's, and no branch pipeline");
    let pipeline = pipelines.last().unwrap();
    assert_eq!(pipeline.git_ref, format!("refs/merge-requests/{iid}/merge"));
    assert_eq!(pipeline.source, "merge_request_event");
    let main = fake.branch_head("acme/widgets", "main").await.unwrap();
    let commit = alice.get_json(&format!("/projects/{WIDGETS}/repository/commits/{}", pipeline.sha)).await;
    assert_eq!(commit["parent_ids"], json!([main, head]));
    assert_eq!(commit["last_pipeline"]["id"], pipeline.id);
    assert_eq!(commit["stats"], json!({"additions": 2, "deletions": 0, "total": 2}), "against the target");
    let refs = fake.refs("acme/widgets").await.unwrap();
    assert!(refs.contains(&format!("refs/merge-requests/{iid}/merge")), "{refs:?}");
    let listed = alice.get_json(&format!("/projects/{WIDGETS}/merge_requests/{iid}/pipelines")).await;
    assert_eq!(listed[0]["id"], pipeline.id);

    // Without merged results the same push runs a branch pipeline.
    fake.set_merged_results("acme/widgets", false);
    fake.push_files("acme/widgets", "feature", &[("h.txt", Some("h\n"))], "h", "alice").await.unwrap();
    assert_eq!(fake.pipelines("acme/widgets").last().unwrap().git_ref, "feature");
}
