//! Runs a plan's stages through an agent, one after the other, and keeps what each produced.
//!
//! Each stage gets its own scratch folder outside the repository (so nothing the runner reads
//! back is ever committed) and its own artifacts folder (prompt, transcript, output). Stages
//! that produce JSON (analysis, architecture) are validated against the schema their prompt
//! describes, with one retry whose prompt quotes the problem, then a typed failure. Outputs are
//! carried, as data, into the prompts of the stages after them. `summary.json` adds it all up.
//!
//! Every agent call the runner makes goes through [`StageRunner::run_checked`]: the plan's
//! stages, the pipeline fix, the review chunks and the project understanding. Each call is
//! counted in the job's [`Spend`], and none starts once the job has used its premium requests. Callers that report
//! progress (the workflows' status note) pass a [`Progress`] to [`StageRunner::run_plan`], the
//! one stage loop; `local` passes none.

pub mod outputs;
pub mod spend;
pub mod stop;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::agent::{Agent, AgentError, AgentOutcome, StageRequest};
use crate::config::Language;
use crate::planner::{Plan, Stage};
use crate::prompts::stage::{PreviousOutput, ProjectContext, StagePrompt, Task, Workspace};
use crate::prompts::{PromptError, Prompts};
use crate::untrusted::UntrustedText;
pub use spend::Spend;
pub use stop::Stop;

/// Why a stage failed.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("the `{stage}` stage could not render its prompt")]
    Prompt {
        stage: &'static str,
        #[source]
        source: PromptError,
    },
    #[error("the agent failed in the `{stage}` stage")]
    Agent {
        stage: &'static str,
        #[source]
        source: AgentError,
    },
    #[error("the `{stage}` stage wrote an invalid `{file}` twice: {problem}")]
    InvalidOutput { stage: &'static str, file: &'static str, problem: String, usage: CallUsage },
    #[error("the `{stage}` stage did not run: `TOTAL_TIMEOUT`, the job's time budget counted from its start, ran out")]
    OutOfTime { stage: &'static str },
    /// The job used `COPILOT_MAX_PREMIUM_REQUESTS`: no agent call starts any more. `usage` is
    /// what this stage's calls cost before it stopped.
    #[error(
        "the `{stage}` stage did not finish: the job used its {cap} premium requests (`COPILOT_MAX_PREMIUM_REQUESTS`)"
    )]
    CapReached { stage: &'static str, cap: f64, usage: CallUsage },
    /// A person stopped the job (its pipeline was cancelled): the call running was ended and no
    /// other starts.
    #[error("the `{stage}` stage did not finish: a person stopped the work")]
    Stopped { stage: &'static str },
    #[error("cannot write the artifacts of the `{stage}` stage in `{dir}`")]
    Artifacts {
        stage: &'static str,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StageError {
    /// The stage that failed, for the failure note and the status checklist.
    pub fn stage(&self) -> &'static str {
        match self {
            Self::Prompt { stage, .. }
            | Self::Agent { stage, .. }
            | Self::InvalidOutput { stage, .. }
            | Self::OutOfTime { stage }
            | Self::CapReached { stage, .. }
            | Self::Stopped { stage }
            | Self::Artifacts { stage, .. } => stage,
        }
    }
}

/// What the stages work on: the same for every stage of a run.
#[derive(Debug, Clone)]
pub struct StageInput {
    pub task: Task,
    /// The note that asked for the work, when a note did.
    pub request: Option<UntrustedText>,
    pub project: ProjectContext,
    pub branch: String,
}

/// What one stage did.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub stage: Stage,
    pub duration_ms: u64,
    pub agent_calls: u32,
    pub premium_requests: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The validated JSON output of analysis/architecture, or the agent's last message.
    pub output: String,
    /// Analysis and architecture: the output as a typed value.
    #[serde(skip)]
    pub typed: Option<outputs::Typed>,
}

/// `summary.json`: every stage and the totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub stages: Vec<StageReport>,
    pub duration_ms: u64,
    pub agent_calls: u32,
    /// With a spend report, its total (every agent call of the job); without, the stages' sum.
    pub premium_requests: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Where the project understanding came from (the context cache level): the report the
    /// context module gives, as it is recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
    /// Every agent call of the job so far (the project understanding's too), its cap, and the
    /// totals the notes show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend: Option<spend::SpendReport>,
    /// A review's reading of the feedback on its findings: acceptance per category and the
    /// suppressions it learned and applied, as the review workflow records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_feedback: Option<serde_json::Value>,
}

impl Summary {
    /// What the analysis stage found, when the plan had one.
    pub fn analysis(&self) -> Option<&outputs::Analysis> {
        self.stages.iter().find_map(|stage| match &stage.typed {
            Some(outputs::Typed::Analysis(analysis)) => Some(analysis),
            _ => None,
        })
    }

    pub fn push(&mut self, report: StageReport) {
        self.duration_ms += report.duration_ms;
        self.agent_calls += report.agent_calls;
        self.premium_requests += report.premium_requests;
        self.input_tokens += report.input_tokens;
        self.output_tokens += report.output_tokens;
        self.stages.push(report);
    }

    /// Writes `summary.json` into `dir`; with a spend report, its total is the top-level one.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut summary = self.clone();
        if let Some(report) = summary.spend.take() {
            summary.set_spend(report);
        }
        let json = serde_json::to_vec_pretty(&summary).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("summary.json"), json)
    }
}

/// One agent call of [`StageRunner::run_checked`]: its name, its artifacts folder, its folder in
/// the work area (the scratch folder the agent writes to is made below it, outside the
/// artifacts) and the file it must write there, if any.
#[derive(Debug, Clone)]
pub struct CheckedCall {
    pub name: &'static str,
    pub dir: PathBuf,
    pub work: PathBuf,
    pub output_file: Option<&'static str>,
}

/// What the agent calls of one checked call cost.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CallUsage {
    pub duration_ms: u64,
    pub agent_calls: u32,
    pub premium_requests: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl CallUsage {
    fn account(&mut self, outcome: &AgentOutcome) {
        self.premium_requests += outcome.premium_requests.unwrap_or(0.0);
        if let Some(usage) = &outcome.usage {
            self.input_tokens += usage.input_tokens;
            self.output_tokens += usage.output_tokens;
        }
    }

    /// Adds another call's usage to this one.
    pub fn add(&mut self, other: &Self) {
        self.duration_ms += other.duration_ms;
        self.agent_calls += other.agent_calls;
        self.premium_requests += other.premium_requests;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}

/// A checked call's accepted output and its cost.
#[derive(Debug, Clone)]
pub struct Checked<T> {
    pub usage: CallUsage,
    pub output: T,
}

/// Told as each stage of a plan starts and finishes (the workflows' status note follows along).
pub trait Progress {
    fn started(&mut self, stage: Stage) -> impl Future<Output = anyhow::Result<()>>;
    fn finished(&mut self, stage: Stage) -> impl Future<Output = anyhow::Result<()>>;
}

/// Nobody to tell (`local` prints its result at the end).
impl Progress for () {
    async fn started(&mut self, _stage: Stage) -> anyhow::Result<()> {
        Ok(())
    }

    async fn finished(&mut self, _stage: Stage) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A plan that stopped: why (a stage's [`StageError`], or the progress hook's error), and what
/// the stages before it did.
#[derive(Debug)]
pub struct PlanStopped {
    pub error: anyhow::Error,
    pub summary: Summary,
}

/// Runs stages through one agent for one repository.
#[derive(Debug)]
pub struct StageRunner<'a, A: Agent> {
    pub agent: &'a A,
    pub prompts: &'a Prompts,
    pub language: Language,
    pub repo_dir: PathBuf,
    /// `<artifacts>/stages`; each stage gets `<n>-<stage>/` below it.
    pub artifacts_dir: PathBuf,
    /// `<work>/stages`: each stage's scratch folder is `<n>-<stage>/scratch` below it.
    pub work_dir: PathBuf,
    pub stage_timeout: Duration,
    /// When the job's `TOTAL_TIMEOUT` runs out: no call starts after it, and none runs past it.
    pub deadline: Option<Instant>,
    /// The job's spending: every call is counted here, and none starts once its cap is reached.
    pub spend: &'a Spend,
    /// A person's stop request: no call starts after it, and the one running ends.
    pub stop: Option<&'a Stop>,
}

impl<A: Agent> StageRunner<'_, A> {
    /// The error that stops `stage` when the job has used its premium-request cap.
    fn cap_reached(&self, stage: &'static str, usage: CallUsage) -> Option<StageError> {
        let cap = self.spend.cap().filter(|_| self.spend.reached())?;
        tracing::warn!(stage, cap, "the job used its premium requests; no agent call starts");
        Some(StageError::CapReached { stage, cap, usage })
    }

    /// Runs every stage of `plan` in order, each with the outputs of the ones before it, telling
    /// `progress` as each starts and finishes. `context` (the project understanding's report)
    /// goes into the summary. The one stage loop: the workflows and `local` both run plans
    /// through it; each writes the summary where its artifacts keep it.
    pub async fn run_plan(
        &self,
        plan: &Plan,
        input: &StageInput,
        context: Option<serde_json::Value>,
        progress: &mut impl Progress,
    ) -> Result<Summary, PlanStopped> {
        let mut summary = Summary { context, ..Summary::default() };
        let started = Instant::now();
        let mut previous = Vec::new();
        for (index, planned) in plan.stages.iter().enumerate() {
            let ran = async {
                if let Some(reached) = self.cap_reached(planned.stage.as_str(), CallUsage::default()) {
                    return Err(reached.into());
                }
                progress.started(planned.stage).await?;
                let report = self.run_stage(index, planned.stage, input, &previous).await?;
                progress.finished(planned.stage).await?;
                anyhow::Ok(report)
            };
            match ran.await {
                Ok(report) => {
                    previous.push(carried(&report));
                    summary.push(report);
                }
                Err(error) => {
                    summary.duration_ms = elapsed_ms(started);
                    summary.set_spend(self.spend.report());
                    return Err(PlanStopped { error, summary });
                }
            }
        }
        summary.duration_ms = elapsed_ms(started);
        summary.set_spend(self.spend.report());
        Ok(summary)
    }

    /// Runs one stage (`index` orders its artifacts folder), retrying once on invalid JSON output.
    pub async fn run_stage(
        &self,
        index: usize,
        stage: Stage,
        input: &StageInput,
        previous: &[PreviousOutput],
    ) -> Result<StageReport, StageError> {
        let name = stage.as_str();
        let dir = self.artifacts_dir.join(format!("{}-{name}", index + 1));
        let work = self.work_dir.join(format!("{}-{name}", index + 1));
        let call = CheckedCall { name, dir: dir.clone(), work, output_file: outputs::output_file(stage) };
        let checked = self
            .run_checked(
                &call,
                |scratch, output_path| self.prompt(stage, input, previous, scratch, output_path),
                |outcome, written| match call.output_file {
                    Some(_) => outputs::validate(stage, written),
                    None => Ok(outputs::Validated { text: last_message(outcome), typed: None }),
                },
            )
            .await?;
        if let Some(file) = call.output_file {
            std::fs::write(dir.join(file), &checked.output.text).map_err(|source| StageError::Artifacts {
                stage: name,
                dir: dir.clone(),
                source,
            })?;
        }
        let usage = checked.usage;
        Ok(StageReport {
            stage,
            duration_ms: usage.duration_ms,
            agent_calls: usage.agent_calls,
            premium_requests: usage.premium_requests,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            output: checked.output.text,
            typed: checked.output.typed,
        })
    }

    /// Runs one agent call whose result is checked by `check` (given the outcome and the output
    /// file's text, when `call` names one): when the check fails, the agent is asked once more
    /// with the problem quoted, then the call fails with [`StageError::InvalidOutput`]. `prompt`
    /// renders the prompt for the scratch folder and the output file's path. Every workflow that
    /// reads a file back from the agent goes through here.
    pub async fn run_checked<T>(
        &self,
        call: &CheckedCall,
        prompt: impl Fn(&Path, Option<&Path>) -> Result<String, StageError>,
        check: impl Fn(&AgentOutcome, Option<&str>) -> Result<T, String>,
    ) -> Result<Checked<T>, StageError> {
        let name = call.name;
        let dir = &call.dir;
        let scratch = call.work.join("scratch");
        for folder in [dir, &scratch] {
            std::fs::create_dir_all(folder).map_err(|source| StageError::Artifacts {
                stage: name,
                dir: folder.clone(),
                source,
            })?;
        }
        let output_path = call.output_file.map(|file| scratch.join(file));
        let started = Instant::now();
        let mut usage = CallUsage::default();
        let mut problem: Option<String> = None;
        for attempt in 1..=2 {
            if let Some(path) = &output_path {
                let _ = std::fs::remove_file(path);
            }
            let timeout = match self.deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => self.stage_timeout.min(left),
                    _ => return Err(StageError::OutOfTime { stage: name }),
                },
                None => self.stage_timeout,
            };
            if let Some(reached) = self.cap_reached(name, CallUsage { duration_ms: elapsed_ms(started), ..usage }) {
                return Err(reached);
            }
            let stopped = async {
                match self.stop {
                    Some(stop) => stop.stopped().await,
                    None => std::future::pending().await,
                }
            };
            if self.stop.is_some_and(Stop::is_stopped) {
                return Err(StageError::Stopped { stage: name });
            }
            let mut text = prompt(&scratch, output_path.as_deref())?;
            if let Some(problem) = &problem {
                text.push_str(&retry_note(problem));
            }
            std::fs::write(dir.join(format!("prompt-{attempt}.md")), &text)
                .map_err(|source| StageError::Artifacts { stage: name, dir: dir.clone(), source })?;
            let request = StageRequest {
                stage: name.to_owned(),
                prompt: text,
                repo_dir: self.repo_dir.clone(),
                scratch_dir: scratch.clone(),
                private_dir: call.work.join(format!("agent-{attempt}")),
                artifacts_dir: dir.join(format!("agent-{attempt}")),
                timeout,
            };
            // A stop ends the call at once: dropping it kills the agent's process group.
            let outcome = tokio::select! {
                outcome = self.agent.run_stage(request) => outcome,
                () = stopped => {
                    tracing::warn!(stage = name, "a person stopped the work; the agent call was ended");
                    return Err(StageError::Stopped { stage: name });
                }
            };
            usage.agent_calls += 1;
            if let Some(spent) = match &outcome {
                Ok(outcome) => Some(outcome),
                Err(error) => error.outcome(),
            } {
                self.spend.record(name, spent);
            }
            let outcome = outcome.map_err(|source| StageError::Agent { stage: name, source })?;
            usage.account(&outcome);
            let written = output_path.as_ref().and_then(|path| std::fs::read_to_string(path).ok());
            match check(&outcome, written.as_deref()) {
                Ok(output) => {
                    usage.duration_ms = elapsed_ms(started);
                    return Ok(Checked { usage, output });
                }
                Err(found) => {
                    tracing::warn!(stage = name, attempt, problem = %found, "invalid stage output");
                    problem = Some(found);
                }
            }
        }
        Err(StageError::InvalidOutput {
            stage: name,
            file: call.output_file.unwrap_or("output"),
            problem: problem.unwrap_or_default(),
            usage: CallUsage { duration_ms: elapsed_ms(started), ..usage },
        })
    }

    fn prompt(
        &self,
        stage: Stage,
        input: &StageInput,
        previous: &[PreviousOutput],
        scratch: &Path,
        output_path: Option<&Path>,
    ) -> Result<String, StageError> {
        let context = StagePrompt {
            stage,
            task: input.task.clone(),
            request: input.request.clone(),
            project: input.project.clone(),
            previous_outputs: previous.to_vec(),
            workspace: Workspace {
                repo_dir: self.repo_dir.display().to_string(),
                scratch_dir: scratch.display().to_string(),
                branch: input.branch.clone(),
            },
            output_path: output_path.map(|path| path.display().to_string()),
        };
        self.prompts
            .render_stage(self.language, &context)
            .map_err(|source| StageError::Prompt { stage: stage.as_str(), source })
    }
}

/// What a finished stage hands to the prompts after it.
pub fn carried(report: &StageReport) -> PreviousOutput {
    PreviousOutput {
        stage: report.stage,
        path: outputs::output_file(report.stage).map(str::to_owned),
        content: UntrustedText::bounded(&report.output),
    }
}

/// Appended to a retried prompt: the exact problem, so the agent can fix the file.
fn retry_note(problem: &str) -> String {
    format!(
        "\n\n## Your previous attempt\nThe output file was rejected: {problem}\nWrite the file again, \
         following the schema above exactly.\n"
    )
}

fn last_message(outcome: &AgentOutcome) -> String {
    outcome.final_message.clone().unwrap_or_default()
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
