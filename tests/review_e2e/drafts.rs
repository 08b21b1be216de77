//! `COPILOT_REVIEW_AS_DRAFT`: findings are made draft notes and published in one bulk publish
//! (one notification), each becoming the discussion a direct post would have started; drafts a
//! failed publish or a job killed while publishing left are published by the next run, not made
//! again, and a publish whose answer was lost is not doubled.

use std::time::Duration;

use copilot_runner_testkit::ci_job::{CiJob, text};
use copilot_runner_testkit::fake_gitlab::Fault;
use copilot_runner_testkit::mock_model::MockModel;
use copilot_runner_testkit::soak;
use serde_json::json;

use super::{NEW_LIB_RS, PROJECT, Rig, finding, run_ok};

/// A new file: every line of it is added by the merge request.
const OPS_RS: &str = "pub fn one() -> u32 {\n    1\n}\n\npub fn two() -> u32 {\n    2\n}\n";

const CREATE: &str = "POST /projects/*/merge_requests/*/draft_notes";
const PUBLISH: &str = "POST /projects/*/merge_requests/*/draft_notes/bulk_publish";
const DIRECT: &str = "POST /projects/*/merge_requests/*/discussions";

/// Three findings on changed lines and one on an unchanged line (pre-existing, not inline).
fn findings() -> String {
    json!([
        finding("src/ops.rs", 2, "The one is a magic number"),
        finding("src/lib.rs", 8, "The temporary is needless"),
        finding("src/ops.rs", 6, "The two is a magic number"),
        finding("src/lib.rs", 13, "The product can overflow"),
    ])
    .to_string()
}

const INLINE_TITLES: [&str; 3] =
    ["The one is a magic number", "The temporary is needless", "The two is a magic number"];

/// A review job of `mr_iid` that posts its findings as draft notes.
async fn draft_job(rig: &Rig, model: &MockModel, mr_iid: u64) -> CiJob {
    let mut job = rig.job(model, mr_iid).await;
    job.set("COPILOT_REVIEW_AS_DRAFT", "true");
    job
}

/// Every inline finding is on the merge request exactly once, as a diff discussion by the
/// agent, and no draft is left.
fn assert_published_once(rig: &Rig, mr_iid: u64) {
    let inline = rig.inline(mr_iid);
    let bodies: Vec<&str> = inline.iter().map(|note| note.body.as_str()).collect();
    assert_eq!(inline.len(), 3, "{bodies:#?}");
    for title in INLINE_TITLES {
        assert_eq!(bodies.iter().filter(|body| body.contains(title)).count(), 1, "{title}: {bodies:#?}");
    }
    let agent = rig.gitlab.user_id(copilot_runner_testkit::fake_gitlab::AGENT);
    assert!(inline.iter().all(|note| note.author_id == agent && note.note_type.as_deref() == Some("DiffNote")));
    assert!(rig.gitlab.draft_notes(PROJECT, mr_iid).is_empty(), "{:#?}", rig.gitlab.draft_notes(PROJECT, mr_iid));
    let summary = rig.summaries(mr_iid).pop().unwrap();
    assert!(summary.contains("Findings posted as discussions on the diff: 3."), "{summary}");
    assert!(summary.contains("#### Pre-existing") && summary.contains("The product can overflow"), "{summary}");
}

#[tokio::test]
async fn draft_mode_posts_every_finding_as_a_draft_and_publishes_them_in_one_bulk_publish() {
    let rig = Rig::new().await;
    let mr_iid = rig.open_mr("feature/drafts", &[("src/lib.rs", Some(NEW_LIB_RS)), ("src/ops.rs", Some(OPS_RS))]).await;
    let model = MockModel::start(rig.script(&findings())).await.unwrap();
    let job = draft_job(&rig, &model, mr_iid).await;
    run_ok(&job).await;

    assert_eq!(rig.gitlab.requests_to(CREATE).len(), 3);
    assert_eq!(rig.gitlab.requests_to(PUBLISH).len(), 1, "one bulk publish, one notification");
    assert!(rig.gitlab.requests_to(DIRECT).is_empty(), "no discussion was posted directly");
    assert_published_once(&rig, mr_iid);
    // The published positions are the ones a direct post takes: new side only on added lines.
    let temporary = rig.inline(mr_iid).into_iter().find(|note| note.body.contains("The temporary")).unwrap();
    let position = temporary.position.unwrap();
    assert_eq!((&position["old_line"], &position["new_line"]), (&json!(null), &json!(8)));
    assert_eq!(position["head_sha"], json!(rig.head(mr_iid)));
}

#[tokio::test]
async fn drafts_a_failed_publish_left_are_published_by_the_next_run_and_never_doubled() {
    let rig = Rig::new().await;
    let files = [("src/lib.rs", Some(NEW_LIB_RS)), ("src/ops.rs", Some(OPS_RS))];
    let model = MockModel::start(rig.script(&findings())).await.unwrap();

    // The publish is refused: the job fails with its drafts pending, nothing published.
    let refused = rig.open_mr("feature/refused", &files).await;
    let job = draft_job(&rig, &model, refused).await;
    rig.gitlab.inject(Fault::on("POST", "/projects/*/merge_requests/*/draft_notes/bulk_publish").status(403));
    let out = job.run().await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(rig.gitlab.draft_notes(PROJECT, refused).len(), 3);
    assert!(rig.inline(refused).is_empty());
    rig.gitlab.clear_faults();

    // The next run finds its own drafts, makes none again, and publishes them once.
    let created_before = rig.gitlab.requests_to(CREATE).len();
    run_ok(&job).await;
    assert_eq!(rig.gitlab.requests_to(CREATE).len(), created_before, "the pending drafts were reused");
    assert_published_once(&rig, refused);

    // A publish that went through but whose answer was lost is sent again: nothing doubles.
    let lost = rig.open_mr("feature/lost", &files).await;
    let job = draft_job(&rig, &model, lost).await;
    let fault = rig
        .gitlab
        .inject(Fault::on("POST", "/projects/*/merge_requests/*/draft_notes/bulk_publish").apply_then_reset().times(1));
    run_ok(&job).await;
    assert_eq!(rig.gitlab.fault_hits(fault), 1, "the fault fired");
    assert_published_once(&rig, lost);
}

#[tokio::test]
async fn drafts_a_job_killed_while_publishing_left_are_published_once_by_the_next_run() {
    let rig = Rig::new().await;
    let mr_iid = rig.open_mr("feature/killed", &[("src/lib.rs", Some(NEW_LIB_RS)), ("src/ops.rs", Some(OPS_RS))]).await;
    let model = MockModel::start(rig.script(&findings())).await.unwrap();
    let job = draft_job(&rig, &model, mr_iid).await;

    // GitLab holds the publish; the job is killed while it waits, its drafts made.
    rig.gitlab.inject(Fault::on("POST", "/projects/*/merge_requests/*/draft_notes/bulk_publish").hang());
    let first = soak::run_killed_when(&job, Duration::from_secs(120), || !rig.gitlab.requests_to(PUBLISH).is_empty())
        .await
        .unwrap();
    assert_eq!(first, None, "the job was killed while publishing");
    assert_eq!(rig.gitlab.draft_notes(PROJECT, mr_iid).len(), 3);
    assert!(rig.inline(mr_iid).is_empty());
    rig.gitlab.clear_faults();

    let created_before = rig.gitlab.requests_to(CREATE).len();
    let stderr = run_ok(&job).await;
    assert!(stderr.contains("draft notes left by an earlier job"), "{stderr}");
    assert_eq!(rig.gitlab.requests_to(CREATE).len(), created_before, "the pending drafts were reused");
    assert_published_once(&rig, mr_iid);
}
