//! The project understanding a job starts from, in one call every workflow and `local` make:
//! look the checkout up in the context cache (five levels, bounded in time), bring what was
//! found up to date (only the changed files analysed again; an agent-written
//! `project_context.md` updated by the agent, not rewritten), write the artifacts, and write
//! the entry back for the next job. The level is logged and returned for `summary.json`.
//!
//! Nothing about the cache can fail the job: a store that is misconfigured, down or slow means
//! a full analysis; a write that fails is logged and forgotten.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::cache::{ContextCache, Found, Level, LookupRequest, Understanding, understand};
use super::store::CacheStore;
use super::understanding_stage::{EarlierUnderstanding, write_understanding};
use super::{Change, ContextError, Facts};
use crate::agent::Agent;
use crate::config::{CacheSettings, Env};
use crate::git::history as git_history;
use crate::git::{GitCommand, Workspace};
use crate::prompts::stage::ProjectContext;
use crate::stages::StageRunner;

/// The checkout to understand and where it sits in the project.
#[derive(Debug, Clone, Copy)]
pub struct ProjectCheckout<'a> {
    /// The cache's project key (the GitLab project id; for `local`, a name of the checkout).
    pub project: &'a str,
    /// The branch checked out.
    pub branch: &'a str,
    /// The branch `branch` started from (level 4 looks there), usually the default branch.
    pub base_branch: Option<&'a str>,
    pub dir: &'a Path,
    pub git: &'a GitCommand,
    /// The clone `dir` is, when it is one whose history can be fetched deeper; `None` for a
    /// local checkout.
    pub clone: Option<&'a Workspace>,
    /// Where `facts.json`, `project_context.md` and the understanding stage's files go.
    pub artifacts_dir: &'a Path,
    /// The job's work area: the understanding stage's scratch folder goes below it.
    pub work_dir: &'a Path,
}

/// The understanding the stages start from, and how it was come by.
#[derive(Debug, Clone)]
pub struct ProjectUnderstanding {
    pub facts: Facts,
    /// `project_context.md`: the agent's text when it wrote one, else rendered from the facts.
    pub project_context: String,
    pub agent_written: bool,
    pub report: UnderstandingReport,
}

/// What `summary.json` records under `context`.
#[derive(Debug, Clone, Serialize)]
pub struct UnderstandingReport {
    /// `exact_commit`, `ancestor`, `branch_latest`, `cross_branch` or `full_analysis`.
    pub level: Level,
    pub level_number: u8,
    /// The store, without credentials.
    pub store: String,
    pub commit: Option<String>,
    /// The entry the understanding came from (levels 1 to 4).
    pub from_branch: Option<String>,
    pub from_commit: Option<String>,
    /// Files analysed again because they changed since that entry's commit.
    pub changed_files: Option<usize>,
    pub lookup_ms: u64,
    pub analysis_ms: u64,
    /// What the understanding stage did: `off`, `written`, `updated`, `reused` or `failed`.
    pub understanding_stage: &'static str,
    /// How long the understanding stage took (the agent's call when it was asked).
    pub understanding_ms: u64,
    pub understanding_premium_requests: f64,
    /// Why the store could not be used, when it could not.
    pub store_problem: Option<String>,
    /// `written`, `unchanged`, `skipped: …` or `failed: …`.
    pub cache_write: String,
}

impl ProjectUnderstanding {
    /// The project context of every stage prompt: the facts, the agent's understanding when it
    /// wrote one, and the repository's own agent instructions.
    pub fn prompt_context(&self) -> ProjectContext {
        let understanding = self.agent_written.then_some(self.project_context.as_str());
        super::prompt_context(&self.facts, understanding)
    }
}

/// Understands the checkout for a job (see the module documentation), through the cache
/// `settings` name; `agent_understanding`: the agent writes its own understanding too. Fails
/// only when the checkout itself cannot be analysed.
pub async fn understand_project<A: Agent>(
    settings: &CacheSettings,
    agent_understanding: bool,
    env: &Env,
    checkout: &ProjectCheckout<'_>,
    runner: &StageRunner<'_, A>,
) -> Result<ProjectUnderstanding, ContextError> {
    let cache = match CacheStore::from_settings(settings, env) {
        Ok(store) => Ok(ContextCache::new(store)),
        Err(error) => Err(error.to_string()),
    };
    understand_with(cache, agent_understanding, checkout, runner).await
}

/// [`understand_project`] over an opened cache (or why it could not be opened).
pub async fn understand_with<A: Agent>(
    cache: Result<ContextCache, String>,
    agent_understanding: bool,
    checkout: &ProjectCheckout<'_>,
    runner: &StageRunner<'_, A>,
) -> Result<ProjectUnderstanding, ContextError> {
    let head = git_history::head(checkout.git, checkout.dir).await;
    let (found, store) = match &cache {
        Ok(cache) => (look_up(cache, checkout, head.as_deref()).await, cache.store().description().to_owned()),
        Err(problem) => {
            tracing::warn!(%problem, "context cache unusable; analysing the project in full");
            let found = Found {
                level: Level::FullAnalysis,
                entry: None,
                store_problem: Some(problem.clone()),
                elapsed: Duration::ZERO,
            };
            (found, String::new())
        }
    };
    let lookup_ms = millis(found.elapsed);
    let changes = match (&found.entry, found.level) {
        (Some(entry), Level::Ancestor | Level::BranchLatest | Level::CrossBranch) => {
            git_history::changes_since(checkout.git, checkout.dir, &entry.meta.sha).await
        }
        _ => None,
    };
    let earlier_agent_text =
        found.entry.as_ref().filter(|entry| entry.meta.agent_written).map(|entry| entry.project_context.clone());
    let analysed = Instant::now();
    let root = checkout.dir.to_path_buf();
    let changes_for_update = changes.clone();
    let understanding =
        tokio::task::spawn_blocking(move || understand(&root, found, move |_| changes_for_update)).await.map_err(
            |error| ContextError::Write { path: checkout.dir.to_path_buf(), source: std::io::Error::other(error) },
        )??;
    let analysis_ms = millis(analysed.elapsed());
    let Understanding { level, facts, from, store_problem, .. } = understanding;

    let understanding_started = Instant::now();
    let (project_context, agent_written, stage, premium) = if agent_understanding {
        let earlier = earlier_agent_text.as_deref().zip(from.as_ref()).map(|(text, (_, sha))| EarlierUnderstanding {
            text,
            sha: sha.as_str(),
            changes: changes.as_deref(),
        });
        agent_written_context(runner, checkout, &facts, level, earlier).await
    } else {
        (super::project_context(&facts), false, "off", 0.0)
    };
    let understanding_ms = millis(understanding_started.elapsed());
    let (from_branch, from_commit) = from.unzip();
    let mut report = UnderstandingReport {
        level,
        level_number: level.number(),
        store,
        commit: head.clone(),
        from_branch,
        from_commit,
        changed_files: changes.as_ref().map(Vec::len),
        lookup_ms,
        analysis_ms,
        understanding_stage: stage,
        understanding_ms,
        understanding_premium_requests: premium,
        store_problem,
        cache_write: String::new(),
    };
    let understood = ProjectUnderstanding { facts, project_context, agent_written, report: report.clone() };
    write_artifacts(checkout.artifacts_dir, &understood);
    report.cache_write = write_back(cache.as_ref().ok(), checkout, head.as_deref(), &understood, stage).await;
    log(&report);
    Ok(ProjectUnderstanding { report, ..understood })
}

/// Looks the checkout up. A shallow clone holds the tip only: when the store knows the branch or
/// its base but the entry found is for a commit the clone lacks, the ancestors level 2 looks at
/// are fetched (and with them, often, that commit), and the lookup runs again. The clone itself
/// so stays as cheap as `git clone --depth 1`, and only a job the cache can help pays for
/// history; a new branch whose base's entry is for its own tip fetches nothing.
async fn look_up(cache: &ContextCache, checkout: &ProjectCheckout<'_>, head: Option<&str>) -> Found {
    let ancestors = git_history::ancestors(checkout.git, checkout.dir).await;
    let found = find(cache, checkout, head, &ancestors).await;
    let Some(clone) = checkout.clone else { return found };
    let Some(entry) = found.entry.as_ref().filter(|_| found.level != Level::ExactCommit) else { return found };
    if ancestors.len() >= git_history::MAX_ANCESTORS
        || !clone.is_shallow()
        || git_history::has_commit(checkout.git, checkout.dir, &entry.meta.sha).await
    {
        return found;
    }
    let depth = u32::try_from(git_history::MAX_ANCESTORS).unwrap_or(u32::MAX);
    tracing::info!(commits = depth, level = found.level.number(), "fetching the history the context cache looks at");
    if let Err(error) = clone.deepen_by(depth).await {
        tracing::warn!(%error, "cannot fetch the history the context cache looks at; using what the tip gives");
        return found;
    }
    let ancestors = git_history::ancestors(checkout.git, checkout.dir).await;
    let again = find(cache, checkout, head, &ancestors).await;
    Found { elapsed: found.elapsed + again.elapsed, ..again }
}

async fn find(cache: &ContextCache, checkout: &ProjectCheckout<'_>, head: Option<&str>, ancestors: &[String]) -> Found {
    let request = LookupRequest {
        project: checkout.project,
        branch: checkout.branch,
        sha: head.unwrap_or_default(),
        ancestors,
        default_branch: checkout.base_branch,
    };
    cache.find(&request).await
}

/// The agent's understanding: reused at level 1, updated at levels 2 to 4 when the entry holds
/// one, written afresh otherwise; the rendered context when the agent fails.
async fn agent_written_context<A: Agent>(
    runner: &StageRunner<'_, A>,
    checkout: &ProjectCheckout<'_>,
    facts: &Facts,
    level: Level,
    earlier: Option<EarlierUnderstanding<'_>>,
) -> (String, bool, &'static str, f64) {
    if let Some(earlier) = earlier
        && (level == Level::ExactCommit || earlier.changes.is_some_and(<[Change]>::is_empty))
    {
        return (earlier.text.to_owned(), true, "reused", 0.0);
    }
    let (written, cost) = Box::pin(write_understanding(runner, checkout.branch, facts, earlier)).await;
    match written {
        Ok(text) => (text, true, if earlier.is_some() { "updated" } else { "written" }, cost.premium_requests),
        Err(problem) => {
            tracing::warn!(%problem, "the understanding stage produced nothing usable; using the facts alone");
            (super::project_context(facts), false, "failed", cost.premium_requests)
        }
    }
}

/// `facts.json` and `project_context.md` beside the other artifacts; a failure is only logged.
fn write_artifacts(dir: &Path, understood: &ProjectUnderstanding) {
    if let Err(error) = super::write(dir, &understood.facts, &understood.project_context) {
        let cause = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
        tracing::warn!(%error, %cause, dir = %dir.display(), "cannot write the project understanding artifacts");
    }
}

/// Writes the entry for `HEAD` (and the branch's fork relation on its first entry), within the
/// cache's bound. Returns what happened, for the report.
async fn write_back(
    cache: Option<&ContextCache>,
    checkout: &ProjectCheckout<'_>,
    head: Option<&str>,
    understood: &ProjectUnderstanding,
    stage: &str,
) -> String {
    let report = &understood.report;
    let Some(cache) = cache else { return "skipped: no usable store".to_owned() };
    if let Some(problem) = &report.store_problem {
        return format!("skipped: {problem}");
    }
    let Some(head) = head else { return "skipped: the checkout has no commit".to_owned() };
    if report.level == Level::ExactCommit && stage != "written" {
        return "unchanged".to_owned();
    }
    if !git_history::is_clean(checkout.git, checkout.dir).await {
        return "skipped: the work tree has uncommitted changes".to_owned();
    }
    let (project, branch) = (checkout.project, checkout.branch);
    let written = cache
        .write_entry(project, branch, head, &understood.facts, &understood.project_context, understood.agent_written)
        .await;
    if let Err(error) = written {
        tracing::warn!(%error, "cannot write the context cache entry; the next job analyses again");
        return format!("failed: {error}");
    }
    let Some(base) = checkout.base_branch.filter(|base| *base != branch) else { return "written".to_owned() };
    if matches!(report.level, Level::CrossBranch | Level::FullAnalysis)
        && let Err(error) = cache.write_fork_relation(project, branch, base).await
    {
        tracing::warn!(%error, "cannot record the branch's base in the context cache");
    }
    // A branch just started from its base describes the base too: later branches find it there.
    let came_from_base = report.from_branch.as_deref() == Some(base) && report.from_commit.as_deref() == Some(head);
    if !came_from_base
        && git_history::branch_tip(checkout.git, checkout.dir, base).await.as_deref() == Some(head)
        && let Err(error) = cache
            .write_entry(project, base, head, &understood.facts, &understood.project_context, understood.agent_written)
            .await
    {
        tracing::warn!(%error, "cannot write the context cache entry of the base branch");
    }
    "written".to_owned()
}

fn log(report: &UnderstandingReport) {
    let from = match (&report.from_branch, &report.from_commit) {
        (Some(branch), Some(sha)) => format!("{branch}@{sha}"),
        _ => "none".to_owned(),
    };
    tracing::info!(
        store = %report.store,
        from = %from,
        changed_files = report.changed_files.unwrap_or(0),
        lookup_ms = report.lookup_ms,
        analysis_ms = report.analysis_ms,
        understanding = report.understanding_stage,
        understanding_ms = report.understanding_ms,
        cache_write = %report.cache_write,
        "project understanding from the context cache: {}",
        report.level
    );
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
