//! One fix attempt's agent call: the failed jobs' log excerpts and the merge request's changes
//! rendered into the `pipeline_fix` prompt, run by the configured agent in the checkout.
//!
//! Logs are read as streams and excerpted as they arrive (error windows, the first error and the
//! tail kept, secrets masked, within a byte budget), so a job log of any size costs a bounded
//! amount of memory. The same read gives the job's failure signature.

use std::path::Path;

use anyhow::Context as _;

use crate::ci::signature::JobSignature;
use crate::ci::trace::{self, Excerpt, ExcerptOptions};
use crate::gitlab::{Client, Job};
use crate::prompts::stage::{FailedJob, PipelineFixPrompt};
use crate::stages::{CheckedCall, StageError};
use crate::untrusted::{UntrustedLine, UntrustedText};

use super::super::Job as WorkflowJob;

/// The call's name: its prompt, artifacts and log lines.
const STAGE: &str = "pipeline_fix";

/// What one failed job's log says: its excerpt (or a line saying why there is none) and its
/// failure signature.
pub(super) struct Evidence {
    pub(super) excerpt: String,
    pub(super) signature: JobSignature,
}

/// Reads the log of failed job `job` into its [`Evidence`].
pub(super) async fn evidence(client: &Client, project_id: u64, job: &Job) -> Evidence {
    let options = ExcerptOptions::default();
    let read = async {
        let log = client.job_trace(crate::ci::failures::project_of(job, project_id), job.id).await?;
        anyhow::Ok(trace::excerpt(log.into_async_read(), &options).await?)
    };
    let (excerpt, text) = match read.await {
        Ok(excerpt) if !excerpt.text.trim().is_empty() => {
            let text = excerpt.text.clone();
            (excerpt, text)
        }
        Ok(excerpt) => (excerpt, "(the job log is empty)".to_owned()),
        Err(error) => {
            tracing::warn!(job = job.id, error = %format!("{error:#}"), "cannot read the job log");
            let empty = Excerpt {
                text: String::new(),
                error_lines: 0,
                total_bytes: 0,
                truncated: false,
                first_error: None,
                failed_tests: Vec::new(),
            };
            (empty, "(the job log could not be read)".to_owned())
        }
    };
    Evidence { signature: JobSignature::new(&job.name, &excerpt), excerpt: text }
}

/// The prompt's view of a failed job with its excerpt.
pub(super) fn failed_job(job: &Job, excerpt: &str) -> FailedJob {
    FailedJob {
        name: UntrustedLine::new(&job.name),
        stage: UntrustedLine::new(&job.stage),
        failure_reason: UntrustedLine::new(job.failure_reason.as_deref().unwrap_or("unknown_failure")),
        url: job.web_url.clone().unwrap_or_default(),
        trace: UntrustedText::new(excerpt, ExcerptOptions::default().budget_bytes),
    }
}

/// Runs the agent on `prompt` in `repo_dir` through the one agent-call runner and returns its
/// closing message; artifacts go to `<artifacts>/stages/pipeline-fix-<attempt>/` (and
/// `pipeline-fix-<attempt>-<try>/` for a second try after a rejected change).
pub(super) async fn run(job: &WorkflowJob, repo_dir: &Path, prompt: &PipelineFixPrompt) -> anyhow::Result<String> {
    let runner = job.stage_runner(repo_dir, "stages");
    let name = if prompt.rejected.is_empty() {
        format!("pipeline-fix-{}", prompt.attempt)
    } else {
        format!("pipeline-fix-{}-2", prompt.attempt)
    };
    let call = CheckedCall {
        name: STAGE,
        dir: runner.artifacts_dir.join(&name),
        work: runner.work_dir.join(&name),
        output_file: None,
    };
    let checked = runner
        .run_checked(
            &call,
            |_, _| {
                job.prompts
                    .render_stage(job.language(), prompt)
                    .map_err(|source| StageError::Prompt { stage: STAGE, source })
            },
            |outcome, _| Ok(outcome.final_message.clone().unwrap_or_default()),
        )
        .await
        .context("while the agent worked on the failed pipeline")?;
    Ok(checked.output)
}
