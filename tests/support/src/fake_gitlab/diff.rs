//! Diffs as GitLab serves them (`/merge_requests/:iid/diffs`), parsed from the real `git diff`
//! output of a project's repository, and the line check GitLab applies to an inline comment's
//! `position` (its `line_code` validation).
//!
//! Keeping this a pure parser over git's text means the fake's idea of "which lines a diff
//! touches" comes from git itself, not from our own client's diff code it is meant to test.

use serde::Serialize;

/// One changed file of a merge request version, in the REST shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffFile {
    pub old_path: String,
    pub new_path: String,
    pub a_mode: String,
    pub b_mode: String,
    /// The hunks only (from the first `@@`), as GitLab's `diff` field carries them.
    pub diff: String,
    pub new_file: bool,
    pub renamed_file: bool,
    pub deleted_file: bool,
}

/// What a line of a hunk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Added,
    Removed,
    Context,
}

/// One line of a hunk with its numbers in the old and the new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HunkLine {
    pub kind: LineKind,
    pub old_line: Option<u64>,
    pub new_line: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HunkHeader {
    old_start: u64,
    old_count: u64,
    new_start: u64,
    new_count: u64,
}

/// Splits `git diff --no-color --full-index -M` output into per-file entries.
pub fn parse_git_diff(text: &str) -> Vec<DiffFile> {
    let mut files = Vec::new();
    let mut current: Option<DiffFile> = None;
    let mut in_hunks = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        if let Some(header) = bare.strip_prefix("diff --git ") {
            if let Some(file) = current.take() {
                files.push(file);
            }
            let (old_path, new_path) = split_header_paths(header);
            current = Some(DiffFile {
                old_path,
                new_path,
                a_mode: String::new(),
                b_mode: String::new(),
                diff: String::new(),
                new_file: false,
                renamed_file: false,
                deleted_file: false,
            });
            in_hunks = false;
            continue;
        }
        let Some(file) = current.as_mut() else { continue };
        if in_hunks {
            file.diff.push_str(line);
            continue;
        }
        if bare.starts_with("@@") {
            in_hunks = true;
            file.diff.push_str(line);
        } else if let Some(mode) = bare.strip_prefix("new file mode ") {
            file.new_file = true;
            file.a_mode = "0".to_owned();
            file.b_mode = mode.to_owned();
        } else if let Some(mode) = bare.strip_prefix("deleted file mode ") {
            file.deleted_file = true;
            file.a_mode = mode.to_owned();
            file.b_mode = "0".to_owned();
        } else if let Some(mode) = bare.strip_prefix("old mode ") {
            file.a_mode = mode.to_owned();
        } else if let Some(mode) = bare.strip_prefix("new mode ") {
            file.b_mode = mode.to_owned();
        } else if let Some(path) = bare.strip_prefix("rename from ") {
            file.renamed_file = true;
            file.old_path = path.to_owned();
        } else if let Some(path) = bare.strip_prefix("rename to ") {
            file.renamed_file = true;
            file.new_path = path.to_owned();
        } else if let Some(index) = bare.strip_prefix("index ") {
            if let Some((_, mode)) = index.split_once(' ') {
                if file.a_mode.is_empty() {
                    file.a_mode = mode.to_owned();
                }
                if file.b_mode.is_empty() {
                    file.b_mode = mode.to_owned();
                }
            }
        } else if let Some(path) = bare.strip_prefix("--- a/") {
            file.old_path = path.to_owned();
        } else if let Some(path) = bare.strip_prefix("+++ b/") {
            file.new_path = path.to_owned();
        }
    }
    if let Some(file) = current.take() {
        files.push(file);
    }
    for file in &mut files {
        if file.a_mode.is_empty() {
            file.a_mode = file.b_mode.clone();
        }
    }
    files
}

/// `a/x b/x` → (`x`, `x`). Paths containing ` b/` are ambiguous in this header; the `---`/`+++`
/// and `rename` lines that follow correct them when present.
fn split_header_paths(header: &str) -> (String, String) {
    match header.split_once(" b/") {
        Some((old, new)) => (old.strip_prefix("a/").unwrap_or(old).to_owned(), new.to_owned()),
        None => (header.to_owned(), header.to_owned()),
    }
}

fn parse_hunk_header(line: &str) -> Option<HunkHeader> {
    let inner = line.strip_prefix("@@ -")?;
    let (ranges, _) = inner.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let parse_range = |range: &str| -> Option<(u64, u64)> {
        match range.split_once(',') {
            Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
            None => Some((range.parse().ok()?, 1)),
        }
    };
    let (old_start, old_count) = parse_range(old)?;
    let (new_start, new_count) = parse_range(new)?;
    Some(HunkHeader { old_start, old_count, new_start, new_count })
}

/// Every line of every hunk of a file's diff, numbered.
pub fn hunk_lines(diff: &str) -> Vec<HunkLine> {
    let mut lines = Vec::new();
    let (mut old, mut new) = (0u64, 0u64);
    for line in diff.lines() {
        if let Some(header) = parse_hunk_header(line) {
            old = header.old_start;
            new = header.new_start;
            continue;
        }
        match line.as_bytes().first() {
            Some(b'+') => {
                lines.push(HunkLine { kind: LineKind::Added, old_line: None, new_line: Some(new) });
                new += 1;
            }
            Some(b'-') => {
                lines.push(HunkLine { kind: LineKind::Removed, old_line: Some(old), new_line: None });
                old += 1;
            }
            Some(b' ') | None => {
                lines.push(HunkLine { kind: LineKind::Context, old_line: Some(old), new_line: Some(new) });
                old += 1;
                new += 1;
            }
            // `\ No newline at end of file` and anything else carries no line.
            _ => {}
        }
    }
    lines
}

/// Whether GitLab would find a diff line for this `old_line`/`new_line` pair, i.e. compute a
/// `line_code` for the note. `old_len`/`new_len` are the line counts of the file in the base
/// and head revisions (0 when absent).
///
/// Rules (GitLab's discussions API): an added line takes only `new_line`, a removed line only
/// `old_line`, an unchanged line both. An unchanged line outside the hunks is accepted when the
/// pair agrees with the offset between the two files at that place, as GitLab expands the diff.
pub fn position_is_valid(diff: &str, old_line: Option<u64>, new_line: Option<u64>, old_len: u64, new_len: u64) -> bool {
    let lines = hunk_lines(diff);
    match (old_line, new_line) {
        (None, None) => false,
        (None, Some(new)) => lines.iter().any(|l| l.kind == LineKind::Added && l.new_line == Some(new)),
        (Some(old), None) => lines.iter().any(|l| l.kind == LineKind::Removed && l.old_line == Some(old)),
        (Some(old), Some(new)) => {
            if lines.iter().any(|l| l.kind == LineKind::Context && l.old_line == Some(old) && l.new_line == Some(new)) {
                return true;
            }
            if old == 0 || new == 0 || old > old_len || new > new_len {
                return false;
            }
            unchanged_outside_hunks(diff, old, new)
        }
    }
}

/// An unchanged line between hunks: it must not fall inside any hunk and its numbers must differ
/// by the running offset the hunks before it introduce.
fn unchanged_outside_hunks(diff: &str, old: u64, new: u64) -> bool {
    let mut offset: i64 = 0;
    for header in diff.lines().filter_map(parse_hunk_header) {
        let hunk_old_end = header.old_start + header.old_count; // exclusive
        let hunk_new_end = header.new_start + header.new_count;
        if old < header.old_start.max(1) && new < header.new_start.max(1) {
            break;
        }
        if (old >= header.old_start && old < hunk_old_end) || (new >= header.new_start && new < hunk_new_end) {
            return false;
        }
        offset += header.new_count as i64 - header.old_count as i64;
    }
    new as i64 - old as i64 == offset
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff --git a/src/lib.rs b/src/lib.rs\nindex 1111111111111111111111111111111111111111..2222222222222222222222222222222222222222 100644\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -2,3 +2,4 @@ fn a() {\n two\n-three\n+THREE\n+three-and-a-half\n four\ndiff --git a/new.txt b/new.txt\nnew file mode 100644\nindex 0000000000000000000000000000000000000000..3333333333333333333333333333333333333333\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hello\n";

    #[test]
    fn parses_files_modes_and_hunks() {
        let files = parse_git_diff(DIFF);
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].new_path, "src/lib.rs");
        assert_eq!(files[0].a_mode, "100644");
        assert!(files[0].diff.starts_with("@@ -2,3 +2,4 @@"));
        assert!(files[1].new_file);
        assert_eq!((files[1].a_mode.as_str(), files[1].b_mode.as_str()), ("0", "100644"));
    }

    #[test]
    fn positions_follow_gitlab_line_rules() {
        let diff = &parse_git_diff(DIFF)[0].diff;
        // removed `three` (old 3), added THREE (new 3) and (new 4), context two (2,2), four (4,5)
        assert!(position_is_valid(diff, Some(3), None, 10, 11));
        assert!(position_is_valid(diff, None, Some(4), 10, 11));
        assert!(position_is_valid(diff, Some(2), Some(2), 10, 11));
        assert!(position_is_valid(diff, Some(4), Some(5), 10, 11));
        // outside the hunk: before it offset 0, after it offset +1
        assert!(position_is_valid(diff, Some(1), Some(1), 10, 11));
        assert!(position_is_valid(diff, Some(9), Some(10), 10, 11));
        assert!(!position_is_valid(diff, Some(9), Some(9), 10, 11));
        // wrong kind or past the end of the file
        assert!(!position_is_valid(diff, None, Some(2), 10, 11));
        assert!(!position_is_valid(diff, Some(3), Some(3), 10, 11));
        assert!(!position_is_valid(diff, Some(40), Some(41), 10, 11));
    }
}
