//! The rules a repository keeps for itself in `.gitlab/copilot-agent.yml`.
//!
//! The file is read once per job from the target project's default branch only (never from a
//! merge request's branch, whose author could loosen the rules), and it can only narrow what the
//! agent project's configuration allows: the table in [`narrow::RULES`] says how, key by key. A
//! bad key or value becomes a [`Problem`] naming its line and what is allowed; that key keeps the
//! admin's value and the work goes on.

mod narrow;
mod parse;
#[cfg(test)]
mod tests;

use anyhow::Context as _;

use crate::config::{KeyLines, Language, OptionalStage, Settings, Severity};
pub use crate::prompts::message::Allowed;

pub use narrow::{RULES, Rule, narrow};
pub use parse::{RepoFile, parse};

/// Where the file sits in the target repository.
pub const PATH: &str = ".gitlab/copilot-agent.yml";

/// A bad key or value of the file: its line, the key, and what the key allows (worded by the note's
/// template in the project's language).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    pub line: usize,
    pub key: String,
    pub allowed: Allowed,
}

/// Which optional stages the planner may keep; analysis and implementation always run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stages {
    pub architecture: bool,
    pub tests: bool,
    pub docs: bool,
}

impl Stages {
    /// Whether `stage` may run: the three optional ones as switched, every other one always.
    pub fn allows(self, stage: crate::prompts::Stage) -> bool {
        use crate::prompts::Stage;
        match stage {
            Stage::Architecture => self.architecture,
            Stage::Tests => self.tests,
            Stage::Docs => self.docs,
            _ => true,
        }
    }

    /// Drops the stages turned off from `plan`, saying so among its reasons.
    pub fn apply(self, plan: &mut crate::planner::Plan) {
        let (kept, dropped): (Vec<_>, Vec<_>) = plan.stages.drain(..).partition(|planned| self.allows(planned.stage));
        plan.stages = kept;
        for planned in dropped {
            let stage = planned.stage.as_str();
            plan.reasons.push(format!("{stage}: turned off by `COPILOT_DISABLED_STAGES` or `{PATH}`"));
        }
    }
}

impl Stages {
    /// The optional stages the agent project did not turn off (`COPILOT_DISABLED_STAGES`).
    pub fn admin(disabled: &[OptionalStage]) -> Self {
        Self {
            architecture: !disabled.contains(&OptionalStage::Architecture),
            tests: !disabled.contains(&OptionalStage::Tests),
            docs: !disabled.contains(&OptionalStage::Docs),
        }
    }
}

impl Default for Stages {
    fn default() -> Self {
        Self { architecture: true, tests: true, docs: true }
    }
}

/// What the review of a project keeps and posts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRules {
    /// Glob patterns of files never reviewed.
    pub exclude: Vec<String>,
    pub min_severity: Severity,
    pub max_inline_comments: Option<usize>,
}

impl ReviewRules {
    /// Whether `path` matches one of the exclusions. `*` stays within one folder, `**` crosses
    /// folders; a pattern without `/` matches the file's name in any folder.
    pub fn excludes(&self, path: &str) -> bool {
        self.exclude.iter().any(|pattern| {
            let pattern = if pattern.contains('/') { pattern.clone() } else { format!("**/{pattern}") };
            globset::GlobBuilder::new(&pattern)
                .literal_separator(true)
                .build()
                .is_ok_and(|glob| glob.compile_matcher().is_match(path))
        })
    }
}

/// The settings a job on one project works with: the admin's, narrowed by the repository's file.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    pub language: Language,
    pub require_plan_approval: bool,
    pub stages: Stages,
    /// The command the prompts name for running the tests, instead of the one found in the project.
    pub test_command: Option<String>,
    pub review: ReviewRules,
    pub max_premium_requests: Option<f64>,
    pub monthly_premium_requests: Option<f64>,
    /// The agent project's MCP servers this project's agent calls get, by name: all of them, or
    /// the repository's pick among them.
    pub mcp_servers: Vec<String>,
    /// Extra instruction files, as paths in the repository.
    pub instructions: Vec<String>,
    /// The extra instruction files as read from the default branch: `(path, text)`.
    pub instruction_files: Vec<(String, String)>,
}

impl Effective {
    /// The admin's settings, before any repository narrows them.
    pub fn admin(settings: &Settings) -> Self {
        Self {
            language: settings.prompts.language,
            require_plan_approval: settings.workflow.require_plan_approval,
            stages: Stages::admin(&settings.workflow.disabled_stages),
            test_command: None,
            review: ReviewRules {
                exclude: Vec::new(),
                min_severity: settings.review.min_severity,
                max_inline_comments: settings.review.max_inline_comments,
            },
            max_premium_requests: settings.spend.max_premium_requests,
            monthly_premium_requests: settings.spend.monthly_premium_requests,
            mcp_servers: settings.agent.mcp.names(),
            instructions: Vec::new(),
            instruction_files: Vec::new(),
        }
    }
}

impl Effective {
    /// Puts the repository's word into what the analyzer found in the checkout: its test command
    /// first (the planner and the prompts name it), its extra instruction files (as read from the
    /// default branch, in place of a checkout's file of the same path).
    pub fn apply_to(&self, facts: &mut crate::context::Facts) {
        if let Some(command) = &self.test_command {
            facts.test_commands.retain(|known| known != command);
            facts.test_commands.insert(0, command.clone());
        }
        for (path, text) in &self.instruction_files {
            facts.agent_instructions.retain(|found| &found.path != path);
            facts.agent_instructions.push(crate::context::AgentInstructions {
                path: path.clone(),
                text: text.clone(),
                truncated: false,
            });
        }
    }
}

/// Reads the file from `default_branch` of the project and narrows the admin's settings with it.
/// No file: the admin's settings and no problem. A file GitLab cannot give is an error.
pub async fn load(
    job: &crate::workflows::Job,
    project_id: u64,
    default_branch: &str,
) -> anyhow::Result<(Effective, Vec<Problem>)> {
    let admin = Effective::admin(&job.settings);
    let text = job
        .client
        .raw_file(project_id, PATH, default_branch)
        .await
        .with_context(|| format!("while reading `{PATH}` from the default branch `{default_branch}`"))?;
    let Some(text) = text else { return Ok((admin, Vec::new())) };
    let (file, mut problems) = parse(&text);
    let mut effective = narrow(&admin, file, &mut problems);
    let (found, missing) = read_files(job, project_id, default_branch, &effective.instructions).await?;
    if !missing.is_empty() {
        let line = KeyLines::scan(&text).find(None, "instructions").unwrap_or(1);
        let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
        let allowed = Allowed::MissingFiles { names: Allowed::spans(&missing) };
        problems.push(Problem { line, key: "instructions".to_owned(), allowed });
        problems.sort_by_key(|problem| problem.line);
    }
    effective.instructions = found.iter().map(|(path, _)| path.clone()).collect();
    effective.instruction_files = found;
    if !problems.is_empty() {
        tracing::warn!(count = problems.len(), file = PATH, "the repository's agent file has bad keys or values");
    }
    Ok((effective, problems))
}

/// [`load`], and when the file has problems, the note that names them on the reporter's issue or
/// merge request (a re-run edits it). Call after [`Reporter::start_among`], which reads the notes.
///
/// [`Reporter::start_among`]: crate::report::Reporter::start_among
pub async fn load_and_report(
    job: &crate::workflows::Job,
    reporter: &crate::report::Reporter<'_>,
    project_id: u64,
    default_branch: &str,
) -> anyhow::Result<Effective> {
    use crate::prompts::message::{RepoConfigNote, RepoConfigProblem};
    use crate::untrusted::MarkdownCodeSpan;

    let (effective, problems) = load(job, project_id, default_branch).await?;
    if !problems.is_empty() {
        let marker = crate::prompts::markers::Marker::repo_config(&reporter.noteable_subject());
        let note = RepoConfigNote {
            marker: marker.clone(),
            file: MarkdownCodeSpan::new(PATH),
            branch: MarkdownCodeSpan::new(default_branch),
            problems: problems
                .iter()
                .map(|problem| RepoConfigProblem {
                    line: problem.line,
                    key: MarkdownCodeSpan::new(&problem.key),
                    allowed: problem.allowed.clone(),
                })
                .collect(),
        };
        reporter.post_marked(&note, &marker).await.context("while noting the problems of the agent file")?;
    }
    Ok(effective)
}

/// The files at `paths` on `branch` of the project, through the repository files API:
/// `(path, text)` of those found, and the paths of those missing. A file GitLab cannot give is an
/// error naming it.
pub(crate) async fn read_files(
    job: &crate::workflows::Job,
    project_id: u64,
    branch: &str,
    paths: &[impl AsRef<str>],
) -> anyhow::Result<(Vec<(String, String)>, Vec<String>)> {
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    for path in paths.iter().map(AsRef::as_ref) {
        let text = job
            .client
            .raw_file(project_id, path, branch)
            .await
            .with_context(|| format!("while reading `{path}` from the default branch `{branch}`"))?;
        match text {
            Some(text) if !text.trim().is_empty() => found.push((path.to_owned(), text)),
            Some(_) => {}
            None => missing.push(path.to_owned()),
        }
    }
    Ok((found, missing))
}

/// The project's rules: read once per job from its default branch ([`load_and_report`]), then
/// the job's agent calls, prompts and notes follow them ([`Job::adopt_rules`]). A project without
/// a default branch (an empty repository) has no file, so the admin's settings hold.
///
/// [`Job::adopt_rules`]: crate::workflows::Job::adopt_rules
pub async fn for_project(
    job: &crate::workflows::Job,
    reporter: &crate::report::Reporter<'_>,
    project_id: u64,
) -> anyhow::Result<Effective> {
    if let Some(known) = job.rules_of(project_id) {
        return Ok(known.clone());
    }
    let project = job.project(project_id).await.context("while reading the project's default branch")?;
    let effective = match project.default_branch {
        Some(branch) => load_and_report(job, reporter, project_id, &branch).await?,
        None => Effective::admin(&job.settings),
    };
    job.adopt_rules(project_id, &effective);
    Ok(effective)
}

/// Applies the repository's caps to the job: its own cap lowers the job's; `Some(note)` refusing
/// `actor` when the project used the repository's lower monthly cap (the admin's was checked
/// before any work).
pub async fn apply_caps(
    job: &crate::workflows::Job,
    project_id: u64,
    actor: &crate::gitlab::UserBasic,
    rules: &Effective,
) -> anyhow::Result<Option<crate::prompts::message::MonthlyCapNote>> {
    if let Some(cap) = rules.max_premium_requests {
        job.spend.lower_cap(cap);
    }
    if rules.monthly_premium_requests == job.settings.spend.monthly_premium_requests {
        return Ok(None);
    }
    let refusal = job.monthly_cap_reached(project_id, actor, rules.monthly_premium_requests).await?;
    Ok(refusal.map(|note| crate::prompts::message::MonthlyCapNote { by_repository: true, ..note }))
}
