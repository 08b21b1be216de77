//! The command backend with a small scripted agent (a shell script the test writes): the prompt
//! arrives in a file, placeholders become arguments without a shell, our tokens stay out of its
//! environment, a failing or hanging agent ends as a typed error, and nothing it started
//! outlives its stage.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly on any setup error")]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use copilot_runner::agent::command::CommandAgent;
use copilot_runner::agent::{Agent, AgentError, StageRequest};
use copilot_runner::config::{Env, Flags, Settings};
use copilot_runner_testkit::processes::session_alive;

const GITLAB_TOKEN: &str = "glpat-command-test-never-leaks";

struct Fixture {
    dirs: tempfile::TempDir,
}

impl Fixture {
    fn new(script: &str) -> Self {
        let dirs = tempfile::tempdir().unwrap();
        for dir in ["repo dir", "scratch", "artifacts"] {
            std::fs::create_dir(dirs.path().join(dir)).unwrap();
        }
        let agent = dirs.path().join("fake-agent");
        std::fs::write(&agent, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dirs }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dirs.path().join(name)
    }

    fn agent(&self, template: &str) -> CommandAgent {
        let env = Env::from_pairs([
            ("PATH", format!("{}:/usr/bin:/bin", self.dirs.path().display())),
            ("HOME", self.dirs.path().display().to_string()),
            ("COPILOT_AGENT", "command".to_owned()),
            ("COPILOT_AGENT_COMMAND", template.to_owned()),
            ("GITLAB_TOKEN", GITLAB_TOKEN.to_owned()),
            ("COPILOT_MODEL_HINT", "passed through".to_owned()),
        ]);
        let settings = Settings::resolve(&env, &Flags::default()).unwrap();
        CommandAgent::new(&settings.agent, &settings.sandbox, &env)
            .unwrap()
            .with_sandbox_launcher(env!("CARGO_BIN_EXE_copilot-runner"))
    }

    fn request(&self, timeout: Duration) -> StageRequest {
        StageRequest {
            stage: "implementation".to_owned(),
            prompt: "Add a CHANGELOG entry.\nSecond line.".to_owned(),
            repo_dir: self.path("repo dir"),
            scratch_dir: self.path("scratch"),
            private_dir: self.path("agent"),
            artifacts_dir: self.path("artifacts"),
            timeout,
        }
    }
}

#[tokio::test]
async fn the_scripted_agent_gets_its_prompt_file_and_placeholders_and_none_of_our_tokens() {
    let fixture = Fixture::new(
        r#"prompt="$2"; workdir="$4"
cp "$prompt" "$workdir/PROMPT_SEEN.md"
env > "$workdir/ENV_SEEN"
echo "scratch=$6 cwd=$(pwd)"
echo "done: $(head -n 1 "$prompt")""#,
    );
    let agent = fixture.agent("fake-agent --prompt {prompt_file} --workdir '{workdir}' --scratch {scratch_dir}");

    let outcome = agent.run_stage(fixture.request(Duration::from_secs(20))).await.unwrap();

    let repo = fixture.path("repo dir");
    assert_eq!(std::fs::read_to_string(repo.join("PROMPT_SEEN.md")).unwrap(), "Add a CHANGELOG entry.\nSecond line.");
    let message = outcome.final_message.unwrap();
    assert!(message.ends_with("done: Add a CHANGELOG entry."), "{message}");
    assert!(message.contains(&format!("scratch={}", fixture.path("scratch").display())), "{message}");
    assert!(message.contains(&format!("cwd={}", repo.display())), "{message}");
    let env = std::fs::read_to_string(repo.join("ENV_SEEN")).unwrap();
    assert!(!env.contains(GITLAB_TOKEN) && !env.contains("GITLAB_TOKEN"), "{env}");
    assert!(env.contains("COPILOT_MODEL_HINT=passed through"), "{env}");
    let kept = std::fs::read_to_string(outcome.raw_output_path.unwrap()).unwrap();
    assert!(kept.contains("done: Add a CHANGELOG entry."), "{kept}");
}

#[tokio::test]
async fn a_failing_agent_is_a_failed_stage_with_its_error_output() {
    let fixture = Fixture::new("echo 'model quota exhausted' >&2; exit 4");
    let error = fixture.agent("fake-agent {prompt_file}").run_stage(fixture.request(Duration::from_secs(20))).await;
    let Err(AgentError::Failed { reason, .. }) = error else { panic!("expected a failed stage, got {error:?}") };
    assert!(reason.contains("exit code 4") && reason.contains("model quota exhausted"), "{reason}");
}

#[tokio::test]
async fn a_hanging_agent_hits_the_stage_timeout() {
    let fixture = Fixture::new("exec sleep 1000");
    let agent = fixture.agent("fake-agent").with_grace(Duration::from_millis(500));
    let started = Instant::now();
    let error = agent.run_stage(fixture.request(Duration::from_millis(700))).await.unwrap_err();
    assert!(matches!(error, AgentError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_missing_agent_program_is_reported_at_configuration() {
    let env = Env::from_pairs([
        ("PATH", "/usr/bin:/bin"),
        ("COPILOT_AGENT", "command"),
        ("COPILOT_AGENT_COMMAND", "no-such-agent-cli {prompt_file}"),
    ]);
    let settings = Settings::resolve(&env, &Flags::default()).unwrap();
    let error = CommandAgent::new(&settings.agent, &settings.sandbox, &env).unwrap_err();
    assert!(matches!(error, AgentError::NotInstalled { .. }), "{error:?}");
    assert!(error.to_string().contains("`no-such-agent-cli`"), "{error}");
}

/// Leaves a process in a session of its own that would write `late.txt` in the repository half a
/// minute later. The process records its session's id in `left-behind.pid` once it leads that
/// session, and the agent waits for the record, so the session exists before the agent ends.
const LEAVES_A_PROCESS: &str = "setsid sh -c 'echo $$ > pid.part && mv pid.part left-behind.pid; sleep 30; echo late > late.txt' </dev/null >/dev/null 2>&1 &
while [ ! -s left-behind.pid ]; do sleep 0.01; done
echo started";

fn left_behind(repo: &std::path::Path) -> i64 {
    std::fs::read_to_string(repo.join("left-behind.pid")).unwrap().trim().parse().unwrap()
}

#[tokio::test]
async fn a_process_the_agent_leaves_behind_is_ended_with_its_stage() {
    let fixture = Fixture::new(LEAVES_A_PROCESS);
    let outcome = fixture.agent("fake-agent").run_stage(fixture.request(Duration::from_secs(20))).await.unwrap();
    assert_eq!(outcome.final_message.as_deref(), Some("started"));
    let leader = left_behind(&fixture.path("repo dir"));
    assert!(!session_alive(leader), "session {leader} outlived the stage");
}

#[test]
#[expect(clippy::disallowed_methods, reason = "the control run starts the agent without our process runner")]
fn the_same_process_outlives_an_agent_run_without_the_supervisor() {
    let fixture = Fixture::new(LEAVES_A_PROCESS);
    let status = std::process::Command::new(fixture.path("fake-agent")).current_dir(fixture.path("repo dir")).status();
    assert!(status.unwrap().success());
    let leader = left_behind(&fixture.path("repo dir"));
    let alive = session_alive(leader);
    // Clean up before asserting: the session leader is also its process group's.
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(leader as i32), nix::sys::signal::Signal::SIGKILL);
    assert!(alive, "without the supervisor the session should still be running");
}
