//! Where each finding goes on GitLab and what its discussion says, decided without IO.
//!
//! A finding becomes an inline discussion only at a position GitLab accepts and that points at
//! the line the agent meant: an added line carries only `new_line`, a removed one only
//! `old_line`, an unchanged one both; a multi-line finding is anchored on its last line with a
//! `line_range` whose ends carry GitLab's `line_code`s, and its suggestion replaces exactly
//! those lines (`suggestion:-N+0`). A finding that cannot be placed goes to the summary note
//! instead of being dropped or posted on a wrong line. The verdict follows from the counts.

use std::collections::HashSet;

use crate::config::Language;
use crate::gitlab::types::{DiffRefs, LinePoint, LineRange, Position};
use crate::prompts::markers::Marker;
use crate::prompts::message::{ReviewFinding, ReviewSummary, Severity, SeverityCounts, UnplacedFinding, Verdict};
use crate::prompts::{PromptError, Prompts};
use crate::untrusted::{MarkdownCode, MarkdownCodeSpan, MarkdownText};

use super::diff::{LineKind, LineLocation, LineMap, Side};
use super::findings::{Finding, MAX_SUGGESTION_LINES_AROUND, PostedFinding, is_posted};

/// Why a finding cannot sit on a diff line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unplaceable {
    #[error("`{0}` is not among the changed files")]
    UnknownFile(String),
    #[error("`{0}` is a binary file")]
    BinaryFile(String),
    #[error("`{file}` has no line {line} on the {} side that the diff can show", side.name())]
    NoSuchLine { file: String, side: Side, line: u32 },
}

/// How many lines above and below the anchored line a suggestion replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuggestionSpan {
    pub above: u32,
    pub below: u32,
}

/// A finding's valid position, and the span its suggestion may replace (new side only: a
/// suggestion rewrites the merge request's version of the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub position: Position,
    pub suggestion: Option<SuggestionSpan>,
}

/// Computes the position of `finding` in the diff `map` of the version `refs`.
pub fn place(finding: &Finding, map: &LineMap, refs: &DiffRefs) -> Result<Placement, Unplaceable> {
    let file = map.file(&finding.file).ok_or_else(|| Unplaceable::UnknownFile(finding.file.clone()))?;
    if file.binary {
        return Err(Unplaceable::BinaryFile(finding.file.clone()));
    }
    let locate = |line: u32| {
        file.locate(finding.side, line).ok_or_else(|| Unplaceable::NoSuchLine {
            file: finding.file.clone(),
            side: finding.side,
            line,
        })
    };
    let start = locate(finding.line)?;
    let end = locate(finding.last_line())?;
    let path = file.path();
    let (old_line, new_line) = anchored_lines(&end);
    let line_range = (finding.last_line() != finding.line)
        .then(|| LineRange { start: line_point(&start, path), end: line_point(&end, path) });
    let position = Position {
        base_sha: refs.base_sha.clone(),
        start_sha: refs.start_sha.clone(),
        head_sha: refs.head_sha.clone(),
        position_type: "text".to_owned(),
        old_path: Some(file.old_path.clone()),
        new_path: Some(file.new_path.clone()),
        old_line,
        new_line,
        line_range,
    };
    let suggestion = (finding.side == Side::New && finding.replacement.is_some()).then(|| SuggestionSpan {
        above: (finding.last_line() - finding.line).min(MAX_SUGGESTION_LINES_AROUND),
        below: 0,
    });
    Ok(Placement { position, suggestion })
}

/// The lines a position carries for a line of this kind.
fn anchored_lines(location: &LineLocation) -> (Option<u32>, Option<u32>) {
    match location.kind {
        LineKind::Added => (None, location.new_line),
        LineKind::Removed => (location.old_line, None),
        LineKind::Context => (location.old_line, location.new_line),
    }
}

fn line_point(location: &LineLocation, path: &str) -> LinePoint {
    let (old_line, new_line) = anchored_lines(location);
    let line_type = match location.kind {
        LineKind::Added => Some("new".to_owned()),
        LineKind::Removed => Some("old".to_owned()),
        LineKind::Context => None,
    };
    LinePoint { line_code: location.line_code(path), line_type, old_line, new_line }
}

/// The GitLab suggestion block that replaces the lines of `span` with `replacement`: the fence
/// is longer than any backtick run in the replacement (four backticks when it holds a fence).
pub fn suggestion_block(replacement: &str, span: SuggestionSpan) -> String {
    let replacement = replacement.strip_suffix('\n').unwrap_or(replacement);
    let fence = "`".repeat(longest_backtick_run(replacement).max(2) + 1);
    let mut block = format!("{fence}suggestion:-{}+{}\n", span.above, span.below);
    if !replacement.is_empty() {
        block.push_str(replacement);
        block.push('\n');
    }
    block.push_str(&fence);
    block
}

/// The context of a finding's discussion body: severity, category, the escaped title and
/// explanation, the suggestion (or, where it cannot be one, the proposed code) and the hidden
/// fingerprint marker.
pub fn discussion_context(finding: &Finding, suggestion: Option<SuggestionSpan>) -> ReviewFinding {
    let replacement = finding.replacement.as_deref();
    ReviewFinding {
        severity: finding.severity,
        category: finding.category.name(),
        title: MarkdownText::line(&finding.title),
        body: MarkdownText::new(finding.body.trim()),
        suggestion: replacement.zip(suggestion).map(|(text, span)| suggestion_block(text, span)),
        proposed: replacement
            .filter(|_| suggestion.is_none())
            .map(|text| MarkdownCode::new(text, crate::untrusted::DEFAULT_MAX_CHARS)),
        marker: finding.fingerprint().marker(),
    }
}

/// Renders the body of a finding's discussion in `language`.
pub fn render_body(
    prompts: &Prompts,
    language: Language,
    finding: &Finding,
    suggestion: Option<SuggestionSpan>,
) -> Result<String, PromptError> {
    prompts.render_message(language, &discussion_context(finding, suggestion))
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Counts findings per severity.
pub fn count_severities<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> SeverityCounts {
    let mut counts = SeverityCounts::default();
    for finding in findings {
        match finding.severity {
            Severity::Critical => counts.critical += 1,
            Severity::Major => counts.major += 1,
            Severity::Minor => counts.minor += 1,
            Severity::Info => counts.info += 1,
        }
    }
    counts
}

/// Critical or major findings request changes, minor ones comment, info or nothing approves.
pub fn verdict(counts: &SeverityCounts) -> Verdict {
    if counts.critical > 0 || counts.major > 0 {
        Verdict::RequestChanges
    } else if counts.minor > 0 {
        Verdict::Comment
    } else {
        Verdict::Approve
    }
}

/// A finding ready to become an inline discussion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineComment {
    pub finding: Finding,
    pub position: Position,
    pub suggestion: Option<SuggestionSpan>,
}

impl InlineComment {
    /// The discussion body in `language`.
    pub fn body(&self, prompts: &Prompts, language: Language) -> Result<String, PromptError> {
        render_body(prompts, language, &self.finding, self.suggestion)
    }
}

/// A finding for the summary, with the reason it is not inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnplacedComment {
    pub finding: Finding,
    pub reason: Unplaceable,
}

impl UnplacedComment {
    /// The finding as the summary note lists it.
    pub fn for_summary(&self) -> UnplacedFinding {
        summary_finding(&self.finding)
    }
}

/// A finding as the summary note lists it (one not inline, or every one when inline comments
/// are off).
pub fn summary_finding(finding: &Finding) -> UnplacedFinding {
    UnplacedFinding {
        file: MarkdownCodeSpan::new(&finding.file),
        line: Some(finding.line),
        severity: finding.severity,
        title: MarkdownText::line(&finding.title),
        body: MarkdownText::new(finding.body.trim()),
    }
}

/// Everything one review will post.
#[derive(Debug, Clone)]
pub struct ReviewPlan {
    pub inline: Vec<InlineComment>,
    pub unplaced: Vec<UnplacedComment>,
    /// Findings an earlier review (or this one, twice) already reported; not posted again.
    pub repeated: Vec<Finding>,
    /// Every distinct finding of this review, including the repeated ones that still stand.
    pub counts: SeverityCounts,
    pub verdict: Verdict,
}

impl ReviewPlan {
    /// The unplaced findings as the summary note lists them.
    pub fn summary_unplaced(&self) -> Vec<UnplacedFinding> {
        self.unplaced.iter().map(UnplacedComment::for_summary).collect()
    }

    /// The summary note's context once `posted_inline` discussions were created: it carries the
    /// marker of `head_sha` so the next review starts from there (see
    /// [`super::findings::previous_review_head`]).
    pub fn summary(&self, posted_inline: u32, head_sha: &str, since_sha: Option<&str>) -> ReviewSummary {
        ReviewSummary {
            marker: Marker::review(head_sha),
            verdict: self.verdict,
            counts: self.counts.clone(),
            inline_count: posted_inline,
            unplaced: self.summary_unplaced(),
            head_sha: head_sha.to_owned(),
            since_sha: since_sha.map(str::to_owned),
            inline_enabled: true,
            skipped: Vec::new(),
            held_back: Vec::new(),
            pre_existing: Vec::new(),
            min_severity: Severity::Info,
            max_inline: None,
            usage: None,
            resolved_count: 0,
            suppressed_count: 0,
        }
    }
}

/// Decides, for every finding, whether it is new and where it goes.
pub fn plan_review(findings: Vec<Finding>, map: &LineMap, refs: &DiffRefs, posted: &[PostedFinding]) -> ReviewPlan {
    let mut seen = HashSet::new();
    let mut distinct = Vec::new();
    let (mut inline, mut unplaced, mut repeated) = (Vec::new(), Vec::new(), Vec::new());
    for finding in findings {
        if !seen.insert(finding.fingerprint()) {
            continue;
        }
        distinct.push(finding.clone());
        if is_posted(&finding, posted) {
            repeated.push(finding);
            continue;
        }
        match place(&finding, map, refs) {
            Ok(placement) => {
                inline.push(InlineComment { finding, position: placement.position, suggestion: placement.suggestion });
            }
            Err(reason) => unplaced.push(UnplacedComment { finding, reason }),
        }
    }
    let counts = count_severities(&distinct);
    let verdict = verdict(&counts);
    ReviewPlan { inline, unplaced, repeated, counts, verdict }
}

/// Splits findings of an incremental review into those about what changed since the previous
/// reviewed head and the rest. `since` is the diff from that head to the current one (`git diff
/// <previous> <head>`): a new-side finding counts when one of its lines was added since; an
/// old-side finding (numbered in the target branch, which `since` does not describe) counts when
/// its file changed since. The rest is about code the previous review already covered.
pub fn split_by_changes_since(findings: Vec<Finding>, since: &LineMap) -> (Vec<Finding>, Vec<Finding>) {
    findings.into_iter().partition(|finding| {
        let Some(file) = since.file(&finding.file) else {
            return false;
        };
        match finding.side {
            Side::Old => true,
            Side::New => (finding.line..=finding.last_line())
                .any(|line| file.locate(Side::New, line).is_some_and(|at| at.kind == LineKind::Added)),
        }
    })
}

#[cfg(test)]
#[path = "post_tests.rs"]
mod tests;
