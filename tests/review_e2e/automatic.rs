//! Automatic reviews from GitLab's side to the job: a merge request event delivered to `serve`
//! (in-process, configured from settings like the binary) triggers the agent project's pipeline,
//! and the built `copilot-runner run` is started with exactly the contract that trigger carried.
//! With the opt-in, a merge request opened and then pushed to gets one review and one review of
//! the push alone; a draft, the agent's own merge request, and any merge request without the
//! opt-in get none.

use std::collections::BTreeMap;

use copilot_runner::gitlab::{Client, ClientOptions, NewMergeRequest};
use copilot_runner_testkit::fake_gitlab::AGENT;
use copilot_runner_testkit::mock_model::MockModel;
use copilot_runner_testkit::webhook::payloads::{MergeRequestHook, merge_request_hook};
use secrecy::SecretString;
use serde_json::json;

use super::{NEW_LIB_RS, PROJECT, Rig, finding, review_prompts, run_ok};
use crate::webhook::harness::{Delivery, Instance, deliver, later, triggered};

const LABEL: &str = "copilot-review";

/// `author` pushes `files` to `branch` and opens a merge request titled `title` with `labels`,
/// asking nobody to review. Returns its iid.
async fn open(rig: &Rig, author: &str, branch: &str, title: &str, labels: &[&str]) -> u64 {
    let files = [("src/lib.rs", Some(NEW_LIB_RS))];
    rig.gitlab.push_files(PROJECT, branch, &files, "Rework the helpers", author).await.unwrap();
    let token = SecretString::from(rig.gitlab.token(author));
    let client = Client::with_options(&rig.gitlab.api_url(), &token, &ClientOptions::default()).unwrap();
    let new = NewMergeRequest {
        source_branch: branch.to_owned(),
        target_branch: "main".to_owned(),
        title: title.to_owned(),
        labels: labels.iter().map(|label| (*label).to_owned()).collect(),
        ..NewMergeRequest::default()
    };
    client.create_merge_request(PROJECT, &new).await.unwrap().iid
}

/// The `Merge Request Hook` GitLab sends when `actor` opens merge request `iid` (or pushes to it,
/// with `oldrev`), at its current head, as the `step`-th event of the test.
fn event(rig: &Rig, hook: MergeRequestHook<'_>, step: u64) -> serde_json::Value {
    let mr = rig.gitlab.merge_request(PROJECT, hook.iid).unwrap();
    let head = mr.latest_version().unwrap().head_commit_sha.clone();
    let labels: Vec<&str> = mr.labels.iter().map(String::as_str).collect();
    let payload =
        merge_request_hook(&rig.gitlab, &MergeRequestHook { head: &head, labels: &labels, draft: mr.draft(), ..hook });
    later(&rig.gitlab, payload, step)
}

fn opened(iid: u64, author: &str, branch: &'static str) -> MergeRequestHook<'static> {
    let author: &'static str = if author == AGENT { AGENT } else { "alice" };
    MergeRequestHook {
        actor: author,
        author,
        iid,
        branch,
        action: "open",
        head: "",
        oldrev: None,
        labels: &[],
        draft: false,
    }
}

/// Delivers `payload` to `serve` and returns its answer's outcome (`ignored:<reason>` when ignored).
async fn delivered(serve: &Instance, payload: &serde_json::Value) -> String {
    let answer = deliver(&serve.url, &Delivery::new("Merge Request Hook", payload)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    match answer.body["reason"].as_str() {
        Some(reason) if answer.outcome() == "ignored" => format!("ignored:{reason}"),
        _ => answer.outcome().to_owned(),
    }
}

/// Runs the job with the contract of the latest trigger `serve` sent.
async fn run_triggered(rig: &Rig, model: &MockModel) -> String {
    let contract: BTreeMap<String, String> = triggered(&rig.gitlab).pop().expect("a trigger");
    let mut job = rig.job(model, 0).await;
    let targets: Vec<(&str, String)> = contract
        .iter()
        .filter(|(name, _)| name.as_str() != "TRIGGER_TYPE")
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    job.trigger(&contract["TRIGGER_TYPE"], &targets);
    run_ok(&job).await
}

#[tokio::test]
async fn with_the_opt_in_an_opened_then_pushed_merge_request_is_reviewed_and_re_reviewed_once_each() {
    let rig = Rig::new().await;
    let serve = Instance::start_with(&rig.gitlab, &[("COPILOT_AUTO_REVIEW", "label".to_owned())], |_| {}).await;
    let first = json!([finding("src/lib.rs", 8, "The temporary is needless")]).to_string();
    let second = json!([finding("src/greet.rs", 1, "The greeting says nothing")]).to_string();
    let model = MockModel::start(rig.script_and_follow_up(&first, &second)).await.unwrap();

    let iid = open(&rig, "alice", "feature/auto", "Rework the helpers", &[LABEL]).await;
    let open_event = event(&rig, opened(iid, "alice", "feature/auto"), 1);
    assert_eq!(delivered(&serve, &open_event).await, "triggered");
    run_triggered(&rig, &model).await;
    let first_head = rig.head(iid);
    assert_eq!(rig.summaries(iid).len(), 1, "one review");
    assert_eq!(rig.inline(iid).len(), 1);

    // alice pushes; GitLab reports it with `oldrev`, twice (a resend): one more review.
    rig.gitlab
        .push_files(PROJECT, "feature/auto", &[("src/greet.rs", Some("pub fn greet() {}\n"))], "Greet", "alice")
        .await
        .unwrap();
    let push = MergeRequestHook { action: "update", oldrev: Some(&first_head), ..opened(iid, "alice", "feature/auto") };
    let push_event = event(&rig, push, 2);
    let delivery = Delivery::new("Merge Request Hook", &push_event);
    assert_eq!(deliver(&serve.url, &delivery).await.outcome(), "triggered");
    assert_eq!(deliver(&serve.url, &delivery).await.outcome(), "duplicate", "GitLab's resend starts nothing");
    assert_eq!(triggered(&rig.gitlab).len(), 2, "one pipeline per event");
    run_triggered(&rig, &model).await;

    let prompt = review_prompts(&rig.artifacts()).remove(0);
    assert!(prompt.contains(&format!("An earlier review covered the changes up to `{first_head}`")), "{prompt}");
    assert!(!prompt.contains("let d = a - b;"), "only the push is reviewed again:\n{prompt}");
    assert_eq!(rig.summaries(iid).len(), 2, "one re-review");
    assert_eq!(rig.inline(iid).len(), 2);
    // The review answers to the author; nobody asked, so no "requested review" appears.
    let status = rig.agent_notes(iid);
    assert!(status.iter().all(|note| !note.body.contains("I cannot")), "{status:#?}");

    // Another event for the same head (the label added again, say) adds nothing: no third summary.
    let mut relabelled = event(&rig, MergeRequestHook { action: "update", ..opened(iid, "alice", "feature/auto") }, 3);
    relabelled["changes"]["labels"] = json!({"previous": [], "current": relabelled["labels"].clone()});
    assert_eq!(delivered(&serve, &relabelled).await, "triggered");
    let calls = model.requests().len();
    run_triggered(&rig, &model).await;
    assert_eq!(model.requests().len(), calls, "no model call for a head already reviewed");
    assert_eq!(rig.summaries(iid).len(), 2);
    assert_eq!(rig.agent_notes(iid).len(), status.len(), "and no note either");
}

#[tokio::test]
async fn drafts_the_agents_own_and_merge_requests_without_the_opt_in_get_no_review() {
    let rig = Rig::new().await;
    let serve = Instance::start_with(&rig.gitlab, &[("COPILOT_AUTO_REVIEW", "label".to_owned())], |_| {}).await;

    let draft = open(&rig, "alice", "feature/draft", "Draft: rework", &[LABEL]).await;
    assert_eq!(
        delivered(&serve, &event(&rig, opened(draft, "alice", "feature/draft"), 1)).await,
        "ignored:auto_review_draft"
    );
    let own = open(&rig, AGENT, "copilot/issue-1", "Fix #1", &[LABEL]).await;
    assert_eq!(
        delivered(&serve, &event(&rig, opened(own, AGENT, "copilot/issue-1"), 2)).await,
        "ignored:agent_merge_request"
    );
    let unlabelled = open(&rig, "alice", "feature/plain", "Rework", &[]).await;
    assert_eq!(
        delivered(&serve, &event(&rig, opened(unlabelled, "alice", "feature/plain"), 3)).await,
        "ignored:auto_review_not_opted_in"
    );
    let off = Instance::start_with(&rig.gitlab, &[("COPILOT_AUTO_REVIEW", "off".to_owned())], |_| {}).await;
    let labelled = open(&rig, "alice", "feature/labelled", "Rework", &[LABEL]).await;
    let labelled_event = event(&rig, opened(labelled, "alice", "feature/labelled"), 4);
    assert_eq!(delivered(&off, &labelled_event).await, "ignored:auto_review_off");
    assert!(triggered(&rig.gitlab).is_empty(), "no pipeline: {:?}", triggered(&rig.gitlab));

    // The same labelled merge request with the opt-in on: reviewed, so the rules above held.
    assert_eq!(delivered(&serve, &labelled_event).await, "triggered");
    let model = MockModel::start(rig.script(&json!([finding("src/lib.rs", 8, "Needless")]).to_string())).await.unwrap();
    run_triggered(&rig, &model).await;
    assert_eq!(rig.summaries(labelled).len(), 1);
    for iid in [draft, own, unlabelled] {
        assert!(rig.summaries(iid).is_empty(), "!{iid} was reviewed");
    }
}

#[tokio::test]
async fn an_automatic_review_of_an_author_who_may_not_start_work_posts_nothing_until_someone_asks() {
    let rig = Rig::new().await;
    rig.gitlab.fork_project(PROJECT, "olga/widgets", "outsider").await.unwrap();
    let files = [("src/lib.rs", Some(NEW_LIB_RS))];
    rig.gitlab.push_files("olga/widgets", "rework", &files, "Rework", "outsider").await.unwrap();
    let iid =
        rig.gitlab.open_fork_merge_request(PROJECT, "olga/widgets", "rework", "outsider", "Rework").await.unwrap();
    let model = MockModel::start(rig.script(&json!([finding("src/lib.rs", 8, "Needless")]).to_string())).await.unwrap();
    let job = rig.job(&model, iid).await;

    // Nobody asked, and the author is outside the project: no review, and no refusal either.
    run_ok(&job).await;
    assert!(model.requests().is_empty(), "the model was asked");
    assert!(rig.agent_notes(iid).is_empty(), "{:#?}", rig.agent_notes(iid));

    // alice, a Developer, asks: the same merge request is reviewed.
    let token = SecretString::from(rig.gitlab.token("alice"));
    let client = Client::with_options(&rig.gitlab.api_url(), &token, &ClientOptions::default()).unwrap();
    let ask = copilot_runner::gitlab::MergeRequestUpdate {
        reviewer_ids: Some(vec![rig.gitlab.user_id(AGENT)]),
        ..Default::default()
    };
    client.update_merge_request(PROJECT, iid, &ask).await.unwrap();
    run_ok(&job).await;
    assert_eq!(rig.summaries(iid).len(), 1);
}
