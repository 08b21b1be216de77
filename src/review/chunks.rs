//! Splitting a large merge request into review prompts that each fit a byte budget, so every
//! changed file is reviewed instead of the diff being cut off at an arbitrary point.
//!
//! Files are taken in path order (neighbours in a folder stay together) and packed greedily.
//! A file is left out only for a reason the summary can state: binary, generated, bigger than
//! the per-file limit, no content change, or a diff GitLab did not include (the caller fetches
//! those with `git diff` and plans again).

use crate::gitlab::types::FileDiff;

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

/// Why a changed file is not reviewed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    #[error("binary file")]
    Binary,
    #[error("generated file")]
    Generated,
    #[error("diff of {bytes} bytes is over the limit of {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
    #[error("renamed or mode changed only, no content change")]
    NoContentChange,
    #[error("GitLab did not include the diff (collapsed or too large)")]
    DiffUnavailable,
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

/// The text one file contributes to a prompt: a `diff --git` header and GitLab's hunks.
pub fn file_diff_text(diff: &FileDiff) -> String {
    let old = if diff.new_file { "/dev/null".to_owned() } else { format!("a/{}", diff.old_path) };
    let new = if diff.deleted_file { "/dev/null".to_owned() } else { format!("b/{}", diff.new_path) };
    let mut text = format!("diff --git a/{} b/{}\n--- {old}\n+++ {new}\n", diff.old_path, diff.new_path);
    let hunks = diff.diff.trim_end_matches('\n');
    let hunks = hunks.strip_prefix(&format!("--- {old}\n+++ {new}\n")).unwrap_or(hunks);
    text.push_str(hunks);
    text.push('\n');
    text
}

/// The diff text of one chunk, files in order.
pub fn chunk_diff_text(files: &[FileDiff], chunk: &Chunk) -> String {
    chunk.files.iter().filter_map(|at| files.get(*at)).map(file_diff_text).collect()
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
