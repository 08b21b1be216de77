//! One fix attempt's agent call: the failed jobs' log excerpts and the merge request's changes
//! rendered into the `pipeline_fix` prompt, run by the configured agent in the checkout.
//!
//! Logs are read as streams and excerpted as they arrive (error windows and tail kept, secrets
//! masked, within a byte budget), so a job log of any size costs a bounded amount of memory.

use anyhow::Context as _;

use crate::agent::{Agent as _, AgentOutcome, StageRequest};
use crate::ci::trace::{self, ExcerptOptions};
use crate::gitlab::{Client, Job};
use crate::prompts::stage::{FailedJob, PipelineFixPrompt};
use crate::untrusted::{UntrustedLine, UntrustedText};

use super::super::Job as WorkflowJob;

/// The excerpt of one failed job's log, or a line saying why there is none.
pub(super) async fn excerpt(client: &Client, project_id: u64, job: &Job) -> String {
    let options = ExcerptOptions::default();
    let read = async {
        let log = client.job_trace(project_id, job.id).await?;
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

/// Renders the prompt and runs the agent in `repo_dir`; artifacts go to
/// `<artifacts>/stages/pipeline-fix-<attempt>/`.
pub(super) async fn run(
    job: &WorkflowJob,
    repo_dir: &std::path::Path,
    prompt: &PipelineFixPrompt,
) -> anyhow::Result<AgentOutcome> {
    let text =
        job.prompts.render_stage(job.settings.language, prompt).context("while rendering the `pipeline_fix` prompt")?;
    let name = format!("pipeline-fix-{}", prompt.attempt);
    let dir = job.settings.artifacts_dir.join("stages").join(&name);
    let work = job.work_dir.join("stages").join(&name);
    let scratch = work.join("scratch");
    tokio::fs::create_dir_all(&dir)
        .await
        .with_context(|| format!("while creating the stage's artifacts folder `{}`", dir.display()))?;
    tokio::fs::create_dir_all(&scratch)
        .await
        .with_context(|| format!("while creating the stage's scratch folder `{}`", scratch.display()))?;
    tokio::fs::write(dir.join("prompt.md"), &text).await.context("while keeping the prompt")?;
    let request = StageRequest {
        stage: "pipeline_fix".to_owned(),
        prompt: text,
        repo_dir: repo_dir.to_owned(),
        scratch_dir: scratch,
        private_dir: work.join("agent"),
        artifacts_dir: dir.join("agent"),
        timeout: job.settings.stage_timeout,
    };
    job.agent.run_stage(request).await.context("while the agent worked on the failed pipeline")
}
