//! Automatic reviews through `serve`: which merge request events start one under each
//! `COPILOT_AUTO_REVIEW` setting, and that each push is one review — once however often GitLab
//! delivers it and however many replicas receive it — while the next push is a review of its own.

use copilot_runner_testkit::fake_gitlab::AGENT;
use copilot_runner_testkit::webhook::payloads::{MergeRequestHook, merge_request_hook};
use serde_json::{Value, json};

use super::harness::{Delivery, Instance, WIDGETS, deliver, later, merge_request, triggered, vars};
use copilot_runner_testkit::FakeGitLab;

const BRANCH: &str = "feature/auto";
const HEAD: &str = "1111111111111111111111111111111111111111";
const NEXT: &str = "2222222222222222222222222222222222222222";

fn hook<'a>(iid: u64, action: &'a str, labels: &'a [&'a str]) -> MergeRequestHook<'a> {
    MergeRequestHook {
        actor: "alice",
        author: "alice",
        iid,
        branch: BRANCH,
        action,
        head: HEAD,
        oldrev: None,
        labels,
        draft: false,
    }
}

async fn instance(fake: &FakeGitLab, mode: &str) -> Instance {
    Instance::start_with(fake, &[("COPILOT_AUTO_REVIEW", mode.to_owned())], |_| {}).await
}

/// Delivers `payload` and returns the outcome with the reason of an ignored one.
async fn outcome(instance: &Instance, payload: &Value) -> (String, Option<String>) {
    let answer = deliver(&instance.url, &Delivery::new("Merge Request Hook", payload)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    (answer.outcome().to_owned(), answer.body["reason"].as_str().map(str::to_owned))
}

fn ignored(reason: &str) -> (String, Option<String>) {
    ("ignored".to_owned(), Some(reason.to_owned()))
}

fn started() -> (String, Option<String>) {
    ("triggered".to_owned(), None)
}

#[tokio::test]
async fn each_merge_request_action_is_routed_by_the_opt_in() {
    let fake = FakeGitLab::start().await.unwrap();
    let iid = merge_request(&fake, "alice", BRANCH).await;
    let by_label = instance(&fake, "label").await;
    let labelled: &[&str] = &["copilot-review"];

    // Opened with the label: a review, with the contract of a review request.
    let opened = later(&fake, merge_request_hook(&fake, &hook(iid, "open", labelled)), 1);
    assert_eq!(outcome(&by_label, &opened).await, started());
    let project = fake.project_id(WIDGETS).to_string();
    assert_eq!(
        triggered(&fake),
        vec![vars(&[
            ("TRIGGER_TYPE", "mr_reviewer".into()),
            ("TARGET_PROJECT_ID", project),
            ("TARGET_MR_IID", iid.to_string()),
            ("SOURCE_BRANCH", BRANCH.into()),
            ("TARGET_BRANCH", "main".into()),
        ])]
    );
    assert_eq!(fake.mr_awards(WIDGETS, iid), [("eyes".to_owned(), AGENT.to_owned())], "👀 on the MR");

    // Pushed to: a review; an update without commits (a title edit): none.
    let pushed = MergeRequestHook { head: NEXT, oldrev: Some(HEAD), ..hook(iid, "update", labelled) };
    let mut pushed = later(&fake, merge_request_hook(&fake, &pushed), 2);
    assert_eq!(outcome(&by_label, &pushed).await, started());
    pushed["object_attributes"].as_object_mut().unwrap().remove("oldrev");
    assert_eq!(outcome(&by_label, &pushed).await, ignored("not_newly_reviewer"));

    // The label added later: a review; another label changed: none.
    let mut label_added = later(&fake, merge_request_hook(&fake, &hook(iid, "update", labelled)), 3);
    label_added["changes"]["labels"] = json!({"previous": [], "current": label_added["labels"].clone()});
    assert_eq!(outcome(&by_label, &label_added).await, started());
    label_added["changes"]["labels"]["previous"] = label_added["labels"].clone();
    assert_eq!(outcome(&by_label, &label_added).await, ignored("not_newly_reviewer"));

    // Closed, merged, approved: none, whatever the setting.
    for action in ["close", "merge", "approved"] {
        let other = merge_request_hook(&fake, &hook(iid, action, labelled));
        assert_eq!(outcome(&by_label, &other).await, ignored("not_newly_reviewer"), "{action}");
    }
    assert_eq!(triggered(&fake).len(), 3);

    // Without the label: none under `label`, a review under `all`; none at all under `off`.
    let plain = later(&fake, merge_request_hook(&fake, &hook(iid, "open", &[])), 4);
    assert_eq!(outcome(&by_label, &plain).await, ignored("auto_review_not_opted_in"));
    let off = instance(&fake, "off").await;
    assert_eq!(outcome(&off, &opened).await, ignored("auto_review_off"));
    assert_eq!(triggered(&fake).len(), 3, "nothing more started");
    let all = instance(&fake, "all").await;
    assert_eq!(outcome(&all, &plain).await, started());
    assert_eq!(triggered(&fake).len(), 4);
}

#[tokio::test]
async fn drafts_and_the_agents_own_merge_requests_are_not_reviewed_automatically() {
    let fake = FakeGitLab::start().await.unwrap();
    let iid = merge_request(&fake, "alice", BRANCH).await;
    let all = instance(&fake, "all").await;

    let draft = later(&fake, merge_request_hook(&fake, &MergeRequestHook { draft: true, ..hook(iid, "open", &[]) }), 1);
    assert_eq!(outcome(&all, &draft).await, ignored("auto_review_draft"));
    let drafts_too = Instance::start_with(
        &fake,
        &[("COPILOT_AUTO_REVIEW", "all".to_owned()), ("COPILOT_AUTO_REVIEW_DRAFTS", "true".to_owned())],
        |_| {},
    )
    .await;
    assert_eq!(outcome(&drafts_too, &draft).await, started(), "asked to review drafts too");
    // Marked ready: reviewed then.
    let mut ready = later(&fake, merge_request_hook(&fake, &hook(iid, "update", &[])), 2);
    ready["changes"]["draft"] = json!({"previous": true, "current": false});
    assert_eq!(outcome(&all, &ready).await, started());

    // The agent's merge request: not when it opens it, not when a person pushes to it.
    let own_branch = "copilot/issue-1";
    let own = merge_request(&fake, AGENT, own_branch).await;
    let opened = merge_request_hook(
        &fake,
        &MergeRequestHook { actor: AGENT, author: AGENT, branch: own_branch, ..hook(own, "open", &[]) },
    );
    assert_eq!(outcome(&all, &opened).await, ignored("agent_merge_request"));
    let pushed = merge_request_hook(
        &fake,
        &MergeRequestHook {
            author: AGENT,
            branch: own_branch,
            head: NEXT,
            oldrev: Some(HEAD),
            ..hook(own, "update", &[])
        },
    );
    assert_eq!(outcome(&all, &pushed).await, ignored("agent_merge_request"));
    assert_eq!(triggered(&fake).len(), 2);
}

#[tokio::test]
async fn a_push_is_one_review_across_resends_double_deliveries_and_replicas() {
    let fake = FakeGitLab::start().await.unwrap();
    let iid = merge_request(&fake, "alice", BRANCH).await;
    let first = instance(&fake, "all").await;
    let second = instance(&fake, "all").await;
    let push = |head, oldrev, step| {
        later(
            &fake,
            merge_request_hook(&fake, &MergeRequestHook { head, oldrev: Some(oldrev), ..hook(iid, "update", &[]) }),
            step,
        )
    };

    // One push reaches both replicas at once, and is resent, and delivered by a second hook.
    let delivery = Delivery::new("Merge Request Hook", &push(NEXT, HEAD, 1));
    let (a, b) = tokio::join!(deliver(&first.url, &delivery), deliver(&second.url, &delivery));
    let mut outcomes = [a.outcome().to_owned(), b.outcome().to_owned()];
    outcomes.sort();
    assert_eq!(outcomes, ["duplicate", "triggered"]);
    assert_eq!(deliver(&first.url, &delivery).await.outcome(), "duplicate", "GitLab's resend");
    assert_eq!(deliver(&second.url, &delivery).await.outcome(), "duplicate", "the resend, at the other replica");
    let twin = Delivery::new("Merge Request Hook", &delivery_payload(&delivery));
    assert_eq!(deliver(&first.url, &twin).await.outcome(), "duplicate", "a second hook's delivery");
    assert_eq!(triggered(&fake).len(), 1, "one pipeline for the push");

    // The next push, minutes later: one more review, again only once.
    let next = Delivery::new("Merge Request Hook", &push("3333333333333333333333333333333333333333", NEXT, 2));
    let (a, b) = tokio::join!(deliver(&first.url, &next), deliver(&second.url, &next));
    let mut outcomes = [a.outcome().to_owned(), b.outcome().to_owned()];
    outcomes.sort();
    assert_eq!(outcomes, ["duplicate", "triggered"]);
    assert_eq!(triggered(&fake).len(), 2, "one pipeline per push");
    assert_eq!(fake.mr_awards(WIDGETS, iid), [("eyes".to_owned(), AGENT.to_owned())], "one 👀, the latest push's");
}

fn delivery_payload(delivery: &Delivery) -> Value {
    serde_json::from_slice(&delivery.body).expect("a JSON body")
}
