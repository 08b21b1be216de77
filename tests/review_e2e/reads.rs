//! A review job reads the merge request's notes once and its versions once, however many pages
//! the notes take and whichever path the review goes: who asked, the status note and the head an
//! earlier review covered all come from that one read.

use serde_json::json;

use super::{NEW_LIB_RS, PROJECT, Rig, finding, run_ok};
use copilot_runner_testkit::mock_model::MockModel;

const NOTES: &str = "GET /projects/*/merge_requests/*/notes";
const VERSIONS: &str = "GET /projects/*/merge_requests/*/versions";

/// Reads of a list since the log was cleared: a request for a later page continues a read.
fn reads(rig: &Rig, route: &str) -> usize {
    rig.gitlab.requests_to(route).iter().filter(|request| page(request.query.as_deref()) <= 1).count()
}

/// Requests of a later page than the first.
fn later_pages(rig: &Rig, route: &str) -> usize {
    rig.gitlab.requests_to(route).iter().filter(|request| page(request.query.as_deref()) > 1).count()
}

/// The `page` a list request asks for (1 when it names none).
fn page(query: Option<&str>) -> u32 {
    query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("page="))
        .and_then(|value| value.parse().ok())
        .unwrap_or(1)
}

#[tokio::test]
async fn a_review_job_reads_the_notes_once_and_the_versions_once() {
    let rig = Rig::new().await;
    let mr_iid = rig.open_mr("feature/reads", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    // More notes than one page holds: the read follows every page.
    for n in 0..105 {
        rig.gitlab.add_mr_note(PROJECT, mr_iid, "dave", &format!("Remark {n}."));
    }
    let findings = json!([finding("src/lib.rs", 8, "The temporary is needless")]).to_string();
    let model = MockModel::start(rig.script(&findings)).await.unwrap();
    let job = rig.job(&model, mr_iid).await;

    rig.gitlab.clear_requests();
    run_ok(&job).await;
    assert_eq!(rig.summaries(mr_iid).len(), 1, "the review ran to its summary");
    assert_eq!(rig.inline(mr_iid).len(), 1);
    assert!(later_pages(&rig, NOTES) >= 1, "the notes took more than one page");
    assert_eq!(reads(&rig, NOTES), 1, "notes read once by the first review");
    assert_eq!(reads(&rig, VERSIONS), 1, "versions read once by the first review");

    // Asked again without a new commit: the short note, from the same single reads.
    rig.gitlab.clear_requests();
    run_ok(&job).await;
    assert_eq!(rig.summaries(mr_iid).len(), 1);
    assert_eq!((reads(&rig, NOTES), reads(&rig, VERSIONS)), (1, 1), "when the head was already reviewed");

    // A new commit: the incremental review finds the earlier head in the same single read.
    rig.gitlab
        .push_files(PROJECT, "feature/reads", &[("src/greet.rs", Some("pub fn greet() {}\n"))], "Greet", "alice")
        .await
        .unwrap();
    rig.gitlab.clear_requests();
    run_ok(&job).await;
    let summaries = rig.summaries(mr_iid);
    assert_eq!(summaries.len(), 2, "{summaries:#?}");
    assert!(summaries[1].contains("Reviewed the changes from"), "an incremental review:\n{}", summaries[1]);
    assert_eq!((reads(&rig, NOTES), reads(&rig, VERSIONS)), (1, 1), "when an earlier review covered a head");
}
