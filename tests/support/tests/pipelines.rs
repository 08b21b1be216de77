//! Scripted CI: pushes create pipelines whose outcome a rule decides (fail the first N runs,
//! stay running for some reads), jobs are listed with `scope[]`/`include_retried`, retried and
//! canceled, traces come back as plain text (large ones streamed), and the trigger API checks
//! its token and records the variables, and a trigger the `workflow:rules` filter out creates
//! nothing.

mod common;

use common::{as_user, status_json};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::{CiRule, Outcome};
use serde_json::json;

const WIDGETS: &str = "acme%2Fwidgets";

#[tokio::test]
async fn a_branch_that_fails_its_first_run_reports_running_then_failed_and_passes_on_retry() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.add_ci_rule(
        "acme/widgets",
        CiRule {
            ref_pattern: "copilot/*".into(),
            outcome: Outcome::FailFirst {
                runs: 1,
                job: "test".into(),
                trace: "\u{1b}[31merror[E0425]: cannot find function `greet`\u{1b}[0m\n".into(),
                failure_reason: "script_failure".into(),
            },
            reads_until_done: 2,
        },
    );
    let sha = fake
        .push_files("acme/widgets", "copilot/issue-1", &[("a.txt", Some("a\n"))], "a", "copilot-agent")
        .await
        .unwrap();
    let agent = as_user(&fake, "copilot-agent");
    let listed = agent.get_json(&format!("/projects/{WIDGETS}/pipelines?ref=copilot/issue-1&sha={sha}")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["status"], "running", "first read");
    let id = listed[0]["id"].as_u64().unwrap();
    let second = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{id}")).await;
    assert_eq!(second["status"], "failed", "the outcome shows once the scripted reads are used up");
    assert_eq!(agent.get_json(&format!("/projects/{WIDGETS}/pipelines?ref=main")).await, json!([]));

    let failed = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{id}/jobs?scope[]=failed")).await;
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(
        (failed[0]["name"].as_str(), failed[0]["failure_reason"].as_str()),
        (Some("test"), Some("script_failure"))
    );
    let job_id = failed[0]["id"].as_u64().unwrap();
    let trace = agent.get(&format!("/projects/{WIDGETS}/jobs/{job_id}/trace")).await;
    assert!(trace.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/plain"));
    assert!(trace.text().await.unwrap().contains("cannot find function `greet`"));

    let (status, retried) =
        status_json(agent.post_form(&format!("/projects/{WIDGETS}/jobs/{job_id}/retry"), &[]).await).await;
    assert_eq!(status, 201);
    assert_ne!(retried["id"].as_u64().unwrap(), job_id);
    assert_eq!(retried["status"], "running", "the retry is run 2 on the ref and stays running for two reads");
    let latest = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{id}/jobs")).await;
    let all = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{id}/jobs?include_retried=true")).await;
    assert_eq!((latest.as_array().unwrap().len(), all.as_array().unwrap().len()), (2, 3));
    // Both job listings were reads of the pipeline: run 2 has passed.
    assert_eq!(agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{id}")).await["status"], "success");
    let jobs = fake.jobs(id);
    assert_eq!(jobs.iter().filter(|j| j.retried).count(), 1);
}

#[tokio::test]
async fn pending_pipelines_are_driven_by_the_test_and_can_be_canceled_and_retried() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.add_ci_rule(
        "acme/widgets",
        CiRule { ref_pattern: "feature".into(), outcome: Outcome::Pending, reads_until_done: 0 },
    );
    fake.push_files("acme/widgets", "feature", &[("f.txt", Some("f\n"))], "f", "alice").await.unwrap();
    let pipeline = fake.pipelines("acme/widgets")[0].clone();
    assert_eq!(fake.pipeline_status(pipeline.id).as_deref(), Some("pending"));
    let agent = as_user(&fake, "copilot-agent");
    let canceled = agent.post_form(&format!("/projects/{WIDGETS}/pipelines/{}/cancel", pipeline.id), &[]).await;
    assert_eq!(status_json(canceled).await.1["status"], "canceled");
    let retried = agent.post_form(&format!("/projects/{WIDGETS}/pipelines/{}/retry", pipeline.id), &[]).await;
    assert_eq!(status_json(retried).await.1["status"], "pending");

    let jobs: Vec<_> = fake.jobs(pipeline.id).into_iter().filter(|j| !j.retried).collect();
    fake.set_job(jobs[0].id, "success", Some("ok\n"), None);
    fake.set_job(jobs[1].id, "failed", Some("boom\n"), Some("runner_system_failure"));
    let detail = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{}", pipeline.id)).await;
    assert_eq!(detail["status"], "failed");
    let job = agent.get_json(&format!("/projects/{WIDGETS}/jobs/{}", jobs[1].id)).await;
    assert_eq!(job["failure_reason"], "runner_system_failure");
}

#[tokio::test]
async fn merge_request_pipelines_follow_its_pushes_and_large_traces_arrive_whole() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.push_files("acme/widgets", "feature", &[("f.txt", Some("1\n"))], "one", "alice").await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    let created = agent
        .post_json(
            &format!("/projects/{WIDGETS}/merge_requests"),
            json!({"source_branch": "feature", "target_branch": "main", "title": "f"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    fake.push_files("acme/widgets", "feature", &[("f.txt", Some("2\n"))], "two", "alice").await.unwrap();
    let for_mr = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1/pipelines")).await;
    assert_eq!(for_mr.as_array().unwrap().len(), 2);
    assert!(for_mr[0]["id"].as_u64() > for_mr[1]["id"].as_u64(), "newest first");
    let mr = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1")).await;
    assert_eq!(mr["head_pipeline"]["id"], for_mr[0]["id"]);

    let job = fake.jobs(for_mr[0]["id"].as_u64().unwrap())[1].clone();
    let big: String = (0..60_000).map(|n| format!("line {n:06} of a long build log\n")).collect();
    fake.set_job(job.id, "failed", Some(&big), None);
    let trace = agent.get(&format!("/projects/{WIDGETS}/jobs/{}/trace", job.id)).await.text().await.unwrap();
    assert_eq!(trace.len(), big.len());
    assert_eq!(trace, big);
}

#[tokio::test]
async fn the_trigger_api_checks_its_token_records_variables_and_runs_as_the_token_owner() {
    let fake = FakeGitLab::start().await.unwrap();
    // The variables fallback (GitLab before 18.1) needs pipeline variables allowed.
    fake.set_pipeline_variables_role("acme/copilot-agent", "developer");
    let url = format!("{}/projects/acme%2Fcopilot-agent/trigger/pipeline", fake.api_url());
    let http = plain_client();
    let form = [
        ("token", "glptt-fake-agent"),
        ("ref", "main"),
        ("variables[TRIGGER_TYPE]", "issue_assignee"),
        ("variables[TARGET_PROJECT_ID]", "1"),
    ];
    let (status, pipeline) = status_json(http.post(&url).form(&form).send().await.unwrap()).await;
    assert_eq!(status, 201, "{pipeline}");
    assert_eq!((pipeline["source"].as_str(), pipeline["ref"].as_str()), (Some("trigger"), Some("main")));
    assert_eq!(pipeline["user"]["username"], "copilot-agent");

    // Token and ref in the query string, variables in a JSON body, as GitLab also accepts.
    let query_url = format!("{url}?token=glptt-fake-agent&ref=main");
    let json_call =
        http.post(&query_url).json(&json!({"variables": {"TRIGGER_TYPE": "mr_note"}})).send().await.unwrap();
    assert_eq!(json_call.status(), 201);

    let wrong = http.post(&url).form(&[("token", "glptt-wrong"), ("ref", "main")]).send().await.unwrap();
    assert_eq!(status_json(wrong).await, (404, json!({"message": "404 Not Found"})));
    let no_ref = http.post(&url).form(&[("token", "glptt-fake-agent")]).send().await.unwrap();
    assert_eq!(status_json(no_ref).await, (400, json!({"error": "ref is missing"})));

    let calls = fake.trigger_calls();
    assert_eq!(calls.len(), 2);
    let mut variables = calls[0].variables.clone();
    variables.sort();
    assert_eq!(
        variables,
        vec![
            ("TARGET_PROJECT_ID".to_owned(), "1".to_owned()),
            ("TRIGGER_TYPE".to_owned(), "issue_assignee".to_owned())
        ]
    );
    assert_eq!(calls[1].variables, vec![("TRIGGER_TYPE".to_owned(), "mr_note".to_owned())]);
    assert_eq!(fake.pipeline(calls[0].pipeline_id).unwrap().source, "trigger");
}

fn plain_client() -> reqwest::Client {
    common::http_client()
}

#[tokio::test]
async fn a_trigger_the_workflow_rules_filter_out_creates_no_pipeline() {
    let fake = FakeGitLab::start().await.unwrap();
    let url = format!("{}/projects/acme%2Fcopilot-agent/trigger/pipeline", fake.api_url());
    let http = plain_client();
    // Every input declared, `trigger_type` empty: the template's `workflow:rules` say never.
    let form = [
        ("token", "glptt-fake-agent"),
        ("ref", "main"),
        ("inputs[trigger_type]", ""),
        ("inputs[target_project_id]", ""),
    ];
    let filtered = http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(
        status_json(filtered).await,
        (400, json!({"message": {"base": ["Pipeline filtered out by workflow rules."]}}))
    );
    assert!(fake.trigger_calls().is_empty() && fake.pipelines("acme/copilot-agent").is_empty());

    // The same call with a trigger type runs.
    let form = [("token", "glptt-fake-agent"), ("ref", "main"), ("inputs[trigger_type]", "issue_note")];
    assert_eq!(http.post(&url).form(&form).send().await.unwrap().status(), 201);
    assert_eq!(fake.pipelines("acme/copilot-agent").len(), 1);
}
