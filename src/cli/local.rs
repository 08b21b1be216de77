//! `copilot-runner local`: the same plan and stages on a local checkout, committed on a local
//! branch. No GitLab needed: a person tries the agent on their own repository, and the README's
//! quickstart uses it.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::agent::ConfiguredAgent;
use crate::config::{Env, Settings};
use crate::context;
use crate::exit::{self, Code};
use crate::git::{self, GitCommand, Identity};
use crate::planner::{self, PlanOptions};
use crate::prompts::Prompts;
use crate::prompts::stage::Task;
use crate::stages::{StageInput, StageRunner};

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
    let artifacts = std::path::absolute(&settings.artifacts_dir).context("while locating the artifacts dir")?;
    let work = settings.work_dir.clone().unwrap_or_else(crate::sandbox::fresh_work_dir);
    let work = std::path::absolute(&work).context("while locating the work dir")?;
    let prompts = Prompts::new(settings.prompts_dir.as_deref()).context("while loading the prompt templates")?;
    let agent = ConfiguredAgent::from_settings(&settings, &env).context("while preparing the agent")?;

    let identity = Identity {
        name: settings.agent_username.clone(),
        email: format!("{}@users.noreply.localhost", settings.agent_username),
    };
    let git = GitCommand::new(&env, artifacts.join("git-home"), identity);
    let branch = args.branch.clone().unwrap_or_else(|| {
        format!("{}local-{}", settings.branch_prefix, crate::request::instruction::slug(&args.task, ""))
    });
    let git_home = artifacts.join("git-home");
    std::fs::create_dir_all(&git_home)
        .with_context(|| format!("while creating the artifacts dir `{}`", git_home.display()))?;
    let base_branch = crate::git::history::current_branch(&git, &repo).await;
    git::switch_or_create_branch(&git, &repo, &branch).await.context("while checking out the branch")?;

    let project = local_project_key(&repo);
    let checkout = context::ProjectCheckout {
        project: &project,
        branch: &branch,
        base_branch: base_branch.as_deref(),
        dir: &repo,
        git: &git,
        artifacts_dir: &artifacts,
        work_dir: &work,
    };
    let runner = |folder: &str| StageRunner {
        agent: &agent,
        prompts: &prompts,
        language: settings.language,
        repo_dir: repo.clone(),
        artifacts_dir: artifacts.join(folder),
        work_dir: work.join(folder),
        stage_timeout: settings.stage_timeout,
    };
    let understood = Box::pin(context::understand_project(&settings, &env, &checkout, &runner("understanding")))
        .await
        .context("while analysing the repository")?;
    let plan = planner::plan(&args.task, &understood.facts.traits(), &PlanOptions::issue(settings.orchestrated_issue));
    let stages: Vec<&str> = plan.stages.iter().map(|planned| planned.stage.as_str()).collect();
    tracing::info!(complexity = plan.complexity.as_str(), stages = %stages.join(", "), %branch, "planned");

    let runner = runner("stages");
    let input = StageInput {
        task: Task::local(&args.task),
        request: None,
        project: understood.prompt_context(),
        branch: branch.clone(),
    };
    let (ran, mut summary) = match runner.run_plan(&plan, &input).await {
        Ok(summary) => (Ok(()), summary),
        Err((error, summary)) => (Err(error), summary),
    };
    summary.context = serde_json::to_value(&understood.report).ok();
    let _ = summary.write(&artifacts.join("stages"));
    ran.context("while running the stages")?;
    let stage_list = stages.join(", ");
    let title = args.task.lines().next().unwrap_or_default().trim();
    let commit = git::commit_all(&git, &repo, title, &[("Copilot-Stage", stage_list.as_str())])
        .await
        .context("while committing")?;
    let line = match &commit {
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

/// The cache's project key for a checkout outside GitLab: its folder name and a digest of its
/// path, so two checkouts of the same name do not share entries.
fn local_project_key(repo: &std::path::Path) -> String {
    use sha1::Digest as _;
    let name = repo.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let digest = hex::encode(sha1::Sha1::digest(repo.as_os_str().as_encoded_bytes()));
    format!("local-{name}-{}", &digest[..12])
}
