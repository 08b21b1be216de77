//! A review killed with SIGKILL at a random moment (its whole process tree, as a cancelled CI
//! job's pod goes) and run again: every finding is posted exactly once and there is one summary,
//! also when findings go out as draft notes (drafts the killed job left are published, not made
//! again, and none is left behind).

use std::time::Instant;

use copilot_runner_testkit::mock_model::MockModel;
use copilot_runner_testkit::soak;
use serde_json::json;

use super::{NEW_LIB_RS, Rig, finding, run_ok};

/// A new file: every line is added, so a finding on any of them is about the change.
const OPS_RS: &str = "pub fn one() -> u32 {\n    1\n}\n\npub fn two() -> u32 {\n    2\n}\n";

#[tokio::test]
async fn a_review_killed_at_random_posts_no_finding_twice_when_run_again() {
    killed_and_run_again(false, &[3, 11, 29]).await;
}

#[tokio::test]
async fn a_draft_review_killed_at_random_publishes_no_finding_twice_when_run_again() {
    killed_and_run_again(true, &[5, 17, 23]).await;
}

/// Reviews a merge request whole, then others killed at moments `seeds` pick and run again.
async fn killed_and_run_again(as_draft: bool, seeds: &[u64]) {
    let rig = Rig::new().await;
    let findings = json!([
        finding("src/ops.rs", 2, "The one is a magic number"),
        finding("src/lib.rs", 8, "The temporary is needless"),
        finding("src/ops.rs", 6, "The two is a magic number"),
    ])
    .to_string();
    let model = MockModel::start(rig.script(&findings)).await.unwrap();
    let files = [("src/lib.rs", Some(NEW_LIB_RS)), ("src/ops.rs", Some(OPS_RS))];

    // A whole review first: what every run must end with, and how long one takes.
    let (rig_ref, model_ref) = (&rig, &model);
    let job = move |mr_iid: u64| async move {
        let mut job = rig_ref.job(model_ref, mr_iid).await;
        job.set("COPILOT_REVIEW_AS_DRAFT", as_draft.to_string());
        job
    };
    let whole = rig.open_mr("feature/whole", &files).await;
    let started = Instant::now();
    run_ok(&job(whole).await).await;
    let duration = started.elapsed();
    assert_eq!(rig.inline(whole).len(), 3);
    assert_eq!(rig.summaries(whole).len(), 1);

    let mut killed = 0;
    for &seed in seeds {
        let mr_iid = rig.open_mr(&format!("feature/killed-{seed}"), &files).await;
        let job = job(mr_iid).await;
        // Kills land in the run's second half, where the findings are posted.
        let at = duration.mul_f64(0.5 + 0.5 * soak::unit(seed));
        let first = soak::run_killed(&job, at).await.unwrap();
        killed += usize::from(first.is_none());
        run_ok(&job).await;

        let inline = rig.inline(mr_iid);
        let mut lines: Vec<String> = inline
            .iter()
            .map(|note| format!("{:?}", note.position.as_ref().map(|position| position["new_line"].clone())))
            .collect();
        lines.sort();
        let count = lines.len();
        lines.dedup();
        assert_eq!(
            (count, lines.len()),
            (3, 3),
            "seed {seed} (killed after {at:?}, first exit {first:?}): {inline:#?}"
        );
        let summaries = rig.summaries(mr_iid);
        assert_eq!(summaries.len(), 1, "seed {seed} (killed after {at:?}): {summaries:#?}");
        let drafts = rig.gitlab.draft_notes(super::PROJECT, mr_iid);
        assert!(drafts.is_empty(), "seed {seed} (killed after {at:?}): drafts left {drafts:#?}");
    }
    assert!(killed > 0, "every job ended before its kill: the test killed nothing");
}
