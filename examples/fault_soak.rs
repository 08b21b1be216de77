//! The fault soak and kill -9 convergence in their long forms, run by hand (see BENCHMARKS.md,
//! "Under faults"): `RUNS` issue runs against a fake GitLab failing a fifth of its API and git
//! calls, then `KILLS` issue runs each killed with SIGKILL at a seeded moment and run again. Every
//! run must end with one branch, one merge request, one status note and one final note, nothing
//! posted twice and the person's commit in place; the first broken run stops the soak.
//!
//! `cargo run --example fault_soak -- target/debug/copilot-runner [RUNS] [KILLS] [SEED]`
//! (defaults: 100 runs, 50 kills, seed 2026). The Copilot CLI and the mock model are the suite's.
#![expect(clippy::print_stdout, reason = "a soak prints its report")]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use copilot_runner_testkit::soak::{self, RunReport, SoakOptions};

/// Kills land within this much of a job's start: a whole issue run takes about this long.
const KILL_WINDOW: Duration = Duration::from_secs(8);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let program = PathBuf::from(args.next().context("usage: fault_soak BINARY [RUNS] [KILLS] [SEED]")?);
    let runs: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(100);
    let kills: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(50);
    let seed: u64 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(2026);
    let tmp = std::env::temp_dir().join("copilot-runner-soak");
    std::fs::create_dir_all(&tmp)?;
    let options = SoakOptions { program, tmp, runs, seed, fault_share: 0.2 };

    let started = Instant::now();
    let faulted = soak::fault_soak(&options).await?;
    summarize("fault soak", &faulted, started.elapsed());
    let started = Instant::now();
    let killed = soak::kill_soak(&SoakOptions { runs: kills, ..options }, KILL_WINDOW).await?;
    summarize("kill -9", &killed, started.elapsed());
    Ok(())
}

fn summarize(name: &str, reports: &[RunReport], elapsed: Duration) {
    let failed_first = reports.iter().filter(|report| report.first_exit.is_some_and(|code| code != 0)).count();
    let killed = reports.iter().filter(|report| report.killed_after.is_some()).count();
    let faults: usize = reports.iter().map(|report| report.faults).sum();
    let mut times: Vec<Duration> = reports.iter().map(|report| report.elapsed).collect();
    times.sort_unstable();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    println!(
        "{name}: {} runs, all converged; {faults} faulted calls; {failed_first} first jobs failed (failure note, then a \
         clean re-run converged); {killed} jobs killed before their end; median run {median:.1?}; total {elapsed:.0?}",
        reports.len()
    );
    for report in reports {
        println!(
            "  issue #{}: first exit {:?}, faults {}, killed after {:?}, jobs {}, {:.1?}",
            report.issue_iid, report.first_exit, report.faults, report.killed_after, report.jobs, report.elapsed
        );
    }
}
