//! Exactly once across replicas for requests on an issue or MR (an assignment, a review request,
//! a failed pipeline on an agent branch): the agent's award on the issue or MR is the lock, told
//! apart from an earlier request's award by the time of the change the event reports. Each case
//! also runs without that time (the payload leaves it out), where the award is only a courtesy
//! and both replicas start the work: the lock is what stops the second pipeline.

use std::time::Duration;

use copilot_runner::webhook::act::AWARD_LEASE;
use copilot_runner_testkit::fake_gitlab::{AGENT, Fault};
use copilot_runner_testkit::webhook::payloads::{Form, changed_before};
use serde_json::Value;

use super::harness::{Delivery, Instance, WIDGETS, deliver, merge_request, rig, triggered};
use super::payloads;

/// Delivers `delivery` to both replicas at once, as GitLab's retry behind a load balancer can;
/// returns the two outcomes, sorted.
async fn to_both(first: &Instance, second: &Instance, delivery: &Delivery) -> [String; 2] {
    let (a, b) = tokio::join!(deliver(&first.url, delivery), deliver(&second.url, delivery));
    assert_eq!((a.status, b.status), (200, 200), "{:?} {:?}", a.body, b.body);
    let mut outcomes = [a.outcome().to_owned(), b.outcome().to_owned()];
    outcomes.sort();
    outcomes
}

fn without_time(mut payload: Value, field: &str) -> Value {
    payload["object_attributes"].as_object_mut().expect("attributes").remove(field);
    payload
}

#[tokio::test]
async fn an_assignment_reaching_two_replicas_starts_once_and_a_later_one_starts_again() {
    let (fake, first) = rig().await;
    let second = Instance::start(&fake).await;
    let assigned = || payloads::issue_assignees(&fake, "alice", 1, &[], &[AGENT]);

    let delivery = Delivery::new("Issue Hook", &assigned());
    assert_eq!(to_both(&first, &second, &delivery).await, ["duplicate", "triggered"]);
    assert_eq!(triggered(&fake).len(), 1);
    assert_eq!(fake.issue_awards(WIDGETS, 1), [("eyes".to_owned(), AGENT.to_owned())]);

    // Unassigned and assigned again minutes later: the 👀 is the first request's, so it is
    // replaced, once, and the new request starts once.
    fake.age(Duration::from_secs(300));
    let again = Delivery::new("Issue Hook", &assigned());
    assert_eq!(to_both(&first, &second, &again).await, ["duplicate", "triggered"]);
    assert_eq!(triggered(&fake).len(), 2);
    assert_eq!(fake.issue_awards(WIDGETS, 1), [("eyes".to_owned(), AGENT.to_owned())], "one 👀, the new one");

    // Without the change's time the 👀 proves nothing and each replica starts the work.
    fake.age(Duration::from_secs(300));
    let untimed = Delivery::new("Issue Hook", &without_time(assigned(), "updated_at"));
    assert_eq!(to_both(&first, &second, &untimed).await, ["triggered", "triggered"]);
    assert_eq!(triggered(&fake).len(), 4);
}

#[tokio::test]
async fn a_review_request_reaching_two_replicas_starts_once_and_a_re_request_starts_again() {
    let (fake, first) = rig().await;
    let second = Instance::start(&fake).await;
    let mr = merge_request(&fake, "alice", "feature/review-me").await;
    let requested = || payloads::mr_reviewers(&fake, "alice", mr, "feature/review-me", &[], &[AGENT]);

    assert_eq!(
        to_both(&first, &second, &Delivery::new("Merge Request Hook", &requested())).await,
        ["duplicate", "triggered"]
    );
    fake.age(Duration::from_secs(300));
    assert_eq!(
        to_both(&first, &second, &Delivery::new("Merge Request Hook", &requested())).await,
        ["duplicate", "triggered"]
    );
    assert_eq!(triggered(&fake).len(), 2);
    assert_eq!(fake.mr_awards(WIDGETS, mr), [("eyes".to_owned(), AGENT.to_owned())]);

    fake.age(Duration::from_secs(300));
    let untimed = Delivery::new("Merge Request Hook", &without_time(requested(), "updated_at"));
    assert_eq!(to_both(&first, &second, &untimed).await, ["triggered", "triggered"]);
}

#[tokio::test]
async fn a_failed_pipeline_reaching_two_replicas_starts_once_with_a_wrench_on_its_mr() {
    let (fake, first) = rig().await;
    let second = Instance::start(&fake).await;
    let branch = "copilot/issue-1-fix";
    let mr = merge_request(&fake, AGENT, branch).await;
    // A review request on the same MR holds a 👀 of its own: it does not stand in the way.
    let review = payloads::mr_reviewers(&fake, "alice", mr, branch, &[], &[AGENT]);
    assert_eq!(deliver(&first.url, &Delivery::new("Merge Request Hook", &review)).await.outcome(), "triggered");

    let failed = || payloads::pipeline(&fake, AGENT, 9100, branch, "failed");
    assert_eq!(to_both(&first, &second, &Delivery::new("Pipeline Hook", &failed())).await, ["duplicate", "triggered"]);
    assert_eq!(triggered(&fake).len(), 2);
    let mut awards = fake.mr_awards(WIDGETS, mr);
    awards.sort();
    assert_eq!(awards, [("eyes".to_owned(), AGENT.to_owned()), ("wrench".to_owned(), AGENT.to_owned())]);

    // Its jobs retried, the pipeline fails again later: a new request.
    fake.age(Duration::from_secs(300));
    assert_eq!(to_both(&first, &second, &Delivery::new("Pipeline Hook", &failed())).await, ["duplicate", "triggered"]);
    assert_eq!(triggered(&fake).len(), 3);

    fake.age(Duration::from_secs(300));
    let untimed = Delivery::new("Pipeline Hook", &without_time(failed(), "finished_at"));
    assert_eq!(to_both(&first, &second, &untimed).await, ["triggered", "triggered"]);
}

/// A replica that awarded 👀 on an issue and then failed to trigger and to give the award back:
/// the resend is held off for the lease, then starts the request once.
#[tokio::test]
async fn an_assignment_whose_award_was_left_behind_starts_once_the_lease_runs_out() {
    let (fake, service) = rig().await;
    // The change was made two minutes ago; GitLab resends the delivery since.
    let mut payload = payloads::issue_assignees(&fake, "alice", 1, &[], &[AGENT]);
    payload["object_attributes"]["updated_at"] = changed_before(Duration::from_secs(120), Form::Iso).into();
    let delivery = Delivery::new("Issue Hook", &payload);

    fake.inject(Fault::on("POST", "/projects/*/trigger/pipeline").status(500).times(1));
    fake.inject(Fault::on("DELETE", "/projects/**/award_emoji/*").status(403));
    let failed = deliver(&service.url, &delivery).await;
    assert_eq!((failed.status, failed.outcome()), (502, "failed"), "{:?}", failed.body);
    assert_eq!(fake.issue_awards(WIDGETS, 1).len(), 1, "the 👀 could not be removed");
    fake.clear_faults();

    let early = deliver(&service.url, &delivery).await;
    assert_eq!((early.status, early.outcome()), (200, "duplicate"), "{:?}", early.body);
    assert!(triggered(&fake).is_empty());

    fake.age(AWARD_LEASE + Duration::from_secs(1));
    let resent = deliver(&service.url, &delivery).await;
    assert_eq!((resent.status, resent.outcome()), (200, "triggered"), "{:?}", resent.body);
    assert_eq!(deliver(&service.url, &delivery).await.outcome(), "duplicate");
    assert_eq!(triggered(&fake).len(), 1);
}
