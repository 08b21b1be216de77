//! One fix attempt's agent call: the failed jobs' log excerpts and the merge request's changes
//! rendered into the `pipeline_fix` prompt, run by the configured agent in the checkout.
//!
//! Logs are read as streams and excerpted as they arrive (error windows and tail kept, secrets
//! masked, within a byte budget), so a job log of any size costs a bounded amount of memory.

use std::path::Path;

use anyhow::Context as _;

use crate::ci::trace::{self, ExcerptOptions};
use crate::gitlab::{Client, Job};
use crate::prompts::stage::{FailedJob, PipelineFixPrompt};
use crate::stages::{CheckedCall, StageError};
use crate::untrusted::{UntrustedLine, UntrustedText};

use super::super::Job as WorkflowJob;

/// The call's name: its prompt, artifacts and log lines.
const STAGE: &str = "pipeline_fix";

/// The excerpt of one failed job's log, or a line saying why there is none.
pub(super) async fn excerpt(client: &Client, project_id: u64, job: &Job) -> String {
    let options = ExcerptOptions::default();
    let read = async {
        let log = client.job_trace(crate::ci::failures::project_of(job, project_id), job.id).await?;
        let excerpt = trace::excerpt(log.into_async_read(), &options).await?;
        anyhow::Ok(excerpt.text)
    };
    match read.await {
        Ok(text) if !text.trim().is_empty() => text,
        Ok(_) => "(the job log is empty)".to_owned(),
        Err(error) => {
            tracing::warn!(job = job.id, error = %format!("{error:#}"), "cannot read the job log");
            "(the job log could not be read)".to_owned()
        }
    }
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
/// closing message; artifacts go to `<artifacts>/stages/pipeline-fix-<attempt>/`.
pub(super) async fn run(job: &WorkflowJob, repo_dir: &Path, prompt: &PipelineFixPrompt) -> anyhow::Result<String> {
    let runner = job.stage_runner(repo_dir, "stages");
    let name = format!("pipeline-fix-{}", prompt.attempt);
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
                    .render_stage(job.settings.prompts.language, prompt)
                    .map_err(|source| StageError::Prompt { stage: STAGE, source })
            },
            |outcome, _| Ok(outcome.final_message.clone().unwrap_or_default()),
        )
        .await
        .context("while the agent worked on the failed pipeline")?;
    Ok(checked.output)
}
