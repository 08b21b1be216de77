//! Benchmark of the webhook service (run by hand, not a test):
//!
//! ```text
//! cargo build --release --bin copilot-runner --example webhook_bench
//! ./target/release/examples/webhook_bench [REQUESTS CONCURRENCY ROUNDS] 2>webhook-bench.log
//! ```
//!
//! On loopback, in one process: the fake GitLab, one `serve` instance (the real router) and a
//! bare axum `POST` handler as the baseline; the service logs as `serve` does (stderr, default
//! filter and format). The cheap paths — bare, rejected (bad token) and
//! ignored (a note without a mention) — are measured in ROUNDS rounds, interleaved (the order
//! rotates every round), each scenario with REQUESTS requests at CONCURRENCY and again one at a
//! time; the table shows the median over the rounds, and ratios to the bare handler are taken
//! within each round first, so a machine shared with other work skews both sides alike. Then
//! the accepted path (a mention: access check, 👀 and trigger against the fake) runs once;
//! "own time" of accepted events is their latency minus the same three GitLab calls made
//! directly with the client. Finally it starts the release binary's `serve` and reads its peak
//! RSS (`VmHWM`) while idle. Results go to BENCHMARKS.md by hand.
#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![expect(
    clippy::disallowed_methods,
    reason = "the benchmark plays GitLab with its own HTTP client and starts the built binary"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use copilot_runner::cli::serve::configure;
use copilot_runner::config::{Env, Flags, Settings};
use copilot_runner::gitlab::events::Event;
use copilot_runner::gitlab::{AwardOutcome, Awardable, Client, Noteable, TriggerParameters};
use copilot_runner::webhook::route::{self, Agent};
use copilot_runner::webhook::server::{self, Service};
use copilot_runner_testkit::fake_gitlab::{AGENT, FakeGitLab};
use copilot_runner_testkit::machine::{load_average, machine};
use secrecy::SecretString;
use serde_json::{Value, json};

const SECRET: &str = "whsec-bench-0123456789abcdef";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/gitlab/webhooks");

fn settings(fake: &FakeGitLab) -> anyhow::Result<Settings> {
    let env = Env::from_pairs(env_pairs(fake));
    Settings::resolve(&env, &Flags::default()).map_err(|errors| anyhow::anyhow!("{errors}"))
}

fn env_pairs(fake: &FakeGitLab) -> Vec<(&'static str, String)> {
    vec![
        ("GITLAB_API_BASE", fake.url()),
        ("GITLAB_TOKEN", fake.agent_token()),
        ("WEBHOOK_SECRET_TOKEN", SECRET.to_owned()),
        ("PIPELINE_PROJECT_ID", fake.project_id("acme/copilot-agent").to_string()),
        ("PIPELINE_TRIGGER_TOKEN", "glptt-fake-agent".to_owned()),
        ("COPILOT_AGENT_USERNAME", AGENT.to_owned()),
    ]
}

fn note_payload(fake: &FakeGitLab, note_id: u64, text: &str) -> anyhow::Result<Vec<u8>> {
    let mut payload: Value = serde_json::from_slice(&std::fs::read(format!("{FIXTURES}/note_issue.json"))?)?;
    let project = fake.project_id("acme/widgets");
    payload["project"]["id"] = json!(project);
    payload["project_id"] = json!(project);
    payload["user"] = json!({"id": fake.user_id("alice"), "name": "Alice", "username": "alice"});
    payload["object_attributes"]["id"] = json!(note_id);
    payload["object_attributes"]["note"] = json!(text);
    payload["issue"]["iid"] = json!(1);
    Ok(serde_json::to_vec(&payload)?)
}

struct Scenario {
    name: &'static str,
    url: String,
    token: &'static str,
    bodies: Vec<Vec<u8>>,
    expect: u16,
}

struct Measured {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn run(http: &reqwest::Client, scenario: &Scenario, concurrency: usize) -> anyhow::Result<Measured> {
    let bodies = Arc::new(scenario.bodies.clone());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, bodies, next, url) = (http.clone(), Arc::clone(&bodies), Arc::clone(&next), scenario.url.clone());
        let (token, expect, name) = (scenario.token, scenario.expect, scenario.name);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(index) else { break };
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .header("X-Gitlab-Event", "Note Hook")
                    .header("X-Gitlab-Token", token)
                    .header("Idempotency-Key", format!("{name}-{index}"))
                    .body(body.clone())
                    .send()
                    .await?;
                let status = response.status().as_u16();
                let body = response.bytes().await?;
                latencies.push(sent.elapsed());
                anyhow::ensure!(status == expect, "expected {expect}, got {status}");
                // An accepted event must really have triggered, not been taken for a duplicate.
                anyhow::ensure!(
                    !name.starts_with("accepted")
                        || body.windows(20).any(|window| window == br#""status":"triggered""#),
                    "{body:?}"
                );
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = start.elapsed();
    latencies.sort();
    Ok(Measured {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    })
}

async fn bare_server() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/", listener.local_addr()?);
    let router = axum::Router::new().route("/", axum::routing::post(|_body: axum::body::Bytes| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

/// The three GitLab calls of an accepted event, made directly: the floor of its latency.
async fn gitlab_floor(fake: &FakeGitLab, notes: &[u64]) -> anyhow::Result<Duration> {
    let client = Client::new(&fake.api_url(), &SecretString::from(fake.agent_token()))?;
    let trigger_token = SecretString::from("glptt-fake-agent".to_owned());
    let (project, agent_project) = (fake.project_id("acme/widgets"), fake.project_id("acme/copilot-agent"));
    let inputs = TriggerParameters::Inputs(BTreeMap::from([("trigger_type".to_owned(), "issue_note".to_owned())]));
    let mut latencies = Vec::new();
    for note_id in notes {
        let start = Instant::now();
        client.member(project, fake.user_id("alice")).await?;
        let outcome =
            client.award_emoji(project, Awardable::Note { on: Noteable::Issue(1), note_id: *note_id }, "eyes").await?;
        anyhow::ensure!(matches!(outcome, AwardOutcome::Awarded(_)), "fresh note");
        client.trigger_pipeline(agent_project, &trigger_token, "main", &inputs).await?;
        latencies.push(start.elapsed());
    }
    latencies.sort();
    Ok(percentile(&latencies, 0.5))
}

/// Where an ignored event's own time goes: the handler's pieces called directly, one at a time.
fn pieces(body: &[u8], agent: &Agent) {
    const CALLS: u32 = 20_000;
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..CALLS {
            f();
        }
        start.elapsed().as_secs_f64() * 1e6 / f64::from(CALLS)
    };
    let parse = time(&|| {
        std::hint::black_box(Event::parse(std::hint::black_box(body)).is_ok());
    });
    let parse_delivery = time(&|| {
        std::hint::black_box(Event::parse_delivery(std::hint::black_box(body), Some("Note Hook")).is_ok());
    });
    let event = Event::parse(body).expect("the note payload parses");
    let route = time(&|| {
        std::hint::black_box(route::route(std::hint::black_box(&event), agent));
    });
    let log_line = time(&|| {
        tracing::info!(hook = "Note Hook", kind = "note", reason = "not_mentioned", "webhook ignored");
    });
    let debug_line = time(&|| {
        tracing::debug!(hook = "Note Hook", kind = "note", reason = "not_mentioned", "webhook ignored");
    });
    println!("the ignored event's pieces, called directly ({CALLS} calls each, mean):\n");
    println!("| piece | µs per call |");
    println!("|---|---|");
    println!(
        "| `Event::parse` of the {} byte note payload (object kind first, then the type) | {parse:.2} |",
        body.len()
    );
    println!(
        "| `Event::parse_delivery` with `X-Gitlab-Event: Note Hook` (parsed once), as `serve` does | {parse_delivery:.2} |"
    );
    println!("| `route::route` (mention search) | {route:.2} |");
    println!(
        "| an info log line (format, redact, write to stderr), as `serve` logged ignored deliveries before | {log_line:.2} |"
    );
    println!(
        "| the `webhook ignored` line at debug, filtered out by the default `info`, as `serve` logs it now | {debug_line:.2} |\n"
    );
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One table: per scenario, the medians over the rounds of events/s, p50 and p99, with the
/// median of the per-round ratios to the baseline (the first scenario).
fn print_medians(title: &str, scenarios: &[Scenario], rounds: &[Vec<Measured>]) {
    println!("{title}, medians of {} rounds:\n", rounds[0].len());
    println!("| scenario | events/s | p50 | p99 | p99 vs bare |");
    println!("|---|---|---|---|---|");
    let baseline = &rounds[0];
    for (scenario, measured) in scenarios.iter().zip(rounds) {
        let per_second = median(measured.iter().map(|m| m.per_second).collect());
        let p50 = median(measured.iter().map(|m| millis(m.p50)).collect());
        let p99 = median(measured.iter().map(|m| millis(m.p99)).collect());
        let throughput_ratio =
            median(measured.iter().zip(baseline).map(|(m, b)| m.per_second / b.per_second).collect());
        let p99_ratio = median(measured.iter().zip(baseline).map(|(m, b)| millis(m.p99) / millis(b.p99)).collect());
        println!(
            "| {} | {per_second:.0} ({throughput_ratio:.2}× bare) | {p50:.2} ms | {p99:.2} ms | {p99_ratio:.2}× |",
            scenario.name
        );
    }
    println!();
}

/// Peak RSS of the release binary's `serve` after it answered `/healthz` and idled for 2 s.
async fn idle_peak_rss(fake: &FakeGitLab) -> anyhow::Result<String> {
    let binary = copilot_runner_testkit::webhook::serve::binary_for_example()?;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?.port()
    };
    let mut child = tokio::process::Command::new(&binary)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env_clear()
        .envs(env_pairs(fake))
        .env("COPILOT_RUNNER_LOG", "warn")
        .kill_on_drop(true)
        .spawn()?;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while http.get(format!("http://127.0.0.1:{port}/healthz")).send().await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = child.id().context("child pid")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| status.lines().find(|line| line.starts_with(name)).map(|line| line.to_owned());
    child.kill().await?;
    Ok(format!("{} / {}", field("VmHWM:").unwrap_or_default(), field("VmRSS:").unwrap_or_default()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(2000);
    let concurrency: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(16);
    let rounds: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(5);

    let fake = FakeGitLab::start().await?;
    let settings = settings(&fake)?;
    // The log lines `serve` writes for every delivery are part of its cost: the same subscriber,
    // format and filter as the binary (stderr; redirect it to a file).
    let _logs = copilot_runner::telemetry::init(settings.log.format, &settings.log.filter, None)?;
    let (config, gitlab) = configure(&settings).await?;
    let service = Service::new(config.clone(), gitlab);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let webhook = format!("http://{}/webhook", listener.local_addr()?);
    tokio::spawn(server::serve(listener, service, std::future::pending()));
    let bare = bare_server().await?;

    let ignored_body = note_payload(&fake, 1, "Looks good to me, thanks!")?;
    let accepted_count = requests.min(500);
    let sequential_count = 200;
    let alice = Client::new(&fake.api_url(), &SecretString::from(fake.token("alice")))?;
    let project = fake.project_id("acme/widgets");
    let mut notes = Vec::new();
    for _ in 0..accepted_count + sequential_count + 50 {
        notes.push(alice.create_note(project, Noteable::Issue(1), "@copilot-agent go").await?.id);
    }
    let (floor_notes, rest) = notes.split_at(50);
    let (sequential_notes, accepted_notes) = rest.split_at(sequential_count);
    let bodies_of = |notes: &[u64]| -> anyhow::Result<Vec<Vec<u8>>> {
        notes.iter().map(|id| note_payload(&fake, *id, "@copilot-agent go")).collect()
    };
    let (accepted_bodies, sequential_bodies) = (bodies_of(accepted_notes)?, bodies_of(sequential_notes)?);

    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let cheap = [
        Scenario {
            name: "bare axum POST (baseline)",
            url: bare,
            token: SECRET,
            bodies: vec![ignored_body.clone(); requests],
            expect: 200,
        },
        Scenario {
            name: "rejected (bad token)",
            url: webhook.clone(),
            token: "wrong",
            bodies: vec![ignored_body.clone(); requests],
            expect: 401,
        },
        Scenario {
            name: "ignored (no mention)",
            url: webhook.clone(),
            token: SECRET,
            bodies: vec![ignored_body; requests],
            expect: 200,
        },
    ];
    println!("machine: {}", machine());
    println!("load average before: {}", load_average());
    println!(
        "requests per scenario and round: {requests} at concurrency {concurrency}, then {requests} one at a time; \
         {rounds} rounds, interleaved\n"
    );
    // Warm-up: connections, allocator, caches.
    for scenario in &cheap {
        run(&http, scenario, concurrency).await?;
    }
    let mut concurrent: Vec<Vec<Measured>> = cheap.iter().map(|_| Vec::new()).collect();
    let mut sequential_cheap: Vec<Vec<Measured>> = cheap.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for offset in 0..cheap.len() {
            let index = (round + offset) % cheap.len();
            concurrent[index].push(run(&http, &cheap[index], concurrency).await?);
            sequential_cheap[index].push(run(&http, &cheap[index], 1).await?);
        }
    }
    println!("load average after: {}\n", load_average());
    print_medians(&format!("concurrency {concurrency}"), &cheap, &concurrent);
    print_medians("one at a time", &cheap, &sequential_cheap);
    pieces(&cheap[2].bodies[0], &config.agent);

    let accepted = Scenario {
        name: "accepted (member + 👀 + trigger)",
        url: webhook.clone(),
        token: SECRET,
        bodies: accepted_bodies,
        expect: 200,
    };
    let measured = run(&http, &accepted, concurrency).await?;
    println!("| scenario | events/s | p50 | p99 |");
    println!("|---|---|---|---|");
    println!(
        "| {} ({accepted_count}, concurrency {concurrency}) | {:.0} | {:.2} ms | {:.2} ms |",
        accepted.name,
        measured.per_second,
        millis(measured.p50),
        millis(measured.p99)
    );
    let sequential = Scenario {
        name: "accepted, one at a time",
        url: webhook,
        token: SECRET,
        bodies: sequential_bodies,
        expect: 200,
    };
    let one_at_a_time = run(&http, &sequential, 1).await?;
    println!(
        "| {} ({sequential_count}, concurrency 1) | {:.0} | {:.2} ms | {:.2} ms |",
        sequential.name,
        one_at_a_time.per_second,
        millis(one_at_a_time.p50),
        millis(one_at_a_time.p99)
    );
    let floor = gitlab_floor(&fake, floor_notes).await?;
    println!("\nthe same three GitLab calls made directly, sequentially: p50 {:.2} ms", floor.as_secs_f64() * 1e3);
    println!("serve idle, peak / current RSS: {}", idle_peak_rss(&fake).await?);
    Ok(())
}
