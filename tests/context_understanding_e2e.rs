//! The context cache inside a real job: `copilot-runner run` for issue_assignee, run as CI runs
//! it against the fake GitLab, the real Copilot CLI and the mock model, with
//! `ENABLE_PROJECT_UNDERSTANDING` on. The first job analyses in full and the agent writes
//! `project_context.md`; the next job on the branch starts from that entry (level 2), asks the
//! agent to update it for the changed files, a third finds its exact commit (level 1), and a
//! job for another issue starts from the base branch's entry (level 4). The level is in the job
//! log and in `summary.json`, and the understanding reaches the stage prompts. A store that never answers costs a bounded wait and a full analysis, never the job.
#![expect(clippy::unwrap_used, reason = "test fixtures panic on a broken setup")]

use std::path::{Path, PathBuf};

use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::ci_job::{CiJob, text};
use copilot_runner_testkit::fake_gitlab::{IssueSeed, Noteable};
use copilot_runner_testkit::mock_model::{MockModel, Reply, Rule, Script};
use serde_json::Value;

const PROJECT: &str = "acme/widgets";
const ANALYSIS: &str = r#"{"summary": "Add a greeting file.", "relevant_files": ["greeting.txt"], "risks": [], "acceptance_criteria": ["greeting.txt exists"], "approach": "Create it."}"#;
const FIRST_UNDERSTANDING: &str = "# Widgets\nPurpose: the widgets service (understanding-first-draft).\n";
const UPDATED_UNDERSTANDING: &str = "# Widgets\nPurpose: the widgets service (understanding-after-update).\n";

struct Rig {
    gitlab: FakeGitLab,
    model: MockModel,
    dir: tempfile::TempDir,
    job: CiJob,
    issue_iid: u64,
}

impl Rig {
    async fn new() -> Self {
        let gitlab = FakeGitLab::start().await.unwrap();
        let project_id = gitlab.project_id(PROJECT);
        let issue_iid = gitlab.add_issue(
            PROJECT,
            IssueSeed {
                title: "Add a greeting file".to_owned(),
                description: "Please add greeting.txt.\n".to_owned(),
                author: "alice".to_owned(),
                assignees: vec!["copilot-agent".to_owned()],
                labels: Vec::new(),
            },
        );
        gitlab.add_system_note_by(
            Noteable::Issue { project_id, iid: issue_iid },
            "alice",
            "assigned to @copilot-agent",
        );
        let dir = tempfile::tempdir().unwrap();
        let artifacts = dir.path().join("artifacts");
        let path = |relative: &str| artifacts.join(relative).display().to_string();
        let understanding = path("understanding/scratch/project_context.md");
        let model = MockModel::start(
            Script::new()
                .rule(
                    Rule::when("## Update the earlier understanding")
                        .then(Reply::create(&understanding, UPDATED_UNDERSTANDING))
                        .then(Reply::text("Updated.")),
                )
                .rule(
                    Rule::when("copilot-runner-stage: understanding")
                        .then(Reply::create(&understanding, FIRST_UNDERSTANDING))
                        .then(Reply::text("Written.")),
                )
                .rule(
                    Rule::when("copilot-runner-stage: analysis")
                        .then(Reply::create(&path("stages/1-analysis/scratch/analysis.json"), ANALYSIS))
                        .then(Reply::text("Written.")),
                )
                .rule(
                    Rule::when("copilot-runner-stage: implementation")
                        .then(Reply::create(&path(&format!("work/project-{project_id}/greeting.txt")), "hello\n"))
                        .then(Reply::text("Added greeting.txt.")),
                )
                .fallback(Reply::text("Nothing to do.")),
        )
        .await
        .unwrap();
        let program = Path::new(env!("CARGO_BIN_EXE_copilot-runner"));
        let mut job = CiJob::new(program, dir.path(), Path::new(env!("CARGO_TARGET_TMPDIR")), &gitlab, &model).await;
        job.trigger(
            "issue_assignee",
            &[("TARGET_PROJECT_ID", project_id.to_string()), ("TARGET_ISSUE_IID", issue_iid.to_string())],
        );
        job.set("ENABLE_PROJECT_UNDERSTANDING", "true");
        Self { gitlab, model, dir, job, issue_iid }
    }

    /// Runs the job to a successful end and returns its log and `summary.json`'s `context`.
    async fn run(&self) -> (String, Value) {
        let out = self.job.run().await;
        let log = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{log}");
        let summary = std::fs::read(self.job.artifacts_dir().join("summary.json")).unwrap();
        let summary: Value = serde_json::from_slice(&summary).unwrap();
        (log, summary["context"].clone())
    }

    /// How many model requests came from the understanding stage so far.
    fn understanding_requests(&self) -> usize {
        let marker = "copilot-runner-stage: understanding";
        self.model.requests().iter().filter(|request| request.json().to_string().contains(marker)).count()
    }

    fn branch(&self) -> String {
        format!("copilot/issue-{}", self.issue_iid)
    }

    /// Every stage prompt of the last run (analysis, implementation, …), concatenated.
    fn stage_prompts(&self) -> String {
        let stages = self.job.artifacts_dir().join("stages");
        let mut prompts = String::new();
        for stage in std::fs::read_dir(&stages).unwrap() {
            let prompt = stage.unwrap().path().join("prompt-1.md");
            prompts.push_str(&std::fs::read_to_string(&prompt).unwrap_or_default());
        }
        prompts
    }

    /// The cached entry's `meta.json` for one commit of the branch, from the default file store.
    fn cached_meta(&self, sha: &str) -> Option<Value> {
        let project_id = self.gitlab.project_id(PROJECT);
        let branch = self.branch().replace('/', "%2F");
        let meta: PathBuf = self
            .dir
            .path()
            .join(format!(".copilot-cache/projects/{project_id}/branches/{branch}/commits/{sha}/meta.json"));
        std::fs::read(meta).ok().map(|bytes| serde_json::from_slice(&bytes).unwrap())
    }
}

#[tokio::test]
async fn later_jobs_start_from_the_cached_understanding_and_update_it() {
    let mut rig = Rig::new().await;
    let base = rig.gitlab.branch_head(PROJECT, "main").await.unwrap();

    // First job: nothing cached, a full analysis; the agent writes the understanding, the
    // stages read it, and the entry is cached under the commit the branch started from.
    let (log, context) = rig.run().await;
    assert!(log.contains("project understanding from the context cache: level 5 (full analysis)"), "{log}");
    assert_eq!(context["level"], "full_analysis", "{context}");
    assert_eq!(context["level_number"], 5);
    assert_eq!(context["commit"], base.as_str());
    assert_eq!(context["understanding_stage"], "written", "{context}");
    assert_eq!(context["cache_write"], "written", "{context}");
    assert!(rig.stage_prompts().contains("understanding-first-draft"), "the stages did not get the understanding");
    let meta = rig.cached_meta(&base).expect("an entry for the base commit");
    assert_eq!(meta["agent_written"], true);
    let head = rig.gitlab.branch_head(PROJECT, &rig.branch()).await.unwrap();
    assert_ne!(head, base, "the first job pushed a commit");

    // Second job on the branch: its head's parent is cached, so level 2; only greeting.txt is
    // analysed again and the agent is asked to update the text, not to write a new one.
    let (log, context) = rig.run().await;
    assert!(log.contains("project understanding from the context cache: level 2 (ancestor commit)"), "{log}");
    assert_eq!(context["level"], "ancestor", "{context}");
    assert_eq!(context["from_commit"], base.as_str());
    assert_eq!(context["commit"], head.as_str());
    assert_eq!(context["changed_files"], 1, "{context}");
    assert_eq!(context["understanding_stage"], "updated", "{context}");
    let update_prompt = std::fs::read_to_string(rig.job.artifacts_dir().join("understanding/prompt.md")).unwrap();
    assert!(update_prompt.contains("understanding-first-draft"), "{update_prompt}");
    assert!(update_prompt.contains("greeting.txt"), "{update_prompt}");
    assert!(rig.stage_prompts().contains("understanding-after-update"));
    let facts: Value =
        serde_json::from_slice(&std::fs::read(rig.job.artifacts_dir().join("facts.json")).unwrap()).unwrap();
    assert!(facts["files"].as_u64().unwrap() >= 2, "{facts}");
    assert_eq!(rig.cached_meta(&head).expect("an entry for the branch head")["agent_written"], true);

    // Third job: the branch has not moved, so its exact commit is cached (level 1) and the
    // understanding is reused without asking the agent.
    let asked = rig.understanding_requests();
    let (log, context) = rig.run().await;
    assert!(log.contains("project understanding from the context cache: level 1 (exact commit)"), "{log}");
    assert_eq!(rig.understanding_requests(), asked, "the agent was asked again for a cached understanding");
    assert_eq!(context["level"], "exact_commit", "{context}");
    assert_eq!(context["understanding_stage"], "reused", "{context}");
    assert_eq!(context["cache_write"], "unchanged", "{context}");
    assert!(rig.stage_prompts().contains("understanding-after-update"));

    // Another issue: its new branch has no entry, but the base branch got one when the first
    // branch started from it, so level 4; the base has not moved, so nothing is analysed again.
    let project_id = rig.gitlab.project_id(PROJECT);
    let other = rig.gitlab.add_issue(
        PROJECT,
        IssueSeed {
            title: "Add another greeting".to_owned(),
            description: "Please add greeting.txt too.\n".to_owned(),
            author: "alice".to_owned(),
            assignees: vec!["copilot-agent".to_owned()],
            labels: Vec::new(),
        },
    );
    rig.gitlab.add_system_note_by(Noteable::Issue { project_id, iid: other }, "alice", "assigned to @copilot-agent");
    rig.job.trigger(
        "issue_assignee",
        &[("TARGET_PROJECT_ID", project_id.to_string()), ("TARGET_ISSUE_IID", other.to_string())],
    );
    let asked = rig.understanding_requests();
    let (log, context) = rig.run().await;
    assert!(log.contains("project understanding from the context cache: level 4 (cross-branch)"), "{log}");
    assert_eq!(context["level"], "cross_branch", "{context}");
    assert_eq!(context["from_branch"], "main", "{context}");
    assert_eq!(context["from_commit"], base.as_str());
    assert_eq!(context["changed_files"], 0, "{context}");
    assert_eq!(context["understanding_stage"], "reused", "{context}");
    assert_eq!(rig.understanding_requests(), asked);
    assert!(rig.stage_prompts().contains("understanding-first-draft"));
}

#[tokio::test]
async fn a_store_that_never_answers_means_a_full_analysis_within_the_bound() {
    let mut rig = Rig::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let secret = "never-in-the-log-3f9a";
    rig.job
        .set("CONTEXT_CACHE_URL", "s3://context/runner")
        .set("AWS_ACCESS_KEY_ID", "cache-key-id")
        .set("AWS_SECRET_ACCESS_KEY", secret)
        .set("AWS_REGION", "us-east-1")
        .set("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));

    let (log, context) = rig.run().await;
    silent.abort();
    assert!(log.contains("project understanding from the context cache: level 5 (full analysis)"), "{log}");
    assert_eq!(context["level"], "full_analysis", "{context}");
    assert!(context["store_problem"].as_str().unwrap().contains("unavailable"), "{context}");
    assert!(context["lookup_ms"].as_u64().unwrap() <= 5_500, "{context}");
    assert!(context["cache_write"].as_str().unwrap().starts_with("skipped"), "{context}");
    assert_eq!(context["understanding_stage"], "written", "{context}");
    assert!(!log.contains(secret), "the store's secret reached the job log");
    assert_eq!(rig.gitlab.read_file(PROJECT, &rig.branch(), "greeting.txt").await.as_deref(), Some("hello\n"));
}
