//! The review's findings as a GitLab Code Quality report (`gl-code-quality-report.json`), so
//! they also appear in the merge request's Code Quality widget and the pipeline's report tab.
//!
//! The format is GitLab's subset of the Code Climate issue: `description`, `check_name`,
//! `fingerprint`, `severity` (`info`, `minor`, `major`, `critical`, `blocker`) and
//! `location.path` with `location.lines.begin`. GitLab shows only the first issue of each
//! fingerprint, so the fingerprint here includes the place, unlike a finding's own fingerprint.

use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::prompts::message::Severity;

use super::diff::{LineMap, Side};
use super::findings::Finding;

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
            let mut hash = Sha1::new();
            for part in [finding.fingerprint().as_str(), path.as_str(), &begin.to_string()] {
                hash.update(part.as_bytes());
                hash.update([0]);
            }
            CodeQualityIssue {
                description: format!("{}: {}", finding.title.trim(), first_sentence(&finding.body)),
                check_name: format!("copilot-runner/{}", finding.category.name()),
                fingerprint: hex::encode(hash.finalize()),
                severity: match finding.severity {
                    Severity::Critical => "critical",
                    Severity::Major => "major",
                    Severity::Minor => "minor",
                    Severity::Info => "info",
                },
                location: CodeQualityLocation { path, lines: CodeQualityLines { begin, end } },
            }
        })
        .collect()
}

/// The report as the JSON file GitLab reads.
pub fn code_quality_json(findings: &[Finding], map: &LineMap) -> String {
    serde_json::to_string_pretty(&code_quality_report(findings, map)).unwrap_or_else(|_| "[]".to_owned())
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
    use crate::review::findings::Category;

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
}
