//! `local`: the plan and stages on a checkout outside GitLab, committed on a local branch. The
//! same understanding, planner and stage loop as a job's, without a merge request, a status note
//! or a push; `copilot-runner local` runs it and prints the outcome.

use std::path::Path;

use anyhow::Context as _;

use crate::agent::ConfiguredAgent;
use crate::config::{Env, Settings};
use crate::context;
use crate::git::{self, GitCommand, Identity};
use crate::planner::{self, PlanOptions};
use crate::prompts::Prompts;
use crate::prompts::stage::Task;
use crate::stages::{StageInput, StageRunner, Summary};

/// What a local run did.
#[derive(Debug)]
pub struct Done {
    /// The branch the work is on.
    pub branch: String,
    /// The commit made, `None` when the agent changed nothing.
    pub commit: Option<String>,
    pub summary: Summary,
}

/// Works on `task` in the git checkout `repo` (an absolute path), on `branch` (created from
/// `HEAD` when missing; `copilot/local-<slug>` when not given).
pub async fn run(
    settings: &Settings,
    env: &Env,
    repo: &Path,
    task: &str,
    branch: Option<&str>,
) -> anyhow::Result<Done> {
    let artifacts = std::path::absolute(&settings.artifacts_dir).context("while locating the artifacts dir")?;
    let work = settings.workflow.work_dir.clone().unwrap_or_else(crate::sandbox::fresh_work_dir);
    let work = std::path::absolute(&work).context("while locating the work dir")?;
    let prompts = Prompts::new(settings.prompts.dir.as_deref()).context("while loading the prompt templates")?;
    let agent = ConfiguredAgent::new(&settings.agent, &settings.sandbox, env).context("while preparing the agent")?;

    let identity = Identity {
        name: settings.access.agent_username.clone(),
        email: format!("{}@users.noreply.localhost", settings.access.agent_username),
    };
    let git = GitCommand::new(env, artifacts.join("git-home"), identity);
    let branch = branch.map(str::to_owned).unwrap_or_else(|| {
        format!("{}local-{}", settings.workflow.branch_prefix, crate::request::instruction::slug(task, ""))
    });
    let git_home = artifacts.join("git-home");
    std::fs::create_dir_all(&git_home)
        .with_context(|| format!("while creating the artifacts dir `{}`", git_home.display()))?;
    let base_branch = crate::git::history::current_branch(&git, repo).await;
    git::switch_or_create_branch(&git, repo, &branch).await.context("while checking out the branch")?;

    let project = local_project_key(repo);
    let checkout = context::ProjectCheckout {
        project: &project,
        branch: &branch,
        base_branch: base_branch.as_deref(),
        dir: repo,
        git: &git,
        clone: None,
        artifacts_dir: &artifacts,
        work_dir: &work,
    };
    let spend = crate::stages::Spend::new(settings.spend.max_premium_requests);
    let runner = |folder: &str| StageRunner {
        agent: &agent,
        prompts: &prompts,
        language: settings.prompts.language,
        repo_dir: repo.to_path_buf(),
        artifacts_dir: artifacts.join(folder),
        work_dir: work.join(folder),
        stage_timeout: settings.agent.stage_timeout,
        deadline: Some(std::time::Instant::now() + settings.workflow.total_timeout),
        spend: &spend,
        stop: None,
    };
    let (cache, agent_understanding) = (&settings.cache, settings.workflow.project_understanding);
    let understood =
        Box::pin(context::understand_project(cache, agent_understanding, env, &checkout, &runner("understanding")))
            .await
            .context("while analysing the repository")?;
    let mut plan =
        planner::plan(task, &understood.facts.traits(), &PlanOptions::issue(settings.workflow.orchestrated_issue));
    // The stages the agent project turned off stay off here too (no repository file is read).
    super::repo_config::Stages::admin(&settings.workflow.disabled_stages).apply(&mut plan);
    let stages: Vec<&str> = plan.stages.iter().map(|planned| planned.stage.as_str()).collect();
    tracing::info!(complexity = plan.complexity.as_str(), stages = %stages.join(", "), %branch, "planned");

    let runner = runner("stages");
    let input = StageInput {
        task: Task::local(task),
        request: None,
        project: understood.prompt_context(),
        branch: branch.clone(),
    };
    let context = serde_json::to_value(&understood.report).ok();
    let ran = runner.run_plan(&plan, &input, context, &mut ()).await;
    // `plan.json` and `summary.json` beside the stages' folders, also when a stage failed.
    let _ = std::fs::create_dir_all(&runner.artifacts_dir);
    let _ = serde_json::to_vec_pretty(&plan).map(|json| std::fs::write(runner.artifacts_dir.join("plan.json"), json));
    let summary = match ran {
        Ok(summary) => summary,
        Err(stopped) => {
            let _ = stopped.summary.write(&runner.artifacts_dir);
            return Err(stopped.error.context("while running the stages"));
        }
    };
    let _ = summary.write(&runner.artifacts_dir);
    let stage_list = stages.join(", ");
    let title = task.lines().next().unwrap_or_default().trim();
    let commit = git::commit_all(&git, repo, title, &[("Copilot-Stage", stage_list.as_str())])
        .await
        .context("while committing")?;
    Ok(Done { branch, commit, summary })
}

/// The cache's project key for a checkout outside GitLab: its folder name and a digest of its
/// path, so two checkouts of the same name do not share entries.
fn local_project_key(repo: &std::path::Path) -> String {
    use sha1::Digest as _;
    let name = repo.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let digest = hex::encode(sha1::Sha1::digest(repo.as_os_str().as_encoded_bytes()));
    format!("local-{name}-{}", &digest[..12])
}
