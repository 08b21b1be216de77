//! Posting findings as draft notes (`COPILOT_REVIEW_AS_DRAFT`): which of the agent's pending
//! drafts a review keeps, which it deletes and which findings still need one.
//!
//! Drafts are published all at once, so people get one notification per review. A job stopped
//! between creating its drafts and publishing them leaves them pending, visible only to the
//! agent; a publish stopped halfway leaves some published and the rest pending. The next review
//! reads the agent's drafts first: a draft for a finding this review posts inline, at the same
//! position, is kept and published with the rest instead of being made again; a draft for
//! anything else (a finding now in the summary or already published, an older head) is deleted.
//! A draft without a finding marker is not the review's, and is left alone.

use crate::gitlab::types::{DraftNote, Position};

use super::findings::Fingerprint;
use super::post::InlineComment;

/// What a review does with the agent's pending drafts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DraftPlan {
    /// Drafts that already carry an inline finding of this review, by id.
    pub kept: Vec<u64>,
    /// Drafts of earlier findings this review does not post inline, by id.
    pub stale: Vec<u64>,
    /// Indexes (into the review's inline findings) of the findings that need a new draft.
    pub to_create: Vec<usize>,
    /// Drafts without a finding marker, left as they are.
    pub foreign: usize,
}

/// Matches the agent's pending `drafts` with the review's `inline` findings.
pub fn reconcile(drafts: &[DraftNote], inline: &[InlineComment]) -> DraftPlan {
    let mut plan = DraftPlan::default();
    let mut drafted = vec![false; inline.len()];
    for draft in drafts {
        let Some(fingerprint) = Fingerprint::find_in(&draft.note) else {
            plan.foreign += 1;
            continue;
        };
        let matching = inline.iter().enumerate().position(|(at, comment)| {
            !drafted.get(at).copied().unwrap_or(true)
                && comment.finding.fingerprint() == fingerprint
                && draft.position.as_ref().is_some_and(|position| same_anchor(position, &comment.position))
        });
        match matching.and_then(|at| drafted.get_mut(at)) {
            Some(done) => {
                *done = true;
                plan.kept.push(draft.id);
            }
            None => plan.stale.push(draft.id),
        }
    }
    plan.to_create = drafted.iter().enumerate().filter(|(_, done)| !**done).map(|(at, _)| at).collect();
    plan
}

/// Whether two positions anchor a note on the same line of the same version (GitLab may echo a
/// position back with fields filled in that the request left out).
fn same_anchor(a: &Position, b: &Position) -> bool {
    (&a.base_sha, &a.start_sha, &a.head_sha, &a.old_path, &a.new_path, a.old_line, a.new_line)
        == (&b.base_sha, &b.start_sha, &b.head_sha, &b.old_path, &b.new_path, b.old_line, b.new_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(head: &str, line: u32) -> Position {
        Position {
            base_sha: "base".into(),
            start_sha: "start".into(),
            head_sha: head.into(),
            position_type: "text".into(),
            old_path: Some("src/lib.rs".into()),
            new_path: Some("src/lib.rs".into()),
            old_line: None,
            new_line: Some(line),
            line_range: None,
        }
    }

    fn comment(line: u32, title: &str) -> InlineComment {
        let finding = crate::review::findings::tests::finding(title, line);
        InlineComment { finding, position: position("head", line), suggestion: None }
    }

    fn draft(id: u64, comment: &InlineComment, head: &str) -> DraftNote {
        DraftNote {
            id,
            author_id: 7,
            note: format!("body\n\n{}", comment.finding.fingerprint().marker().as_str()),
            position: Some(position(head, comment.finding.line)),
        }
    }

    #[test]
    fn a_stopped_jobs_drafts_are_kept_once_and_the_rest_replaced() {
        let inline = [comment(2, "First"), comment(3, "Second"), comment(4, "Third")];
        let drafts = [
            draft(10, &inline[0], "head"),
            // The same finding drafted twice (a retried create): only one is kept.
            draft(11, &inline[0], "head"),
            // A draft on an older head is replaced.
            draft(12, &inline[1], "older"),
            // A finding this review does not post inline.
            draft(13, &comment(9, "Gone"), "head"),
            DraftNote { id: 14, author_id: 7, note: "a note without a marker".into(), position: None },
        ];
        let plan = reconcile(&drafts, &inline);
        assert_eq!(plan.kept, [10]);
        assert_eq!(plan.stale, [11, 12, 13]);
        assert_eq!(plan.to_create, [1, 2]);
        assert_eq!(plan.foreign, 1);
    }

    #[test]
    fn without_pending_drafts_every_inline_finding_gets_one() {
        let inline = [comment(2, "First"), comment(3, "Second")];
        assert_eq!(reconcile(&[], &inline), DraftPlan { to_create: vec![0, 1], ..DraftPlan::default() });
    }
}
