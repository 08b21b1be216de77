//! `copilot-runner run`: the CI job. Reads the trigger contract, makes sure no trigger chose a
//! protected setting (before the token goes anywhere else), and runs that workflow.

use anyhow::Context as _;

use crate::config::{Env, Settings};
use crate::exit::Code;
use crate::trigger::Trigger;
use crate::workflows::Job;

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {}

pub(crate) async fn run(_args: RunArgs, settings: Settings, env: Env) -> anyhow::Result<Code> {
    let trigger = Trigger::from_env(&env)?;
    tracing::info!(
        trigger = %trigger.kind(),
        project = trigger.project_id(),
        language = %settings.prompts.language,
        "trigger received: {trigger}"
    );
    crate::trigger::guard::check(&env, settings.gitlab.token.as_ref()).await?;
    let job = Job::prepare(settings, env).await.context("while preparing the job")?;
    job.run(&trigger).await
}
