//! `ci::failures` and `ci::merged` against the fake GitLab: failed jobs are found through
//! bridges down nested child pipelines, no deeper than the bound, and a merged-results
//! pipeline's merge commit is matched to the branch head it tested.
#![expect(clippy::unwrap_used, reason = "test fixtures panic on a broken setup")]

use copilot_runner::ci::failures::{self, DOWNSTREAM_DEPTH};
use copilot_runner::ci::merged;
use copilot_runner::gitlab::Client;
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::{CiRule, Outcome};
use secrecy::SecretString;

const WIDGETS: &str = "acme/widgets";

fn agent_client(fake: &FakeGitLab) -> Client {
    Client::new(&fake.api_url(), &SecretString::from(fake.agent_token())).unwrap()
}

/// `levels` child pipelines, one inside the other, the innermost failing its `test` job.
fn nested(levels: u32) -> Outcome {
    let failing = Outcome::Fail {
        job: "test".into(),
        trace: "error: test failed\n".into(),
        failure_reason: "script_failure".into(),
    };
    (0..levels).fold(failing, |inner, level| Outcome::Child {
        bridge: format!("level-{}", levels - level),
        outcome: Box::new(inner),
        project: None,
    })
}

/// The newest pipeline of `branch` that is not a child pipeline, after pushing to it.
async fn parent_pipeline(fake: &FakeGitLab, branch: &str, outcome: Outcome) -> u64 {
    fake.add_ci_rule(WIDGETS, CiRule { ref_pattern: branch.into(), outcome, reads_until_done: 0 });
    fake.push_files(WIDGETS, branch, &[("x.txt", Some("x\n"))], "x", "alice").await.unwrap();
    let pipelines = fake.pipelines(WIDGETS);
    pipelines.iter().filter(|p| p.git_ref == branch && p.source != "parent_pipeline").map(|p| p.id).max().unwrap()
}

#[tokio::test]
async fn failed_jobs_are_found_through_nested_bridges_down_to_the_bound_and_no_further() {
    let fake = FakeGitLab::start().await.unwrap();
    let client = agent_client(&fake);
    let project_id = fake.project_id(WIDGETS);

    let within = parent_pipeline(&fake, "within", nested(DOWNSTREAM_DEPTH)).await;
    let found = failures::failures(&client, project_id, within).await.unwrap();
    assert_eq!(found.fix.len(), 1, "{found:?}");
    let job = &found.fix[0];
    assert_eq!(job.name, "test");
    let job_pipeline = job.pipeline.as_ref().unwrap();
    assert_ne!(job_pipeline.id, within, "the job is the innermost child's");
    assert_eq!(failures::project_of(job, 0), project_id);
    assert!(found.person.is_empty() && found.hidden.is_empty() && found.retry.is_empty());

    // One level deeper than the bound: the deepest bridge followed is for a person.
    let beyond = parent_pipeline(&fake, "beyond", nested(DOWNSTREAM_DEPTH + 1)).await;
    let found = failures::failures(&client, project_id, beyond).await.unwrap();
    assert!(found.fix.is_empty(), "{found:?}");
    let names: Vec<&str> = found.person.iter().map(|job| job.name.as_str()).collect();
    assert_eq!(names, [format!("level-{}", DOWNSTREAM_DEPTH + 1)]);
}

#[tokio::test]
async fn a_merged_results_pipeline_is_current_for_its_merge_commits_second_parent_only() {
    let fake = FakeGitLab::start().await.unwrap();
    let client = agent_client(&fake);
    let project_id = fake.project_id(WIDGETS);
    fake.set_merged_results(WIDGETS, true);
    let head = fake.push_files(WIDGETS, "feature", &[("f.txt", Some("f\n"))], "f", "alice").await.unwrap();
    let mr = copilot_runner::gitlab::NewMergeRequest {
        source_branch: "feature".into(),
        target_branch: "main".into(),
        title: "Feature".into(),
        ..Default::default()
    };
    let iid = client.create_merge_request(project_id, &mr).await.unwrap().iid;
    let pipeline = fake.pipeline(fake.run_merge_request_pipeline(WIDGETS, iid).await.unwrap()).unwrap();
    assert_ne!(pipeline.sha, head);

    let source = merged::source_sha(&client, project_id, &pipeline.git_ref, &pipeline.sha).await.unwrap();
    assert_eq!(source, head);
    assert!(merged::is_current(&client, project_id, &pipeline.git_ref, &pipeline.sha, &head).await.unwrap());
    let main = fake.branch_head(WIDGETS, "main").await.unwrap();
    assert!(!merged::is_current(&client, project_id, &pipeline.git_ref, &pipeline.sha, &main).await.unwrap());
    // The same sha on a branch ref is taken as it is: a branch pipeline tested its own sha.
    assert!(!merged::is_current(&client, project_id, "feature", &pipeline.sha, &head).await.unwrap());
}
