//! The review's findings as a GitLab Code Quality report (`gl-code-quality-report.json`). The
//! CI template attaches it to the review job, so it shows in the agent project's pipeline (its
//! Code Quality tab), never in the target merge request's widget, which reads the merge
//! request's own pipelines: the merge request gets the findings as the agent's discussions and
//! summary note.
//!
//! The format is GitLab's subset of the Code Climate issue: `description`, `check_name`,
//! `fingerprint`, `severity` (`info`, `minor`, `major`, `critical`, `blocker`) and
//! `location.path` with `location.lines.begin`. GitLab shows only the first issue of each
//! fingerprint, so the fingerprint here includes the place, unlike a finding's own fingerprint.

use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::prompts::message::Severity;

use super::diff::{LineMap, Side};
use super::findings::{Category, Finding, Fingerprint, PostedFinding};

/// The file name GitLab's `artifacts:reports:codequality` examples use.
pub const REPORT_FILE_NAME: &str = "gl-code-quality-report.json";

/// One issue of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeQualityIssue {
    pub description: String,
    pub check_name: String,
    pub fingerprint: String,
    pub severity: &'static str,
    pub location: CodeQualityLocation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeQualityLocation {
    pub path: String,
    pub lines: CodeQualityLines,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeQualityLines {
    pub begin: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<u32>,
}

/// The report for `findings`. A finding on a removed line is reported at the new-file line
/// where the removal happened, since the report describes the merge request's version.
pub fn code_quality_report(findings: &[Finding], map: &LineMap) -> Vec<CodeQualityIssue> {
    findings
        .iter()
        .map(|finding| {
            let (path, begin, end) = new_side_place(finding, map);
            let description = format!("{}: {}", finding.title.trim(), first_sentence(&finding.body));
            let place = CodeQualityLocation { path, lines: CodeQualityLines { begin, end } };
            issue(&finding.fingerprint(), description, finding.category, finding.severity, place)
        })
        .collect()
}

/// Issues for the agent's earlier findings whose discussions are still unresolved and that
/// `findings` (this review's) do not repeat: a re-review reads only what changed, so without
/// them its report would leave out findings that are still open. Each keeps the place and
/// fingerprint of the report that first listed it.
pub fn open_earlier_issues(posted: &[PostedFinding], findings: &[Finding]) -> Vec<CodeQualityIssue> {
    let current: Vec<Fingerprint> = findings.iter().map(Finding::fingerprint).collect();
    posted
        .iter()
        .filter(|earlier| !earlier.resolved)
        .filter_map(|earlier| {
            let fingerprint = earlier.fingerprint.as_ref().filter(|fingerprint| !current.contains(fingerprint))?;
            let (severity, category) = earlier.kind?;
            let title = earlier.title.as_deref().unwrap_or_default().trim();
            let place = CodeQualityLocation {
                path: earlier.file.clone(),
                lines: CodeQualityLines { begin: earlier.line?, end: None },
            };
            Some(issue(fingerprint, title.to_owned(), category, severity, place))
        })
        .collect()
}

fn issue(
    fingerprint: &Fingerprint,
    description: String,
    category: Category,
    severity: Severity,
    location: CodeQualityLocation,
) -> CodeQualityIssue {
    let mut hash = Sha1::new();
    for part in [fingerprint.as_str(), location.path.as_str(), &location.lines.begin.to_string()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    CodeQualityIssue {
        description,
        check_name: format!("copilot-runner/{}", category.name()),
        fingerprint: hex::encode(hash.finalize()),
        severity: match severity {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
            Severity::Info => "info",
        },
        location,
    }
}

/// The issues as the JSON file GitLab reads.
pub fn code_quality_json_of(issues: &[CodeQualityIssue]) -> String {
    serde_json::to_string_pretty(issues).unwrap_or_else(|_| "[]".to_owned())
}

/// The report for `findings` as the JSON file GitLab reads.
pub fn code_quality_json(findings: &[Finding], map: &LineMap) -> String {
    code_quality_json_of(&code_quality_report(findings, map))
}

fn new_side_place(finding: &Finding, map: &LineMap) -> (String, u32, Option<u32>) {
    let file = map.file(&finding.file);
    let path = file.map_or_else(|| finding.file.clone(), |file| file.path().to_owned());
    match finding.side {
        Side::New => {
            let end = (finding.last_line() != finding.line).then(|| finding.last_line());
            (path, finding.line, end)
        }
        Side::Old => {
            let line = file
                .and_then(|file| file.locate(Side::Old, finding.line))
                .map_or(1, |at| at.new_line.unwrap_or(at.new_pos).max(1));
            (path, line, None)
        }
    }
}

fn first_sentence(body: &str) -> String {
    let line = body.trim().lines().next().unwrap_or_default();
    match line.find(". ") {
        Some(at) => line[..=at].to_owned(),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::gitlab::types::FileDiff;

    #[test]
    fn the_report_has_gitlab_code_quality_shape_and_unique_fingerprints() {
        let map = LineMap::from_file_diffs(&[FileDiff {
            old_path: "src/lib.rs".into(),
            new_path: "src/lib.rs".into(),
            a_mode: None,
            b_mode: None,
            diff: "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n".into(),
            new_file: false,
            renamed_file: false,
            deleted_file: false,
            generated_file: None,
        }])
        .expect("diff");
        let base = Finding {
            file: "src/lib.rs".into(),
            line: 2,
            end_line: Some(3),
            side: Side::New,
            severity: Severity::Critical,
            category: Category::Security,
            title: "SQL built from input".into(),
            body: "Use a bound parameter. The query is built by hand.".into(),
            replacement: None,
        };
        let removed = Finding { side: Side::Old, line: 2, end_line: None, severity: Severity::Info, ..base.clone() };
        let report: Value = serde_json::from_str(&code_quality_json(&[base, removed], &map)).expect("json");
        let issues = report.as_array().expect("an array");
        assert_eq!(issues.len(), 2);
        for issue in issues {
            let mut keys: Vec<&str> = issue.as_object().expect("object").keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["check_name", "description", "fingerprint", "location", "severity"]);
            assert!(
                ["info", "minor", "major", "critical", "blocker"].contains(&issue["severity"].as_str().expect("str"))
            );
            assert_eq!(issue["fingerprint"].as_str().map(str::len), Some(40));
        }
        assert_eq!(issues[0]["description"], "SQL built from input: Use a bound parameter.");
        assert_eq!(issues[0]["check_name"], "copilot-runner/security");
        assert_eq!(issues[0]["location"], json!({"path": "src/lib.rs", "lines": {"begin": 2, "end": 3}}));
        // The removed line is reported where it was removed in the new file.
        assert_eq!(issues[1]["location"], json!({"path": "src/lib.rs", "lines": {"begin": 2}}));
        assert_eq!(issues[1]["severity"], "info");
        assert_ne!(issues[0]["fingerprint"], issues[1]["fingerprint"]);
    }

    #[test]
    fn open_earlier_findings_keep_their_place_in_the_report_unless_resolved_or_repeated() {
        let map = LineMap::default();
        let earlier = Finding {
            file: "src/a.rs".into(),
            line: 7,
            end_line: None,
            side: Side::New,
            severity: Severity::Major,
            category: Category::Correctness,
            title: "Off by one".into(),
            body: "The loop ends late.".into(),
            replacement: None,
        };
        let repeated = Finding { file: "src/b.rs".into(), title: "Unchecked index".into(), ..earlier.clone() };
        let posted = |finding: &Finding, resolved: bool| PostedFinding {
            file: finding.file.clone(),
            line: Some(finding.line),
            title: Some(finding.title.clone()),
            fingerprint: Some(finding.fingerprint()),
            resolved,
            kind: Some((finding.severity, finding.category)),
        };
        let resolved = Finding { title: "Fixed since".into(), ..earlier.clone() };
        let all = [posted(&earlier, false), posted(&repeated, false), posted(&resolved, true)];
        let issues = open_earlier_issues(&all, std::slice::from_ref(&repeated));
        assert_eq!(issues.len(), 1, "{issues:#?}");
        let first_report = code_quality_report(std::slice::from_ref(&earlier), &map);
        assert_eq!(issues[0].fingerprint, first_report[0].fingerprint);
        assert_eq!(issues[0].severity, "major");
        assert_eq!(issues[0].check_name, "copilot-runner/correctness");
    }
}
