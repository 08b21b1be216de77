//! `copilot-runner local` end to end: the built binary, the real Copilot CLI and the scripted
//! mock model, on a real git checkout. The plan decides the stages; analysis JSON is validated
//! (and retried once when invalid); the implementation writes files; one commit lands on the
//! branch with its trailers; the artifacts are written.
#![expect(clippy::disallowed_methods, reason = "tests run the built binary and git as child processes")]
#![expect(clippy::unwrap_used, reason = "test fixtures panic on a broken setup")]

use std::path::{Path, PathBuf};
use std::process::Command;

use copilot_runner_testkit::mock_model::{MockModel, Reply, Rule, Script};
use copilot_runner_testkit::{copilot_cli, offline};

const ANALYSIS: &str = r#"{"summary": "Add a greeting file.", "relevant_files": ["greeting.txt"], "risks": [], "acceptance_criteria": ["greeting.txt says hello"], "approach": "Create the file."}"#;

struct Checkout {
    dir: tempfile::TempDir,
    path_var: String,
    home: PathBuf,
}

impl Checkout {
    async fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        for (path, text) in files {
            let file = repo.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        let path_var = std::env::var("PATH").unwrap();
        for args in [
            &["init", "-q", "-b", "main"][..],
            &["add", "--all"],
            &["-c", "user.name=Alice", "-c", "user.email=alice@example.com", "commit", "-q", "-m", "initial"],
        ] {
            let status = Command::new("git").args(args).current_dir(&repo).status().unwrap();
            assert!(status.success(), "git {args:?}");
        }
        let cli = copilot_cli::cli_path();
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let (cli2, path2) = (cli.clone(), path_var.clone());
        let home = tokio::task::spawn_blocking(move || copilot_cli::shared_home(&tmp, &cli2, &path2)).await.unwrap();
        Self { dir, path_var, home }
    }

    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn artifacts(&self) -> PathBuf {
        self.dir.path().join("artifacts")
    }

    fn scratch(&self, index: usize, stage: &str) -> PathBuf {
        self.dir.path().join("work/stages").join(format!("{index}-{stage}")).join("scratch")
    }

    /// Runs `copilot-runner local` as a person would, with the model behind `model`.
    async fn local(&self, model: &MockModel, task: &str) -> std::process::Output {
        self.local_with(model, task, &[]).await
    }

    /// [`Checkout::local`] with the settings `extra` in its environment as well.
    async fn local_with(&self, model: &MockModel, task: &str, extra: &[(&str, &str)]) -> std::process::Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_copilot-runner"));
        command
            .args(["local", "--repo"])
            .arg(self.repo())
            .args(["--task", task, "--branch", "copilot/greeting"])
            .env_clear()
            .env("PATH", &self.path_var)
            .env("HOME", &self.home)
            .env("COPILOT_HOME", self.dir.path().join("copilot-home"))
            .env("COPILOT_CLI_PATH", copilot_cli::cli_path())
            .env("COPILOT_OFFLINE", "true")
            .env("COPILOT_PROVIDER_BASE_URL", model.base_url())
            .env("COPILOT_MODEL", "gpt-4.1")
            .env("COPILOT_ARTIFACTS_DIR", self.artifacts())
            .env("COPILOT_WORK_DIR", self.dir.path().join("work"))
            .env("CONTEXT_CACHE_URL", format!("file://{}", self.dir.path().join("cache").display()))
            .env("GITLAB_TOKEN", "glpat-local-never-leaks")
            .env("COPILOT_STAGE_TIMEOUT", "120")
            .envs(offline::loopback_only([]))
            .envs(extra.iter().copied());
        command.output().await.unwrap()
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git").args(args).current_dir(self.repo()).output().unwrap();
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[tokio::test]
async fn a_one_line_task_runs_analysis_and_implementation_and_commits_on_the_branch() {
    let checkout = Checkout::new(&[("README.md", "# demo\n")]).await;
    let analysis_path = checkout.scratch(1, "analysis").join("analysis.json").display().to_string();
    let greeting_path = checkout.repo().join("greeting.txt").display().to_string();
    let model = MockModel::start(
        Script::new()
            // The first analysis file is invalid: the retry (a new agent call whose prompt quotes
            // the problem) writes a valid one.
            .rule(
                Rule::when("The output file was rejected")
                    .then(Reply::create(&analysis_path, ANALYSIS))
                    .then(Reply::text("Written again.")),
            )
            .rule(
                Rule::when("copilot-runner-stage: analysis")
                    .then(Reply::create(&analysis_path, r#"{"summary": "incomplete"}"#))
                    .then(Reply::text("Written.")),
            )
            .rule(
                Rule::when("copilot-runner-stage: implementation")
                    .then(Reply::create(&greeting_path, "hello\n"))
                    .then(Reply::text("Added greeting.txt.")),
            ),
    )
    .await
    .unwrap();

    let out = checkout.local(&model, "Add a greeting file").await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stdout: {}\nstderr: {stderr}", text(&out.stdout));
    assert!(text(&out.stdout).contains("on `copilot/greeting`"), "{}", text(&out.stdout));

    // The planner chose exactly analysis + implementation: no test framework, a small task.
    let plan: serde_json::Value = serde_json::from_str(&read(&checkout.artifacts().join("stages/plan.json"))).unwrap();
    let stages: Vec<_> = plan["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["analysis", "implementation"]);

    // Analysis JSON was validated: the retry quoted the error, the kept file is the valid one.
    let retry_prompt = read(&checkout.artifacts().join("stages/1-analysis/prompt-2.md"));
    assert!(retry_prompt.contains("relevant_files"), "{retry_prompt}");
    let kept: serde_json::Value =
        serde_json::from_str(&read(&checkout.artifacts().join("stages/1-analysis/analysis.json"))).unwrap();
    assert_eq!(kept["summary"], "Add a greeting file.");
    // Its output was carried into the implementation prompt.
    let implementation_prompt = read(&checkout.artifacts().join("stages/2-implementation/prompt-1.md"));
    assert!(implementation_prompt.contains("Add a greeting file."), "{implementation_prompt}");

    // One commit on the branch, with the file, the trailers and the agent as author.
    assert_eq!(checkout.git(&["rev-parse", "--abbrev-ref", "HEAD"]).trim(), "copilot/greeting");
    assert_eq!(checkout.git(&["rev-list", "--count", "main..copilot/greeting"]).trim(), "1");
    assert_eq!(checkout.git(&["show", "copilot/greeting:greeting.txt"]), "hello\n");
    let message = checkout.git(&["log", "-1", "--format=%an%n%B"]);
    assert!(message.starts_with("copilot-agent\nAdd a greeting file"), "{message}");
    assert!(message.contains("Copilot-Stage: analysis, implementation"), "{message}");
    assert!(checkout.git(&["status", "--porcelain"]).is_empty(), "the work tree is clean");

    // summary.json adds it up: three agent calls (one retry), usage read.
    let summary: serde_json::Value =
        serde_json::from_str(&read(&checkout.artifacts().join("stages/summary.json"))).unwrap();
    assert_eq!(summary["agent_calls"], 3);
    assert_eq!(summary["stages"].as_array().unwrap().len(), 2);
    assert!(checkout.artifacts().join("facts.json").exists());
    // Nothing was cached for this checkout: a full analysis, recorded and written back.
    assert_eq!(summary["context"]["level"], "full_analysis", "{summary}");
    assert_eq!(summary["context"]["cache_write"], "written", "{summary}");
    assert!(stderr.contains("level 5 (full analysis)"), "{stderr}");
    // The scratch output never landed in the repository, and no token reached the model.
    assert!(!checkout.repo().join("analysis.json").exists());
    assert!(!model.saw("glpat-local-never-leaks"));
}

/// A Rust project with tests, and a model that writes the analysis and changes nothing else.
async fn rust_project_with_tests() -> (Checkout, MockModel) {
    let checkout = Checkout::new(&[
        ("Cargo.toml", "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        ("src/lib.rs", "pub fn add(a: i32, b: i32) -> i32 { a + b }\n"),
    ])
    .await;
    let analysis_path = checkout.scratch(1, "analysis").join("analysis.json").display().to_string();
    let model = MockModel::start(
        Script::new()
            .rule(
                Rule::when("copilot-runner-stage: analysis")
                    .then(Reply::create(&analysis_path, ANALYSIS))
                    .then(Reply::text("Written.")),
            )
            .fallback(Reply::text("Nothing to change.")),
    )
    .await
    .unwrap();
    (checkout, model)
}

const SATURATE: &str = "Make add saturate instead of overflowing; the hot path performance must not regress";

/// The stages of the plan a local run wrote, and its reasons.
fn planned(checkout: &Checkout) -> (Vec<String>, Vec<String>) {
    let plan: serde_json::Value = serde_json::from_str(&read(&checkout.artifacts().join("stages/plan.json"))).unwrap();
    let strings = |key: &str, field: Option<&str>| -> Vec<String> {
        let items = plan[key].as_array().unwrap().iter();
        items.map(|item| field.map_or(item, |field| &item[field]).as_str().unwrap().to_owned()).collect()
    };
    (strings("stages", Some("stage")), strings("reasons", None))
}

#[tokio::test]
async fn a_project_with_a_test_framework_gets_a_tests_stage() {
    let (checkout, model) = rust_project_with_tests().await;

    let out = checkout.local(&model, SATURATE).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(planned(&checkout).0, ["analysis", "implementation", "tests"]);
    assert!(text(&out.stdout).contains("changed nothing"), "{}", text(&out.stdout));
    assert_eq!(checkout.git(&["rev-list", "--count", "main..copilot/greeting"]).trim(), "0");
}

#[tokio::test]
async fn an_agent_that_never_writes_the_analysis_fails_with_exit_1_naming_the_stage() {
    let checkout = Checkout::new(&[("README.md", "# demo\n")]).await;
    let model = MockModel::start(Script::new().fallback(Reply::text("I will not write files."))).await.unwrap();

    let out = checkout.local(&model, "Add a greeting file").await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("the `analysis` stage wrote an invalid `analysis.json` twice"), "{stderr}");
    assert_eq!(checkout.git(&["rev-list", "--count", "main..copilot/greeting"]).trim(), "0");
}

#[tokio::test]
async fn a_stage_the_agent_project_turned_off_is_left_out_of_a_local_run() {
    let (checkout, model) = rust_project_with_tests().await;

    let out = checkout.local_with(&model, SATURATE, &[("COPILOT_DISABLED_STAGES", "tests")]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (stages, reasons) = planned(&checkout);
    assert_eq!(stages, ["analysis", "implementation"], "the same plan runs tests without the setting");
    assert!(
        reasons.iter().any(|reason| reason.starts_with("tests: turned off by `COPILOT_DISABLED_STAGES`")),
        "{reasons:?}"
    );
    assert!(!checkout.artifacts().join("stages/3-tests").exists());
}
