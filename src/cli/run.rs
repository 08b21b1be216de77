//! `copilot-runner run`: the CI job. Reads the trigger contract and runs that workflow.

use crate::config::{Env, Settings};
use crate::exit::{self, Code};
use crate::trigger::Trigger;

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {}

pub(crate) async fn run(_args: RunArgs, settings: Settings, env: Env) -> anyhow::Result<Code> {
    let trigger = Trigger::from_env(&env)?;
    tracing::info!(trigger = %trigger.kind(), project = trigger.project_id(), language = %settings.language, "trigger received");
    Err(exit::Usage(format!(
        "the `{}` workflow is not built into this version of copilot-runner yet; the trigger was understood \
         ({}) but nothing was done",
        trigger.kind(),
        trigger.variables().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    ))
    .into())
}
