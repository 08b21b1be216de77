//! `copilot-runner plan`: shows what a job would do with a task — its complexity, categories,
//! the stages with their reasons and the prompt template each uses — and changes nothing. With a
//! checkout (`--repo`, or the current directory when it is a repository) the plan uses that
//! project's traits (its test framework decides the tests stage).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use tokio::io::AsyncWriteExt as _;

use crate::config::{Env, Language, PromptSettings, Settings, WorkflowSettings};
use crate::context;
use crate::exit::{self, Code};
use crate::planner::ProjectTraits;
use crate::planner::{self, Category, Complexity, Plan, PlanOptions, Stage};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("task").required(true).args(["text", "issue_file"])))]
pub(crate) struct PlanArgs {
    /// The task, as an issue would state it
    #[arg(long, value_name = "TEXT")]
    pub(crate) text: Option<String>,
    /// A file with the task: Markdown, or a GitLab issue as JSON (its title and description)
    #[arg(long, value_name = "FILE")]
    pub(crate) issue_file: Option<PathBuf>,
    /// Language of the prompt templates: en, zh, ja, ko, hi, th (default: the configured one)
    #[arg(long, value_name = "LANG")]
    pub(crate) lang: Option<Language>,
    /// Print the plan as JSON
    #[arg(long)]
    pub(crate) json: bool,
    /// Analyse this checkout for the project's traits (default: the current directory when it
    /// is a git repository; otherwise the plan is made without project facts)
    #[arg(long, value_name = "DIR")]
    pub(crate) repo: Option<PathBuf>,
}

pub(crate) async fn run(args: PlanArgs, settings: Settings, _env: Env) -> anyhow::Result<Code> {
    let output = output(&args, &settings.workflow, &settings.prompts).await?;
    let mut stdout = tokio::io::stdout();
    stdout.write_all(output.as_bytes()).await.context("while printing the plan")?;
    stdout.flush().await.context("while printing the plan")?;
    Ok(Code::Done)
}

/// The plan as printed: human text, or JSON with `--json`; the workflow settings say whether
/// issues are orchestrated, the prompt settings give the default language.
pub(crate) async fn output(
    args: &PlanArgs,
    workflow: &WorkflowSettings,
    prompts: &PromptSettings,
) -> anyhow::Result<String> {
    let task = task(args).await?;
    let traits = match project_dir(args)? {
        Some(dir) => {
            let facts = tokio::task::spawn_blocking(move || context::analyze(&dir))
                .await
                .context("while analysing the project")?
                .context("while analysing the project")?;
            Some(facts.traits())
        }
        None => None,
    };
    let options = PlanOptions::issue(workflow.orchestrated_issue);
    let mut plan = planner::plan(&task, &traits.clone().unwrap_or_default(), &options);
    // As a job would run it: without the stages the agent project turned off.
    crate::workflows::repo_config::Stages::admin(&workflow.disabled_stages).apply(&mut plan);
    let report = Report::new(&plan, args.lang.unwrap_or(prompts.language), options, traits);
    if args.json {
        let mut json = serde_json::to_string_pretty(&report).context("while writing the plan as JSON")?;
        json.push('\n');
        Ok(json)
    } else {
        Ok(report.human())
    }
}

async fn task(args: &PlanArgs) -> anyhow::Result<String> {
    let task = match (&args.text, &args.issue_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => {
            let raw = tokio::fs::read_to_string(path)
                .await
                .with_context(|| exit::Usage(format!("cannot read the issue file `{}`", path.display())))?;
            issue_text(&raw)
        }
        (None, None) => return Err(exit::Usage("give the task with `--text` or `--issue-file`".to_owned()).into()),
    };
    if task.trim().is_empty() {
        return Err(exit::Usage("the task is empty".to_owned()).into());
    }
    Ok(task)
}

/// A GitLab issue as JSON becomes "title, blank line, description"; anything else is the text.
fn issue_text(raw: &str) -> String {
    let Ok(serde_json::Value::Object(issue)) = serde_json::from_str::<serde_json::Value>(raw) else {
        return raw.to_owned();
    };
    let field = |name: &str| issue.get(name).and_then(|v| v.as_str()).unwrap_or("").trim().to_owned();
    let (title, description) = (field("title"), field("description"));
    match (title.is_empty(), description.is_empty()) {
        (true, true) => raw.to_owned(),
        (false, true) => title,
        (true, false) => description,
        (false, false) => format!("{title}\n\n{description}"),
    }
}

fn project_dir(args: &PlanArgs) -> anyhow::Result<Option<PathBuf>> {
    if let Some(repo) = &args.repo {
        if !repo.is_dir() {
            return Err(exit::Usage(format!("`--repo {}` is not a directory", repo.display())).into());
        }
        return Ok(Some(repo.clone()));
    }
    let current = std::env::current_dir().context("while finding the current directory")?;
    Ok(is_repository(&current).then_some(current))
}

fn is_repository(dir: &Path) -> bool {
    dir.join(".git").exists()
}

#[derive(Debug, Serialize)]
struct Report<'p> {
    complexity: Complexity,
    categories: &'p [Category],
    mentioned_paths: &'p [String],
    acceptance_criteria: &'p [String],
    stages: Vec<StageReport<'p>>,
    reasons: &'p [String],
    language: &'static str,
    orchestrated: bool,
    /// `None` when no checkout was analysed.
    project: Option<ProjectTraits>,
}

#[derive(Debug, Serialize)]
struct StageReport<'p> {
    stage: Stage,
    /// The prompt template the stage renders: `<lang>/<stage>` under `prompts/`.
    template: String,
    reason: &'p str,
}

impl<'p> Report<'p> {
    fn new(plan: &'p Plan, language: Language, options: PlanOptions, project: Option<ProjectTraits>) -> Self {
        let stages = plan
            .stages
            .iter()
            .map(|planned| StageReport {
                stage: planned.stage,
                template: format!("{}/{}", language.code(), planned.stage.as_str()),
                reason: &planned.reason,
            })
            .collect();
        Self {
            complexity: plan.complexity,
            categories: &plan.categories,
            mentioned_paths: &plan.mentioned_paths,
            acceptance_criteria: &plan.acceptance_criteria,
            stages,
            reasons: &plan.reasons,
            language: language.code(),
            orchestrated: options.orchestrated,
            project,
        }
    }

    fn human(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(out, "Complexity: {}", self.complexity.as_str());
        let categories: Vec<&str> = self.categories.iter().map(|c| c.as_str()).collect();
        let categories = if categories.is_empty() { "none".to_owned() } else { categories.join(", ") };
        let _ = writeln!(out, "Categories: {categories}");
        if !self.mentioned_paths.is_empty() {
            let _ = writeln!(out, "Mentioned paths: {}", self.mentioned_paths.join(", "));
        }
        if !self.acceptance_criteria.is_empty() {
            out.push_str("Acceptance criteria:\n");
            for criterion in self.acceptance_criteria {
                let _ = writeln!(out, "  - {criterion}");
            }
        }
        let orchestration = if self.orchestrated { "" } else { ", orchestration off" };
        let _ = writeln!(out, "\nStages ({} agent calls{orchestration}):", self.stages.len());
        let width = self.stages.iter().map(|s| s.stage.as_str().len()).max().unwrap_or(0);
        let template_width = self.stages.iter().map(|s| s.template.len()).max().unwrap_or(0);
        for (index, stage) in self.stages.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {}. {:width$}  prompt {:template_width$}  {}",
                index + 1,
                stage.stage.as_str(),
                stage.template,
                stage.reason
            );
        }
        out.push_str("\nWhy:\n");
        for reason in self.reasons {
            let _ = writeln!(out, "  - {reason}");
        }
        out.push('\n');
        match &self.project {
            Some(project) => {
                let languages = if project.languages.is_empty() {
                    "no known languages".to_owned()
                } else {
                    project.languages.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                };
                let _ = write!(out, "Project: {} files; {languages}", project.files);
                if !project.frameworks.is_empty() {
                    let _ = write!(out, "; frameworks: {}", project.frameworks.join(", "));
                }
                match &project.test_command {
                    Some(command) => {
                        let _ = writeln!(out, "; tests: `{command}`");
                    }
                    None if project.has_test_framework => out.push_str("; tests: yes\n"),
                    None => out.push_str("; tests: none found\n"),
                }
            }
            None => out.push_str("Project: not analysed (no repository; pass --repo DIR)\n"),
        }
        out.push_str("Nothing was changed.\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Flags;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::resolve(&Env::from_pairs(pairs.iter().copied()), &Flags::default()).expect("settings")
    }

    /// The plan as `copilot-runner plan` prints it, with the settings `pairs` give.
    async fn plan(args: &PlanArgs, pairs: &[(&str, &str)]) -> anyhow::Result<String> {
        let settings = settings(pairs);
        output(args, &settings.workflow, &settings.prompts).await
    }

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = [
            ("Cargo.toml", "[package]\nname = \"shop\"\n[dependencies]\naxum = \"0.8\"\n"),
            ("src/main.rs", "fn main() {}\n"),
            ("src/orders.rs", "pub fn orders() {}\n"),
            ("README.md", "# Shop\n"),
        ];
        for (path, contents) in files {
            let file = dir.path().join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(file, contents).expect("write");
        }
        dir
    }

    const TASK: &str = "Add a REST endpoint to list orders from the database\n\n\
        Change src/orders.rs and src/main.rs.\n\n## Acceptance criteria\n- GET /orders returns JSON\n\
        - Orders come from the `orders` table\n";

    fn args(repo: &Path, json: bool, lang: Option<Language>) -> PlanArgs {
        PlanArgs { text: Some(TASK.to_owned()), issue_file: None, lang, json, repo: Some(repo.to_path_buf()) }
    }

    #[tokio::test]
    async fn plan_prints_stages_with_reasons_and_templates() {
        let repo = repo();
        let human = plan(&args(repo.path(), false, Some(Language::Ja)), &[]).await.expect("plan");
        insta::assert_snapshot!("plan_human", human);
    }

    #[tokio::test]
    async fn plan_prints_json() {
        let repo = repo();
        let json = plan(&args(repo.path(), true, None), &[]).await.expect("plan");
        insta::assert_snapshot!("plan_json", json);
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(value["stages"][0]["template"], "en/analysis");
    }

    #[tokio::test]
    async fn plan_without_orchestration_is_one_stage() {
        let repo = repo();
        let json = plan(&args(repo.path(), true, None), &[("USE_ORCHESTRATED_ISSUE", "false")]).await.expect("plan");
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(value["stages"].as_array().map(Vec::len), Some(1));
        assert_eq!(value["stages"][0]["stage"], "implementation");
        assert_eq!(value["orchestrated"], false);
    }

    #[tokio::test]
    async fn plan_leaves_out_the_stages_the_agent_project_turned_off() {
        let repo = repo();
        let stages = |json: &str| -> Vec<String> {
            let value: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
            let stages = value["stages"].as_array().expect("stages").iter();
            stages.map(|stage| stage["stage"].as_str().expect("name").to_owned()).collect()
        };
        let all = plan(&args(repo.path(), true, None), &[]).await.expect("plan");
        assert!(stages(&all).iter().any(|stage| stage == "architecture"), "{all}");
        let env = [("COPILOT_DISABLED_STAGES", "architecture,docs")];
        let fewer = plan(&args(repo.path(), true, None), &env).await.expect("plan");
        let left: Vec<String> =
            stages(&all).into_iter().filter(|stage| stage != "architecture" && stage != "docs").collect();
        assert_eq!(stages(&fewer), left, "{fewer}");
    }

    #[tokio::test]
    async fn plan_reads_a_gitlab_issue_file() {
        let repo = repo();
        let issue = repo.path().join("issue.json");
        let body = serde_json::json!({ "iid": 7, "title": "Fix typo in README.md", "description": "It says Shpo." });
        std::fs::write(&issue, body.to_string()).expect("write issue");
        let args =
            PlanArgs { text: None, issue_file: Some(issue), lang: None, json: false, repo: Some(repo.path().into()) };
        let human = plan(&args, &[]).await.expect("plan");
        assert!(human.contains("Stages (2 agent calls):"), "{human}");
        assert!(human.contains("Mentioned paths: README.md"), "{human}");
    }

    #[tokio::test]
    async fn plan_refuses_a_missing_repo_and_an_empty_task() {
        let missing = PlanArgs {
            text: Some("x".to_owned()),
            issue_file: None,
            lang: None,
            json: false,
            repo: Some(PathBuf::from("/nonexistent/checkout")),
        };
        let error = plan(&missing, &[]).await.expect_err("no repo");
        assert_eq!(crate::cli::exit_code(&error), Code::Usage);

        let repo = repo();
        let empty = PlanArgs { text: Some("  ".to_owned()), ..args(repo.path(), false, None) };
        let error = plan(&empty, &[]).await.expect_err("empty task");
        assert_eq!(crate::cli::exit_code(&error), Code::Usage);
    }
}
