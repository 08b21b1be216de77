//! The agent's GitLab token stays ours: it is in no request body sent to GitLab, no log line,
//! no file the job leaves behind (artifacts, JSON log, the agent's home), no request to the
//! model, and not in the environment of the agent (the Copilot CLI's shell or a command agent).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Output;

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::mock_model::Reply;

use super::rig::{PROJECT, Rig, files_below, implementation_script};

/// Asserts the agent's token appears nowhere the job could have put it.
pub(crate) fn assert_token_absent(rig: &Rig, out: &Output) {
    let token = rig.gitlab.agent_token();
    let bytes = token.as_bytes();
    for request in rig.gitlab.requests() {
        assert!(!request.body.contains(&token), "sent to GitLab in {} {}", request.method, request.path);
    }
    assert!(!text(&out.stdout).contains(&token), "in stdout");
    assert!(!text(&out.stderr).contains(&token), "in stderr");
    let files = files_below(&rig.paths.job_dir);
    let logs = files.iter().filter(|file| file.extension().is_some_and(|ext| ext == "log" || ext == "jsonl")).count();
    assert!(logs > 0, "no log file among {} files", files.len());
    for file in files {
        let content = std::fs::read(&file).unwrap();
        assert!(!content.windows(bytes.len()).any(|window| window == bytes), "in {}", file.display());
    }
    assert!(!rig.model.saw(&token), "sent to the model");
}

/// An assignment the agent completes; returns the job's output.
async fn run_assignment(rig: &mut Rig) -> Output {
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(rig.gitlab.merge_requests(PROJECT).len(), 1);
    out
}

/// A dumped environment holds the basics and none of our secrets' names or values.
fn assert_clean_environment(rig: &Rig, dump: &Path) {
    let env = std::fs::read_to_string(dump).unwrap_or_else(|error| panic!("{}: {error}", dump.display()));
    assert!(env.lines().any(|line| line.starts_with("PATH=")), "{env}");
    assert!(!env.contains(&rig.gitlab.agent_token()), "the token is in the agent's environment");
    assert!(!env.lines().any(|line| line.starts_with("GITLAB_TOKEN=")), "{env}");
}

#[tokio::test]
async fn the_copilot_cli_run_leaks_the_token_nowhere() {
    let mut rig = Rig::start(|paths| {
        let dump = paths.work.join("stages/2-implementation/scratch/cli-shell-env.txt");
        let command = format!("env > '{}' && echo hello > greeting.txt", dump.display());
        implementation_script(paths, Reply::bash(&command, "Dump the environment"), "Added greeting.txt.")
    })
    .await;

    let out = run_assignment(&mut rig).await;

    assert_clean_environment(&rig, &rig.paths.work.join("stages/2-implementation/scratch/cli-shell-env.txt"));
    assert_token_absent(&rig, &out);
}

#[tokio::test]
async fn a_command_agent_gets_no_token_and_the_run_leaks_it_nowhere() {
    let mut rig = Rig::start(|paths| implementation_script(paths, Reply::text("unused"), "unused")).await;
    let tools = tempfile::tempdir().unwrap();
    let agent = tools.path().join("scripted-agent");
    // The agent may write only in its own folders: it dumps its environment into its scratch.
    let dump = rig.paths.work.join("stages/1-implementation/scratch/command-agent-env.txt");
    let script =
        "#!/bin/sh\nenv > \"$3/command-agent-env.txt\"\necho hello > \"$1/greeting.txt\"\necho 'Added greeting.txt.'\n";
    std::fs::write(&agent, script).unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    rig.job
        .set("COPILOT_AGENT", "command")
        .set("COPILOT_AGENT_COMMAND", format!("{} {{workdir}} {{prompt_file}} {{scratch_dir}}", agent.display()))
        .set("USE_ORCHESTRATED_ISSUE", "false");

    let out = run_assignment(&mut rig).await;

    assert_clean_environment(&rig, &dump);
    assert!(rig.model.completions().is_empty(), "the command agent replaced the Copilot CLI");
    assert_token_absent(&rig, &out);
}
