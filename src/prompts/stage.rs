//! The contexts of stage prompts: what the Copilot CLI is told to do at each stage.
//!
//! Every value that comes from GitLab users or the repository is an [`UntrustedText`] (fenced as
//! data) or an [`UntrustedLine`] (one cleaned line); paths, SHAs and URLs are ours.

use serde::{Deserialize, Serialize};

use super::StageContext;
use crate::untrusted::{UntrustedLine, UntrustedText, one_line};

/// A stage: one agent call with its own prompt template (`prompts/<lang>/<stage>`), the one
/// name the planner, the stage runner, the status checklist and the artifacts use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Analysis,
    Architecture,
    Implementation,
    Tests,
    Docs,
    /// The one stage of a merge request note without orchestration: the requested change.
    MrNote,
    Review,
    PipelineFix,
    Understanding,
    /// The open review threads of a merge request, addressed in one change.
    AddressThreads,
}

impl Stage {
    pub const ALL: [Stage; 10] = [
        Self::Analysis,
        Self::Architecture,
        Self::Implementation,
        Self::Tests,
        Self::Docs,
        Self::MrNote,
        Self::Review,
        Self::PipelineFix,
        Self::Understanding,
        Self::AddressThreads,
    ];

    /// The stages a plan may hold, in the order they run.
    pub const PLANNED: [Stage; 6] =
        [Self::Analysis, Self::Architecture, Self::Implementation, Self::Tests, Self::Docs, Self::MrNote];

    /// The template stem, the name in the stage line, in `plan.json` and in artifacts.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Analysis => "analysis",
            Self::Architecture => "architecture",
            Self::Implementation => "implementation",
            Self::Tests => "tests",
            Self::Docs => "docs",
            Self::MrNote => "mr_note",
            Self::Review => "review",
            Self::PipelineFix => "pipeline_fix",
            Self::Understanding => "understanding",
            Self::AddressThreads => "address_threads",
        }
    }
}

/// The issue or merge request the work is about.
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    /// `#12` for an issue, `!34` for a merge request, empty for a local task.
    pub reference: String,
    pub title: UntrustedLine,
    pub body: UntrustedText,
    pub url: Option<String>,
}

impl Task {
    /// An issue: `#iid`, its title and description.
    pub fn issue(iid: u64, title: &str, description: &str, url: Option<String>) -> Self {
        Self {
            reference: format!("#{iid}"),
            title: UntrustedLine::new(title),
            body: UntrustedText::new(description, limits::TASK_BODY),
            url,
        }
    }

    /// A merge request: `!iid`, its title and description.
    pub fn merge_request(iid: u64, title: &str, description: &str, url: Option<String>) -> Self {
        Self { reference: format!("!{iid}"), ..Self::issue(iid, title, description, url) }
    }

    /// A task given on the command line (`copilot-runner local --task`), with no reference.
    pub fn local(text: &str) -> Self {
        let title = text.lines().next().unwrap_or_default();
        Self {
            reference: String::new(),
            title: UntrustedLine::new(title),
            body: UntrustedText::new(text, limits::TASK_BODY),
            url: None,
        }
    }
}

/// How many characters of each untrusted input a prompt carries, so that the whole prompt stays
/// within what the model reads well (a cut text says so inside its fence).
pub mod limits {
    /// An issue or merge request description, or the note that asked.
    pub const TASK_BODY: usize = 20_000;
    /// The analyzer's facts summary.
    pub const FACTS: usize = 8_000;
    /// `project_context.md`.
    pub const UNDERSTANDING: usize = 16_000;
    /// One file of the repository's agent instructions.
    pub const AGENT_INSTRUCTIONS: usize = 8_000;
    /// The output of one earlier stage.
    pub const PREVIOUS_OUTPUT: usize = 12_000;
    /// The diff under review.
    pub const DIFF: usize = 60_000;
    /// The log excerpt of one failed job.
    pub const TRACE: usize = 12_000;
}

/// What the runner knows about the project, all of it shown as data.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProjectContext {
    /// The analyzer's facts summary (languages, manifests, build and test commands, tree).
    pub facts: Option<UntrustedText>,
    /// `project_context.md`, the cached understanding of the project.
    pub understanding: Option<UntrustedText>,
    /// The repository's own instructions for coding agents (`AGENTS.md`, …).
    pub agent_instructions: Vec<AgentInstructions>,
}

impl ProjectContext {
    /// Bounds each part with its limit from [`limits`]; `agent_instructions` are
    /// `(path relative to the repository root, text)`.
    pub fn new(facts: Option<&str>, understanding: Option<&str>, agent_instructions: &[(&str, &str)]) -> Self {
        Self {
            facts: facts.map(|text| UntrustedText::new(text, limits::FACTS)),
            understanding: understanding.map(|text| UntrustedText::new(text, limits::UNDERSTANDING)),
            agent_instructions: agent_instructions
                .iter()
                .map(|(path, text)| AgentInstructions {
                    path: UntrustedLine::new(path),
                    text: UntrustedText::new(text, limits::AGENT_INSTRUCTIONS),
                })
                .collect(),
        }
    }
}

/// One file of agent instructions found in the repository.
#[derive(Debug, Clone, Serialize)]
pub struct AgentInstructions {
    /// Path relative to the repository root.
    pub path: UntrustedLine,
    pub text: UntrustedText,
}

/// The output of an earlier stage, carried forward as data.
#[derive(Debug, Clone, Serialize)]
pub struct PreviousOutput {
    pub stage: Stage,
    /// The file the stage wrote, when it wrote one.
    pub path: Option<String>,
    pub content: UntrustedText,
}

impl PreviousOutput {
    pub fn new(stage: Stage, path: Option<String>, content: &str) -> Self {
        Self { stage, path, content: UntrustedText::new(content, limits::PREVIOUS_OUTPUT) }
    }
}

/// Where the agent works.
#[derive(Debug, Clone, Serialize)]
pub struct Workspace {
    /// The repository checkout, the agent's working directory.
    pub repo_dir: String,
    /// A folder outside the repository for files the runner reads back (stage outputs).
    pub scratch_dir: String,
    /// The branch the runner commits to. A person may have named it: shown as one cleaned
    /// line (see [`one_line`]), like every other name someone chose.
    #[serde(serialize_with = "one_line_value")]
    pub branch: String,
}

/// Serializes a name someone chose as one cleaned, bounded line without backticks.
fn one_line_value<S: serde::Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&one_line(value, crate::untrusted::LINE_MAX_CHARS))
}

/// The changed files of a merge request, shown to the model as one fenced data block: a path is
/// text someone chose and could read as an instruction. Renders as nothing when empty.
#[derive(Debug, Clone, Default)]
pub struct ChangedFiles(Vec<ChangedFile>);

impl ChangedFiles {
    pub fn new(files: Vec<ChangedFile>) -> Self {
        Self(files)
    }

    pub fn files(&self) -> &[ChangedFile] {
        &self.0
    }

    /// One line per file, `path (change, +added -removed)`, inside the data fence.
    pub fn fenced(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let lines: Vec<String> = self
            .0
            .iter()
            .map(|file| {
                let change = match file.change {
                    FileChange::Added => "added",
                    FileChange::Modified => "modified",
                    FileChange::Deleted => "deleted",
                    FileChange::Renamed => "renamed",
                };
                format!("{} ({change}, +{} -{})", file.path.as_str(), file.added_lines, file.removed_lines)
            })
            .collect();
        let text = lines.join("\n");
        UntrustedText::source(&text, text.chars().count() + 1).fenced()
    }
}

impl Serialize for ChangedFiles {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.fenced())
    }
}

/// One changed file of a merge request diff.
#[derive(Debug, Clone, Serialize)]
pub struct ChangedFile {
    pub path: UntrustedLine,
    pub change: FileChange,
    pub added_lines: u32,
    pub removed_lines: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    Added,
    Modified,
    Deleted,
    Renamed,
}

/// The prompt of analysis, architecture, implementation, tests, docs, mr_note and understanding.
#[derive(Debug, Clone, Serialize)]
pub struct StagePrompt {
    /// Any stage but `review`, `pipeline_fix` and `address_threads`, which have their own prompts.
    pub stage: Stage,
    pub task: Task,
    /// The note that asked for this work, when a note did (an issue or merge request comment).
    pub request: Option<UntrustedText>,
    pub project: ProjectContext,
    pub previous_outputs: Vec<PreviousOutput>,
    pub workspace: Workspace,
    /// The file the stage must write: `analysis.json`, `architecture.json` or
    /// `project_context.md` in the scratch folder; `None` for stages that only change code.
    pub output_path: Option<String>,
}

impl StageContext for StagePrompt {
    fn stage(&self) -> Stage {
        self.stage
    }

    fn check(&self) -> Result<(), String> {
        if matches!(self.stage, Stage::Review | Stage::PipelineFix | Stage::AddressThreads) {
            return Err(format!("the `{}` stage has its own prompt, not a task's", self.stage.as_str()));
        }
        let needs_output = matches!(self.stage, Stage::Analysis | Stage::Architecture | Stage::Understanding);
        if needs_output && self.output_path.is_none() {
            return Err(format!("the `{}` stage needs an `output_path`", self.stage.as_str()));
        }
        Ok(())
    }
}

/// A finding an earlier review already posted, so the agent does not repeat it.
#[derive(Debug, Clone, Serialize)]
pub struct KnownFinding {
    pub file: UntrustedLine,
    pub line: u32,
    pub title: UntrustedLine,
}

/// The prompt of the review stage.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewPrompt {
    pub merge_request: Task,
    /// The note that asked for the review, when a note did.
    pub request: Option<UntrustedText>,
    /// The project context; its `agent_instructions` stay empty (they would be the merge
    /// request's own): `review_instructions` take their place.
    pub project: ProjectContext,
    /// The project's default branch, which `review_instructions` were read from.
    pub default_branch: String,
    /// The repository's review instructions, read from the default branch.
    pub review_instructions: Vec<AgentInstructions>,
    pub workspace: Workspace,
    pub base_sha: String,
    pub head_sha: String,
    /// The head an earlier review covered; only changes since then are to be reviewed.
    pub since_sha: Option<String>,
    pub changed_files: ChangedFiles,
    /// The unified diff under review (bounded).
    pub diff: UntrustedText,
    pub known_findings: Vec<KnownFinding>,
    /// Where to write `findings.json`.
    pub output_path: String,
}

impl StageContext for ReviewPrompt {
    fn stage(&self) -> Stage {
        Stage::Review
    }
}

/// A failed job of the pipeline to fix.
#[derive(Debug, Clone, Serialize)]
pub struct FailedJob {
    pub name: UntrustedLine,
    pub stage: UntrustedLine,
    /// GitLab's `failure_reason` (`script_failure`, …).
    pub failure_reason: UntrustedLine,
    pub url: String,
    /// The excerpt of the job log (error windows and tail).
    pub trace: UntrustedText,
}

/// What an earlier attempt of the fix loop did.
#[derive(Debug, Clone, Serialize)]
pub struct EarlierAttempt {
    pub number: u32,
    pub commit_sha: String,
    pub summary: UntrustedLine,
    /// The signature of the failure the attempt set out to fix.
    pub failure: Option<UntrustedLine>,
    /// The files it changed, with lines added and removed.
    pub diff_summary: Option<UntrustedLine>,
}

/// The prompt of the pipeline-fix stage.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineFixPrompt {
    pub merge_request: Option<Task>,
    pub project: ProjectContext,
    pub workspace: Workspace,
    /// 1-based number of this attempt.
    pub attempt: u32,
    pub max_attempts: u32,
    pub pipeline_url: String,
    pub failed_jobs: Vec<FailedJob>,
    /// The files the merge request changes.
    pub changed_files: ChangedFiles,
    pub earlier_attempts: Vec<EarlierAttempt>,
    /// Why this attempt's previous change was rejected and undone (the lines the guard against
    /// weakening tests named); empty on a first try.
    pub rejected: Vec<UntrustedLine>,
}

impl StageContext for PipelineFixPrompt {
    fn stage(&self) -> Stage {
        Stage::PipelineFix
    }
}

/// One open review thread as the address-threads prompt shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OpenThreadPrompt {
    /// GitLab's discussion id: the key of the thread's answer.
    pub id: String,
    /// The file and lines the thread is on, when it is on the diff.
    pub file: Option<UntrustedLine>,
    pub old_line: Option<u32>,
    pub new_line: Option<u32>,
    /// Whether the agent started it (a finding of an earlier review).
    pub by_agent: bool,
    pub notes: Vec<ThreadNotePrompt>,
}

/// One note of an open thread.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadNotePrompt {
    pub author: UntrustedLine,
    pub body: UntrustedText,
}

/// The prompt of the address-threads stage.
#[derive(Debug, Clone, Serialize)]
pub struct AddressThreadsPrompt {
    pub merge_request: Task,
    /// The note that asked.
    pub request: UntrustedText,
    pub project: ProjectContext,
    pub workspace: Workspace,
    pub head_sha: String,
    /// The merge request's current diff (bounded).
    pub diff: UntrustedText,
    pub threads: Vec<OpenThreadPrompt>,
    /// Where to write `answers.json`.
    pub output_path: String,
}

impl StageContext for AddressThreadsPrompt {
    fn stage(&self) -> Stage {
        Stage::AddressThreads
    }

    fn check(&self) -> Result<(), String> {
        if self.output_path.is_empty() { Err("the answers file has no path".to_owned()) } else { Ok(()) }
    }
}
