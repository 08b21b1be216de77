//! The repository's review instructions, read from the project's default branch through the
//! repository files API, never from the checkout: the checkout holds the merge request's head,
//! and a branch under review must not be able to tell its own reviewer what to overlook.
//!
//! The files, in this order, each optional and each bounded to
//! [`limits::AGENT_INSTRUCTIONS`](crate::prompts::stage::limits::AGENT_INSTRUCTIONS) characters
//! in the prompt: `.gitlab/copilot-review.md` (instructions for reviews only), then
//! `.github/copilot-instructions.md` and `AGENTS.md` (the instructions every agent reads).

use anyhow::Context as _;

use super::Job;
use crate::prompts::stage::{AgentInstructions, limits};
use crate::untrusted::{UntrustedLine, UntrustedText};

/// The files that count as review instructions, by path from the repository root.
pub(super) const REVIEW_INSTRUCTION_FILES: &[&str] =
    &[".gitlab/copilot-review.md", ".github/copilot-instructions.md", "AGENTS.md"];

/// Where the review instructions came from, and what they say.
pub(super) struct ReviewInstructions {
    /// The branch they were read from.
    pub default_branch: String,
    pub files: Vec<AgentInstructions>,
}

/// Reads [`REVIEW_INSTRUCTION_FILES`] from the default branch of `project_id`; a missing file (or
/// a project without a default branch, i.e. an empty one) is no instruction, an unreadable one an
/// error naming the file.
pub(super) async fn read(job: &Job, project_id: u64) -> anyhow::Result<ReviewInstructions> {
    let project = job.project(project_id).await.context("while reading the project")?;
    let Some(default_branch) = project.default_branch else {
        return Ok(ReviewInstructions { default_branch: String::new(), files: Vec::new() });
    };
    let mut files = Vec::new();
    for path in REVIEW_INSTRUCTION_FILES {
        let text = job.client.raw_file(project_id, path, &default_branch).await.with_context(|| {
            format!("while reading the review instructions `{path}` from the default branch `{default_branch}`")
        })?;
        if let Some(text) = text.filter(|text| !text.trim().is_empty()) {
            files.push(AgentInstructions {
                path: UntrustedLine::new(path),
                text: UntrustedText::new(&text, limits::AGENT_INSTRUCTIONS),
            });
        }
    }
    tracing::info!(branch = %default_branch, files = files.len(), "read the review instructions");
    Ok(ReviewInstructions { default_branch, files })
}
