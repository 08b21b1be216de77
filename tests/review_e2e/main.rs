//! `copilot-runner run` for mr_reviewer (and review-like MR notes), as CI runs it: the built
//! binary against the fake GitLab, which validates diff positions the way GitLab does, with the
//! real Copilot CLI and the scripted mock model writing the findings file.
#![expect(clippy::unwrap_used, reason = "test fixtures panic on a broken setup")]

mod address;
mod automatic;
mod deadline;
mod drafts;
mod feedback;
mod forks;
mod incremental;
mod instructions;
mod internal;
mod killed;
mod languages;
mod large;
mod links;
mod noise;
mod placement;
mod reads;
mod repo_config;
mod rerun;
mod resolve;
mod retry;

use std::path::{Path, PathBuf};

use copilot_runner::gitlab::{Client, ClientOptions, NewMergeRequest};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::ci_job::{CiJob, text};
use copilot_runner_testkit::fake_gitlab::{AGENT, Note};
use copilot_runner_testkit::mock_model::{MockModel, Reply, Rule, Script};
use secrecy::SecretString;

const PROJECT: &str = "acme/widgets";

/// The seeded `src/lib.rs` with `sub` rewritten: old line 8 (`a - b`) is removed, new lines 8
/// and 9 are added, lines 7 and 10 are unchanged context.
const NEW_LIB_RS: &str = "//! Widgets.\n\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\npub fn sub(a: i32, b: i32) -> i32 {\n    let d = a - b;\n    d\n}\n\npub fn mul(a: i32, b: i32) -> i32 {\n    a * b\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(1, 2), 3);\n    }\n}\n";

/// The fake GitLab, a temporary CI project dir and the job that runs the binary in it.
struct Rig {
    gitlab: FakeGitLab,
    dir: tempfile::TempDir,
}

impl Rig {
    async fn new() -> Self {
        Self { gitlab: FakeGitLab::start().await.unwrap(), dir: tempfile::tempdir().unwrap() }
    }

    /// The artifacts folder a CI job gets by default (`$CI_PROJECT_DIR/copilot-artifacts`), the
    /// one the CI template's `artifacts:` keeps.
    fn artifacts(&self) -> PathBuf {
        self.dir.path().join("agent-project/copilot-artifacts")
    }

    /// Where the `n`-th review prompt of a run asks for its findings (1-based).
    fn findings_path(&self, n: usize) -> String {
        self.dir.path().join(format!("work/review/{n}-review/scratch/findings.json")).display().to_string()
    }

    /// A script whose every review prompt (the first one of a run) writes `findings`.
    fn script(&self, findings: &str) -> Script {
        Script::new().rule(review_rule("copilot-runner-stage: review", &self.findings_path(1), findings))
    }

    /// A script whose first review writes `first`, and whose review after an earlier one (its
    /// prompt names the head that one covered) writes `second`.
    fn script_and_follow_up(&self, first: &str, second: &str) -> Script {
        let path = self.findings_path(1);
        Script::new().rule(review_rule("An earlier review covered the changes up to", &path, second)).rule(review_rule(
            "copilot-runner-stage: review",
            &path,
            first,
        ))
    }

    /// A job of this rig talking to `model`, triggered for `mr_reviewer` on `mr_iid`.
    async fn job(&self, model: &MockModel, mr_iid: u64) -> CiJob {
        let program = Path::new(env!("CARGO_BIN_EXE_copilot-runner"));
        let mut job =
            CiJob::new(program, self.dir.path(), Path::new(env!("CARGO_TARGET_TMPDIR")), &self.gitlab, model).await;
        job.unset("COPILOT_ARTIFACTS_DIR");
        let project_id = self.gitlab.project_id(PROJECT);
        job.trigger(
            "mr_reviewer",
            &[("TARGET_PROJECT_ID", project_id.to_string()), ("TARGET_MR_IID", mr_iid.to_string())],
        );
        job
    }

    /// A job of this rig talking to `model`, triggered for `mr_note` by note `note_id` on `mr_iid`.
    async fn note_job(&self, model: &MockModel, mr_iid: u64, note_id: u64) -> CiJob {
        let mut job = self.job(model, mr_iid).await;
        let project_id = self.gitlab.project_id(PROJECT);
        job.trigger(
            "mr_note",
            &[
                ("TARGET_PROJECT_ID", project_id.to_string()),
                ("TARGET_MR_IID", mr_iid.to_string()),
                ("TARGET_NOTE_ID", note_id.to_string()),
            ],
        );
        job
    }

    /// `alice` pushes `files` to `branch` and opens a merge request into `main` with the agent as
    /// reviewer (GitLab notes "requested review from @copilot-agent" by her). Returns its iid.
    async fn open_mr(&self, branch: &str, files: &[(&str, Option<&str>)]) -> u64 {
        self.gitlab.push_files(PROJECT, branch, files, "Rework the helpers", "alice").await.unwrap();
        let token = SecretString::from(self.gitlab.token("alice"));
        let client = Client::with_options(&self.gitlab.api_url(), &token, &ClientOptions::default()).unwrap();
        let new = NewMergeRequest {
            source_branch: branch.to_owned(),
            target_branch: "main".to_owned(),
            title: "Rework the helpers".to_owned(),
            description: Some("Simplify `sub`.".to_owned()),
            reviewer_ids: vec![self.gitlab.user_id(AGENT)],
            ..NewMergeRequest::default()
        };
        client.create_merge_request(PROJECT, &new).await.unwrap().iid
    }

    /// The agent's plain notes on the merge request (status and summary notes).
    fn agent_notes(&self, mr_iid: u64) -> Vec<Note> {
        let agent = self.gitlab.user_id(AGENT);
        self.gitlab
            .mr_notes(PROJECT, mr_iid)
            .into_iter()
            .filter(|note| note.author_id == agent && !note.system && note.position.is_none())
            .collect()
    }

    /// The agent's review summary notes, oldest first.
    fn summaries(&self, mr_iid: u64) -> Vec<String> {
        self.agent_notes(mr_iid)
            .into_iter()
            .map(|note| note.body)
            .filter(|body| body.contains("<!-- copilot-runner:review head="))
            .collect()
    }

    /// The agent's diff discussions: the first note of each.
    fn inline(&self, mr_iid: u64) -> Vec<Note> {
        self.gitlab
            .discussions(PROJECT, mr_iid)
            .into_iter()
            .filter_map(|(_, notes)| notes.into_iter().next())
            .filter(|note| note.position.is_some())
            .collect()
    }

    /// The head of the merge request's latest version.
    fn head(&self, mr_iid: u64) -> String {
        self.gitlab.merge_request(PROJECT, mr_iid).unwrap().latest_version().unwrap().head_commit_sha.clone()
    }
}

/// A rule for prompts carrying `marker`: write `findings` to `path`, then finish.
fn review_rule(marker: &str, path: &str, findings: &str) -> Rule {
    Rule::when(marker).then(Reply::create(path, findings)).then(Reply::text("Reviewed; findings written."))
}

/// A minor maintainability finding on new line `line` of `file`, as the agent writes it.
fn finding(file: &str, line: u32, title: &str) -> serde_json::Value {
    serde_json::json!({"file": file, "line": line, "side": "new", "severity": "minor", "category": "maintainability",
           "title": title, "body": "Explained."})
}

/// Runs the job and insists it succeeded.
async fn run_ok(job: &CiJob) -> String {
    let out = job.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    stderr
}

/// The review prompts the agent got, from the job's artifacts (`review/<n>-review/prompt-1.md`).
fn review_prompts(artifacts: &Path) -> Vec<String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(artifacts.join("review"))
        .map(|entries| entries.filter_map(Result::ok).map(|entry| entry.path()).collect())
        .unwrap_or_default();
    dirs.sort_by_key(|dir| {
        dir.file_name().and_then(|name| name.to_str()?.split('-').next()?.parse::<usize>().ok()).unwrap_or(0)
    });
    dirs.iter().filter_map(|dir| std::fs::read_to_string(dir.join("prompt-1.md")).ok()).collect()
}

#[test]
fn the_ci_template_hands_gitlab_the_report_where_the_review_writes_it() {
    let template = include_str!("../../ci-templates/templates/copilot-runner.yml");
    let expected = format!("codequality: copilot-artifacts/{}", copilot_runner::review::quality::REPORT_FILE_NAME);
    assert!(template.contains(&expected), "the template does not expose `{expected}`");
    let uploaded = format!("      - copilot-artifacts/{}\n", copilot_runner::review::quality::REPORT_FILE_NAME);
    assert!(template.contains(&uploaded), "the template does not keep the report among the artifacts");
}

/// Checks the Code Quality report against the format GitLab documents and returns it.
fn valid_quality_report(artifacts: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(artifacts.join("gl-code-quality-report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let schema: serde_json::Value = serde_json::from_str(include_str!("gl-code-quality-report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&report).map(|error| error.to_string()).collect();
    assert!(errors.is_empty(), "the report breaks GitLab's format: {errors:#?}\n{text}");
    report
}
