//! The job's own overhead, run by hand (see BENCHMARKS.md, "Job overhead"): the time from the
//! start of `copilot-runner run` to its first agent call on a 10,000-file repository, with the
//! clone measured apart, and the pieces in between read from the job log's timestamps. The
//! baseline, measured in the same run, is `copilot-runner config`: a process start and the
//! settings, the floor of any invocation.
//!
//! `cargo run --release --example job_overhead_bench -- target/release/copilot-runner [FILES] [ROUNDS] [--log]`
//! (defaults: 10,000 files, 5 rounds; medians reported; `--log` prints each job's log). The agent is the `command` backend
//! running `sh`, which appends the time it started to a file in its scratch folder, so the time
//! measured ends where the agent's own work would begin.
#![expect(clippy::print_stdout, reason = "a benchmark prints its report")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::ci_job::CiJob;
use copilot_runner_testkit::mock_model::{MockModel, Reply, Script};

const PROJECT: &str = "acme/widgets";

/// The log lines that end each piece, in the order the job writes them.
const MARKS: [(&str, &str); 5] = [
    ("trigger received", "start to the trigger read (settings, logging)"),
    ("protected setting", "the guard: the job's own pipeline variables"),
    ("cloning", "the issue, the agent user, the project"),
    ("cloned", "the clone (excluded from the total)"),
    ("project understanding", "the static analysis and the cache lookup"),
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let show_log = all.iter().any(|arg| arg == "--log");
    let mut args = all.into_iter().filter(|arg| arg != "--log");
    let program = PathBuf::from(args.next().context("usage: job_overhead_bench BINARY [FILES] [ROUNDS]")?);
    let files: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(10_000);
    let rounds: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(5);

    let gitlab = FakeGitLab::start().await?;
    let tree: Vec<(String, String)> = (0..files)
        .map(|i| (format!("src/module{:03}/file{i:05}.rs", i % 500), format!("pub fn f{i}() -> usize {{ {i} }}\n")))
        .collect();
    let changes: Vec<(&str, Option<&str>)> =
        tree.iter().map(|(path, text)| (path.as_str(), Some(text.as_str()))).collect();
    gitlab.push_files(PROJECT, "main", &changes, "A large tree", "alice").await?;
    let model = MockModel::start(Script::new().fallback(Reply::text("unused"))).await?;

    let mut totals = Vec::new();
    let mut clones = Vec::new();
    let mut pieces: Vec<Vec<Duration>> = vec![Vec::new(); MARKS.len() + 1];
    let mut floors = Vec::new();
    for round in 0..rounds {
        let dir = tempfile::tempdir()?;
        let (started, log, first_call) = one_job(&program, &gitlab, &model, dir.path(), round).await?;
        let marks = marks(&log)?;
        let clone = marks[3].duration_since(marks[2])?;
        let total = first_call.duration_since(started)?;
        println!(
            "round {}: first agent call after {} ms, of which the clone {} ms",
            round + 1,
            total.as_millis(),
            clone.as_millis()
        );
        if show_log {
            println!("{log}");
        }
        totals.push(total.saturating_sub(clone));
        clones.push(clone);
        let mut previous = started;
        for (index, mark) in marks.iter().enumerate() {
            pieces[index].push(mark.duration_since(previous).unwrap_or_default());
            previous = *mark;
        }
        pieces[MARKS.len()].push(first_call.duration_since(previous).unwrap_or_default());
        floors.push(config_time(&program)?);
    }

    println!("\n{files} files, {rounds} rounds, medians:\n");
    println!("| piece | ms |\n|---|---|");
    for (index, (_, what)) in MARKS.iter().enumerate() {
        println!("| {what} | {:.1} |", millis(median(&pieces[index])));
    }
    println!(
        "| the plan, the stage's prompt, the sandbox and the agent's start | {:.1} |",
        millis(median(&pieces[MARKS.len()]))
    );
    println!("| **start to the first agent call, without the clone** | **{:.1}** |", millis(median(&totals)));
    println!("| the clone, apart | {:.1} |", millis(median(&clones)));
    println!("| baseline: `copilot-runner config` (process start and settings) | {:.1} |", millis(median(&floors)));
    Ok(())
}

/// One assignment job in `dir`: when it started, its log, and when its first agent call began.
async fn one_job(
    program: &Path,
    gitlab: &FakeGitLab,
    model: &MockModel,
    dir: &Path,
    round: usize,
) -> anyhow::Result<(SystemTime, String, SystemTime)> {
    let mut job = CiJob::new(program, dir, &std::env::temp_dir(), gitlab, model).await;
    job.set("COPILOT_AGENT", "command")
        .set("COPILOT_AGENT_COMMAND", "sh -c \"date +%s%N >> {scratch_dir}/started\"")
        .set("COPILOT_STAGE_TIMEOUT", "30");
    job.assign_new_issue(gitlab, PROJECT, "alice", &format!("Add a greeting file ({round})"));
    let started = SystemTime::now();
    let out = job.run().await;
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let stamp = job.work_dir().join("stages/1-analysis/scratch/started");
    let text = std::fs::read_to_string(&stamp).with_context(|| format!("no agent call was made:\n{log}"))?;
    let nanos: u64 = text.lines().next().context("an empty stamp")?.trim().parse()?;
    Ok((started, log, UNIX_EPOCH + Duration::from_nanos(nanos)))
}

/// The time of the first log line holding each mark, in order.
fn marks(log: &str) -> anyhow::Result<Vec<SystemTime>> {
    MARKS
        .iter()
        .map(|(mark, _)| {
            let line =
                log.lines().find(|line| line.contains(mark)).with_context(|| format!("no `{mark}` in the log"))?;
            // `2026-12-06T21:35:48.839997Z`: the date from the clock, the time of day from the line.
            let stamp = line.split_whitespace().next().context("a timestamp")?;
            let clock = stamp.split_once('T').context("an RFC 3339 timestamp")?.1.trim_end_matches('Z');
            let mut parts = clock.split(':');
            let mut field = || -> anyhow::Result<f64> { Ok(parts.next().context("a time field")?.parse()?) };
            let of_day = field()? * 3600.0 + field()? * 60.0 + field()?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64();
            let midnight = now - now % 86_400.0;
            Ok(UNIX_EPOCH + Duration::from_secs_f64(midnight + of_day))
        })
        .collect()
}

/// How long `copilot-runner config` takes from start to exit.
fn config_time(program: &Path) -> anyhow::Result<Duration> {
    let started = Instant::now();
    #[expect(clippy::disallowed_methods, reason = "the baseline is the built binary as a process")]
    let status = std::process::Command::new(program).arg("config").env_clear().output()?.status;
    anyhow::ensure!(status.success(), "`copilot-runner config` failed");
    Ok(started.elapsed())
}

fn median(values: &[Duration]) -> Duration {
    let mut values = values.to_vec();
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
