//! The example agent project's pipeline, run for real by gitlab-ci-local (pinned by
//! `scripts/test`) with its shell executor: the template is included with `include: local` in
//! place of the component, and the webhook's trigger variables are passed as GitLab passes
//! them. For each `TRIGGER_TYPE` exactly the matching job is active and every other job is
//! skipped by its rules. A triggered `issue_assignee` pipeline runs the job's script with the
//! built `copilot-runner` on PATH against the standalone `fake-gitlab` server, with the real
//! Copilot CLI talking to the standalone `mock-model` server, and the job's effect is visible
//! through the fake's REST API: one Draft MR from the agent's branch.
//!
//! gitlab-ci-local does not stop a pipeline on `workflow: rules`, so the trigger-only workflow
//! is pinned by `ship_ci_templates` instead.
#![expect(clippy::disallowed_methods, reason = "the test runs gitlab-ci-local, git, cargo and the built binaries")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use copilot_runner_testkit::copilot_cli;
use copilot_runner_testkit::fake_gitlab::AGENT;
use copilot_runner_testkit::standalone::{self, IssueJobServers, api_get};
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

    /// gitlab-ci-local in the project, with only the environment it needs: `PATH` (with
    /// `path_first` in front when given) and its own home. Variables reach the jobs as
    /// `--variable`, the way a trigger passes them.
    fn gitlab_ci_local(&self, args: &[&str], variables: &[(&str, &str)], path_first: Option<&Path>) -> Output {
        let inherited = std::env::var("PATH").unwrap_or_default();
        let path = match path_first {
            Some(dir) => format!("{}:{inherited}", dir.display()),
            None => inherited,
        };
        let mut command = Command::new(gitlab_ci_local());
        command
            .args(args)
            .arg("--home")
            .arg(self.home.path())
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.home.path())
            .env("GCL_IGNORE_PREDEFINED_VARS", "CI_PIPELINE_SOURCE,CI_PROJECT_DIR")
            .env("NO_COLOR", "1");
        // The shell executor runs the script in the project folder, as a shell runner runs it in
        // its build folder; gitlab-ci-local would report a container path (`/builds/…`) instead.
        command.arg("--variable").arg(format!("CI_PROJECT_DIR={}", self.dir.path().display()));
        for (name, value) in variables {
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
                    (trigger, project.gitlab_ci_local(&["--list-json"], &trigger_variables(trigger), None))
                })
            })
            .collect();
        for listing in listings {
            let (trigger, output) = listing.join().expect("the listing thread finishes");
            assert_eq!(active_jobs(&output), vec![format!("copilot:{trigger}")], "for TRIGGER_TYPE={trigger}");
        }
    });
    let project = AgentProject::new();
    let output = project.gitlab_ci_local(&["--list-json"], &[("CI_PIPELINE_SOURCE", "trigger")], None);
    assert!(active_jobs(&output).is_empty(), "no job without a trigger type");
}

/// The jobs a `--list-json` listing would run (every job not `when: never`), after checking the
/// listing holds one job per trigger type, all in the example's stage.
fn active_jobs(listing: &Output) -> Vec<String> {
    assert!(listing.status.success(), "gitlab-ci-local --list-json failed:\n{}", text(listing));
    let jobs: Vec<Value> = serde_json::from_slice(&listing.stdout).expect("--list-json prints JSON");
    assert_eq!(jobs.len(), TRIGGER_TYPES.len(), "one job per trigger type: {jobs:?}");
    assert!(jobs.iter().all(|job| job["stage"] == "copilot"), "the example's `stage` input reached the jobs");
    jobs.iter()
        .filter(|job| job["when"] != "never")
        .map(|job| job["name"].as_str().expect("a job name").to_owned())
        .collect()
}

#[test]
fn preview_shows_the_example_inputs_interpolated_into_the_selected_job() {
    let project = AgentProject::new();
    let output = project.gitlab_ci_local(&["--preview"], &trigger_variables("mr_reviewer"), None);
    assert!(output.status.success(), "gitlab-ci-local --preview failed:\n{}", text(&output));
    let preview = String::from_utf8_lossy(&output.stdout);
    let pipeline: Value = serde_saphyr::from_str(preview.trim_start_matches("---\n")).expect("--preview prints YAML");
    let job = &pipeline["copilot:mr_reviewer"];
    assert_eq!(job["image"]["name"], "registry.example.com/tools/copilot-runner:0.1.0");
    assert_eq!(job["tags"], serde_json::json!(["copilot-agent"]));
    assert_eq!(job["timeout"], "3h");
    assert_eq!(job["resource_group"], "copilot-$TARGET_PROJECT_ID-mr-$TARGET_MR_IID");
    assert_eq!(job["artifacts"]["reports"]["codequality"], "copilot-artifacts/gl-code-quality-report.json");
    let paths = job["artifacts"]["paths"].as_array().expect("a list of artifact paths");
    assert!(paths.contains(&Value::from("copilot-artifacts/copilot-runner.log")), "{paths:?}");
    assert!(!paths.contains(&Value::from("copilot-artifacts/")), "the whole folder is never uploaded: {paths:?}");
    assert_eq!(job["artifacts"]["access"], "developer");
    assert_eq!(job["variables"]["COPILOT_LANGUAGE"], "en");
    assert_eq!(job["variables"]["COPILOT_SANDBOX"], "require", "the agent never runs unconfined from the template");
    assert_eq!(job["script"], serde_json::json!(["copilot-runner run"]));
}

/// A binary of the testkit, built next to the binary under test.
fn testkit_bin(name: &str) -> PathBuf {
    standalone::testkit_bin(Path::new(env!("CARGO")), repo(), Path::new(env!("CARGO_BIN_EXE_copilot-runner")), name)
}

#[test]
fn triggered_pipeline_runs_the_built_binary_which_opens_a_draft_mr_in_the_fake_gitlab() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    // The job's work folder (clone and stage scratch folders), outside the agent project.
    let work = scratch.path().join("work");
    let servers = IssueJobServers::start(testkit_bin, scratch.path(), &work);
    let world = &servers.world;
    let (api, project_id) = (world.api_url(), world.target_project_id());
    let token = |user: &str| world.token(user);
    let project = AgentProject::new();

    let binary = Path::new(env!("CARGO_BIN_EXE_copilot-runner"));
    let cli = copilot_cli::cli_path();
    let inherited_path = std::env::var("PATH").unwrap_or_default();
    let home = copilot_cli::shared_home(Path::new(env!("CARGO_TARGET_TMPDIR")), &cli, &inherited_path);
    let (project_id_text, agent_token) = (project_id.to_string(), token(AGENT));
    let copilot_home = scratch.path().join("copilot-home");
    // The trigger's variables, and what the agent project's CI/CD variables and the runner's
    // image would provide: the GitLab endpoint and token, the Copilot CLI and its model.
    let variables = [
        ("CI_PIPELINE_SOURCE", "trigger"),
        ("TRIGGER_TYPE", "issue_assignee"),
        ("TARGET_PROJECT_ID", project_id_text.as_str()),
        ("TARGET_ISSUE_IID", "1"),
        ("GITLAB_API_BASE", world.url()),
        ("GITLAB_TOKEN", agent_token.as_str()),
        ("HOME", home.to_str().expect("a UTF-8 path")),
        ("COPILOT_HOME", copilot_home.to_str().expect("a UTF-8 path")),
        ("COPILOT_WORK_DIR", work.to_str().expect("a UTF-8 path")),
        ("COPILOT_CLI_PATH", cli.to_str().expect("a UTF-8 path")),
        ("COPILOT_OFFLINE", "true"),
        ("COPILOT_PROVIDER_BASE_URL", servers.model.ready.as_str()),
        ("COPILOT_MODEL", "gpt-4.1"),
        ("COPILOT_STAGE_TIMEOUT", "120"),
    ];
    let output =
        project.gitlab_ci_local(&["--force-shell-executor"], &variables, Some(binary.parent().expect("its folder")));
    let log = text(&output);

    assert!(output.status.success(), "the pipeline failed:\n{log}");
    assert!(log.contains("copilot:issue_assignee  $ copilot-runner run"), "the selected job ran its script:\n{log}");
    assert!(log.contains("PASS  copilot:issue_assignee"), "{log}");
    for other in TRIGGER_TYPES.iter().filter(|t| **t != "issue_assignee") {
        assert!(!log.contains(&format!("copilot:{other}")), "job copilot:{other} must not run:\n{log}");
    }
    // With the same variables, every other job is `when: never` by its rules.
    let listing = project.gitlab_ci_local(&["--list-json"], &variables, None);
    assert_eq!(active_jobs(&listing), vec!["copilot:issue_assignee"], "only the selected job is active");
    assert!(!log.contains(&agent_token), "the GitLab token reached the job log");

    // The job's effect, seen through the fake's REST API: one Draft MR from the agent's branch
    // that closes the issue, and the branch holds the agent's change.
    let mr = servers.only_draft_mr(&log);
    let (status, branch) =
        api_get(&format!("{api}/projects/{project_id}/repository/branches/copilot%2Fissue-1"), &token("maria"));
    assert_eq!(status, 200, "{branch}");
    assert_eq!(branch["commit"]["id"], mr["sha"], "the MR's head is the branch's head");

    // Artifacts are collected whatever the outcome (`when: always`): the run's own log is among them.
    let collected = project.dir.path().join(".gitlab-ci-local/artifacts/copilotOgissue_assignee");
    assert!(
        collected.join("copilot-artifacts/copilot-runner.log").is_file(),
        "the job's artifacts hold the run log:\n{log}"
    );
    // The listed files only: the stages' prompts and transcripts, not the CLI's raw events.
    let stage = collected.join("copilot-artifacts/stages/2-implementation");
    assert!(stage.join("prompt-1.md").is_file() && stage.join("agent-1/transcript.txt").is_file(), "{log}");
    assert!(!stage.join("agent-1/copilot-events.jsonl").exists(), "raw events are not uploaded");
}
