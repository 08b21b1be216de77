//! Which of the agent's own open review threads a re-review resolves, and why.
//!
//! A thread the agent started stays open until someone resolves it, so a merge request whose
//! author fixed every finding still shows them all as open. On a re-review the agent resolves its
//! own threads that no longer hold: those whose lines a commit since changed or removed, when the
//! review did not report the same finding again ("fixed in `<sha>`"), and those whose file or
//! lines are no longer part of the merge request's diff, e.g. after a revert ("no longer
//! applies"). A thread someone else started is never the agent's to resolve, whatever its text.
//!
//! A thread's position counts lines in the head it was posted on, which may be older than the
//! previous review's; the caller gives the diff from each such head to the reviewed one. The
//! decision is pure, so every case is a unit test; the reply and the resolve are the workflow's.

use std::collections::{HashMap, HashSet};

use crate::gitlab::types::{Discussion, Position};
use crate::prompts::markers::Marker;
use crate::prompts::message::ResolutionReason;

use super::diff::{FileMap, LineKind, LineMap, Side};
use super::findings::Fingerprint;

/// One of the agent's unresolved finding threads, as far as resolving it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenThread {
    pub discussion_id: String,
    pub fingerprint: Fingerprint,
    /// The head the thread's position counts lines in.
    pub head_sha: String,
    /// The file's path on the thread's side.
    pub path: String,
    pub side: Side,
    /// The first and last line the thread covers, on `side`.
    pub lines: (u32, u32),
    /// Whether the agent already replied that it resolves the thread (a job stopped between the
    /// reply and the resolve): the next review resolves it without a second reply.
    pub answered: bool,
}

/// The agent's unresolved diff threads that carry a finding marker: the first note is the agent
/// user's (a marker in anyone else's note is not believed) and the thread is resolvable.
pub fn open_threads(discussions: &[Discussion], agent_user_id: u64) -> Vec<OpenThread> {
    let resolution = Marker::resolution();
    discussions
        .iter()
        .filter_map(|discussion| {
            let first = discussion.notes.first()?;
            if first.author_id() != Some(agent_user_id) || !first.resolvable || first.resolved.unwrap_or(false) {
                return None;
            }
            let position = first.position.as_ref()?;
            let (path, side, lines) = thread_lines(position)?;
            let answered = discussion
                .notes
                .iter()
                .skip(1)
                .any(|note| note.author_id() == Some(agent_user_id) && resolution.is_in(&note.body));
            Some(OpenThread {
                discussion_id: discussion.id.clone(),
                fingerprint: Fingerprint::find_in(&first.body)?,
                head_sha: position.head_sha.clone(),
                path,
                side,
                lines,
                answered,
            })
        })
        .collect()
}

/// The path, side and line span of a diff position: the new side when it names a new line.
fn thread_lines(position: &Position) -> Option<(String, Side, (u32, u32))> {
    let range = position.line_range.as_ref();
    if let Some(line) = position.new_line {
        let start = range.and_then(|range| range.start.new_line).unwrap_or(line);
        let end = range.and_then(|range| range.end.new_line).unwrap_or(line);
        return Some((position.new_path.clone()?, Side::New, (start.min(end), start.max(end))));
    }
    let line = position.old_line?;
    let start = range.and_then(|range| range.start.old_line).unwrap_or(line);
    let end = range.and_then(|range| range.end.old_line).unwrap_or(line);
    Some((position.old_path.clone()?, Side::Old, (start.min(end), start.max(end))))
}

/// A thread to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub discussion_id: String,
    pub reason: ResolutionReason,
    /// Whether to reply first (false when the agent's reply is already there).
    pub reply: bool,
}

/// What the re-review knows to decide: the merge request's diff at the reviewed head, the diff
/// from each open thread's head to the reviewed head, and the findings the review reported.
#[derive(Debug)]
pub struct Changes<'a> {
    /// The merge request's diff (base to the reviewed head).
    pub map: &'a LineMap,
    /// The diff from each thread head to the reviewed head (an empty map for the reviewed head
    /// itself); a thread whose head is missing (force-pushed away) is left open unless its file
    /// left the merge request.
    pub since: &'a HashMap<String, LineMap>,
    /// The fingerprints of every finding this review reported, posted or not.
    pub reported: &'a HashSet<Fingerprint>,
}

/// The threads among `threads` that this review resolves, in their order.
pub fn plan_resolutions(threads: &[OpenThread], changes: &Changes<'_>) -> Vec<Resolution> {
    threads
        .iter()
        .filter_map(|thread| {
            let reason = match thread.side {
                Side::New => new_side_reason(thread, changes)?,
                Side::Old => old_side_reason(thread, changes.map)?,
            };
            Some(Resolution { discussion_id: thread.discussion_id.clone(), reason, reply: !thread.answered })
        })
        .collect()
}

/// A thread on added lines: gone with its file, fixed when its lines changed since, or no longer
/// applying when the lines it moved to are no longer added by the merge request.
fn new_side_reason(thread: &OpenThread, changes: &Changes<'_>) -> Option<ResolutionReason> {
    let since = changes.since.get(&thread.head_sha);
    let since_file = since.and_then(|since| since.files().iter().find(|file| file.old_path == thread.path));
    if since_file.is_some_and(|file| file.deleted_file) {
        return Some(ResolutionReason::NoLongerApplies);
    }
    let path = since_file.map_or(thread.path.as_str(), |file| file.new_path.as_str());
    let Some(mr_file) = changes.map.file(path).filter(|file| !file.deleted_file) else {
        return Some(ResolutionReason::NoLongerApplies);
    };
    // Without the diff from the thread's head nothing says where its lines went.
    since?;
    let (first, last) = thread.lines;
    let mut moved = Vec::new();
    for line in first..=last {
        match since_file.map_or(Followed::At(line), |file| follow(file, line)) {
            Followed::Changed if changes.reported.contains(&thread.fingerprint) => return None,
            Followed::Changed => return Some(ResolutionReason::Fixed),
            Followed::At(now) => moved.push(now),
        }
    }
    let still_added =
        moved.iter().any(|line| mr_file.locate(Side::New, *line).is_some_and(|at| at.kind == LineKind::Added));
    (!still_added).then_some(ResolutionReason::NoLongerApplies)
}

/// A thread on removed lines counts them in the target's version, which later commits on the
/// source branch do not change: it no longer applies once the merge request stops removing them.
fn old_side_reason(thread: &OpenThread, map: &LineMap) -> Option<ResolutionReason> {
    let Some(file) = map.files().iter().find(|file| file.old_path == thread.path && !file.new_file) else {
        return Some(ResolutionReason::NoLongerApplies);
    };
    let (first, last) = thread.lines;
    let still_removed =
        (first..=last).any(|line| file.locate(Side::Old, line).is_some_and(|at| at.kind == LineKind::Removed));
    (!still_removed).then_some(ResolutionReason::NoLongerApplies)
}

/// Where an old-side line of a diff went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Followed {
    /// The diff removed or replaced it.
    Changed,
    /// It is unchanged, now at this new-side line.
    At(u32),
}

/// Follows old line `line` through `file`'s hunks.
fn follow(file: &FileMap, line: u32) -> Followed {
    if file.binary {
        return Followed::Changed;
    }
    let mut offset = 0_i64;
    for hunk in &file.hunks {
        // A hunk of no old lines inserts after `old_start`: lines up to it stay where they are.
        let first = if hunk.old_count == 0 { hunk.old_start.saturating_add(1) } else { hunk.old_start };
        if line < first {
            break;
        }
        if hunk.old_count > 0 && line < hunk.old_start.saturating_add(hunk.old_count) {
            return match hunk.lines.iter().find(|diff_line| diff_line.old_line == Some(line)) {
                Some(diff_line) if diff_line.kind == LineKind::Context => {
                    diff_line.new_line.map_or(Followed::Changed, Followed::At)
                }
                _ => Followed::Changed,
            };
        }
        offset += i64::from(hunk.new_count) - i64::from(hunk.old_count);
    }
    u32::try_from(i64::from(line) + offset).map_or(Followed::Changed, Followed::At)
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
