//! The webhook service under a burst, long form (run by hand, not a test; the CI-sized form is
//! the `webhook::burst` end-to-end test, which runs the same testkit [`Burst`]):
//!
//! ```text
//! cargo build --release --bin copilot-runner --example webhook_burst_bench
//! ./target/release/examples/webhook_burst_bench [DELIVERIES BASELINE MAX_IN_FLIGHT SENDERS]
//! ```
//!
//! Defaults: 20,000 deliveries, a 5,000-delivery baseline (the size of the load test in the
//! suite), `WEBHOOK_MAX_IN_FLIGHT=8`, 64 concurrent senders. On loopback: the fake GitLab in this
//! process and two release `serve` processes beside it. After a 1,000-delivery warm-up, the
//! baseline burst and then the long one are sent over both replicas (mixed events, a tenth
//! delivered twice, a `503` re-sent after its `Retry-After`); each is checked like the test
//! checks it (one pipeline per event that asks for work, none for the rest, every answer right)
//! and reported with its throughput, latency (answers other than `503`), `503` count and each
//! replica's resident memory once nothing is in flight. Results go to BENCHMARKS.md by hand.
#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::time::Duration;

use copilot_runner_testkit::fake_gitlab::FakeGitLab;
use copilot_runner_testkit::machine::{load_average, machine};
use copilot_runner_testkit::webhook::burst::Burst;
use copilot_runner_testkit::webhook::delivery::metric;
use copilot_runner_testkit::webhook::serve::{ServeProcess, binary_for_example};

const WARM_UP: usize = 1_000;

/// Each replica's resident memory in MiB once it reports nothing in flight.
async fn settled_rss(replicas: &[ServeProcess]) -> anyhow::Result<String> {
    #[expect(clippy::disallowed_methods, reason = "the benchmark reads the service's metrics")]
    let http = reqwest::Client::new();
    let mut rss = Vec::new();
    for replica in replicas {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while metric(&http, &replica.url, "copilot_webhook_in_flight").await.map_err(anyhow::Error::msg)? != 0 {
            anyhow::ensure!(std::time::Instant::now() < deadline, "deliveries still in flight");
            tokio::task::yield_now().await;
        }
        rss.push(format!("{:.1}", replica.rss_kib() as f64 / 1024.0));
    }
    Ok(rss.join(" / "))
}

/// Sends `deliveries` over the replicas, checks the outcome and prints a table row.
async fn run(
    fake: &FakeGitLab,
    replicas: &[ServeProcess],
    name: &str,
    deliveries: usize,
    senders: usize,
) -> anyhow::Result<()> {
    let urls: Vec<String> = replicas.iter().map(|replica| replica.url.clone()).collect();
    let burst = Burst::plan(fake, deliveries, urls.len());
    let sent = burst.send(&urls, senders).await;
    let tally = burst.tally(fake, &sent);
    anyhow::ensure!(
        tally.triggered_once == burst.actionable()
            && tally.not_once.is_empty()
            && tally.unexpected.is_empty()
            && tally.misanswered.is_empty(),
        "{name}: the burst went wrong: {} of {} events started one pipeline; {:?}",
        tally.triggered_once,
        burst.actionable(),
        tally
    );
    let (again, across) = burst.second_deliveries();
    println!(
        "| {name} | {deliveries} ({} events, {} start work; {again} twice, {across} across replicas) | {:.1} s | {:.0} | {:.1} ms | {:.1} ms | {} ({} recovered) | {} |",
        burst.events.len(),
        burst.actionable(),
        sent.elapsed.as_secs_f64(),
        sent.per_second(),
        sent.percentile(0.5).as_secs_f64() * 1e3,
        sent.percentile(0.99).as_secs_f64() * 1e3,
        sent.busy(),
        sent.recovered(),
        settled_rss(replicas).await?,
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let deliveries: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(20_000);
    let baseline: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(5_000);
    let max_in_flight: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(8);
    let senders: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(64);

    // The workspace builds reqwest without a default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = FakeGitLab::start().await?;
    let binary = binary_for_example()?;
    let limit = [("WEBHOOK_MAX_IN_FLIGHT", max_in_flight.to_string())];
    let replicas =
        [ServeProcess::start(&binary, &fake, &limit).await, ServeProcess::start(&binary, &fake, &limit).await];
    println!("machine: {}", machine());
    println!("load average before: {}", load_average());
    println!(
        "two `serve` replicas, WEBHOOK_MAX_IN_FLIGHT={max_in_flight} each, {senders} concurrent senders; \
         idle RSS {} MiB\n",
        settled_rss(&replicas).await?
    );
    println!("| burst | deliveries | time | deliveries/s | p50 | p99 | 503 answers | RSS after, replica 1 / 2 (MiB) |");
    println!("|---|---|---|---|---|---|---|---|");
    run(&fake, &replicas, "warm-up", WARM_UP, senders).await?;
    run(&fake, &replicas, "baseline", baseline, senders).await?;
    run(&fake, &replicas, "long", deliveries, senders).await?;
    let peaks: Vec<String> =
        replicas.iter().map(|replica| format!("{:.1}", replica.peak_rss_kib() as f64 / 1024.0)).collect();
    println!("\npeak RSS (VmHWM), replica 1 / 2: {} MiB", peaks.join(" / "));
    println!("load average after: {}", load_average());
    Ok(())
}
