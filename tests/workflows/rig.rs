//! The world every workflow test starts from: the fake GitLab's standard seed, a mock model
//! script written against the job's real paths, and the job itself, run as CI runs it. Plus the
//! views the tests assert on: the agent's notes, the status note's every edit, the files a run
//! left behind.

use std::path::{Path, PathBuf};
use std::process::Output;

use copilot_runner::gitlab::{Client, NewMergeRequest};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::ci_job::{CiJob, add_one_file_script};
use copilot_runner_testkit::fake_gitlab::{AGENT, IssueSeed, Noteable};
use copilot_runner_testkit::mock_model::{MockModel, Reply, Rule, Script};
use secrecy::SecretString;

pub(crate) const PROJECT: &str = "acme/widgets";
/// The markers the stage prompts start with; mock model rules match on them.
pub(crate) const ANALYSIS_STAGE: &str = "copilot-runner-stage: analysis";
pub(crate) const IMPLEMENTATION_STAGE: &str = "copilot-runner-stage: implementation";
/// The one stage of a note on a merge request without orchestration (`USE_ORCHESTRATED_MR_NOTE`
/// off, the default).
pub(crate) const MR_NOTE_STAGE: &str = "copilot-runner-stage: mr_note";
/// A valid analysis stage output.
pub(crate) const ANALYSIS: &str = r#"{"summary": "Add a greeting file.", "relevant_files": ["greeting.txt"], "risks": [], "acceptance_criteria": ["greeting.txt exists"], "approach": "Create it."}"#;
/// Generous: the machine running the tests may be busy.
pub(crate) const WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Where the job puts things, for scripts that create files at absolute paths.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    /// The job's folder: the agent project's checkout, the artifacts and the work folder are in it.
    pub(crate) job_dir: PathBuf,
    pub(crate) artifacts: PathBuf,
    /// `COPILOT_WORK_DIR`: the clone and every stage's scratch folder.
    pub(crate) work: PathBuf,
    /// The clone of the target project the agent works in (its `.git` is a gitfile).
    pub(crate) clone: PathBuf,
    /// The clone's git dir, beside it.
    pub(crate) git_dir: PathBuf,
    pub(crate) project_id: u64,
}

impl Paths {
    /// An absolute path inside the clone.
    pub(crate) fn in_clone(&self, path: &str) -> String {
        self.clone.join(path).display().to_string()
    }

    /// The prompt the model got at the first try of the stage `number` (1-based) named `stage`.
    pub(crate) fn stage_prompt(&self, number: usize, stage: &str) -> String {
        let path = self.artifacts.join(format!("stages/{number}-{stage}/prompt-1.md"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }

    /// The stages of the run, in order, as their artifacts folders name them (`1-analysis`).
    pub(crate) fn stage_dirs(&self) -> Vec<String> {
        let mut dirs: Vec<String> = std::fs::read_dir(self.artifacts.join("stages"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        dirs.sort();
        dirs
    }

    /// Where the analysis stage (the first of a plan) writes its JSON output.
    pub(crate) fn analysis_output(&self) -> String {
        self.work.join("stages/1-analysis/scratch/analysis.json").display().to_string()
    }
}

/// Analysis writes [`ANALYSIS`]; implementation runs `first` and then says `summary`.
pub(crate) fn implementation_script(paths: &Paths, first: Reply, summary: &str) -> Script {
    Script::new()
        .rule(
            Rule::when(ANALYSIS_STAGE)
                .then(Reply::create(&paths.analysis_output(), ANALYSIS))
                .then(Reply::text("Written.")),
        )
        .rule(Rule::when(IMPLEMENTATION_STAGE).then(first).then(Reply::text(summary)))
        .fallback(Reply::text("Nothing to do."))
}

/// A request whose plan runs architecture (and docs, and tests where the project has them)
/// besides analysis and implementation.
pub(crate) const API_ASK: &str =
    "Serve the greeting from a new REST API endpoint and keep greetings in a database table";

/// [`implementation_script`] creating `greeting.txt`, after an architecture stage that designs one
/// endpoint.
pub(crate) fn designed_greeting_script(paths: &Paths) -> Script {
    let architecture = paths.work.join("stages/2-architecture/scratch/architecture.json");
    let design = r#"{"components": ["api"], "files_to_change": [{"path": "greeting.txt", "change": "add"}], "interfaces": [], "notes": "One endpoint."}"#;
    let create = Reply::create(&paths.in_clone("greeting.txt"), "hello\n");
    implementation_script(paths, create, "Added the greeting.").rule(
        Rule::when("copilot-runner-stage: architecture")
            .then(Reply::create(&architecture.display().to_string(), design))
            .then(Reply::text("Designed.")),
    )
}

/// The one mr_note stage runs `first` and then says `summary`.
pub(crate) fn mr_note_script(first: Reply, summary: &str) -> Script {
    Script::new()
        .rule(Rule::when(MR_NOTE_STAGE).then(first).then(Reply::text(summary)))
        .fallback(Reply::text("Nothing to do."))
}

/// Analysis, then an implementation that creates `greeting.txt` with `hello`.
pub(crate) fn greeting_script(paths: &Paths) -> Script {
    add_one_file_script(&paths.work, paths.project_id, "greeting.txt", "hello\n")
}

/// One fake GitLab, one mock model, one CI job.
pub(crate) struct Rig {
    pub(crate) gitlab: FakeGitLab,
    pub(crate) model: MockModel,
    pub(crate) job: CiJob,
    pub(crate) paths: Paths,
    pub(crate) project_id: u64,
    _dir: tempfile::TempDir,
}

impl Rig {
    /// Starts the world with the model answering `script(paths)`.
    pub(crate) async fn start(script: impl FnOnce(&Paths) -> Script) -> Self {
        let gitlab = FakeGitLab::start().await.unwrap();
        let project_id = gitlab.project_id(PROJECT);
        let dir = tempfile::tempdir().unwrap();
        let artifacts = dir.path().join("artifacts");
        let work = dir.path().join("work");
        let clone = work.join(format!("project-{project_id}"));
        let git_dir = work.join(format!("project-{project_id}.git"));
        let paths = Paths { job_dir: dir.path().to_owned(), artifacts, work, clone, git_dir, project_id };
        let model = MockModel::start(script(&paths)).await.unwrap();
        let program = Path::new(env!("CARGO_BIN_EXE_copilot-runner"));
        let job = CiJob::new(program, dir.path(), Path::new(env!("CARGO_TARGET_TMPDIR")), &gitlab, &model).await;
        assert_eq!((job.artifacts_dir(), job.work_dir()), (paths.artifacts.clone(), paths.work.clone()));
        Self { gitlab, model, job, paths, project_id, _dir: dir }
    }

    pub(crate) async fn run(&self) -> Output {
        self.job.run().await
    }

    /// An issue by `author`, not assigned yet; returns its iid.
    pub(crate) fn issue(&self, author: &str, title: &str, description: &str) -> u64 {
        self.add_issue(author, title, description, false)
    }

    /// A confidential issue by `author`, not assigned yet; returns its iid.
    pub(crate) fn confidential_issue(&self, author: &str, title: &str, description: &str) -> u64 {
        self.add_issue(author, title, description, true)
    }

    fn add_issue(&self, author: &str, title: &str, description: &str, confidential: bool) -> u64 {
        let seed = IssueSeed {
            title: title.to_owned(),
            description: description.to_owned(),
            author: author.to_owned(),
            assignees: Vec::new(),
            labels: Vec::new(),
            confidential,
        };
        self.gitlab.add_issue(PROJECT, seed)
    }

    /// `by` assigns the agent to the issue; the job is the assignment's pipeline.
    pub(crate) fn assign(&mut self, issue_iid: u64, by: &str) {
        let on = Noteable::Issue { project_id: self.project_id, iid: issue_iid };
        self.gitlab.add_system_note_by(on, by, &format!("assigned to @{AGENT}"));
        self.job.trigger(
            "issue_assignee",
            &[("TARGET_PROJECT_ID", self.project_id.to_string()), ("TARGET_ISSUE_IID", issue_iid.to_string())],
        );
    }

    /// `by` comments `body` on the issue; the job is that note's pipeline. Returns the note id.
    pub(crate) fn comment_on_issue(&mut self, issue_iid: u64, by: &str, body: &str) -> u64 {
        let note_id = self.gitlab.add_issue_note(PROJECT, issue_iid, by, body);
        self.trigger_by_note("issue_note", ("TARGET_ISSUE_IID", issue_iid), note_id);
        note_id
    }

    /// `author` pushes `files` to a new `branch` and opens a merge request from it through the
    /// REST API, as a person would. Returns the MR's iid.
    pub(crate) async fn open_merge_request(&self, author: &str, branch: &str, files: &[(&str, Option<&str>)]) -> u64 {
        self.gitlab.push_files(PROJECT, branch, files, "Start the feature", author).await.unwrap();
        let client = Client::new(&self.gitlab.api_url(), &SecretString::from(self.gitlab.token(author))).unwrap();
        let new = NewMergeRequest {
            source_branch: branch.to_owned(),
            target_branch: "main".to_owned(),
            title: "Greeting feature".to_owned(),
            description: Some("Adds a greeting to the widgets.".to_owned()),
            ..Default::default()
        };
        client.create_merge_request(self.project_id, &new).await.unwrap().iid
    }

    /// `by` comments `body` on the merge request; the job is that note's pipeline.
    pub(crate) fn comment_on_merge_request(&mut self, mr_iid: u64, by: &str, body: &str) -> u64 {
        let note_id = self.gitlab.add_mr_note(PROJECT, mr_iid, by, body);
        self.trigger_by_note("mr_note", ("TARGET_MR_IID", mr_iid), note_id);
        note_id
    }

    /// `by` writes the internal note `body` on an issue or merge request; the job is that note's
    /// pipeline. Returns the note id.
    pub(crate) fn comment_internally(&mut self, on: Noteable, by: &str, body: &str) -> u64 {
        let note_id = self.gitlab.add_internal_note(on, by, body);
        match on {
            Noteable::Issue { iid, .. } => self.trigger_by_note("issue_note", ("TARGET_ISSUE_IID", iid), note_id),
            Noteable::MergeRequest { iid, .. } => self.trigger_by_note("mr_note", ("TARGET_MR_IID", iid), note_id),
        }
        note_id
    }

    /// The trigger variables of a note's pipeline: the project, `target` (name, iid), the note.
    fn trigger_by_note(&mut self, kind: &str, target: (&str, u64), note_id: u64) {
        let (target_var, iid) = target;
        let project_id = self.project_id.to_string();
        self.job.trigger(
            kind,
            &[
                ("TARGET_PROJECT_ID", project_id),
                (target_var, iid.to_string()),
                ("TARGET_NOTE_ID", note_id.to_string()),
            ],
        );
    }

    /// The agent's own (non-system) notes on an issue or MR, oldest first.
    pub(crate) fn agent_notes(&self, on: Noteable) -> Vec<String> {
        let agent = self.gitlab.user_id(AGENT);
        self.gitlab
            .notes_on(on)
            .into_iter()
            .filter(|note| note.author_id == agent && !note.system)
            .map(|note| note.body)
            .collect()
    }

    pub(crate) fn on_issue(&self, iid: u64) -> Noteable {
        Noteable::Issue { project_id: self.project_id, iid }
    }

    pub(crate) fn on_merge_request(&self, iid: u64) -> Noteable {
        Noteable::MergeRequest { project_id: self.project_id, iid }
    }

    /// Every body the status note of `subject` (`issue-3`, `mr-1`) had: as posted, then each
    /// edit, in order.
    pub(crate) fn status_history(&self, subject: &str) -> Vec<String> {
        let marker = format!("copilot-runner:status {subject} ");
        self.gitlab
            .requests()
            .into_iter()
            .filter(|request| matches!(request.method.as_str(), "POST" | "PUT") && request.path.contains("/notes"))
            .filter_map(|request| request.json()?.get("body")?.as_str().map(str::to_owned))
            .filter(|body| body.contains(&marker))
            .collect()
    }
}

/// Every regular file below `dir`, recursively (symlinks are not followed).
pub(crate) fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                found.push(entry.path());
            }
        }
    }
    found
}

/// The status note line of a step: `- ✅ Implementation`.
pub(crate) fn step_line(state: &str, step: &str) -> String {
    format!("- {state} {step}")
}

/// The notes among `notes` that are status notes.
pub(crate) fn status_notes(notes: &[String]) -> Vec<&String> {
    notes
        .iter()
        .filter(|body| body.contains("copilot-runner:status issue-") || body.contains("copilot-runner:status mr-"))
        .collect()
}
