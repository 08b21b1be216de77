//! Chooses which of the remembered lines fit the byte budget and renders them in log order.
//!
//! Every candidate line has a [`Rank`]: the very end of the log first (it holds the runner's
//! verdict and the tool's summary), then the first error line (often the cause, where the end
//! holds a summary), then the other error lines newest first, then the first error's window, then
//! the rest of the tail, then context lines nearest to their error first. Lines are taken greedily in that order while
//! they fit; each run of lines left out becomes one marker line saying how many were skipped, and
//! the markers are paid for in the budget, so the rendered text never exceeds it.

use std::cmp::Reverse;
use std::collections::BTreeSet;

/// How many of the last lines outrank every error line.
pub(super) const TAIL_CORE_LINES: u64 = 10;

/// Why a line is worth showing; smaller is more important.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Rank {
    TailCore { from_end: u64 },
    FirstError,
    Error { newest_first: Reverse<u64> },
    FirstContext { distance: u32 },
    Tail { from_end: u64 },
    Context { distance: u32, newest_first: Reverse<u64> },
}

/// A line that may be shown: its number in the log, its display text (cleaned and masked), and
/// whether that text is only part of the line.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub(super) number: u64,
    pub(super) text: String,
    pub(super) cut: bool,
    pub(super) rank: Rank,
}

/// The rendered excerpt and whether it leaves anything of the log out.
#[derive(Debug)]
pub(super) struct Rendered {
    pub(super) text: String,
    pub(super) truncated: bool,
}

/// The marker for a run of `count` skipped lines.
fn skipped_marker(count: u64) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("[… {count} line{plural} skipped …]")
}

/// What one marker line may cost, newline included: the widest count.
fn marker_cost() -> usize {
    skipped_marker(u64::MAX).len() + 1
}

/// Selects candidates (unique line numbers, all within `1..=total_lines`) within `budget` bytes
/// and renders them with skip markers.
pub(super) fn render(mut candidates: Vec<Candidate>, total_lines: u64, budget: usize) -> Rendered {
    candidates.sort_by_key(|candidate| candidate.rank);
    let marker = marker_cost();
    let mut selected: BTreeSet<u64> = BTreeSet::new();
    let mut chosen: Vec<Candidate> = Vec::new();
    // With nothing selected the whole log is one skipped run.
    let mut used = if total_lines > 0 { marker } else { 0 };
    for candidate in candidates {
        let number = candidate.number;
        let gap_before = number > 1 && !selected.contains(&(number - 1));
        let gap_after = number < total_lines && !selected.contains(&(number + 1));
        // Taking a line out of a skipped run splits it, shortens it, or removes it.
        let cost = candidate.text.len() + 1;
        let fits = match (gap_before, gap_after) {
            (true, true) => used + cost + marker <= budget,
            (false, false) => used + cost <= budget + marker,
            _ => used + cost <= budget,
        };
        if !fits {
            continue;
        }
        used = match (gap_before, gap_after) {
            (true, true) => used + cost + marker,
            (false, false) => used + cost - marker,
            _ => used + cost,
        };
        selected.insert(number);
        chosen.push(candidate);
    }
    chosen.sort_by_key(|candidate| candidate.number);

    let mut text = String::new();
    let mut truncated = false;
    let mut previous = 0;
    for candidate in &chosen {
        if candidate.number > previous + 1 {
            text.push_str(&skipped_marker(candidate.number - previous - 1));
            text.push('\n');
            truncated = true;
        }
        text.push_str(&candidate.text);
        text.push('\n');
        truncated |= candidate.cut;
        previous = candidate.number;
    }
    if total_lines > previous {
        text.push_str(&skipped_marker(total_lines - previous));
        text.push('\n');
        truncated = true;
    }
    if text.len() > budget {
        // Only when the budget cannot hold even one marker.
        text.clear();
        truncated = total_lines > 0;
    }
    Rendered { text, truncated }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(number: u64, text: &str, rank: Rank) -> Candidate {
        Candidate { number, text: text.to_owned(), cut: false, rank }
    }

    #[test]
    fn skipped_runs_become_counted_markers() {
        let candidates = vec![
            line(3, "error: boom", Rank::Error { newest_first: Reverse(3) }),
            line(4, "  at main", Rank::Context { distance: 1, newest_first: Reverse(3) }),
            line(10, "ERROR: Job failed: exit code 1", Rank::TailCore { from_end: 0 }),
        ];
        let rendered = render(candidates, 10, 1000);
        assert_eq!(
            rendered.text,
            "[… 2 lines skipped …]\nerror: boom\n  at main\n[… 5 lines skipped …]\nERROR: Job failed: exit code 1\n"
        );
        assert!(rendered.truncated);
    }

    #[test]
    fn a_whole_log_that_fits_is_not_truncated() {
        let candidates =
            vec![line(1, "one", Rank::TailCore { from_end: 1 }), line(2, "two", Rank::TailCore { from_end: 0 })];
        let rendered = render(candidates, 2, 1000);
        assert_eq!(rendered.text, "one\ntwo\n");
        assert!(!rendered.truncated);
    }

    #[test]
    fn the_most_important_lines_win_when_the_budget_is_short() {
        let candidates = vec![
            line(1, "error: first", Rank::Error { newest_first: Reverse(1) }),
            line(5, "error: second", Rank::Error { newest_first: Reverse(5) }),
            line(9, "tail", Rank::TailCore { from_end: 0 }),
        ];
        let budget = "tail\n".len() + "error: second\n".len() + 2 * marker_cost();
        let rendered = render(candidates, 9, budget);
        assert_eq!(rendered.text, "[… 4 lines skipped …]\nerror: second\n[… 3 lines skipped …]\ntail\n");
    }

    #[test]
    fn a_budget_below_one_marker_yields_nothing() {
        let rendered = render(vec![line(1, "x", Rank::TailCore { from_end: 1 })], 2, 3);
        assert_eq!(rendered.text, "");
        assert!(rendered.truncated);
    }
}
