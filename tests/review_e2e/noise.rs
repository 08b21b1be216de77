//! Less noise: `COPILOT_REVIEW_MIN_SEVERITY` and `COPILOT_REVIEW_MAX_INLINE_COMMENTS` hold, the
//! inline slots go to the most severe findings, a finding on a line the merge request did not
//! change is never a thread, and an `info` finding becomes one only when the threshold is `info`.
//! Every finding kept out of the diff is listed once in the summary, by severity and file.

use serde_json::{Value, json};

use super::{NEW_LIB_RS, Rig, run_ok};
use copilot_runner_testkit::mock_model::MockModel;

/// A new file: every line of it is added by the merge request.
const OPS_RS: &str = "pub fn one() -> u32 {\n    1\n}\n\npub fn two() -> u32 {\n    2\n}\n";

fn finding(file: &str, line: u32, severity: &str, title: &str) -> Value {
    json!({"file": file, "line": line, "side": "new", "severity": severity, "category": "correctness",
           "title": title, "body": "Explained."})
}

/// The titles of the agent's inline discussions.
fn inline_titles(rig: &Rig, mr_iid: u64) -> Vec<String> {
    let mut titles: Vec<String> = rig
        .inline(mr_iid)
        .into_iter()
        .filter_map(|note| note.body.lines().next()?.rsplit(" · ").next().map(str::to_owned))
        .collect();
    titles.sort();
    titles
}

/// The part of `summary` under the heading `heading`, up to the next heading of its level.
fn section<'a>(summary: &'a str, heading: &str) -> &'a str {
    let start = summary.find(heading).unwrap_or_else(|| panic!("no `{heading}` in:\n{summary}"));
    let rest = &summary[start + heading.len()..];
    &rest[..rest.find("\n#### ").unwrap_or(rest.len())]
}

#[tokio::test]
async fn the_threshold_and_the_limit_keep_minor_pre_existing_and_surplus_findings_out_of_the_diff() {
    let rig = Rig::new().await;
    let mr_iid = rig.open_mr("feature/noisy", &[("src/lib.rs", Some(NEW_LIB_RS)), ("src/ops.rs", Some(OPS_RS))]).await;
    let findings = json!([
        finding("src/ops.rs", 2, "minor", "Minor on an added line"),
        finding("src/ops.rs", 6, "major", "First major"),
        finding("src/lib.rs", 4, "critical", "Critical on an unchanged line"),
        finding("src/ops.rs", 1, "info", "Info on an added line"),
        finding("src/lib.rs", 8, "critical", "Critical on an added line"),
        finding("src/ops.rs", 5, "major", "Second major"),
        finding("src/lib.rs", 13, "minor", "Minor on an unchanged line"),
    ])
    .to_string();
    let model = MockModel::start(rig.script(&findings)).await.unwrap();
    let mut job = rig.job(&model, mr_iid).await;
    job.set("COPILOT_REVIEW_MIN_SEVERITY", "major");
    job.set("COPILOT_REVIEW_MAX_INLINE_COMMENTS", "2");
    run_ok(&job).await;

    // Two slots: the critical finding first, then the first major one in the agent's order.
    assert_eq!(inline_titles(&rig, mr_iid), ["**Critical on an added line**", "**First major**"]);
    let posted = rig.gitlab.requests_to("POST /projects/*/merge_requests/*/discussions");
    assert!(posted.iter().all(|request| !request.body.contains("unchanged line")), "{posted:#?}");

    let summary = rig.summaries(mr_iid).pop().unwrap();
    assert!(summary.contains("Findings posted as discussions on the diff: 2."), "{summary}");
    let held = section(&summary, "#### Not posted inline");
    assert!(held.contains("beyond the limit of 2 inline discussions"), "{held}");
    // By severity (major before minor before info), then by file.
    let order: Vec<usize> = ["**🟠 Major**", "Second major", "**🟡 Minor**", "Minor on an added line", "**🔵 Info**"]
        .iter()
        .map(|text| held.find(text).unwrap_or_else(|| panic!("no `{text}` in:\n{held}")))
        .collect();
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{order:?}\n{held}");
    assert!(held.contains("- `src/ops.rs`\n  - line 5: **Second major**"), "{held}");
    let pre_existing = section(&summary, "#### Pre-existing");
    assert!(pre_existing.contains("**🔴 Critical**\n\n- `src/lib.rs`\n  - line 4: **Critical on an unchanged line**"));
    assert!(pre_existing.contains("line 13: **Minor on an unchanged line**"), "{pre_existing}");
    // Every finding is shown exactly once: inline or in the summary.
    for title in ["Second major", "Minor on an added line", "Info on an added line", "Critical on an unchanged line"] {
        assert_eq!(summary.matches(title).count(), 1, "{title}:\n{summary}");
    }
    assert!(!summary.contains("First major") && !summary.contains("Critical on an added line"), "{summary}");
    // The Code Quality report still lists every finding.
    assert_eq!(super::valid_quality_report(&rig.artifacts()).as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn an_info_finding_becomes_a_thread_only_when_the_threshold_is_info() {
    let rig = Rig::new().await;
    let files = [("src/lib.rs", Some(NEW_LIB_RS))];
    let findings = json!([
        finding("src/lib.rs", 8, "info", "Name the difference"),
        finding("src/lib.rs", 9, "minor", "Return the expression"),
    ])
    .to_string();
    let model = MockModel::start(rig.script(&findings)).await.unwrap();

    let default = rig.open_mr("feature/default", &files).await;
    run_ok(&rig.job(&model, default).await).await;
    assert_eq!(inline_titles(&rig, default), ["**Return the expression**"]);
    let summary = rig.summaries(default).pop().unwrap();
    let held = section(&summary, "#### Not posted inline");
    assert!(held.contains("less severe than 🟡 Minor") && held.contains("line 8: **Name the difference**"), "{held}");
    assert!(!held.contains("beyond the limit"), "no limit is set:\n{held}");

    let asked = rig.open_mr("feature/asked", &files).await;
    let mut job = rig.job(&model, asked).await;
    job.set("COPILOT_REVIEW_MIN_SEVERITY", "info");
    run_ok(&job).await;
    assert_eq!(inline_titles(&rig, asked), ["**Name the difference**", "**Return the expression**"]);
    assert!(!rig.summaries(asked).pop().unwrap().contains("#### Not posted inline"));
}
