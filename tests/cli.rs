//! The built binary as CI and people run it: exit codes, messages, masking, the README's promises.
#![expect(clippy::disallowed_methods, reason = "tests run the built binary as a child process")]

use std::process::{Command, Output};

use copilot_runner_testkit::offline;

fn copilot_runner(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().expect("temp home");
    let mut command = Command::new(env!("CARGO_BIN_EXE_copilot-runner"));
    command.args(args).env_clear().env("PATH", "/usr/bin:/bin").env("HOME", home.path()).current_dir(home.path());
    command.envs(offline::loopback_only(env.iter().copied()));
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run copilot-runner")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn config_shows_sources_and_masks_secrets() {
    let out = copilot_runner(
        &["config", "--language", "ja"],
        &[("GITLAB_TOKEN", "glpat-cli-secret-0001"), ("CI", "true"), ("CI_SERVER_URL", "https://gitlab.example.com")],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("GITLAB_TOKEN") && stdout.contains("[MASKED]  (environment)"), "{stdout}");
    let language = stdout.lines().find(|line| line.starts_with("COPILOT_LANGUAGE "));
    assert!(language.is_some_and(|line| line.ends_with(" ja  (flag `--language`)")), "{stdout}");
    assert!(stdout.contains("https://gitlab.example.com  (derived from `CI_SERVER_URL`)"), "{stdout}");
    assert!(!stdout.contains("glpat-cli-secret-0001") && !text(&out.stderr).contains("glpat-cli-secret-0001"));
}

#[test]
fn config_lists_every_problem_at_once_and_exits_2() {
    let out = copilot_runner(
        &["config"],
        &[("COPILOT_LANGUAGE", "fr"), ("DEBUG_MAX_TIME", "many"), ("GITLAB_API_BASE", "gitlab.example.com")],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("invalid configuration (3 problems)"), "{stderr}");
    assert!(stderr.contains("`COPILOT_LANGUAGE` = `fr` (from environment)"), "{stderr}");
    assert!(stderr.contains("`DEBUG_MAX_TIME` = `many`"), "{stderr}");
    assert!(stderr.contains("`GITLAB_API_BASE` = `gitlab.example.com`"), "{stderr}");
}

#[test]
fn config_json_is_machine_readable() {
    let out = copilot_runner(&["config", "--json"], &[("COPILOT_RUNNER_LOG_FORMAT", "json")]);
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let format =
        value["settings"].as_array().expect("rows").iter().find(|row| row["name"] == "COPILOT_RUNNER_LOG_FORMAT");
    assert_eq!(format.expect("row")["value"], "json");
}

#[test]
fn run_without_a_trigger_exits_2_naming_the_variable() {
    let out = copilot_runner(&["run"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`TRIGGER_TYPE` is not set"), "{}", text(&out.stderr));

    let out = copilot_runner(&["run"], &[("TRIGGER_TYPE", "issue_note"), ("TARGET_PROJECT_ID", "12")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`TRIGGER_TYPE=issue_note` needs `TARGET_ISSUE_IID`"), "{}", text(&out.stderr));
}

#[test]
fn run_with_broken_configuration_exits_2_before_doing_anything() {
    let out =
        copilot_runner(&["run"], &[("COPILOT_MIN_ACCESS_LEVEL", "developer"), ("TRIGGER_TYPE", "issue_assignee")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`COPILOT_MIN_ACCESS_LEVEL` = `developer`"), "{}", text(&out.stderr));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    assert_eq!(copilot_runner(&["no-such-command"], &[]).status.code(), Some(2));
    let help = copilot_runner(&["--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("config"));
}

#[test]
fn run_writes_a_redacted_json_file_log_in_the_artifacts_dir() {
    let artifacts = tempfile::tempdir().expect("artifacts");
    let dir = artifacts.path().to_str().expect("utf-8");
    // The token also in GitLab's address, so the lines about the unreachable GitLab carry it and
    // the redactor has something to mask.
    let out = copilot_runner(
        &["run", "--log-format", "json"],
        &[
            ("COPILOT_ARTIFACTS_DIR", dir),
            ("GITLAB_API_BASE", "http://127.0.0.1:9/glpat-file-log-secret"),
            ("GITLAB_TOKEN", "glpat-file-log-secret"),
            ("TRIGGER_TYPE", "issue_assignee"),
            ("TARGET_PROJECT_ID", "12"),
            ("TARGET_ISSUE_IID", "3"),
        ],
    );
    let log = std::fs::read_to_string(artifacts.path().join("copilot-runner.log")).expect("file log");
    let first: serde_json::Value = serde_json::from_str(log.lines().next().expect("a line")).expect("json line");
    assert_eq!(first["fields"]["trigger"], "issue_assignee");
    let stderr = text(&out.stderr);
    let line = stderr.lines().find(|line| line.starts_with('{')).expect("json on stderr");
    serde_json::from_str::<serde_json::Value>(line).expect("stderr line is json");
    assert!(!log.contains("glpat-file-log-secret") && !stderr.contains("glpat-file-log-secret"));
    assert!(log.contains("/[MASKED]/api/v4/user"), "the secret was logged, masked: {log}");
    assert!(stderr.contains("/[MASKED]/api/v4/user"), "{stderr}");
}

#[test]
fn an_artifacts_dir_that_cannot_be_created_is_named_in_the_error() {
    // A folder under a regular file cannot be created, even by root (a read-only folder can).
    let scratch = tempfile::tempdir().expect("scratch");
    std::fs::write(scratch.path().join("file"), "").expect("a file");
    let artifacts = scratch.path().join("file/artifacts");
    let out = copilot_runner(
        &["run"],
        &[
            ("COPILOT_ARTIFACTS_DIR", artifacts.to_str().expect("utf-8")),
            ("GITLAB_TOKEN", "glpat-x"),
            ("TRIGGER_TYPE", "issue_assignee"),
            ("TARGET_PROJECT_ID", "12"),
            ("TARGET_ISSUE_IID", "3"),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot start logging"), "{stderr}");
    assert!(stderr.contains(&format!("`{}`", artifacts.display())), "the error names the folder: {stderr}");
}
