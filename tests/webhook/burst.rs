//! Webhook under load (issue #23, item 7), CI-sized: a burst of mixed deliveries, a tenth of
//! them delivered twice, spread over two `serve` processes (the built binary) that share the fake
//! GitLab, with `WEBHOOK_MAX_IN_FLIGHT` set low. The burst itself is the testkit's
//! [`Burst`], which `examples/webhook_burst_bench.rs` runs with 20,000 deliveries.

use std::time::Duration;

use copilot_runner::webhook::dedup::Dedup;
use copilot_runner_testkit::fake_gitlab::FakeGitLab;
use copilot_runner_testkit::webhook::burst::{Burst, Sent};
use copilot_runner_testkit::webhook::serve::ServeProcess;

use super::harness::serve_process;
use super::load::{metric, wait_for_in_flight};

/// Deliveries in the burst; the warm-up before it sends a fifth as many.
const DELIVERIES: usize = 2_000;
const WARM_UP: usize = 400;
/// Per replica: low, so that the senders below meet the limit.
const MAX_IN_FLIGHT: usize = 4;
/// Deliveries on the way at once (the senders' side), over both replicas.
const SENDERS: usize = 64;
/// A burst through the debug build on a shared two-core machine is answered within this.
const BURST_DEADLINE: Duration = Duration::from_secs(50);
/// How much a replica's resident memory may grow from after the warm-up to after the burst: the
/// duplicate filter keeps three keys per started pipeline (a few hundred kB here), the rest is
/// the allocator's slack.
const GROWTH_BOUND_KIB: u64 = 10 * 1024;

async fn send(burst: &Burst, urls: &[String]) -> Sent {
    tokio::time::timeout(BURST_DEADLINE, burst.send(urls, SENDERS)).await.expect("the burst is answered in time")
}

/// Each replica's resident memory once nothing is in flight.
async fn settled_rss(replicas: &[ServeProcess]) -> Vec<u64> {
    let mut rss = Vec::new();
    for replica in replicas {
        wait_for_in_flight(&replica.url, 0).await;
        rss.push(replica.rss_kib());
    }
    rss
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_burst_over_two_replicas_starts_one_pipeline_per_event_and_recovers_from_503() {
    let fake = FakeGitLab::start().await.expect("fake");
    let limit = [("WEBHOOK_MAX_IN_FLIGHT", MAX_IN_FLIGHT.to_string())];
    let replicas = [serve_process(&fake, &limit).await, serve_process(&fake, &limit).await];
    let urls: Vec<String> = replicas.iter().map(|replica| replica.url.clone()).collect();

    let warm_up = Burst::plan(&fake, WARM_UP, urls.len());
    let warm_sent = send(&warm_up, &urls).await;
    let warm_tally = warm_up.tally(&fake, &warm_sent);
    assert_eq!(warm_tally.triggered_once, warm_up.actionable(), "{warm_tally:?}");
    let warm_rss = settled_rss(&replicas).await;

    let burst = Burst::plan(&fake, DELIVERIES, urls.len());
    let sent = send(&burst, &urls).await;
    let tally = burst.tally(&fake, &sent);

    // Exactly one pipeline per event that asks for work, none for the others, every answer right.
    assert_eq!(sent.ended.len(), DELIVERIES);
    let actionable = burst.actionable();
    assert!(actionable > DELIVERIES / 2 && actionable < burst.events.len(), "a mix: {actionable} of {}", DELIVERIES);
    assert_eq!(tally.triggered_once, actionable, "one pipeline each");
    assert!(tally.not_once.is_empty(), "events with other than one pipeline: {:?}", tally.not_once);
    assert!(tally.unexpected.is_empty(), "pipelines for events that ask for nothing: {:?}", tally.unexpected);
    assert!(tally.misanswered.is_empty(), "{} misanswered, e.g. {:?}", tally.misanswered.len(), &tally.misanswered[..]);

    // The duplicates were there, and some had to be stopped by the 👀 lease on another replica.
    let (again, across) = burst.second_deliveries();
    assert_eq!(again, DELIVERIES - burst.events.len());
    assert!(again * 10 + 10 >= burst.events.len(), "a tenth delivered twice: {again}");
    assert!(across > 0 && across < again, "{across} of {again} second deliveries went to the other replica");

    // Backpressure was met, always with `Retry-After`, and every refused delivery got through.
    assert!(sent.busy() > 0, "no delivery was answered 503");
    assert!(sent.ended.iter().all(|ended| ended.busy_without_retry_after == 0), "a 503 without `Retry-After`");
    assert!(sent.recovered() > 0, "a delivery answered 503 ended accepted");
    assert!(sent.ended.iter().all(|ended| ended.status == 200), "every delivery ends accepted");

    // Memory: flat after the burst, and the duplicate filter holds exactly the started pipelines'
    // keys (delivery, event and object), within its cap.
    let rss = settled_rss(&replicas).await;
    for (before, after) in warm_rss.iter().zip(&rss) {
        assert!(*after <= before + GROWTH_BOUND_KIB, "RSS {before} kB after the warm-up, {after} kB after the burst");
    }
    let mut keys = 0;
    for url in &urls {
        let held = metric(url, "copilot_webhook_dedup_keys").await;
        assert!(held <= Dedup::DEFAULT_CAPACITY as u64, "{held} keys");
        keys += held;
    }
    assert_eq!(keys, 3 * (warm_up.actionable() + actionable) as u64, "three keys per started pipeline");
}
