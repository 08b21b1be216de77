//! The repository's review instructions, read from the project's default branch through the
//! repository files API, never from the checkout: the checkout holds the merge request's head,
//! and a branch under review must not be able to tell its own reviewer what to overlook.
//!
//! The files, in this order, each optional and each bounded to
//! [`limits::AGENT_INSTRUCTIONS`](crate::prompts::stage::limits::AGENT_INSTRUCTIONS) characters
//! in the prompt: `.gitlab/copilot-review.md` (instructions for reviews only), then
//! `.github/copilot-instructions.md` and `AGENTS.md` (the instructions every agent reads), then
//! the extra files the repository's `.gitlab/copilot-agent.yml` names under `instructions`.

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

/// Reads [`REVIEW_INSTRUCTION_FILES`] from the default branch of `project_id`, then the extra
/// instruction files the project's rules name (read from the same branch when the rules were); a
/// missing file (or a project without a default branch, i.e. an empty one) is no instruction, an
/// unreadable one an error naming the file.
pub(super) async fn read(job: &Job, project_id: u64) -> anyhow::Result<ReviewInstructions> {
    let project = job.project(project_id).await.context("while reading the project")?;
    let Some(default_branch) = project.default_branch else {
        return Ok(ReviewInstructions { default_branch: String::new(), files: Vec::new() });
    };
    let (mut found, _) =
        crate::workflows::repo_config::read_files(job, project_id, &default_branch, REVIEW_INSTRUCTION_FILES)
            .await
            .context("while reading the review instructions")?;
    for (path, text) in job.rules_of(project_id).map(|rules| rules.instruction_files.as_slice()).unwrap_or_default() {
        if !found.iter().any(|(known, _)| known == path) {
            found.push((path.clone(), text.clone()));
        }
    }
    let files: Vec<AgentInstructions> = found
        .iter()
        .map(|(path, text)| AgentInstructions {
            path: UntrustedLine::new(path),
            text: UntrustedText::new(text, limits::AGENT_INSTRUCTIONS),
        })
        .collect();
    tracing::info!(branch = %default_branch, files = files.len(), "read the review instructions");
    Ok(ReviewInstructions { default_branch, files })
}
