//! Unified diffs turned into a map of every line: added, removed or unchanged, with its number
//! in the old and the new file.
//!
//! GitLab accepts a diff comment only at a position that matches its own reading of the diff
//! (added line: `new_line` only; removed: `old_line` only; unchanged: both, also outside the
//! hunks when the two numbers agree with the offset there), and it names lines in
//! `line_range` by the `line_code` its diff parser computes. This module reproduces that reading
//! exactly, for the per-file `diff` text of `GET …/merge_requests/:iid/diffs` and for the full
//! `git diff` output (default `a/` `b/` prefixes) used when GitLab collapsed or cut a file. No IO.

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::gitlab::types::FileDiff;

/// Which version of a file a line number counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The merge request's version (added and unchanged lines).
    New,
    /// The target's version (removed and unchanged lines).
    Old,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Old => "old",
        }
    }
}

/// What the diff did to a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineKind {
    Added,
    Removed,
    /// Present in both versions, unchanged.
    Context,
}

/// One line shown in a hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub kind: LineKind,
    /// The line's number in the old file; `None` for an added line.
    pub old_line: Option<u32>,
    /// The line's number in the new file; `None` for a removed line.
    pub new_line: Option<u32>,
    /// GitLab's running old-side counter at this line (for an added line: the number the next
    /// old line has); the old half of the `line_code`.
    pub old_pos: u32,
    /// GitLab's running new-side counter at this line; the new half of the `line_code`.
    pub new_pos: u32,
    /// The line without its `+`/`-`/` ` prefix and without the line break.
    pub text: String,
}

/// One `@@ -a,b +c,d @@` hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub old_start: u32,
    pub old_count: u32,
    pub new_start: u32,
    pub new_count: u32,
    pub lines: Vec<DiffLine>,
    /// The hunk's last old line is the old file's last line and has no line break
    /// (`\ No newline at end of file`).
    pub old_missing_newline: bool,
    /// The same for the new file.
    pub new_missing_newline: bool,
}

impl Hunk {
    /// The first and one-past-last line numbers this hunk covers on `side` (empty for a count of
    /// zero, whose start names the line before the change).
    fn span(&self, side: Side) -> (u32, u32) {
        let (start, count) = match side {
            Side::New => (self.new_start, self.new_count),
            Side::Old => (self.old_start, self.old_count),
        };
        if count == 0 {
            (start.saturating_add(1), start.saturating_add(1))
        } else {
            (start, start.saturating_add(count))
        }
    }
}

/// Where a line of a file sits relative to the diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineLocation {
    pub kind: LineKind,
    pub old_line: Option<u32>,
    pub new_line: Option<u32>,
    /// GitLab's counters for the `line_code` (equal to the line numbers outside hunks).
    pub old_pos: u32,
    pub new_pos: u32,
    /// Whether the line is shown in a hunk; an unchanged line outside the hunks is still a valid
    /// position, GitLab expands the diff to it.
    pub in_hunk: bool,
}

impl LineLocation {
    fn from_diff_line(line: &DiffLine) -> Self {
        Self {
            kind: line.kind,
            old_line: line.old_line,
            new_line: line.new_line,
            old_pos: line.old_pos,
            new_pos: line.new_pos,
            in_hunk: true,
        }
    }

    /// GitLab's `line_code` of this line in the file at `path`: `<sha1(path)>_<old>_<new>`.
    pub fn line_code(&self, path: &str) -> String {
        line_code(path, self.old_pos, self.new_pos)
    }
}

/// `<sha1(path)>_<old_pos>_<new_pos>`, as GitLab's diff parser names a line.
pub fn line_code(path: &str, old_pos: u32, new_pos: u32) -> String {
    format!("{}_{old_pos}_{new_pos}", hex::encode(Sha1::digest(path.as_bytes())))
}

/// The diff of one file, line by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMap {
    pub old_path: String,
    pub new_path: String,
    pub new_file: bool,
    pub deleted_file: bool,
    pub renamed_file: bool,
    /// A binary file: no lines to comment on.
    pub binary: bool,
    pub hunks: Vec<Hunk>,
    /// The number of lines of the new file, when known (from the diff itself for new and
    /// deleted files and for a last line without line break, or from [`FileMap::with_new_line_count`]).
    new_line_count: Option<u32>,
}

/// Why a diff could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The text is not a unified diff, or a hunk is shorter or longer than its header says.
    #[error("malformed diff of `{path}` at line {line}: {reason}")]
    Malformed { path: String, line: usize, reason: String },
}

/// Flags GitLab (or a `git diff` header) gives about a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct FileFlags {
    new_file: bool,
    deleted_file: bool,
    renamed_file: bool,
    binary: bool,
}

impl FileMap {
    /// Reads one file of GitLab's `/diffs` answer.
    pub fn from_file_diff(diff: &FileDiff) -> Result<Self, DiffError> {
        let flags = FileFlags {
            new_file: diff.new_file,
            deleted_file: diff.deleted_file,
            renamed_file: diff.renamed_file,
            binary: false,
        };
        let lines: Vec<&str> = diff.diff.lines().collect();
        // GitLab sometimes keeps the `---`/`+++` lines in front of the hunks.
        let first = lines.iter().position(|line| !(line.starts_with("--- ") || line.starts_with("+++ ")));
        let body = first.map_or(&[][..], |at| &lines[at..]);
        Self::from_body(diff.old_path.clone(), diff.new_path.clone(), flags, body, 1)
    }

    fn from_body(
        old_path: String,
        new_path: String,
        mut flags: FileFlags,
        body: &[&str],
        first_line_number: usize,
    ) -> Result<Self, DiffError> {
        if body.iter().any(|line| line.starts_with("Binary files ") || *line == "GIT binary patch") {
            flags.binary = true;
        }
        let hunks = if flags.binary {
            Vec::new()
        } else {
            parse_hunks(body, first_line_number).map_err(|(line, reason)| DiffError::Malformed {
                path: if new_path.is_empty() { old_path.clone() } else { new_path.clone() },
                line,
                reason,
            })?
        };
        let mut file = Self {
            old_path,
            new_path,
            new_file: flags.new_file,
            deleted_file: flags.deleted_file,
            renamed_file: flags.renamed_file,
            binary: flags.binary,
            hunks,
            new_line_count: None,
        };
        file.new_line_count = file.line_count_from_diff();
        Ok(file)
    }

    /// The path GitLab names the file by in a `line_code`: the new path, or the old one for a
    /// deleted file.
    pub fn path(&self) -> &str {
        if self.new_path.is_empty() { &self.old_path } else { &self.new_path }
    }

    /// Tells the map how many lines the new file has (from the checkout), so unchanged lines
    /// after the last hunk can be placed too.
    #[must_use]
    pub fn with_new_line_count(mut self, lines: u32) -> Self {
        self.new_line_count = Some(lines);
        self
    }

    /// Like [`FileMap::with_new_line_count`], on a file inside a [`LineMap`].
    pub fn set_new_line_count(&mut self, lines: u32) {
        self.new_line_count = Some(lines);
    }

    /// The number of lines of the new file, when known.
    pub fn new_line_count(&self) -> Option<u32> {
        self.new_line_count
    }

    /// The number of lines of the old file, when known.
    pub fn old_line_count(&self) -> Option<u32> {
        let offset = self.total_offset();
        self.new_line_count.and_then(|new| u32::try_from(i64::from(new) - offset).ok())
    }

    /// Every line the hunks show, in order.
    pub fn lines(&self) -> impl Iterator<Item = &DiffLine> {
        self.hunks.iter().flat_map(|hunk| hunk.lines.iter())
    }

    pub fn added_count(&self) -> u32 {
        count_u32(self.lines().filter(|line| line.kind == LineKind::Added).count())
    }

    pub fn removed_count(&self) -> u32 {
        count_u32(self.lines().filter(|line| line.kind == LineKind::Removed).count())
    }

    /// Where line `number` of the `side` version is, or `None` when that version has no such
    /// line (or it lies after the last hunk and the file's length is unknown).
    pub fn locate(&self, side: Side, number: u32) -> Option<LineLocation> {
        if number == 0 || self.binary {
            return None;
        }
        let mut offset: i64 = 0;
        let mut before_a_hunk = false;
        for hunk in &self.hunks {
            let (first, end) = hunk.span(side);
            if number < first {
                before_a_hunk = true;
                break;
            }
            if number < end {
                return hunk
                    .lines
                    .iter()
                    .find(|line| match side {
                        Side::New => line.new_line == Some(number),
                        Side::Old => line.old_line == Some(number),
                    })
                    .map(LineLocation::from_diff_line);
            }
            offset += i64::from(hunk.new_count) - i64::from(hunk.old_count);
        }
        let last = match side {
            Side::New => self.new_line_count,
            Side::Old => self.old_line_count(),
        };
        // A line before a hunk exists; one after the last hunk only within the known length.
        if !before_a_hunk && last.is_none_or(|last| number > last) {
            return None;
        }
        let other = match side {
            Side::New => i64::from(number) - offset,
            Side::Old => i64::from(number) + offset,
        };
        let other = u32::try_from(other).ok().filter(|other| *other > 0)?;
        let (old, new) = match side {
            Side::New => (other, number),
            Side::Old => (number, other),
        };
        Some(LineLocation {
            kind: LineKind::Context,
            old_line: Some(old),
            new_line: Some(new),
            old_pos: old,
            new_pos: new,
            in_hunk: false,
        })
    }

    /// The text of a line the hunks show.
    pub fn text(&self, side: Side, number: u32) -> Option<&str> {
        self.lines()
            .find(|line| match side {
                Side::New => line.new_line == Some(number),
                Side::Old => line.old_line == Some(number),
            })
            .map(|line| line.text.as_str())
    }

    fn total_offset(&self) -> i64 {
        self.hunks.iter().map(|hunk| i64::from(hunk.new_count) - i64::from(hunk.old_count)).sum()
    }

    /// The new file's length when the diff itself tells it.
    fn line_count_from_diff(&self) -> Option<u32> {
        if self.deleted_file {
            return Some(0);
        }
        if self.new_file {
            return Some(self.hunks.iter().fold(0_u32, |total, hunk| total.saturating_add(hunk.new_count)));
        }
        let last = self.hunks.last()?;
        if last.new_missing_newline {
            return last.lines.iter().rev().find_map(|line| line.new_line);
        }
        if last.old_missing_newline {
            let old_len = last.lines.iter().rev().find_map(|line| line.old_line)?;
            return u32::try_from(i64::from(old_len) + self.total_offset()).ok();
        }
        None
    }
}

/// Every file of a merge request's diff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineMap {
    files: Vec<FileMap>,
}

impl LineMap {
    /// Reads GitLab's `/diffs` answer, one [`FileDiff`] per file.
    pub fn from_file_diffs(diffs: &[FileDiff]) -> Result<Self, DiffError> {
        Ok(Self { files: diffs.iter().map(FileMap::from_file_diff).collect::<Result<_, _>>()? })
    }

    /// Reads full `git diff` output (with `diff --git` headers and the default `a/` `b/` prefixes).
    pub fn from_git_diff(text: &str) -> Result<Self, DiffError> {
        let lines: Vec<&str> = text.lines().collect();
        let starts: Vec<usize> =
            lines.iter().enumerate().filter(|(_, line)| line.starts_with("diff --git ")).map(|(at, _)| at).collect();
        if starts.is_empty() && lines.iter().any(|line| !line.trim().is_empty()) {
            return Err(DiffError::Malformed {
                path: String::new(),
                line: 1,
                reason: "no `diff --git` header".to_owned(),
            });
        }
        let mut files = Vec::with_capacity(starts.len());
        for (index, start) in starts.iter().enumerate() {
            let end = starts.get(index + 1).copied().unwrap_or(lines.len());
            files.push(file_from_git_section(&lines[*start..end], start + 1)?);
        }
        Ok(Self { files })
    }

    /// Builds a map from files already read.
    pub fn from_files(files: Vec<FileMap>) -> Self {
        Self { files }
    }

    pub fn files(&self) -> &[FileMap] {
        &self.files
    }

    /// The file whose new path is `path`, else the one whose old path is (a deleted file, or the
    /// old name of a renamed one).
    pub fn file(&self, path: &str) -> Option<&FileMap> {
        self.files
            .iter()
            .find(|file| file.new_path == path)
            .or_else(|| self.files.iter().find(|file| file.old_path == path))
    }

    /// Like [`LineMap::file`], to record a file's length.
    pub fn file_mut(&mut self, path: &str) -> Option<&mut FileMap> {
        let at = self
            .files
            .iter()
            .position(|file| file.new_path == path)
            .or_else(|| self.files.iter().position(|file| file.old_path == path))?;
        self.files.get_mut(at)
    }
}

/// The files of full `git diff` output, each with its own part of the text from the first hunk
/// (or binary marker) on: what GitLab's `diff` field would have held for that file.
pub fn git_diff_sections(text: &str) -> Result<Vec<(FileMap, String)>, DiffError> {
    let lines: Vec<&str> = text.lines().collect();
    let starts: Vec<usize> =
        lines.iter().enumerate().filter(|(_, line)| line.starts_with("diff --git ")).map(|(at, _)| at).collect();
    let mut sections = Vec::with_capacity(starts.len());
    for (index, start) in starts.iter().enumerate() {
        let end = starts.get(index + 1).copied().unwrap_or(lines.len());
        let section = &lines[*start..end];
        let file = file_from_git_section(section, start + 1)?;
        let body_start = section
            .iter()
            .position(|line| line.starts_with("@@") || line.starts_with("Binary files ") || *line == "GIT binary patch")
            .unwrap_or(section.len());
        let mut body = section[body_start..].join("\n");
        if !body.is_empty() {
            body.push('\n');
        }
        sections.push((file, body));
    }
    Ok(sections)
}

/// One `diff --git` section: extended headers, then hunks or a binary marker.
fn file_from_git_section(section: &[&str], first_line_number: usize) -> Result<FileMap, DiffError> {
    let header = section.first().copied().unwrap_or_default();
    let (mut old_path, mut new_path) =
        paths_of_git_header(header.trim_start_matches("diff --git ")).unwrap_or_default();
    let mut flags = FileFlags::default();
    let mut body_start = section.len();
    for (at, line) in section.iter().enumerate().skip(1) {
        if line.starts_with("@@") || line.starts_with("Binary files ") || *line == "GIT binary patch" {
            body_start = at;
            break;
        }
        if line.starts_with("new file mode") {
            flags.new_file = true;
        } else if line.starts_with("deleted file mode") {
            flags.deleted_file = true;
        } else if let Some(path) = line.strip_prefix("rename from ") {
            flags.renamed_file = true;
            old_path = unquote(path);
        } else if let Some(path) = line.strip_prefix("rename to ") {
            flags.renamed_file = true;
            new_path = unquote(path);
        } else if let Some(path) = line.strip_prefix("--- ") {
            if let Some(path) = strip_side_prefix(&unquote(path), "a/") {
                old_path = path;
            }
        } else if let Some(path) = line.strip_prefix("+++ ")
            && let Some(path) = strip_side_prefix(&unquote(path), "b/")
        {
            new_path = path;
        }
    }
    // GitLab reports a deleted file's new path and a new file's old path as the file's path.
    if flags.deleted_file && new_path.is_empty() {
        new_path.clone_from(&old_path);
    }
    if flags.new_file && old_path.is_empty() {
        old_path.clone_from(&new_path);
    }
    FileMap::from_body(old_path, new_path, flags, &section[body_start..], first_line_number + body_start)
}

/// `a/<path>` → `<path>`; `/dev/null` → `None`.
fn strip_side_prefix(path: &str, prefix: &str) -> Option<String> {
    if path == "/dev/null" {
        return None;
    }
    Some(path.strip_prefix(prefix).unwrap_or(path).to_owned())
}

/// The two paths of `a/<old> b/<new>`, each possibly quoted. Unquoted paths with spaces are
/// ambiguous; the split that gives two equal paths wins (no rename), as git itself reads it.
fn paths_of_git_header(rest: &str) -> Option<(String, String)> {
    if rest.starts_with('"') {
        let (old, after) = quoted_token(rest)?;
        let new = after.trim_start();
        let new = if new.starts_with('"') { quoted_token(new)?.0 } else { new.to_owned() };
        return Some((old.strip_prefix("a/")?.to_owned(), new.strip_prefix("b/")?.to_owned()));
    }
    let splits: Vec<usize> = rest.match_indices(" b/").map(|(at, _)| at).collect();
    let pick = splits.iter().find(|at| rest[..**at].strip_prefix("a/") == Some(&rest[**at + 3..])).or(splits.first())?;
    let old = rest[..*pick].strip_prefix("a/")?;
    let new = &rest[*pick + 3..];
    let new = if new.starts_with('"') { quoted_token(new)?.0.strip_prefix("b/")?.to_owned() } else { new.to_owned() };
    Some((old.to_owned(), new))
}

/// A path as git prints it: verbatim, or in double quotes with C escapes when it has special bytes.
fn unquote(path: &str) -> String {
    let path = path.trim_end_matches('\t');
    if path.starts_with('"') {
        quoted_token(path).map_or_else(|| path.to_owned(), |(text, _)| text)
    } else {
        path.to_owned()
    }
}

/// Reads one `"…"` token with git's C escapes (`\t`, `\n`, `\"`, `\\`, octal bytes); returns the
/// text and what follows.
fn quoted_token(text: &str) -> Option<(String, &str)> {
    let inner = text.strip_prefix('"')?;
    let mut bytes = Vec::new();
    let mut chars = inner.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((String::from_utf8_lossy(&bytes).into_owned(), &inner[at + 1..])),
            '\\' => {
                let (_, escaped) = chars.next()?;
                match escaped {
                    'a' => bytes.push(7),
                    'b' => bytes.push(8),
                    'f' => bytes.push(12),
                    'n' => bytes.push(b'\n'),
                    'r' => bytes.push(b'\r'),
                    't' => bytes.push(b'\t'),
                    'v' => bytes.push(11),
                    '0'..='7' => {
                        let mut value = escaped.to_digit(8)?;
                        for _ in 0..2 {
                            let (_, digit) = chars.next()?;
                            value = value * 8 + digit.to_digit(8)?;
                        }
                        bytes.push(u8::try_from(value).ok()?);
                    }
                    other => {
                        let mut buffer = [0; 4];
                        bytes.extend_from_slice(other.encode_utf8(&mut buffer).as_bytes());
                    }
                }
            }
            other => {
                let mut buffer = [0; 4];
                bytes.extend_from_slice(other.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
    None
}

/// `@@ -a[,b] +c[,d] @@ …` → (a, b, c, d); a missing count is 1.
fn parse_hunk_header(line: &str) -> Option<(u32, u32, u32, u32)> {
    let rest = line.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |text: &str| -> Option<(u32, u32)> {
        match text.split_once(',') {
            Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
            None => Some((text.parse().ok()?, 1)),
        }
    };
    let (old_start, old_count) = range(old)?;
    let (new_start, new_count) = range(new)?;
    Some((old_start, old_count, new_start, new_count))
}

/// Reads the hunks of one file; an error carries the 1-based line number and the reason.
fn parse_hunks(body: &[&str], first_line_number: usize) -> Result<Vec<Hunk>, (usize, String)> {
    let mut hunks = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let line = body[at];
        let number = first_line_number + at;
        if line.is_empty() {
            at += 1;
            continue;
        }
        let (old_start, old_count, new_start, new_count) = parse_hunk_header(line)
            .ok_or_else(|| (number, format!("expected a hunk header, found `{}`", shorten(line))))?;
        at += 1;
        let mut hunk = Hunk {
            old_start,
            old_count,
            new_start,
            new_count,
            lines: Vec::new(),
            old_missing_newline: false,
            new_missing_newline: false,
        };
        let (mut old_pos, mut new_pos) = (old_start, new_start);
        let (mut old_left, mut new_left) = (old_count, new_count);
        let mut last_kind = None;
        while at < body.len() {
            let line = body[at];
            if line.starts_with('\\') {
                // `\ No newline at end of file`, in whatever language git spoke.
                match last_kind {
                    Some(LineKind::Removed) => hunk.old_missing_newline = true,
                    Some(LineKind::Added) => hunk.new_missing_newline = true,
                    Some(LineKind::Context) => {
                        hunk.old_missing_newline = true;
                        hunk.new_missing_newline = true;
                    }
                    None => return Err((first_line_number + at, "a no-newline marker before any line".to_owned())),
                }
                at += 1;
                continue;
            }
            if old_left == 0 && new_left == 0 {
                break;
            }
            // Some tools strip the single space of an empty unchanged line.
            let (kind, text) = match line.chars().next() {
                Some('+') => (LineKind::Added, &line[1..]),
                Some('-') => (LineKind::Removed, &line[1..]),
                Some(' ') => (LineKind::Context, &line[1..]),
                None => (LineKind::Context, ""),
                Some(_) => break,
            };
            let (old_line, new_line) = match kind {
                LineKind::Added if new_left > 0 => {
                    new_left -= 1;
                    (None, Some(new_pos))
                }
                LineKind::Removed if old_left > 0 => {
                    old_left -= 1;
                    (Some(old_pos), None)
                }
                LineKind::Context if old_left > 0 && new_left > 0 => {
                    old_left -= 1;
                    new_left -= 1;
                    (Some(old_pos), Some(new_pos))
                }
                _ => return Err((first_line_number + at, "the hunk has more lines than its header says".to_owned())),
            };
            hunk.lines.push(DiffLine { kind, old_line, new_line, old_pos, new_pos, text: text.to_owned() });
            if old_line.is_some() {
                old_pos = old_pos.saturating_add(1);
            }
            if new_line.is_some() {
                new_pos = new_pos.saturating_add(1);
            }
            last_kind = Some(kind);
            at += 1;
        }
        if old_left > 0 || new_left > 0 {
            return Err((first_line_number + at, "the hunk has fewer lines than its header says".to_owned()));
        }
        if let Some(previous) = hunks.last().map(|hunk: &Hunk| hunk.span(Side::Old).1)
            && old_start < previous.saturating_sub(1)
        {
            return Err((number, "hunks overlap or are out of order".to_owned()));
        }
        hunks.push(hunk);
    }
    Ok(hunks)
}

fn shorten(line: &str) -> String {
    line.chars().take(60).collect()
}

fn count_u32(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
