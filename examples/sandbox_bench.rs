//! Benchmark of what the agent sandbox adds to every stage start.
//!
//! Run by hand, in release mode, naming the built binary (it runs `sandbox-exec`):
//! `cargo build --release && cargo run --release --example sandbox_bench -- target/release/copilot-runner [ROUNDS]`
//! (default: 200 rounds). Each round starts `/bin/true` as an agent would be started, three ways,
//! interleaved so that noise on the shared machine hits them alike:
//! - baseline: `process::run` of the program itself (how agents started before the sandbox);
//! - supervised: through `sandbox-exec` with `COPILOT_SANDBOX=off` (the supervisor and its
//!   re-exec, the descendant sweep, no Landlock);
//! - sandboxed: through `sandbox-exec` with `COPILOT_SANDBOX=require` (the same plus the
//!   ruleset: a stage's real grants, ports and scopes).
//!
//! It prints the median and 90th percentile of each, and the cost over the baseline.
#![expect(clippy::print_stdout, reason = "a benchmark program reports on stdout")]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use copilot_runner::config::{Env, Flags, Settings};
use copilot_runner::process::{self, ProcessSpec};
use copilot_runner::sandbox::{Sandbox, StageArea};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let launcher = std::path::absolute(args.first().context("usage: sandbox_bench PATH-OF-copilot-runner [ROUNDS]")?)?;
    let rounds: usize = args.get(1).map(|a| a.parse()).transpose()?.unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(drive(launcher, rounds))
}

async fn drive(launcher: PathBuf, rounds: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let area = StageArea {
        repo_dir: dir.path().join("project-1"),
        scratch_dir: dir.path().join("stages/1-analysis/scratch"),
        private_dir: dir.path().join("stages/1-analysis/agent-1"),
    };
    for folder in [&area.repo_dir, &area.scratch_dir, &area.private_dir] {
        std::fs::create_dir_all(folder)?;
    }
    let agent_env = vec![
        ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("HOME".to_owned(), dir.path().join("home").display().to_string()),
        ("COPILOT_PROVIDER_BASE_URL".to_owned(), "http://127.0.0.1:4000/v1".to_owned()),
    ];
    let sandbox = |mode: &str| -> anyhow::Result<Sandbox> {
        let env = Env::from_pairs([("COPILOT_SANDBOX", mode)]);
        let settings = Settings::resolve(&env, &Flags::default())?;
        Ok(Sandbox::new(&settings.sandbox, &env, &agent_env).with_launcher(launcher.clone()))
    };
    let (supervised, confined) = (sandbox("off")?, sandbox("require")?);
    let spec =
        || ProcessSpec::new("/bin/true").envs(agent_env.clone()).cwd(&area.repo_dir).timeout(Duration::from_secs(30));
    // Warm-up: the probe, the page cache.
    confined.check().await?;
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..rounds {
        let started = Instant::now();
        anyhow::ensure!(process::run(spec()).await?.success(), "the baseline failed");
        times[0].push(started.elapsed());
        for (side, sandbox) in [(1, &supervised), (2, &confined)] {
            let started = Instant::now();
            let wrapped = sandbox.wrap(spec(), &area).await?;
            let output = process::run(wrapped).await?;
            anyhow::ensure!(output.success(), "a sandboxed start failed: {}", output.stderr.text());
            times[side].push(started.elapsed());
        }
    }
    println!("{rounds} rounds, starting /bin/true as a stage's agent");
    let baseline = percentile(&mut times[0], 50);
    for (name, samples) in
        ["baseline: process::run", "supervised (COPILOT_SANDBOX=off)", "sandboxed (require)"].iter().zip(&mut times)
    {
        let median = percentile(samples, 50);
        let p90 = percentile(samples, 90);
        println!(
            "{name:36} median {:7.2} ms  p90 {:7.2} ms  +{:6.2} ms over the baseline",
            ms(median),
            ms(p90),
            ms(median.saturating_sub(baseline))
        );
    }
    Ok(())
}

fn percentile(samples: &mut [Duration], pct: usize) -> Duration {
    samples.sort_unstable();
    samples[(samples.len() - 1) * pct / 100]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
