//! The fault soak and kill -9 convergence in their short forms (the long forms are
//! `examples/fault_soak.rs`, reported in `BENCHMARKS.md`): issue runs against a GitLab failing a
//! fifth of its calls, and issue runs killed at a random moment and run again. After each run:
//! one branch, one merge request, one status note and one final note, nothing posted twice, and
//! the person's commit in place.

use std::path::Path;
use std::time::Duration;

use copilot_runner_testkit::soak::{self, SoakOptions};

fn options(runs: usize, seed: u64) -> SoakOptions {
    SoakOptions {
        program: Path::new(env!("CARGO_BIN_EXE_copilot-runner")).to_owned(),
        tmp: Path::new(env!("CARGO_TARGET_TMPDIR")).to_owned(),
        runs,
        seed,
        fault_share: 0.2,
    }
}

#[tokio::test]
async fn issue_runs_against_a_failing_gitlab_end_whole_or_honest_and_converge() {
    let reports = soak::fault_soak(&options(6, 2026)).await.unwrap_or_else(|error| panic!("{error:#}"));
    // The faults really happened, and some runs went through them.
    let faults: usize = reports.iter().map(|report| report.faults).sum();
    assert!(faults >= 6, "{reports:#?}");
    assert!(reports.iter().any(|report| report.first_exit == Some(0) && report.faults > 0), "{reports:#?}");
}

#[tokio::test]
async fn issue_runs_killed_at_random_converge_when_run_again() {
    let reports =
        soak::kill_soak(&options(6, 99), Duration::from_secs(6)).await.unwrap_or_else(|error| panic!("{error:#}"));
    assert!(reports.iter().any(|report| report.killed_after.is_some()), "no job was killed: {reports:#?}");
}
