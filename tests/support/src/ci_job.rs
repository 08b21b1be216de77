//! Runs `copilot-runner run` the way a GitLab CI job does: the built binary with a cleared
//! environment holding only what the job would see (CI variables, trigger variables, the agent's
//! token), pointed at the fake GitLab and at the real Copilot CLI talking to the mock model.
//!
//! Every workflow's end-to-end tests build their job here, so they all run the binary the same way.
//! The job belongs to a pipeline the fake started in the agent project (`CI_SERVER_URL`,
//! `CI_PROJECT_ID`, `CI_PIPELINE_ID`), whose variables `run` checks before it starts.
#![expect(clippy::disallowed_methods, reason = "the rig runs the built binary as a child process")]

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::FakeGitLab;
use crate::copilot_cli;
use crate::fake_gitlab::{AGENT, IssueSeed, Noteable};
use crate::mock_model::{MockModel, Reply, Rule, Script};

/// The agent project of the standard seed, whose triggered pipeline the job belongs to.
pub const AGENT_PROJECT: &str = "acme/copilot-agent";

/// The pipeline the job pretends to belong to; notes link to it.
pub const PIPELINE_URL: &str = "https://gitlab.example.com/agent/-/pipelines/77";
/// The job's own log; failure notes link to it.
pub const JOB_URL: &str = "https://gitlab.example.com/agent/-/jobs/78";

/// One CI job's environment, ready to run the binary (possibly several times).
#[derive(Debug, Clone)]
pub struct CiJob {
    program: PathBuf,
    project_dir: PathBuf,
    vars: Vec<(String, String)>,
}

impl CiJob {
    /// A job for `program` (the test's `env!("CARGO_BIN_EXE_copilot-runner")`) laid out in
    /// `project_dir`: the agent project's checkout (`CI_PROJECT_DIR`) is `agent-project/` in it,
    /// artifacts go to `artifacts/` and the job's work folder (clones, stage scratch folders) is
    /// `work/`, both beside the checkout as in a real job; `tmp` is the test's
    /// `CARGO_TARGET_TMPDIR`, where the Copilot CLI's warmed HOME is shared.
    pub async fn new(program: &Path, project_dir: &Path, tmp: &Path, gitlab: &FakeGitLab, model: &MockModel) -> Self {
        let path_var = std::env::var("PATH").expect("PATH is set");
        let (cli, path2, tmp) = (copilot_cli::cli_path(), path_var.clone(), tmp.to_owned());
        let home = tokio::task::spawn_blocking(move || copilot_cli::shared_home(&tmp, &cli, &path2))
            .await
            .expect("warming the Copilot CLI");
        let mut job = Self { program: program.to_owned(), project_dir: project_dir.to_owned(), vars: Vec::new() };
        let (artifacts, work) = (job.artifacts_dir(), job.work_dir());
        let agent_project = project_dir.join("agent-project");
        std::fs::create_dir_all(&agent_project).expect("creating the agent project's checkout");
        job.set("PATH", path_var)
            .set("HOME", home.display().to_string())
            .set("CI", "true")
            .set("CI_PROJECT_DIR", agent_project.display().to_string())
            .set("COPILOT_WORK_DIR", work.display().to_string())
            .set("CI_PIPELINE_URL", PIPELINE_URL)
            .set("CI_JOB_URL", JOB_URL)
            .set("COPILOT_ARTIFACTS_DIR", artifacts.display().to_string())
            .set("COPILOT_HOME", project_dir.join("copilot-home").display().to_string())
            .set("COPILOT_CLI_PATH", copilot_cli::cli_path().display().to_string())
            .set("COPILOT_OFFLINE", "true")
            .set("COPILOT_PROVIDER_BASE_URL", model.base_url())
            .set("COPILOT_MODEL", "gpt-4.1")
            .set("COPILOT_STAGE_TIMEOUT", "120")
            .set("GITLAB_API_BASE", gitlab.url())
            .set("GITLAB_TOKEN", gitlab.agent_token());
        for (name, value) in crate::offline::loopback_only([]) {
            job.set(name, value);
        }
        // The job's own pipeline: triggered in the agent project without variables, as the
        // webhook service starts it with inputs; `run` reads its variables before anything else.
        let pipeline = gitlab
            .start_triggered_pipeline(AGENT_PROJECT, &[], &[])
            .await
            .expect("the fake GitLab starts the agent project's pipeline");
        gitlab.hold_running(pipeline);
        job.set("CI_SERVER_URL", gitlab.url())
            .set("CI_PROJECT_ID", gitlab.project_id(AGENT_PROJECT).to_string())
            .set("CI_PIPELINE_ID", pipeline.to_string());
        job
    }

    /// Sets (or replaces) one variable.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        match self.vars.iter_mut().find(|(existing, _)| existing == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_owned(), value)),
        }
        self
    }

    /// Removes one variable.
    pub fn unset(&mut self, name: &str) -> &mut Self {
        self.vars.retain(|(existing, _)| existing != name);
        self
    }

    /// Opens an issue `title` by `author` in `project`, has `author` assign it to the agent, and
    /// makes this job the assignment's pipeline. Returns the issue's iid.
    pub fn assign_new_issue(&mut self, gitlab: &FakeGitLab, project: &str, author: &str, title: &str) -> u64 {
        let project_id = gitlab.project_id(project);
        let seed = IssueSeed {
            title: title.to_owned(),
            description: "Please add greeting.txt.\n".to_owned(),
            author: author.to_owned(),
            assignees: Vec::new(),
            labels: Vec::new(),
            confidential: false,
        };
        let iid = gitlab.add_issue(project, seed);
        gitlab.add_system_note_by(Noteable::Issue { project_id, iid }, author, &format!("assigned to @{AGENT}"));
        self.trigger(
            "issue_assignee",
            &[("TARGET_PROJECT_ID", project_id.to_string()), ("TARGET_ISSUE_IID", iid.to_string())],
        );
        iid
    }

    /// Sets `TRIGGER_TYPE` and the `TARGET_*` variables the webhook service would pass.
    pub fn trigger(&mut self, kind: &str, targets: &[(&str, String)]) -> &mut Self {
        self.vars.retain(|(name, _)| name != "TRIGGER_TYPE" && !name.starts_with("TARGET_"));
        self.set("TRIGGER_TYPE", kind);
        for (name, value) in targets {
            self.set(name, value.clone());
        }
        self
    }

    /// Where the job writes its artifacts (`COPILOT_ARTIFACTS_DIR`).
    pub fn artifacts_dir(&self) -> PathBuf {
        self.project_dir.join("artifacts")
    }

    /// The job's work folder (`COPILOT_WORK_DIR`): the clone of the target project is
    /// `project-<id>/` in it and each stage's scratch folder `stages/<n>-<stage>/scratch/`.
    pub fn work_dir(&self) -> PathBuf {
        self.project_dir.join("work")
    }

    /// The variables the job runs with, in the order set.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// Runs `copilot-runner run` to the end.
    pub async fn run(&self) -> Output {
        self.command().output().await.expect("running copilot-runner")
    }

    /// Starts `copilot-runner run` in a process group of its own, with its output discarded: the
    /// job can then be killed with everything it started, as a cancelled CI job's pod is
    /// (`kill -9` of the group).
    pub fn spawn(&self) -> tokio::process::Child {
        let mut command = self.command();
        command.process_group(0).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        command.spawn().expect("starting copilot-runner")
    }

    fn command(&self) -> tokio::process::Command {
        crate::offline::assert_loopback(self.vars.iter().map(|(name, value)| (name.as_str(), value.as_str())));
        let mut command = tokio::process::Command::new(&self.program);
        command.arg("run").env_clear().envs(self.vars.iter().map(|(name, value)| (name, value)));
        command
    }
}

/// What the mock model answers in a job whose work is adding one file to the target project: the
/// analysis stage writes a valid `analysis.json` into its scratch folder, the implementation stage
/// creates `file` (a path in the repository) with `content` in the checkout, anything else gets a
/// plain reply. `work` is the job's `COPILOT_WORK_DIR`, where the binary lays out its stages'
/// scratch folders (`stages/<n>-<stage>/scratch`) and the checkout (`project-<id>`).
pub fn add_one_file_script(work: &Path, project_id: u64, file: &str, content: &str) -> Script {
    let analysis_path = work.join("stages/1-analysis/scratch/analysis.json").display().to_string();
    let file_path = work.join(format!("project-{project_id}/{file}")).display().to_string();
    let analysis = serde_json::json!({
        "summary": format!("Add {file}."),
        "relevant_files": [file],
        "risks": [],
        "acceptance_criteria": [format!("{file} exists")],
        "approach": "Create it.",
    });
    Script::new()
        .rule(
            Rule::when("copilot-runner-stage: analysis")
                .then(Reply::create(&analysis_path, &analysis.to_string()))
                .then(Reply::text("Written.")),
        )
        .rule(
            Rule::when("copilot-runner-stage: implementation")
                .then(Reply::create(&file_path, content))
                .then(Reply::text(format!("Added {file}."))),
        )
        .fallback(Reply::text("Nothing to do."))
}

/// A child's output as text, for assertion messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
