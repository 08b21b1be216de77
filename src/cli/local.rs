//! `copilot-runner local`: the same plan and stages on a local checkout, committed on a local
//! branch (`workflows::local`). No GitLab needed: a person tries the agent on their own
//! repository, and the README's quickstart uses it.

use std::io::Write as _;
use std::path::PathBuf;

use crate::config::{Env, Settings};
use crate::exit::{self, Code};

#[derive(Debug, clap::Args)]
pub(crate) struct LocalArgs {
    /// The git checkout to work on
    #[arg(long, value_name = "DIR")]
    repo: PathBuf,
    /// What to do, as you would write it in an issue
    #[arg(long, value_name = "TEXT")]
    task: String,
    /// The branch to commit on (created from `HEAD` when missing) [default: copilot/local-<slug>]
    #[arg(long, value_name = "NAME")]
    branch: Option<String>,
}

pub(crate) async fn run(args: LocalArgs, settings: Settings, env: Env) -> anyhow::Result<Code> {
    let repo = std::fs::canonicalize(&args.repo)
        .map_err(|error| exit::Usage(format!("`--repo {}` cannot be opened: {error}", args.repo.display())))?;
    if !repo.join(".git").exists() {
        return Err(exit::Usage(format!("`--repo {}` is not a git checkout (no `.git`)", repo.display())).into());
    }
    if args.task.trim().is_empty() {
        return Err(exit::Usage("`--task` is empty: say what to do".to_owned()).into());
    }
    let done = crate::workflows::local::run(&settings, &env, &repo, &args.task, args.branch.as_deref()).await?;
    let (branch, summary) = (&done.branch, &done.summary);
    let line = match &done.commit {
        Some(sha) => format!(
            "committed {sha} on `{branch}` ({} stages, {} agent calls, {:.2} premium requests)\n",
            summary.stages.len(),
            summary.agent_calls,
            summary.premium_requests
        ),
        None => format!("the agent changed nothing; `{branch}` is as it was\n"),
    };
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
    Ok(Code::Done)
}
