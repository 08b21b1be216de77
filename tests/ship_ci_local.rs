//! The example agent project's pipeline, run for real by gitlab-ci-local (pinned by
//! `scripts/test`) with its shell executor: the template is included with `include: local` in
//! place of the component, and the webhook's trigger variables are passed as GitLab passes
//! them. For each `TRIGGER_TYPE` exactly the matching job is active and every other job is
//! skipped by its rules; a real run executes the job's script with the built `copilot-runner`
//! on PATH and the job's outcome is the binary's own.
//!
//! gitlab-ci-local does not stop a pipeline on `workflow: rules`, so the trigger-only workflow
//! is pinned by `ship_ci_templates` instead.
#![expect(clippy::disallowed_methods, reason = "the test runs gitlab-ci-local, git and the built binary")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const TRIGGER_TYPES: [&str; 5] = ["issue_assignee", "issue_note", "mr_note", "mr_reviewer", "pipeline_failed"];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn gitlab_ci_local() -> PathBuf {
    let path = repo().join(".tools/npm/node_modules/.bin/gitlab-ci-local");
    assert!(path.is_file(), "gitlab-ci-local is missing at {}: run scripts/test to install it", path.display());
    let rsync = Command::new("sh").args(["-c", "command -v rsync"]).output().expect("sh runs");
    assert!(rsync.status.success(), "rsync is missing (gitlab-ci-local needs it): run scripts/test to install it");
    path
}

/// A throwaway agent project: the example `.gitlab-ci.yml` with its component include turned
/// into a local include of the template, committed in a fresh git repository.
struct AgentProject {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl AgentProject {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("test setup");
        let example = std::fs::read_to_string(repo().join("ci-templates/examples/agent-project.gitlab-ci.yml"))
            .expect("test setup");
        let components: Vec<&str> =
            example.lines().filter(|line| line.trim_start().starts_with("- component:")).collect();
        assert_eq!(components.len(), 1, "the example includes the template once, as a component");
        let pipeline = example.replace(components[0], "  - local: templates/copilot-runner.yml");
        std::fs::write(dir.path().join(".gitlab-ci.yml"), pipeline).expect("test setup");
        std::fs::create_dir(dir.path().join("templates")).expect("test setup");
        std::fs::copy(
            repo().join("ci-templates/templates/copilot-runner.yml"),
            dir.path().join("templates/copilot-runner.yml"),
        )
        .expect("test setup");
        for args in [&["init", "-q", "-b", "main"][..], &["add", "-A"], &["commit", "-q", "-m", "agent project"]] {
            let status = Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com")
                .status()
                .expect("git runs");
            assert!(status.success(), "git {args:?} failed");
        }
        Self { dir, home: tempfile::tempdir().expect("test setup") }
    }

    fn gitlab_ci_local(&self, args: &[&str], trigger: &[(&str, &str)]) -> Output {
        let mut command = Command::new(gitlab_ci_local());
        command
            .args(args)
            .arg("--home")
            .arg(self.home.path())
            .current_dir(self.dir.path())
            .env("GCL_IGNORE_PREDEFINED_VARS", "CI_PIPELINE_SOURCE")
            .env("NO_COLOR", "1");
        for (name, value) in trigger {
            command.arg("--variable").arg(format!("{name}={value}"));
        }
        command.output().expect("gitlab-ci-local runs")
    }
}

fn trigger_variables(trigger: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("CI_PIPELINE_SOURCE", "trigger"),
        ("TRIGGER_TYPE", trigger),
        ("TARGET_PROJECT_ID", "42"),
        ("TARGET_ISSUE_IID", "7"),
        ("TARGET_MR_IID", "9"),
        ("TARGET_NOTE_ID", "1001"),
        ("TARGET_PIPELINE_ID", "555"),
    ]
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn each_trigger_type_activates_exactly_its_own_job() {
    // One project per trigger type so the listings can run side by side (gitlab-ci-local keeps
    // state in the project folder).
    std::thread::scope(|scope| {
        let listings: Vec<_> = TRIGGER_TYPES
            .iter()
            .map(|trigger| {
                scope.spawn(move || {
                    let project = AgentProject::new();
                    (trigger, project.gitlab_ci_local(&["--list-json"], &trigger_variables(trigger)))
                })
            })
            .collect();
        for listing in listings {
            let (trigger, output) = listing.join().expect("the listing thread finishes");
            assert!(output.status.success(), "gitlab-ci-local --list-json failed:\n{}", text(&output));
            let jobs: Vec<Value> = serde_json::from_slice(&output.stdout).expect("--list-json prints JSON");
            assert_eq!(jobs.len(), TRIGGER_TYPES.len(), "one job per trigger type: {jobs:?}");
            let active: Vec<&str> =
                jobs.iter().filter(|job| job["when"] != "never").map(|job| job["name"].as_str().unwrap()).collect();
            assert_eq!(active, vec![format!("copilot:{trigger}")], "for TRIGGER_TYPE={trigger}");
            assert!(jobs.iter().all(|job| job["stage"] == "copilot"), "the example's `stage` input reached the jobs");
        }
    });
    let project = AgentProject::new();
    let output = project.gitlab_ci_local(&["--list-json"], &[("CI_PIPELINE_SOURCE", "trigger")]);
    let jobs: Vec<Value> = serde_json::from_slice(&output.stdout).expect("--list-json prints JSON");
    assert_eq!(jobs.len(), TRIGGER_TYPES.len());
    assert!(jobs.iter().all(|job| job["when"] == "never"), "no job without a trigger type: {jobs:?}");
}

#[test]
fn preview_shows_the_example_inputs_interpolated_into_the_selected_job() {
    let project = AgentProject::new();
    let output = project.gitlab_ci_local(&["--preview"], &trigger_variables("mr_reviewer"));
    assert!(output.status.success(), "gitlab-ci-local --preview failed:\n{}", text(&output));
    let preview = String::from_utf8_lossy(&output.stdout);
    let pipeline: Value = serde_saphyr::from_str(preview.trim_start_matches("---\n")).expect("--preview prints YAML");
    let job = &pipeline["copilot:mr_reviewer"];
    assert_eq!(job["image"]["name"], "registry.example.com/tools/copilot-runner:0.1.0");
    assert_eq!(job["tags"], serde_json::json!(["copilot-agent"]));
    assert_eq!(job["timeout"], "3h");
    assert_eq!(job["resource_group"], "copilot-$TARGET_PROJECT_ID-mr-$TARGET_MR_IID");
    assert_eq!(job["artifacts"]["reports"]["codequality"], "copilot-artifacts/gl-code-quality-report.json");
    assert_eq!(job["artifacts"]["paths"], serde_json::json!(["copilot-artifacts/"]));
    assert_eq!(job["variables"]["COPILOT_LANGUAGE"], "en");
    assert_eq!(job["script"], serde_json::json!(["copilot-runner run"]));
}

#[test]
fn triggered_pipeline_runs_the_built_binary_in_the_selected_job_only() {
    let binary = Path::new(env!("CARGO_BIN_EXE_copilot-runner"));
    let mut trigger = trigger_variables("issue_assignee");
    // gitlab-ci-local's shell executor runs in the project folder but reports a container path
    // as `CI_PROJECT_DIR`; a relative artifacts folder lands where it collects artifacts from.
    trigger.push(("COPILOT_ARTIFACTS_DIR", "copilot-artifacts"));
    trigger.push(("CONTEXT_CACHE_URL", "file://.copilot-cache"));

    // What `copilot-runner run` does with these variables when run directly is what the job must
    // do: the job's outcome is the binary's. (Today `run` exits 2 saying the workflow is not
    // built yet; once the workflows land, the same comparison holds.)
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let direct = Command::new(binary)
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(trigger.iter().copied())
        .current_dir(scratch.path())
        .output()
        .expect("the built binary runs");
    let direct_stderr = String::from_utf8_lossy(&direct.stderr);
    let direct_log = scratch.path().join("copilot-artifacts/copilot-runner.log").is_file();

    let project = AgentProject::new();
    let path = format!("{}:{}", binary.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new(gitlab_ci_local());
    command
        .arg("--force-shell-executor")
        .arg("--home")
        .arg(project.home.path())
        .current_dir(project.dir.path())
        .env("PATH", path)
        .env("GCL_IGNORE_PREDEFINED_VARS", "CI_PIPELINE_SOURCE")
        .env("NO_COLOR", "1");
    for (name, value) in &trigger {
        command.arg("--variable").arg(format!("{name}={value}"));
    }
    let output = command.output().expect("gitlab-ci-local runs");
    let log = text(&output);

    assert!(log.contains("copilot:issue_assignee  $ copilot-runner run"), "the selected job ran its script:\n{log}");
    for other in TRIGGER_TYPES.iter().filter(|t| **t != "issue_assignee") {
        assert!(!log.contains(&format!("copilot:{other} ")), "job copilot:{other} must not run:\n{log}");
    }
    match direct.status.code() {
        Some(0) => {
            assert!(output.status.success(), "the job failed where the binary succeeds:\n{log}");
            assert!(log.contains("PASS  copilot:issue_assignee"), "{log}");
        }
        code => {
            let code = code.expect("the binary exits with a code");
            assert!(!output.status.success(), "the job passed where the binary fails:\n{log}");
            assert!(log.contains(&format!("FAIL {code}")), "the job failed with the binary's exit code {code}:\n{log}");
            let error_line = direct_stderr
                .lines()
                .find(|line| line.starts_with("error:"))
                .unwrap_or_else(|| panic!("a failing run says why on an `error:` line:\n{direct_stderr}"));
            assert!(log.contains(error_line), "the binary's `{error_line}` reached the job log:\n{log}");
        }
    }
    // Artifacts are kept whatever the outcome (`when: always`): the run's own log is among them.
    if direct_log {
        let collected = project.dir.path().join(".gitlab-ci-local/artifacts/copilotOgissue_assignee");
        assert!(
            collected.join("copilot-artifacts/copilot-runner.log").is_file(),
            "the job's artifacts hold the run log:\n{log}"
        );
    }
}
