//! Bounded load: a burst of 5,000 deliveries on loopback. Beyond `WEBHOOK_MAX_IN_FLIGHT`
//! deliveries at once the service answers 503 with `Retry-After` and asks GitLab for nothing,
//! and the duplicate filter's memory stays within its cap whatever the mix of outcomes.

use std::time::Duration;

use copilot_runner_testkit::fake_gitlab::{FakeGitLab, Fault};
use copilot_runner_testkit::webhook::delivery;
use tokio::task::JoinSet;

use super::harness::{Answer, DEADLINE, Delivery, Instance, deliver, deliver_with, http, issue_note, triggered};
use super::payloads;

const BURST: usize = 5_000;
/// Deliveries on the way at once while bursting (the sender's side).
const SENDERS: usize = 64;
/// A burst through the debug build on a shared machine finishes well within this, or fails.
const BURST_DEADLINE: Duration = Duration::from_secs(40);

/// Delivers every delivery `make(index)` builds, `SENDERS` at a time, and returns the answers
/// in index order.
async fn burst(url: &str, count: usize, make: impl Fn(usize) -> Delivery) -> Vec<Answer> {
    let mut answers: Vec<Option<Answer>> = (0..count).map(|_| None).collect();
    let mut running = JoinSet::new();
    let client = http();
    let mut next = 0;
    while next < count || !running.is_empty() {
        while next < count && running.len() < SENDERS {
            let (client, url, delivery) = (client.clone(), url.to_owned(), make(next));
            let index = next;
            running.spawn(async move { (index, deliver_with(&client, &url, &delivery).await) });
            next += 1;
        }
        let (index, answer) = running.join_next().await.expect("a sender").expect("sender task");
        answers[index] = Some(answer);
    }
    answers.into_iter().map(|answer| answer.expect("every delivery answered")).collect()
}

/// A metric without labels from the service at `url`.
pub(crate) async fn metric(url: &str, name: &str) -> u64 {
    delivery::metric(&http(), url, name).await.unwrap_or_else(|error| panic!("{error}"))
}

/// Opens a delivery that sends its headers and half its body, then stalls: a slow sender that
/// holds its place in the service for as long as the returned connection stays open.
async fn stalled_delivery(url: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let address = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: {address}\r\nX-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"object_kind\":",
        super::harness::SECRET
    );
    stream.write_all(head.as_bytes()).await.expect("send the head");
    stream
}

/// Waits until the service reports `count` deliveries in flight.
pub(crate) async fn wait_for_in_flight(url: &str, count: u64) {
    let wait = async {
        while metric(url, "copilot_webhook_in_flight").await != count {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(DEADLINE, wait).await.expect("deliveries in flight in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_beyond_the_in_flight_limit_are_503_with_retry_after_and_cost_gitlab_nothing() {
    let fake = FakeGitLab::start().await.expect("fake");
    // Stalled senders would be cut off after the action budget; this test holds them longer.
    let service = Instance::start_with(&fake, &[("WEBHOOK_MAX_IN_FLIGHT", "8".to_owned())], |config| {
        config.action_budget = Duration::from_secs(120);
    })
    .await;

    // Eight slow senders fill the service.
    let mut stalled = Vec::new();
    for _ in 0..8 {
        stalled.push(stalled_delivery(&service.url).await);
    }
    wait_for_in_flight(&service.url, 8).await;

    let text = "@copilot-agent go";
    let note = issue_note(&fake, "alice", 1, text);
    let mention = Delivery::new("Note Hook", &payloads::issue_note(&fake, "alice", 1, note, text));
    fake.clear_requests();
    let answers = tokio::time::timeout(BURST_DEADLINE, burst(&service.url, BURST, |_| mention.clone()))
        .await
        .expect("the burst is answered in time");
    for answer in &answers {
        assert_eq!((answer.status, answer.outcome()), (503, "busy"), "{:?}", answer.body);
    }
    assert!(fake.requests().is_empty(), "refused deliveries asked GitLab nothing");
    let refused = http()
        .post(format!("{}/webhook", service.url))
        .header("X-Gitlab-Token", super::harness::SECRET)
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1", "GitLab's resend is told when to come back");
    let health = http().get(format!("{}/healthz", service.url)).send().await.expect("healthz");
    assert_eq!(health.status(), 200, "probes still answer while busy");

    drop(stalled);
    wait_for_in_flight(&service.url, 0).await;
    let after = deliver(&service.url, &mention).await;
    assert_eq!((after.status, after.outcome()), (200, "triggered"), "capacity is free again: {:?}", after.body);
    assert_eq!(triggered(&fake).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_duplicate_filter_stays_within_its_cap_under_a_burst_of_accepted_and_failed_deliveries() {
    const CAP: usize = 300;
    let fake = FakeGitLab::start().await.expect("fake");
    let service = Instance::start_with(&fake, &[], |config| config.dedup_capacity = CAP).await;
    // Guests' access checks fail (GitLab answers 403): those deliveries fail and are forgotten.
    // Outsiders' succeed and are denied: those are remembered.
    let gus = fake.user_id("gus");
    fake.inject(Fault::on("GET", &format!("/projects/*/members/all/{gus}")).status(403));
    let text = "@copilot-agent go";
    let delivery = |index: usize| {
        let actor = if index.is_multiple_of(2) { "outsider" } else { "gus" };
        // Note ids that no other delivery shares; the route does not look the note up.
        let note = 1_000_000 + index as u64;
        Delivery::new("Note Hook", &payloads::issue_note(&fake, actor, 1, note, text))
    };
    let deliveries: Vec<Delivery> = (0..BURST).map(delivery).collect();

    let answers = tokio::time::timeout(BURST_DEADLINE, burst(&service.url, BURST, |index| deliveries[index].clone()))
        .await
        .expect("the burst is answered in time");
    for (index, answer) in answers.iter().enumerate() {
        let expected = if index.is_multiple_of(2) { (200, "denied") } else { (502, "failed") };
        assert_eq!((answer.status, answer.outcome()), expected, "{index}: {:?}", answer.body);
    }
    let keys = metric(&service.url, "copilot_webhook_dedup_keys").await;
    assert!(keys <= CAP as u64, "{keys} keys held, more than the cap of {CAP}");
    assert!(keys >= CAP as u64 / 2, "the filter holds recent deliveries: {keys}");

    // The newest denied delivery is still known; the oldest was evicted and is judged afresh.
    let newest = deliver(&service.url, &deliveries[BURST - 2]).await;
    assert_eq!(newest.outcome(), "duplicate", "{:?}", newest.body);
    let oldest = deliver(&service.url, &deliveries[0]).await;
    assert_eq!(oldest.outcome(), "denied", "{:?}", oldest.body);
}

#[tokio::test]
async fn a_sender_that_stalls_its_body_is_cut_off_and_frees_its_place() {
    let fake = FakeGitLab::start().await.expect("fake");
    let service = Instance::start_with(&fake, &[("WEBHOOK_MAX_IN_FLIGHT", "1".to_owned())], |config| {
        config.action_budget = Duration::from_millis(300);
    })
    .await;
    let stalled = stalled_delivery(&service.url).await;
    let mut response = String::new();
    let read = async {
        use tokio::io::AsyncReadExt as _;
        let mut stalled = stalled;
        stalled.read_to_string(&mut response).await
    };
    tokio::time::timeout(DEADLINE, read).await.expect("answered in time").expect("read the answer");
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    wait_for_in_flight(&service.url, 0).await;
    let next = deliver(&service.url, &Delivery::new("Push Hook", &payloads::fixture("push.json"))).await;
    assert_eq!((next.status, next.outcome()), (200, "ignored"), "{:?}", next.body);
}
