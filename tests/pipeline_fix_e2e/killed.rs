//! A pipeline-fix job killed with SIGKILL at a random moment (its whole process tree, as a
//! cancelled CI job's pod goes), then triggered again as the webhook would: the loop converges
//! to a green pipeline with one status note and one end note, and the killed job's lease blocks
//! the next job no longer than its bound (two agent calls and a margin).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::fake_gitlab::Outcome;
use copilot_runner_testkit::soak;

use super::rig::{PROJECT, Rig, test_fails_in};

/// The stage timeout of these jobs, which bounds the lease: 2 × 10 s + 30 s.
const STAGE_TIMEOUT_SECS: u64 = 10;
const LEASE_BOUND: Duration = Duration::from_secs(2 * STAGE_TIMEOUT_SECS + 30);
/// Kills land within this much of the job's start (a whole two-attempt loop takes about this).
const KILL_WINDOW: Duration = Duration::from_secs(12);

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// The lease the status note holds, in unix seconds (0: none).
fn lease(rig: &Rig) -> u64 {
    let marker = format!("copilot-runner:pipeline-fix-state mr-{}", rig.mr_iid);
    rig.agent_notes()
        .iter()
        .filter(|body| body.contains(&marker))
        .find_map(|body| body.split("lease=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_pipeline_fix_killed_at_random_converges_when_triggered_again() {
    for seed in [5_u64, 17] {
        // Two different failures, then green: two fix attempts when nothing goes wrong.
        let runs = vec![test_fails_in("greet_a", 9), test_fails_in("greet_b", 9), Outcome::Succeed];
        let rig = Rig::new(Outcome::Each(runs)).await;
        let mut job = rig.job.clone();
        job.set("COPILOT_STAGE_TIMEOUT", STAGE_TIMEOUT_SECS.to_string());
        let at = KILL_WINDOW.mul_f64(soak::unit(seed));
        let first = soak::run_killed(&job, at).await.unwrap();
        // Every renewal came before the kill.
        let killed_at = unix_now();

        // The webhook triggers a job for the newest failed pipeline of the branch until one passes.
        let started = Instant::now();
        let mut jobs = 0;
        let mut logs = Vec::new();
        loop {
            let (newest, status, _) = rig.branch_pipelines().pop().unwrap();
            if status == "success" {
                break;
            }
            assert!(
                jobs < 8,
                "seed {seed} (killed after {at:?}): no convergence after {jobs} jobs:\n{}",
                logs.join("\n")
            );
            let held = lease(&rig);
            if held > unix_now() {
                // The killed job's lease: bounded, and waited out as the next trigger would be.
                assert!(held <= killed_at + LEASE_BOUND.as_secs() + 1, "seed {seed}: lease {held} past its bound");
                tokio::time::sleep(Duration::from_secs(held - unix_now() + 1)).await;
            }
            job.set("TARGET_PIPELINE_ID", newest.to_string());
            let out = tokio::time::timeout(Duration::from_secs(300), job.run()).await.unwrap();
            logs.push(format!("job {jobs} for pipeline {newest}: {:?}\n{}", out.status.code(), text(&out.stderr)));
            assert!(matches!(out.status.code(), Some(0 | 1)), "seed {seed}: {}", text(&out.stderr));
            jobs += 1;
        }
        assert!(started.elapsed() < Duration::from_secs(240), "seed {seed}: convergence took {:?}", started.elapsed());

        // One status note, one end note, and it says fixed; one merge request.
        let status = rig.status_note();
        assert!(status.contains("✅ Pipeline fixed") && status.contains("lease=0"), "seed {seed}: {status}");
        let ends = rig.end_notes();
        assert_eq!(ends.len(), 1, "seed {seed} (killed after {at:?}, first exit {first:?}): {ends:#?}");
        assert!(ends[0].contains("✅ Pipeline fixed"), "{}", ends[0]);
        assert_eq!(rig.gitlab.merge_requests(PROJECT).len(), 1);
        let mut bodies = rig.agent_notes();
        let count = bodies.len();
        bodies.sort();
        bodies.dedup();
        assert_eq!(bodies.len(), count, "seed {seed}: a note was posted twice");
    }
}
