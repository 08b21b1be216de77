//! One merge request on an agent branch whose first pipeline failed, and the CI job that is
//! triggered for it; plus what the tests read back from the fake.

use std::path::Path;
use std::time::Duration;

use copilot_runner::gitlab::{Client, NewMergeRequest};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::ci_job::CiJob;
use copilot_runner_testkit::fake_gitlab::{CiRule, Noteable, Outcome};
use copilot_runner_testkit::mock_model::{MockModel, Reply, Rule, Script};
use secrecy::SecretString;

pub(crate) const PROJECT: &str = "acme/widgets";
pub(crate) const BRANCH: &str = "copilot/issue-1";
/// Who assigned the agent to issue #1, the request behind the agent's merge request.
pub(crate) const REQUESTER: &str = "alice";
/// The log of the failing test job; its error line must reach the agent.
pub(crate) const FAILING_TRACE: &str = "\u{1b}[0Ksection_start:1700000000:step_script\r\u{1b}[0KExecuting step_script\n\
    $ cargo test\nrunning 3 tests\ntest greet_says_hello ... FAILED\n\
    thread 'greet_says_hello' panicked at src/lib.rs:9:5:\nassertion failed: greet(\"Ada\") == \"Hello, Ada!\"\n\
    error: test failed, to rerun pass `--lib`\n\u{1b}[0Ksection_end:1700000001:step_script\r\u{1b}[0K\n\
    ERROR: Job failed: exit code 101\n";
/// How many fix attempts the mock model has an answer for.
const SCRIPTED_ATTEMPTS: u32 = 8;
/// The branch's test file, with one test the guard against weakening tests watches over.
pub(crate) const TEST_FILE: &str = "tests/greet.rs";
pub(crate) const TEST_FILE_TEXT: &str =
    "use widgets::greet;\n\n#[test]\nfn greets_ada() {\n    assert_eq!(greet(\"Ada\"), \"Hello, Ada!\");\n}\n";

/// A script failure of the `test` job in test `name`, with `panic_line` its first error: one
/// failure signature per name (and per line).
pub(crate) fn test_fails_in(name: &str, panic_line: u32) -> Outcome {
    let trace = format!(
        "$ cargo test\nrunning 3 tests\ntest {name} ... FAILED\n\
         thread '{name}' panicked at /builds/acme/widgets/src/lib.rs:{panic_line}:5:\nassertion failed\n\
         ERROR: Job failed: exit code 101\n"
    );
    Outcome::Fail { job: "test".into(), trace, failure_reason: "script_failure".into() }
}

/// A script failure of the `test` job.
pub(crate) fn test_fails() -> Outcome {
    Outcome::Fail { job: "test".into(), trace: FAILING_TRACE.into(), failure_reason: "script_failure".into() }
}

/// A rule for the agent's branches.
pub(crate) fn on_branch(outcome: Outcome, reads_until_done: u32) -> CiRule {
    CiRule { ref_pattern: "copilot/*".into(), outcome, reads_until_done }
}

pub(crate) struct Rig {
    pub(crate) gitlab: FakeGitLab,
    pub(crate) model: MockModel,
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) job: CiJob,
    pub(crate) mr_iid: u64,
    /// The failed pipeline the job is triggered for.
    pub(crate) first_pipeline: u64,
}

impl Rig {
    /// Alice assigned the agent to issue #1; the agent pushed `BRANCH` under `first` (its
    /// pipeline ends as `first` says) and opened a merge request; the job is triggered for that
    /// pipeline.
    pub(crate) async fn new(first: Outcome) -> Self {
        Self::with_rules(first, |_| Vec::new()).await
    }

    /// As [`Rig::new`], with rules for the mock model ahead of the rig's own, made by `rules`
    /// from the checkout the agent will work in.
    pub(crate) async fn with_rules(first: Outcome, rules: impl FnOnce(&Path) -> Vec<Rule>) -> Self {
        let gitlab = FakeGitLab::start().await.unwrap();
        let project_id = gitlab.project_id(PROJECT);
        let issue = Noteable::Issue { project_id, iid: 1 };
        gitlab.add_system_note_by(issue, REQUESTER, "assigned to @copilot-agent");
        gitlab.add_ci_rule(PROJECT, on_branch(first, 0));
        let files = [
            ("src/greet.rs", Some("pub fn greet(name: &str) -> String { String::new() }\n")),
            (TEST_FILE, Some(TEST_FILE_TEXT)),
        ];
        gitlab.push_files(PROJECT, BRANCH, &files, "Add greet", "copilot-agent").await.unwrap();
        let first_pipeline = gitlab
            .pipelines(PROJECT)
            .iter()
            .filter(|pipeline| pipeline.source != "parent_pipeline")
            .map(|pipeline| pipeline.id)
            .max()
            .unwrap();
        let client = Client::new(&gitlab.api_url(), &SecretString::from(gitlab.agent_token())).unwrap();
        let new = NewMergeRequest {
            source_branch: BRANCH.into(),
            target_branch: "main".into(),
            title: "Add a greeting function".into(),
            description: Some("Closes #1".into()),
            draft: true,
            ..Default::default()
        };
        let mr_iid = client.create_merge_request(project_id, &new).await.unwrap().iid;

        let dir = tempfile::tempdir().unwrap();
        let checkout = dir.path().join(format!("work/project-{project_id}"));
        let mut script = Script::new();
        for rule in rules(&checkout) {
            script = script.rule(rule);
        }
        for attempt in 1..=SCRIPTED_ATTEMPTS {
            let fix = checkout.join(format!("fix-attempt-{attempt}.txt")).display().to_string();
            script = script.rule(
                Rule::when(format!("This is fix attempt {attempt} of"))
                    .then(Reply::create(&fix, &format!("fix {attempt}\n")))
                    .then(Reply::text(format!("Made greet return the greeting (attempt {attempt})."))),
            );
        }
        let model = MockModel::start(script.fallback(Reply::text("Nothing to do."))).await.unwrap();
        let program = Path::new(env!("CARGO_BIN_EXE_copilot-runner"));
        let mut job = CiJob::new(program, dir.path(), Path::new(env!("CARGO_TARGET_TMPDIR")), &gitlab, &model).await;
        job.trigger(
            "pipeline_failed",
            &[
                ("TARGET_PROJECT_ID", project_id.to_string()),
                ("TARGET_PIPELINE_ID", first_pipeline.to_string()),
                ("TARGET_MR_IID", mr_iid.to_string()),
            ],
        );
        // Each scripted failure here is real; the flaky check has tests of its own (`evidence`).
        job.set("RETRY_INTERVAL_TIME", "0.05").set("TOTAL_TIMEOUT", "600").set("COPILOT_FLAKY_CHECK", "false");
        Self { gitlab, model, _dir: dir, job, mr_iid, first_pipeline }
    }

    /// Runs the job triggered for `pipeline` of merge request `mr_iid` to its end.
    pub(crate) async fn run_for(&self, pipeline: u64, mr_iid: u64) -> std::process::Output {
        let mut job = self.job.clone();
        job.set("TARGET_PIPELINE_ID", pipeline.to_string()).set("TARGET_MR_IID", mr_iid.to_string());
        tokio::time::timeout(Duration::from_secs(300), job.run()).await.expect("the job ended within its bounds")
    }

    /// The job triggered for note `note_id` on the merge request (`mr_note`).
    pub(crate) fn note_job(&self, note_id: u64) -> CiJob {
        let mut job = self.job.clone();
        let project_id = self.gitlab.project_id(PROJECT).to_string();
        job.trigger(
            "mr_note",
            &[
                ("TARGET_PROJECT_ID", project_id),
                ("TARGET_MR_IID", self.mr_iid.to_string()),
                ("TARGET_NOTE_ID", note_id.to_string()),
            ],
        );
        job
    }

    /// Runs the job to its end, within a bound far above what the loop needs.
    pub(crate) async fn run(&self) -> std::process::Output {
        tokio::time::timeout(Duration::from_secs(300), self.job.run()).await.expect("the job ended within its bounds")
    }

    /// Bodies of the agent's notes on the merge request, oldest first.
    pub(crate) fn agent_notes(&self) -> Vec<String> {
        let agent = self.gitlab.user_id("copilot-agent");
        self.gitlab
            .mr_notes(PROJECT, self.mr_iid)
            .into_iter()
            .filter(|note| note.author_id == agent && !note.system)
            .map(|note| note.body)
            .collect()
    }

    /// The loop's status note (there must be exactly one).
    pub(crate) fn status_note(&self) -> String {
        let marker = format!("<!-- copilot-runner:pipeline-fix mr-{} -->", self.mr_iid);
        let notes: Vec<String> = self.agent_notes().into_iter().filter(|body| body.contains(&marker)).collect();
        assert_eq!(notes.len(), 1, "{notes:#?}");
        notes.into_iter().next().unwrap()
    }

    /// The loop's end notes.
    pub(crate) fn end_notes(&self) -> Vec<String> {
        self.agent_notes().into_iter().filter(|body| body.contains("copilot-runner:status pipeline-fix-end-")).collect()
    }

    /// Pipelines of the branch (not their child pipelines), oldest first, with their status.
    pub(crate) fn branch_pipelines(&self) -> Vec<(u64, String, u64)> {
        let mut pipelines: Vec<_> = self
            .gitlab
            .pipelines(PROJECT)
            .into_iter()
            .filter(|pipeline| pipeline.git_ref == BRANCH && pipeline.source != "parent_pipeline")
            .map(|pipeline| (pipeline.id, self.gitlab.pipeline_status(pipeline.id).unwrap(), pipeline.user_id))
            .collect();
        pipelines.sort_unstable();
        pipelines
    }

    /// The fix commits the agent pushed (its first push, the branch itself, not counted).
    pub(crate) fn agent_fix_pushes(&self) -> usize {
        let agent = self.gitlab.user_id("copilot-agent");
        self.branch_pipelines().iter().filter(|(_, _, user)| *user == agent).count() - 1
    }

    /// Fix attempts the agent was asked for.
    pub(crate) fn fix_prompts(&self) -> u32 {
        (1..=SCRIPTED_ATTEMPTS).filter(|n| self.model.saw(&format!("This is fix attempt {n} of"))).count() as u32
    }
}
