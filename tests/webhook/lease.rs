//! The 👀 lock is a lease: a replica that dies between the award and the trigger does not
//! swallow the request. The built binary runs as a child process and is killed (SIGKILL) while
//! GitLab's trigger endpoint hangs; GitLab's resend then starts the work exactly once.

use std::time::Duration;

use copilot_runner::webhook::act::AWARD_LEASE;
use copilot_runner_testkit::fake_gitlab::{AGENT, FakeGitLab, Fault};

use super::harness::{
    DEADLINE, Delivery, deliver, http, issue_note, note_awards, serve_process, triggered, try_deliver,
};
use super::payloads;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_between_the_award_and_the_trigger_does_not_swallow_the_request() {
    let fake = FakeGitLab::start().await.expect("fake");
    let text = "@copilot-agent please fix the flaky test";
    let note = issue_note(&fake, "alice", 1, text);
    let delivery = Delivery::new("Note Hook", &payloads::issue_note(&fake, "alice", 1, note, text));

    // The first replica awards 👀, then dies while GitLab is still taking its trigger.
    fake.inject(Fault::on("POST", "/projects/*/trigger/pipeline").hang().times(1));
    let first = serve_process(&fake, &[]).await;
    let (url, sent) = (first.url.clone(), delivery.clone());
    let in_flight = tokio::spawn(async move { try_deliver(&http(), &url, &sent).await });
    fake.wait_for_request("POST /projects/*/trigger/pipeline", DEADLINE).await.expect("trigger under way");
    assert_eq!(note_awards(&fake, note), [("eyes".to_owned(), AGENT.to_owned())], "👀 awarded");
    first.kill().await;
    let answer = tokio::time::timeout(DEADLINE, in_flight).await.expect("the connection ends").expect("task");
    assert!(answer.is_err(), "the killed replica never answered: {answer:?}");

    // GitLab's resend to a restarted replica, while the 👀 could still be a live replica's.
    let second = serve_process(&fake, &[]).await;
    let early = deliver(&second.url, &delivery).await;
    assert_eq!((early.status, early.outcome()), (200, "duplicate"), "{:?}", early.body);
    assert!(triggered(&fake).is_empty());

    // Once the lease has run out, the same resend takes the request over.
    fake.age(AWARD_LEASE + Duration::from_secs(1));
    let resent = deliver(&second.url, &delivery).await;
    assert_eq!((resent.status, resent.outcome()), (200, "triggered"), "{:?}", resent.body);
    assert_eq!(triggered(&fake).len(), 1);
    assert_eq!(note_awards(&fake, note), [("eyes".to_owned(), AGENT.to_owned())], "one 👀, the new holder's");

    // Much later, another resend to a fresh replica finds that pipeline and starts nothing.
    second.kill().await;
    fake.age(AWARD_LEASE + Duration::from_secs(1));
    let third = serve_process(&fake, &[]).await;
    let late = deliver(&third.url, &delivery).await;
    assert_eq!((late.status, late.outcome()), (200, "duplicate"), "{:?}", late.body);
    assert_eq!(triggered(&fake).len(), 1, "exactly one pipeline");
    third.kill().await;
}

#[tokio::test]
async fn a_lock_that_could_not_be_given_back_is_taken_over_once_the_lease_runs_out() {
    let (fake, service) = super::harness::rig().await;
    let delivery = locked_after_a_failed_trigger(&fake, &service.url).await;
    fake.age(AWARD_LEASE + Duration::from_secs(1));
    let resent = deliver(&service.url, &delivery).await;
    assert_eq!((resent.status, resent.outcome()), (200, "triggered"), "{:?}", resent.body);
    assert_eq!(deliver(&service.url, &delivery).await.outcome(), "duplicate");
    assert_eq!(triggered(&fake).len(), 1);
}

/// Another request's pipeline, started while the lock was held, is not the holder's: GitLab's
/// API hides pipeline inputs, but the pipeline's name (the agent project's `workflow:name`) spells
/// the request, so the resend after the lease still starts this one.
#[tokio::test]
async fn another_requests_pipeline_in_the_lease_window_does_not_swallow_the_request() {
    let (fake, service) = super::harness::rig().await;
    let delivery = locked_after_a_failed_trigger(&fake, &service.url).await;

    // Meanwhile another note is worked on: its pipeline starts within the lease window.
    let other_text = "@copilot-agent also this";
    let other = issue_note(&fake, "alice", 1, other_text);
    let other_delivery = Delivery::new("Note Hook", &payloads::issue_note(&fake, "alice", 1, other, other_text));
    assert_eq!(deliver(&service.url, &other_delivery).await.outcome(), "triggered");
    assert_eq!(triggered(&fake).len(), 1);

    fake.age(AWARD_LEASE + Duration::from_secs(1));
    let resent = deliver(&service.url, &delivery).await;
    assert_eq!((resent.status, resent.outcome()), (200, "triggered"), "{:?}", resent.body);
    assert_eq!(triggered(&fake).len(), 2, "one pipeline per request");
    assert_eq!(deliver(&service.url, &delivery).await.outcome(), "duplicate");
}

/// A note whose delivery failed at the trigger while its 👀 could not be taken back: the lock is
/// held by no one. Returns the delivery, for GitLab's resend.
async fn locked_after_a_failed_trigger(fake: &FakeGitLab, url: &str) -> Delivery {
    let text = "@copilot-agent go";
    let note = issue_note(fake, "alice", 1, text);
    let delivery = Delivery::new("Note Hook", &payloads::issue_note(fake, "alice", 1, note, text));
    fake.inject(Fault::on("POST", "/projects/*/trigger/pipeline").status(500).times(1));
    fake.inject(Fault::on("DELETE", "/projects/**/award_emoji/*").status(403));
    let failed = deliver(url, &delivery).await;
    assert_eq!((failed.status, failed.outcome()), (502, "failed"), "{:?}", failed.body);
    assert_eq!(note_awards(fake, note).len(), 1, "the 👀 could not be removed");
    fake.clear_faults();
    delivery
}
