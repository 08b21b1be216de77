use crate::review::findings::PostedFinding;
use crate::review::post::plan_review;

use super::*;

/// New side: 1 context, 2 and 3 added, 4 and 5 context; old side: 2 and 21 removed, the rest
/// context.
const HUNKS: &str = "@@ -1,4 +1,5 @@\n use std::io;\n-fn old() {}\n+fn new() {}\n+fn more() {}\n \n fn a() {}\n@@ -20,3 +21,2 @@ fn b() {\n ctx20\n-gone21\n ctx22\n";

fn map() -> LineMap {
    LineMap::from_git_diff(&format!(
        "diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n{HUNKS}"
    ))
    .expect("diff parses")
}

fn refs() -> DiffRefs {
    DiffRefs { base_sha: "base".into(), head_sha: "head".into(), start_sha: "start".into() }
}

fn finding(side: Side, line: u32, severity: Severity, title: &str) -> Finding {
    Finding { side, severity, ..crate::review::findings::tests::finding(title, line) }
}

fn triaged(findings: Vec<Finding>, posted: &[PostedFinding], rules: NoiseRules) -> (Vec<String>, Triage) {
    let mut plan = plan_review(findings, &map(), &refs(), posted);
    let triage = hold_back(&mut plan, &map(), &refs(), rules);
    (plan.inline.iter().map(|comment| comment.finding.title.clone()).collect(), triage)
}

fn reasons(triage: &Triage) -> Vec<(&str, HeldBack)> {
    triage.held_back.iter().map(|held| (held.finding.title.as_str(), held.reason)).collect()
}

#[test]
fn a_finding_counts_as_pre_existing_only_when_none_of_its_lines_changed() {
    let map = map();
    assert!(!is_pre_existing(&finding(Side::New, 2, Severity::Major, "added"), &map));
    assert!(!is_pre_existing(&finding(Side::Old, 21, Severity::Major, "removed"), &map));
    assert!(is_pre_existing(&finding(Side::New, 1, Severity::Major, "context"), &map));
    assert!(is_pre_existing(&finding(Side::Old, 3, Severity::Major, "old context"), &map));
    assert!(is_pre_existing(&finding(Side::New, 22, Severity::Major, "context of the second hunk"), &map));
    let spanning = Finding { end_line: Some(2), ..finding(Side::New, 1, Severity::Major, "range") };
    assert!(!is_pre_existing(&spanning, &map), "a range touching an added line is about the change");
    let elsewhere = Finding { file: "src/other.rs".into(), ..finding(Side::New, 1, Severity::Major, "x") };
    assert!(!is_pre_existing(&elsewhere, &map), "a file the diff does not know is left to placement");
}

#[test]
fn pre_existing_and_below_threshold_findings_never_stay_inline() {
    let rules = NoiseRules { min_severity: Severity::Minor, max_inline: None };
    let (inline, triage) = triaged(
        vec![
            finding(Side::New, 2, Severity::Critical, "critical on an added line"),
            finding(Side::New, 1, Severity::Critical, "critical on an unchanged line"),
            finding(Side::New, 3, Severity::Info, "info on an added line"),
            finding(Side::Old, 21, Severity::Minor, "minor on a removed line"),
        ],
        &[],
        rules,
    );
    assert_eq!(inline, ["critical on an added line", "minor on a removed line"]);
    assert_eq!(
        reasons(&triage),
        [("critical on an unchanged line", HeldBack::PreExisting), ("info on an added line", HeldBack::BelowThreshold)]
    );
}

#[test]
fn info_findings_become_threads_when_the_threshold_is_info() {
    let rules = NoiseRules { min_severity: Severity::Info, max_inline: None };
    let (inline, triage) = triaged(vec![finding(Side::New, 3, Severity::Info, "info")], &[], rules);
    assert_eq!(inline, ["info"]);
    assert!(triage.held_back.is_empty());
}

#[test]
fn the_limit_keeps_the_most_severe_findings_inline() {
    let rules = NoiseRules { min_severity: Severity::Info, max_inline: Some(2) };
    let (inline, triage) = triaged(
        vec![
            finding(Side::New, 2, Severity::Minor, "minor"),
            finding(Side::New, 3, Severity::Major, "major"),
            finding(Side::Old, 2, Severity::Info, "info"),
            finding(Side::Old, 21, Severity::Critical, "critical"),
        ],
        &[],
        rules,
    );
    assert_eq!(inline, ["critical", "major"]);
    assert_eq!(reasons(&triage), [("minor", HeldBack::OverLimit), ("info", HeldBack::OverLimit)]);
}

#[test]
fn threads_posted_earlier_hold_their_slots_so_a_rerun_never_posts_past_the_limit() {
    let rules = NoiseRules { min_severity: Severity::Minor, max_inline: Some(2) };
    let major = finding(Side::New, 2, Severity::Major, "major posted before");
    let posted = [PostedFinding {
        file: "src/lib.rs".into(),
        line: Some(2),
        title: None,
        fingerprint: Some(major.fingerprint()),
        resolved: false,
        kind: None,
    }];
    let (inline, triage) = triaged(
        vec![
            finding(Side::New, 3, Severity::Minor, "minor"),
            major,
            finding(Side::Old, 21, Severity::Major, "another major"),
        ],
        &posted,
        rules,
    );
    assert_eq!(inline, ["another major"], "one slot is the earlier thread's");
    assert_eq!(reasons(&triage), [("minor", HeldBack::OverLimit)]);
}

#[test]
fn the_summary_groups_held_back_findings_by_severity_then_file() {
    let other =
        |line, severity, title| Finding { file: "src/other.rs".into(), ..finding(Side::New, line, severity, title) };
    let findings = [
        finding(Side::New, 2, Severity::Minor, "lib minor"),
        other(4, Severity::Major, "other major"),
        other(5, Severity::Minor, "other minor"),
        finding(Side::New, 3, Severity::Minor, "lib minor two"),
    ];
    let groups = group(&findings);
    let shape: Vec<String> = groups
        .iter()
        .flat_map(|group| {
            group.files.iter().map(move |file| {
                let titles: Vec<String> = file.findings.iter().map(|finding| finding.title.escaped()).collect();
                format!("{} {}: {}", group.severity.name(), file.file.span(), titles.join(", "))
            })
        })
        .collect();
    assert_eq!(
        shape,
        [
            "major `src/other.rs`: other major",
            "minor `src/lib.rs`: lib minor, lib minor two",
            "minor `src/other.rs`: other minor"
        ]
    );
}
