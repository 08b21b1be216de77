//! The understanding stage: with `ENABLE_PROJECT_UNDERSTANDING` on, the agent writes
//! `project_context.md`, a description of the project later runs read instead of exploring it
//! again. Given an earlier understanding and the files changed since, the agent is asked to
//! update that text rather than write a new one, so a cache hit costs a short call.
//!
//! The stage is an enrichment: when the agent fails or writes nothing usable the job goes on
//! with the context rendered from the facts.

use std::fmt::Write as _;
use std::path::Path;

use super::{Change, Facts, PROJECT_CONTEXT_FILE};
use crate::agent::Agent;
use crate::prompts::PromptError;
use crate::prompts::stage::{Stage, StagePrompt, Task, Workspace};
use crate::stages::{CallUsage, CheckedCall, StageError, StageRunner};
use crate::untrusted::{UntrustedLine, UntrustedText};

/// The call's name: its artifacts and log lines.
const STAGE: &str = "understanding";

/// The largest `project_context.md` the runner keeps (what the cache accepts back).
pub const MAX_UNDERSTANDING_BYTES: usize = 64 * 1024;
/// How many changed paths an update prompt lists; the rest are counted.
const MAX_LISTED_CHANGES: usize = 200;

/// An understanding to update: its text, the commit it was written for and what changed since
/// (`None` when git could not say).
#[derive(Debug, Clone, Copy)]
pub struct EarlierUnderstanding<'a> {
    pub text: &'a str,
    pub sha: &'a str,
    pub changes: Option<&'a [Change]>,
}

/// Runs the understanding stage (through the one agent-call runner, so an unusable file is asked
/// for once more) and returns the text the agent wrote, or why there is none.
///
/// `runner` works in the checkout, with the stage's own artifacts and work folders.
pub async fn write_understanding<A: Agent>(
    runner: &StageRunner<'_, A>,
    branch: &str,
    facts: &Facts,
    earlier: Option<EarlierUnderstanding<'_>>,
) -> (Result<String, String>, CallUsage) {
    let call = CheckedCall {
        name: STAGE,
        dir: runner.artifacts_dir.clone(),
        work: runner.work_dir.clone(),
        output_file: Some(PROJECT_CONTEXT_FILE),
    };
    let checked = runner
        .run_checked(
            &call,
            |scratch, output_path| {
                let output_path = output_path.unwrap_or(scratch);
                render(runner, branch, facts, earlier, scratch, output_path)
                    .map_err(|source| StageError::Prompt { stage: STAGE, source })
            },
            |_, written| checked_output(written),
        )
        .await;
    match checked {
        Ok(checked) => (Ok(checked.output), checked.usage),
        Err(StageError::InvalidOutput { problem, usage, .. }) => (Err(problem), usage),
        Err(error) => (Err(format!("{:#}", anyhow::Error::new(error))), CallUsage::default()),
    }
}

fn render<A: Agent>(
    runner: &StageRunner<'_, A>,
    branch: &str,
    facts: &Facts,
    earlier: Option<EarlierUnderstanding<'_>>,
    scratch: &Path,
    output_path: &Path,
) -> Result<String, PromptError> {
    let context = StagePrompt {
        stage: Stage::Understanding,
        task: Task {
            reference: String::new(),
            title: UntrustedLine::new("Project understanding"),
            body: UntrustedText::new(&earlier.map(changes_text).unwrap_or_default(), MAX_UNDERSTANDING_BYTES),
            url: None,
        },
        request: None,
        project: super::prompt_context(facts, earlier.map(|earlier| earlier.text)),
        previous_outputs: Vec::new(),
        workspace: Workspace {
            repo_dir: runner.repo_dir.display().to_string(),
            scratch_dir: scratch.display().to_string(),
            branch: branch.to_owned(),
        },
        output_path: Some(output_path.display().to_string()),
    };
    runner.prompts.render_stage(runner.language, &context)
}

/// The changes an update must account for, one path a line.
fn changes_text(earlier: EarlierUnderstanding<'_>) -> String {
    let Some(changes) = earlier.changes else {
        return format!("The files changed since commit {} are unknown: check the whole project.\n", earlier.sha);
    };
    let mut text = format!("{} files changed since commit {}:\n", changes.len(), earlier.sha);
    for change in changes.iter().take(MAX_LISTED_CHANGES) {
        let _ = writeln!(text, "- {}", change.path.display());
    }
    if changes.len() > MAX_LISTED_CHANGES {
        let _ = writeln!(text, "- … and {} more", changes.len() - MAX_LISTED_CHANGES);
    }
    text
}

fn checked_output(written: Option<&str>) -> Result<String, String> {
    let text = written.ok_or_else(|| format!("the agent wrote no readable `{PROJECT_CONTEXT_FILE}`"))?;
    if text.trim().is_empty() {
        return Err(format!("the agent wrote an empty `{PROJECT_CONTEXT_FILE}`"));
    }
    if text.len() > MAX_UNDERSTANDING_BYTES {
        return Err(format!("`{PROJECT_CONTEXT_FILE}` is larger than {MAX_UNDERSTANDING_BYTES} bytes"));
    }
    Ok(text.to_owned())
}
