//! Project understanding: what a checkout is made of, found statically and cheaply, so every
//! stage prompt starts from facts instead of the agent rediscovering them.
//!
//! [`analyze`] walks a checkout into [`Facts`] (written as `facts.json`) and
//! [`project_context`] renders them as a bounded `project_context.md`; [`analyze_paths`]
//! updates earlier facts from a list of changed files, for the [`cache`] (kept in a [`store`]).
//! Jobs start from [`understand_project`]: the cache lookup, the update or full analysis, the
//! agent-written understanding when enabled, and the write-back, in one call.

mod analyzer;
pub mod cache;
mod classify;
mod facts;
mod git_index;
mod manifests;
mod render;
pub mod spend_ledger;
pub mod store;
pub mod suppressions;
#[cfg(test)]
mod tests;
mod understanding;
pub mod understanding_stage;

use std::path::{Path, PathBuf};

pub use analyzer::{
    AGENT_INSTRUCTIONS_BYTES, Change, MAX_CONTENT_BYTES, MAX_MANIFESTS, README_EXCERPT_BYTES, analyze, analyze_paths,
    walker,
};
pub use facts::{
    AgentInstructions, CiConfig, CiKind, DirectoryStat, Facts, LanguageStat, Manifest, ManifestKind, SCHEMA_VERSION,
};
pub use render::{PROJECT_CONTEXT_BYTES, project_context, prompt_context};
pub use understanding::{
    ProjectCheckout, ProjectUnderstanding, UnderstandingReport, understand_project, understand_with,
};

/// The file names under which an analysis is stored (in the artifacts and in the cache).
pub const FACTS_FILE: &str = "facts.json";
pub const PROJECT_CONTEXT_FILE: &str = "project_context.md";

/// Why an analysis could not be made or kept.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("project root `{0}` is not a directory")]
    NotADirectory(PathBuf),
    #[error("cannot write `{path}`")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Writes `facts.json` and `project_context.md` (the agent's text, or [`project_context`] of
/// the facts) into `dir`.
pub fn write(dir: &Path, facts: &Facts, project_context: &str) -> Result<(), ContextError> {
    let write_file = |name: &str, contents: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, contents).map_err(|source| ContextError::Write { path, source })
    };
    std::fs::create_dir_all(dir).map_err(|source| ContextError::Write { path: dir.to_path_buf(), source })?;
    let json = serde_json::to_vec_pretty(facts)
        .map_err(|error| ContextError::Write { path: dir.join(FACTS_FILE), source: std::io::Error::other(error) })?;
    write_file(FACTS_FILE, &json)?;
    write_file(PROJECT_CONTEXT_FILE, project_context.as_bytes())
}
