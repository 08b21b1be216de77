//! Splitting a large merge request into review prompts that each fit a byte budget, so every
//! changed file is reviewed instead of the diff being cut off at an arbitrary point.
//!
//! Files are taken in path order (neighbours in a folder stay together) and packed greedily.
//! A file is left out only for a reason the summary can state: binary, generated, bigger than
//! the per-file limit, no content change, or a diff GitLab did not include (the caller fetches
//! those with `git diff` and plans again).

use crate::gitlab::types::FileDiff;
use crate::prompts::message::{SkipKind, SkippedFileNote};
use crate::prompts::stage::{ChangedFile, ChangedFiles, FileChange};
use crate::untrusted::{MarkdownCodeSpan, UntrustedLine};

use super::diff::FileMap;

/// The bounds of one review prompt's diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// Bytes of diff one prompt may carry.
    pub budget_bytes: usize,
    /// A file whose diff is larger than this is skipped (never more than `budget_bytes`).
    pub max_file_bytes: usize,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        Self { budget_bytes: 60_000, max_file_bytes: 40_000 }
    }
}

/// The largest changed file the review reads from the checkout (1 MiB). A larger one (a data
/// dump, a bundled library) is skipped and named in the summary: the agent would have to read
/// it to review it, and the runner counts its lines.
pub const MAX_REVIEWED_FILE_BYTES: u64 = 1024 * 1024;

/// Why a changed file is not reviewed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    #[error("binary file")]
    Binary,
    #[error("generated file")]
    Generated,
    #[error("diff of {bytes} bytes is over the limit of {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
    /// The file in the checkout is over [`MAX_REVIEWED_FILE_BYTES`], whatever its diff.
    #[error("file of {bytes} bytes is over the limit of {limit} bytes")]
    FileTooLarge { bytes: usize, limit: usize },
    #[error("renamed or mode changed only, no content change")]
    NoContentChange,
    #[error("GitLab did not include the diff (collapsed or too large)")]
    DiffUnavailable,
    #[error("the agent's findings were invalid twice")]
    InvalidFindings,
    #[error("not reviewed: `TOTAL_TIMEOUT` ran out")]
    OutOfTime,
    /// A pattern of the repository's `review.exclude` matches it.
    #[error("excluded by the repository's `.gitlab/copilot-agent.yml`")]
    Excluded,
}

impl SkippedFile {
    /// The file as the summary note lists it.
    pub fn for_summary(&self) -> SkippedFileNote {
        let (reason, bytes, limit) = match self.reason {
            SkipReason::Binary => (SkipKind::Binary, None, None),
            SkipReason::Generated => (SkipKind::Generated, None, None),
            SkipReason::TooLarge { bytes, limit } => (SkipKind::TooLarge, Some(bytes), Some(limit)),
            SkipReason::FileTooLarge { bytes, limit } => (SkipKind::FileTooLarge, Some(bytes), Some(limit)),
            SkipReason::NoContentChange => (SkipKind::NoContentChange, None, None),
            SkipReason::DiffUnavailable => (SkipKind::DiffUnavailable, None, None),
            SkipReason::InvalidFindings => (SkipKind::InvalidFindings, None, None),
            SkipReason::OutOfTime => (SkipKind::OutOfTime, None, None),
            SkipReason::Excluded => (SkipKind::Excluded, None, None),
        };
        SkippedFileNote { path: MarkdownCodeSpan::new(&self.path), reason, bytes, limit }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    pub path: String,
    pub reason: SkipReason,
}

/// The files of one prompt, as indices into the planned slice, and the bytes their diff takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub files: Vec<usize>,
    pub bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChunkPlan {
    pub chunks: Vec<Chunk>,
    pub skipped: Vec<SkippedFile>,
}

/// Lock files and build output that a review of the change would only waste budget on.
fn looks_generated(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(
        name,
        "Cargo.lock"
            | "package-lock.json"
            | "yarn.lock"
            | "pnpm-lock.yaml"
            | "poetry.lock"
            | "Pipfile.lock"
            | "composer.lock"
            | "Gemfile.lock"
            | "go.sum"
            | "uv.lock"
    ) || [".min.js", ".min.css", ".pb.go", "_pb2.py", ".snap", ".map"].iter().any(|suffix| name.ends_with(suffix))
}

fn is_binary(diff: &FileDiff) -> bool {
    diff.diff.lines().any(|line| line.starts_with("Binary files ") || line == "GIT binary patch")
}

/// The text one file contributes to a prompt: a `diff --git` header (with the new, deleted or
/// renamed lines git writes) and GitLab's hunks; [`super::diff::LineMap::from_git_diff`] reads it back.
pub fn file_diff_text(diff: &FileDiff) -> String {
    let old = if diff.new_file { "/dev/null".to_owned() } else { format!("a/{}", diff.old_path) };
    let new = if diff.deleted_file { "/dev/null".to_owned() } else { format!("b/{}", diff.new_path) };
    let mut text = format!("diff --git a/{} b/{}\n", diff.old_path, diff.new_path);
    if diff.new_file {
        text.push_str(&format!("new file mode {}\n", diff.b_mode.as_deref().unwrap_or("100644")));
    } else if diff.deleted_file {
        text.push_str(&format!("deleted file mode {}\n", diff.a_mode.as_deref().unwrap_or("100644")));
    } else if diff.renamed_file {
        text.push_str(&format!("rename from {}\nrename to {}\n", diff.old_path, diff.new_path));
    }
    text.push_str(&format!("--- {old}\n+++ {new}\n"));
    let hunks = diff.diff.trim_end_matches('\n');
    let hunks = hunks.strip_prefix(&format!("--- {old}\n+++ {new}\n")).unwrap_or(hunks);
    text.push_str(hunks);
    text.push('\n');
    text
}

/// Fills the files GitLab sent without a diff (collapsed, or over its limits) from the full
/// `git diff <base> <head>` of the checkout; returns how many were filled. Files with no
/// content change stay empty.
pub fn fill_missing_diffs(files: &mut [FileDiff], git_diff: &str) -> Result<usize, super::diff::DiffError> {
    let sections = super::diff::git_diff_sections(git_diff)?;
    let mut filled = 0;
    for file in files.iter_mut().filter(|file| file.diff.trim().is_empty()) {
        let found = sections.iter().find(|(map, _)| map.new_path == file.new_path && map.old_path == file.old_path);
        if let Some((_, body)) = found.filter(|(_, body)| !body.trim().is_empty()) {
            file.diff.clone_from(body);
            filled += 1;
        }
    }
    Ok(filled)
}

/// The diff text of one chunk, files in order.
pub fn chunk_diff_text(files: &[FileDiff], chunk: &Chunk) -> String {
    chunk.files.iter().filter_map(|at| files.get(*at)).map(file_diff_text).collect()
}

/// The files of `maps` as the review prompt lists them, with their added and removed lines.
pub fn changed_files<'a>(maps: impl IntoIterator<Item = &'a FileMap>) -> ChangedFiles {
    let files = maps
        .into_iter()
        .map(|file| ChangedFile {
            path: UntrustedLine::new(file.path()),
            change: if file.new_file {
                FileChange::Added
            } else if file.deleted_file {
                FileChange::Deleted
            } else if file.renamed_file {
                FileChange::Renamed
            } else {
                FileChange::Modified
            },
            added_lines: file.added_count(),
            removed_lines: file.removed_count(),
        })
        .collect();
    ChangedFiles::new(files)
}

/// Packs every reviewable file of `files` into chunks within `limits`; each such file is in
/// exactly one chunk, every other file is listed with its reason.
pub fn plan_chunks(files: &[FileDiff], limits: ChunkLimits) -> ChunkPlan {
    let file_limit = limits.max_file_bytes.min(limits.budget_bytes);
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|a, b| files[*a].new_path.cmp(&files[*b].new_path));
    let mut plan = ChunkPlan::default();
    let mut current = Chunk { files: Vec::new(), bytes: 0 };
    for at in order {
        let file = &files[at];
        let path = if file.deleted_file { &file.old_path } else { &file.new_path };
        let skip = |reason| SkippedFile { path: path.clone(), reason };
        if is_binary(file) {
            plan.skipped.push(skip(SkipReason::Binary));
            continue;
        }
        if file.generated_file == Some(true) || looks_generated(path) {
            plan.skipped.push(skip(SkipReason::Generated));
            continue;
        }
        if file.diff.trim().is_empty() {
            let reason = if file.renamed_file || (!file.new_file && !file.deleted_file && file.a_mode != file.b_mode) {
                SkipReason::NoContentChange
            } else if file.new_file || file.deleted_file {
                // An empty file added or removed: nothing to read.
                SkipReason::NoContentChange
            } else {
                SkipReason::DiffUnavailable
            };
            plan.skipped.push(skip(reason));
            continue;
        }
        let bytes = file_diff_text(file).len();
        if bytes > file_limit {
            plan.skipped.push(skip(SkipReason::TooLarge { bytes, limit: file_limit }));
            continue;
        }
        if current.bytes + bytes > limits.budget_bytes && !current.files.is_empty() {
            plan.chunks.push(std::mem::replace(&mut current, Chunk { files: Vec::new(), bytes: 0 }));
        }
        current.files.push(at);
        current.bytes += bytes;
    }
    if !current.files.is_empty() {
        plan.chunks.push(current);
    }
    plan
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn file(path: &str, diff: String) -> FileDiff {
        FileDiff {
            old_path: path.into(),
            new_path: path.into(),
            a_mode: Some("100644".into()),
            b_mode: Some("100644".into()),
            diff,
            new_file: false,
            renamed_file: false,
            deleted_file: false,
            generated_file: None,
        }
    }

    fn hunk(lines: usize) -> String {
        let mut text = format!("@@ -1,{lines} +1,{lines} @@\n");
        for at in 0..lines {
            text.push_str(&format!("-old line {at}\n+new line {at}\n"));
        }
        text
    }

    #[test]
    fn a_300_file_merge_request_is_reviewed_whole_within_the_budget() {
        let mut files: Vec<FileDiff> =
            (0..300).map(|at| file(&format!("src/module_{:03}/file.rs", 299 - at), hunk(1 + at % 40))).collect();
        files.push(file("assets/logo.png", "Binary files a/assets/logo.png and b/assets/logo.png differ\n".into()));
        files.push(file("Cargo.lock", hunk(3)));
        files.push(FileDiff { generated_file: Some(true), ..file("src/generated.rs", hunk(2)) });
        files.push(file("huge.rs", hunk(3_000)));
        files.push(file("collapsed.rs", String::new()));
        files.push(FileDiff { renamed_file: true, new_path: "moved.rs".into(), ..file("was.rs", String::new()) });
        let limits = ChunkLimits { budget_bytes: 8_000, max_file_bytes: 6_000 };
        let plan = plan_chunks(&files, limits);

        let mut covered = HashSet::new();
        for chunk in &plan.chunks {
            let text = chunk_diff_text(&files, chunk);
            assert_eq!(text.len(), chunk.bytes);
            assert!(chunk.bytes <= limits.budget_bytes, "a chunk of {} bytes", chunk.bytes);
            for at in &chunk.files {
                assert!(covered.insert(*at), "file {at} is in two chunks");
            }
        }
        assert_eq!(covered.len(), 300, "every reviewable file is in a chunk");
        assert!((0..300).all(|at| covered.contains(&at)));
        assert!(plan.chunks.len() > 10, "the budget forces many chunks: {}", plan.chunks.len());
        // Path order keeps a folder's files together.
        let first = &files[plan.chunks[0].files[0]];
        assert_eq!(first.new_path, "src/module_000/file.rs");

        let skipped: Vec<(&str, &SkipReason)> = plan.skipped.iter().map(|s| (s.path.as_str(), &s.reason)).collect();
        let huge_bytes = file_diff_text(&files[303]).len();
        assert_eq!(
            skipped,
            [
                ("Cargo.lock", &SkipReason::Generated),
                ("assets/logo.png", &SkipReason::Binary),
                ("collapsed.rs", &SkipReason::DiffUnavailable),
                ("huge.rs", &SkipReason::TooLarge { bytes: huge_bytes, limit: 6_000 }),
                ("moved.rs", &SkipReason::NoContentChange),
                ("src/generated.rs", &SkipReason::Generated),
            ]
        );
        assert_eq!(
            plan.skipped[3].reason.to_string(),
            format!("diff of {huge_bytes} bytes is over the limit of 6000 bytes")
        );
    }

    #[test]
    fn collapsed_diffs_are_filled_from_the_checkout_and_read_like_gitlab_ones() {
        let mut files = [file("a.rs", String::new()), file("b.rs", hunk(1)), file("c.rs", String::new())];
        let git = "diff --git a/a.rs b/a.rs\nindex 1..2 100644\n--- a/a.rs\n+++ b/a.rs\n@@ -1 +1 @@\n-x\n+y\n\
                   diff --git a/b.rs b/b.rs\n--- a/b.rs\n+++ b/b.rs\n@@ -1 +1 @@\n-p\n+q\n";
        assert_eq!(fill_missing_diffs(&mut files, git).expect("parses"), 1);
        assert_eq!(files[0].diff, "@@ -1 +1 @@\n-x\n+y\n");
        assert_eq!(files[1].diff, hunk(1), "a diff GitLab sent is kept");
        assert!(files[2].diff.is_empty(), "nothing to fill it from");
        let map = crate::review::diff::LineMap::from_file_diffs(&files[..1]).expect("reads");
        assert_eq!(map.file("a.rs").map(|f| (f.added_count(), f.removed_count())), Some((1, 1)));
    }

    #[test]
    fn a_chunk_diff_reads_back_as_a_git_diff() {
        let files = [file("a.rs", hunk(2)), FileDiff { new_file: true, ..file("b.rs", "@@ -0,0 +1 @@\n+x\n".into()) }];
        let plan = plan_chunks(&files, ChunkLimits::default());
        let text = chunk_diff_text(&files, &plan.chunks[0]);
        let map = crate::review::diff::LineMap::from_git_diff(&text).expect("parses");
        assert_eq!(map.files().len(), 2);
        assert!(map.file("b.rs").is_some_and(|f| f.new_file));
        assert_eq!(map.file("a.rs").map(|f| f.added_count()), Some(2));
        let listed = changed_files(map.files());
        let listed: Vec<(&str, FileChange, u32, u32)> =
            listed.files().iter().map(|f| (f.path.as_str(), f.change, f.added_lines, f.removed_lines)).collect();
        assert_eq!(listed, [("a.rs", FileChange::Modified, 2, 2), ("b.rs", FileChange::Added, 1, 0)]);
    }
}
