//! Fewer, better threads: which placed findings of a review stay inline discussions and which
//! are only listed in the summary, grouped by severity and file.
//!
//! A review that opens twenty threads, half of them about code the merge request did not touch,
//! teaches people to ignore it. Three rules, applied after placement ([`super::post`]):
//! a finding on lines the merge request did not change is pre-existing and never inline; a
//! finding less severe than the threshold is listed instead (`info` is below the default, so an
//! `info` finding becomes a thread only when the threshold is `info`); of the rest, at most the
//! limit stay inline, the most severe first. Findings an earlier run already posted and this one
//! finds again keep their slots, ahead of new ones of their severity, so a job run again after
//! being stopped halfway never posts past the limit.

use crate::config::Severity;
use crate::gitlab::types::DiffRefs;
use crate::prompts::message::{FileFindings, FindingGroup, ReviewSummary};
use crate::untrusted::MarkdownCodeSpan;

use super::diff::{LineKind, LineMap, Side};
use super::findings::Finding;
use super::post::{ReviewPlan, place, summary_finding};

/// What may become an inline discussion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoiseRules {
    /// The least severe finding that may be inline.
    pub min_severity: Severity,
    /// The most inline discussions one review keeps; `None`: no limit.
    pub max_inline: Option<usize>,
}

/// Why a placeable finding is listed in the summary instead of inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldBack {
    /// Its lines are unchanged by the merge request.
    PreExisting,
    /// Less severe than [`NoiseRules::min_severity`].
    BelowThreshold,
    /// Beyond [`NoiseRules::max_inline`].
    OverLimit,
}

/// A finding the summary lists instead of a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBackFinding {
    pub finding: Finding,
    pub reason: HeldBack,
}

/// Whether no line of `finding` was changed by the merge request: on the new side none is an
/// added line, on the old side none a removed one. A file the diff does not know is not judged
/// here (it cannot be placed at all).
pub fn is_pre_existing(finding: &Finding, map: &LineMap) -> bool {
    let Some(file) = map.file(&finding.file) else {
        return false;
    };
    let changed = match finding.side {
        Side::New => LineKind::Added,
        Side::Old => LineKind::Removed,
    };
    !(finding.line..=finding.last_line())
        .any(|line| file.locate(finding.side, line).is_some_and(|at| at.kind == changed))
}

/// The findings a review lists in the summary instead of inline, and the rules that chose them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triage {
    pub held_back: Vec<HeldBackFinding>,
    pub rules: NoiseRules,
}

impl Triage {
    /// Fills the summary's groups of held-back and pre-existing findings and the rules it names.
    pub fn fill_summary(&self, summary: &mut ReviewSummary) {
        let held = |pre_existing: bool| {
            group(
                self.held_back
                    .iter()
                    .filter(|held| (held.reason == HeldBack::PreExisting) == pre_existing)
                    .map(|held| &held.finding),
            )
        };
        summary.held_back = held(false);
        summary.pre_existing = held(true);
        summary.min_severity = self.rules.min_severity;
        summary.max_inline = self.rules.max_inline;
    }
}

/// Takes the inline findings of `plan` that `rules` keep out of the diff out of it.
pub fn hold_back(plan: &mut ReviewPlan, map: &LineMap, refs: &DiffRefs, rules: NoiseRules) -> Triage {
    let mut triage = Triage { held_back: Vec::new(), rules };
    let mut eligible = Vec::new();
    for comment in std::mem::take(&mut plan.inline) {
        let reason = if is_pre_existing(&comment.finding, map) {
            Some(HeldBack::PreExisting)
        } else if comment.finding.severity > rules.min_severity {
            Some(HeldBack::BelowThreshold)
        } else {
            None
        };
        match reason {
            Some(reason) => triage.held_back.push(HeldBackFinding { finding: comment.finding, reason }),
            None => eligible.push(comment),
        }
    }
    let Some(max) = rules.max_inline else {
        plan.inline = eligible;
        return triage;
    };
    // Threads posted earlier that this review stands by would be inline now: they hold slots.
    let earlier: Vec<Severity> = plan
        .repeated
        .iter()
        .filter(|finding| {
            finding.severity <= rules.min_severity
                && !is_pre_existing(finding, map)
                && place(finding, map, refs).is_ok()
        })
        .map(|finding| finding.severity)
        .collect();
    eligible.sort_by_key(|comment| comment.finding.severity);
    for comment in eligible {
        let ahead = earlier.iter().filter(|severity| **severity <= comment.finding.severity).count();
        if ahead + plan.inline.len() < max {
            plan.inline.push(comment);
        } else {
            triage.held_back.push(HeldBackFinding { finding: comment.finding, reason: HeldBack::OverLimit });
        }
    }
    triage
}

/// `findings` as the summary lists them: one group per severity, most severe first, and within
/// it one entry per file in the order the files first appear.
pub fn group<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Vec<FindingGroup> {
    let findings: Vec<&Finding> = findings.into_iter().collect();
    Severity::ALL
        .into_iter()
        .filter_map(|severity| {
            let mut files: Vec<(&str, FileFindings)> = Vec::new();
            for finding in findings.iter().filter(|finding| finding.severity == severity) {
                match files.iter_mut().find(|(path, _)| *path == finding.file) {
                    Some((_, entry)) => entry.findings.push(summary_finding(finding)),
                    None => files.push((
                        &finding.file,
                        FileFindings {
                            file: MarkdownCodeSpan::new(&finding.file),
                            findings: vec![summary_finding(finding)],
                        },
                    )),
                }
            }
            (!files.is_empty()).then(|| FindingGroup { severity, files: files.into_iter().map(|(_, f)| f).collect() })
        })
        .collect()
}

#[cfg(test)]
#[path = "noise_tests.rs"]
mod tests;
