//! The real Copilot CLI, driven through `agent::copilot`, against the scripted mock model: files
//! it writes land in the repository, the tool policy stops `git push`, our tokens never reach
//! the agent's shell or the model, and an unreachable or hanging model ends as a typed error
//! with nothing left running.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly on any setup error")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use copilot_runner::agent::copilot::{CopilotAgent, NO_CUSTOM_INSTRUCTIONS};
use copilot_runner::agent::{Agent, AgentError, AgentOutcome, StageRequest, ToolOutcome};
use copilot_runner::config::{Env, Flags, Settings};
use copilot_runner::exit::{Classify, Code};
use copilot_runner_testkit::copilot_cli;
use copilot_runner_testkit::mock_model::{MockModel, Reply, Rule, Script, content_text, unreachable_base_url};

const GITLAB_TOKEN: &str = "glpat-agent-test-never-leaks";
const TRIGGER_TOKEN: &str = "trigger-agent-test-never-leaks";
const COPILOT_TOKEN: &str = "github_pat_agent_test_hidden_from_tools";

/// One stage's folders and the agent's environment.
pub(crate) struct Fixture {
    pub(crate) dirs: tempfile::TempDir,
    cli: PathBuf,
    path_var: String,
    home: PathBuf,
}

impl Fixture {
    pub(crate) async fn new() -> Self {
        let cli = copilot_cli::cli_path();
        let path_var = Env::capture().get("PATH").unwrap_or("/usr/local/bin:/usr/bin:/bin").to_owned();
        let home = {
            let (cli, path_var) = (cli.clone(), path_var.clone());
            {
                let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
                tokio::task::spawn_blocking(move || copilot_cli::shared_home(&tmp, &cli, &path_var)).await.unwrap()
            }
        };
        let dirs = tempfile::tempdir().unwrap();
        for dir in ["repo", "scratch", "artifacts", "copilot-home"] {
            std::fs::create_dir(dirs.path().join(dir)).unwrap();
        }
        Self { dirs, cli, path_var, home }
    }

    /// The environment `copilot-runner` itself would see, tokens of ours included.
    pub(crate) fn env(&self, model_url: &str) -> Env {
        Env::from_pairs([
            ("PATH", self.path_var.as_str()),
            ("HOME", &self.home.display().to_string()),
            ("COPILOT_HOME", &self.dirs.path().join("copilot-home").display().to_string()),
            ("COPILOT_OFFLINE", "true"),
            ("COPILOT_PROVIDER_BASE_URL", model_url),
            ("COPILOT_MODEL", "gpt-4.1"),
            ("COPILOT_CLI_PATH", &self.cli.display().to_string()),
            ("COPILOT_GITHUB_TOKEN", COPILOT_TOKEN),
            ("GITLAB_TOKEN", GITLAB_TOKEN),
            ("PIPELINE_TRIGGER_TOKEN", TRIGGER_TOKEN),
        ])
    }

    pub(crate) fn repo(&self) -> PathBuf {
        self.dirs.path().join("repo")
    }

    fn agent(&self, model_url: &str) -> CopilotAgent {
        self.agent_with(&self.env(model_url))
    }

    /// The agent as `env` sets it up.
    pub(crate) fn agent_with(&self, env: &Env) -> CopilotAgent {
        let settings = Settings::resolve(env, &Flags::default()).unwrap();
        CopilotAgent::new(&settings.agent, &settings.sandbox, env)
            .unwrap()
            .with_sandbox_launcher(env!("CARGO_BIN_EXE_copilot-runner"))
    }

    pub(crate) fn request(&self, prompt: &str, timeout: Duration) -> StageRequest {
        StageRequest {
            stage: "implementation".to_owned(),
            prompt: prompt.to_owned(),
            repo_dir: self.repo(),
            scratch_dir: self.dirs.path().join("scratch"),
            private_dir: self.dirs.path().join("agent"),
            artifacts_dir: self.dirs.path().join("artifacts"),
            timeout,
        }
    }

    async fn run(&self, model: &MockModel, prompt: &str) -> AgentOutcome {
        match self.agent(&model.base_url()).run_stage(self.request(prompt, Duration::from_secs(50))).await {
            Ok(outcome) => outcome,
            Err(error) => panic!("stage failed: {error:?}"),
        }
    }
}

#[tokio::test]
async fn scripted_create_and_edit_change_the_repository_and_usage_is_read() {
    let fixture = Fixture::new().await;
    // The CLI's `create` tool requires an absolute path.
    let path = fixture.repo().join("hello.txt").display().to_string();
    let model = MockModel::start(
        Script::new().rule(
            Rule::when("STAGE create-file")
                .then(Reply::create(&path, "hello from the agent\n"))
                .then(Reply::edit(&path, "hello from", "greetings from"))
                .then(Reply::text("Created hello.txt.")),
        ),
    )
    .await
    .unwrap();

    let outcome = fixture.run(&model, "STAGE create-file: add a greeting").await;

    assert_eq!(std::fs::read_to_string(fixture.repo().join("hello.txt")).unwrap(), "greetings from the agent\n");
    assert_eq!(outcome.final_message.as_deref(), Some("Created hello.txt."));
    let names: Vec<_> = outcome.tools.iter().map(|tool| (tool.name.as_str(), &tool.outcome)).collect();
    assert_eq!(names, [("create", &ToolOutcome::Succeeded), ("edit", &ToolOutcome::Succeeded)]);
    assert_eq!(outcome.premium_requests, Some(0.0));
    let changes = outcome.code_changes.expect("code changes from the result event");
    assert!(changes.lines_added >= 1 && changes.files_modified.len() == 1, "{changes:?}");
    let usage = outcome.usage.expect("usage from --usage-output-file");
    // Three model calls (create, edit, final text) of 100 prompt and 10 completion tokens each.
    assert_eq!((usage.input_tokens, usage.output_tokens, usage.model_requests), (300, 30, 3));
    let events = std::fs::read_to_string(outcome.raw_output_path.unwrap()).unwrap();
    assert!(events.lines().last().unwrap().contains(r#""type":"result""#), "{events}");
    let transcript = std::fs::read_to_string(outcome.transcript_path.unwrap()).unwrap();
    assert!(transcript.contains("▶ create: ") && transcript.contains("■ result: exit code 0"), "{transcript}");
    // The prompt went in on stdin and reached the model.
    let first = &model.completions()[0];
    assert!(
        first.messages().iter().any(|m| m["role"] == "user" && m["content"].to_string().contains("add a greeting"))
    );
}

#[tokio::test]
async fn git_push_is_denied_by_policy_and_reported_in_the_outcome() {
    let model = MockModel::start(
        Script::new().rule(
            Rule::when("STAGE push")
                .then(Reply::bash("git push origin HEAD", "Push the branch"))
                .then(Reply::text("I could not push.")),
        ),
    )
    .await
    .unwrap();
    let fixture = Fixture::new().await;

    let outcome = fixture.run(&model, "STAGE push: push your work").await;

    let denied: Vec<_> = outcome.denied_tools().collect();
    assert_eq!(denied.len(), 1, "{:?}", outcome.tools);
    assert_eq!((denied[0].name.as_str(), denied[0].summary.as_str()), ("bash", "git push origin HEAD"));
    let ToolOutcome::Denied { reason } = &denied[0].outcome else { unreachable!() };
    assert!(reason.contains("shell(git push)"), "{reason}");
    // The model was told, too.
    let results = model.completions().last().unwrap().tool_results();
    assert!(results.iter().any(|result| result.contains("denied")), "{results:?}");
}

#[tokio::test]
async fn the_agents_shell_sees_no_token_of_ours() {
    let model = MockModel::start(Script::new().rule(
        Rule::when("STAGE env").then(Reply::bash("env | sort", "Show the environment")).then(Reply::text("Seen.")),
    ))
    .await
    .unwrap();
    let fixture = Fixture::new().await;

    let outcome = fixture.run(&model, "STAGE env: show the environment").await;

    let env_tool = outcome.tools.iter().find(|tool| tool.name == "bash").expect("the env tool execution");
    assert_eq!(env_tool.outcome, ToolOutcome::Succeeded);
    let results = model.completions().last().unwrap().tool_results();
    let env_output = results.iter().find(|result| result.contains("PATH=")).expect("the env output sent to the model");
    assert!(env_output.contains("COPILOT_HOME="), "{env_output}");
    for secret in [GITLAB_TOKEN, TRIGGER_TOKEN, COPILOT_TOKEN] {
        assert!(!env_output.contains(secret), "`{secret}` reached the agent's shell:\n{env_output}");
        assert!(!model.saw(secret), "`{secret}` reached the model");
    }
    assert!(!env_output.contains("GITLAB_TOKEN=") && !env_output.contains("PIPELINE_TRIGGER_TOKEN="), "{env_output}");
}

#[tokio::test]
async fn an_unreachable_model_is_a_typed_error() {
    let fixture = Fixture::new().await;
    let url = unreachable_base_url().await.unwrap();

    let error =
        fixture.agent(&url).run_stage(fixture.request("STAGE anything", Duration::from_secs(55))).await.unwrap_err();

    assert!(matches!(error, AgentError::ModelUnreachable { .. }), "{error:?}");
    assert_eq!(error.exit_code(), Code::Unreachable);
    assert!(error.to_string().contains("Could not connect"), "{error}");
}

/// Processes whose working directory is `dir` (the CLI and whatever it started there).
fn processes_in(dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir))
        .filter(|pid| {
            // A zombie waiting for a reaper is gone for our purposes.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
        })
        .collect()
}

#[tokio::test]
async fn a_hanging_model_hits_the_stage_timeout_and_nothing_is_left_running() {
    let model = MockModel::start(Script::new().fallback(Reply::Hang)).await.unwrap();
    let fixture = Fixture::new().await;
    let repo = fixture.repo().canonicalize().unwrap();
    let grace = Duration::from_secs(2);
    let agent = fixture.agent(&model.base_url()).with_grace(grace);
    // Long enough for a slow start of the CLI on a loaded machine.
    let timeout = Duration::from_secs(15);

    let started = Instant::now();
    let stage = agent.run_stage(fixture.request("STAGE hang", timeout));
    let watch = async {
        // Once the model has the request, the CLI is running in the repository.
        let deadline = Instant::now() + timeout;
        while model.completions().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        processes_in(&repo)
    };
    let (result, running) = tokio::join!(stage, watch);
    let elapsed = started.elapsed();

    assert!(!running.is_empty(), "the CLI was never seen running (requests: {})", model.completions().len());
    let error = result.unwrap_err();
    assert!(matches!(error, AgentError::Timeout { .. }), "{error:?}");
    // The error says our timeout ended it; the bound only shows nothing waited far past it, with
    // room for stopping a process tree on a machine at load 15.
    assert!(elapsed >= timeout && elapsed < timeout + grace + Duration::from_secs(15), "took {elapsed:?}");
    let left = processes_in(&repo);
    assert!(left.is_empty(), "still running after the stage ended: {left:?} (were {running:?})");
}

/// Instruction files of every kind an agent CLI might look for, each saying its own marker.
const INSTRUCTION_FILES: &[(&str, &str)] = &[
    ("AGENTS.md", "MARK-ROOT-AGENTS"),
    ("sub/AGENTS.md", "MARK-NESTED-AGENTS"),
    (".github/copilot-instructions.md", "MARK-GITHUB-COPILOT"),
    (".github/instructions/style.instructions.md", "---\napplyTo: \"**\"\n---\nMARK-PATH-INSTRUCTIONS"),
    ("CLAUDE.md", "MARK-CLAUDE"),
    ("GEMINI.md", "MARK-GEMINI"),
];

/// The markers of [`INSTRUCTION_FILES`].
const MARKERS: &[&str] = &[
    "MARK-ROOT-AGENTS",
    "MARK-NESTED-AGENTS",
    "MARK-GITHUB-COPILOT",
    "MARK-PATH-INSTRUCTIONS",
    "MARK-CLAUDE",
    "MARK-GEMINI",
];

/// A git repository holding [`INSTRUCTION_FILES`] in the fixture's repository folder.
fn write_instruction_files(fixture: &Fixture) {
    for (path, text) in INSTRUCTION_FILES {
        let file = fixture.repo().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, format!("{text}\n")).unwrap();
    }
    git_init(&fixture.repo());
}

#[expect(clippy::disallowed_methods, reason = "a one-off `git init` of a test repository")]
fn git_init(dir: &Path) {
    let status = std::process::Command::new("git").args(["init", "-q"]).current_dir(dir).status().unwrap();
    assert!(status.success());
}

/// Runs the CLI with the agent's arguments but without `--no-custom-instructions`, in `cwd`.
#[expect(clippy::disallowed_methods, reason = "runs the CLI without the agent's flag, on purpose")]
async fn run_cli_with_its_own_instructions(fixture: &Fixture, model: &MockModel, cwd: &Path, prompt: &str) {
    use tokio::io::AsyncWriteExt as _;
    let request = fixture.request(prompt, Duration::from_secs(50));
    let args: Vec<_> = fixture
        .agent(&model.base_url())
        .args(&request)
        .into_iter()
        .filter(|arg| arg.to_str() != Some(NO_CUSTOM_INSTRUCTIONS))
        .collect();
    std::fs::create_dir_all(&request.private_dir).unwrap();
    let mut child = tokio::process::Command::new(&fixture.cli)
        .args(&args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", &fixture.path_var)
        .env("HOME", &fixture.home)
        .env("COPILOT_HOME", fixture.dirs.path().join("copilot-home"))
        .env("COPILOT_OFFLINE", "true")
        .env("COPILOT_PROVIDER_BASE_URL", model.base_url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(prompt.as_bytes()).await.unwrap();
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.unwrap().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// For each marker of [`MARKERS`], the roles of the messages of the model's first request that
/// hold it (and how often), in `MARKERS`' order.
fn placement(model: &MockModel) -> Vec<(&'static str, Vec<String>)> {
    let first = model.completions().into_iter().next().expect("the CLI asked the model");
    let messages = first.messages();
    MARKERS
        .iter()
        .map(|marker| {
            let roles = messages
                .iter()
                .flat_map(|message| {
                    let role = message["role"].as_str().unwrap_or_default().to_owned();
                    let count = content_text(message).matches(marker).count();
                    std::iter::repeat_n(role, count)
                })
                .collect();
            (*marker, roles)
        })
        .collect()
}

#[tokio::test]
async fn the_cli_loads_instruction_files_by_itself_unless_told_not_to() {
    let fixture = Fixture::new().await;
    write_instruction_files(&fixture);
    let script = || Script::new().fallback(Reply::text("Done."));
    let system = || vec!["system".to_owned()];

    // Run in the repository root, the way copilot-runner runs a stage: the root's AGENTS.md,
    // `.github/copilot-instructions.md`, `.github/instructions/*.instructions.md`, CLAUDE.md and
    // GEMINI.md land in the system message, once each; an AGENTS.md in a subfolder does not.
    let model = MockModel::start(script()).await.unwrap();
    run_cli_with_its_own_instructions(&fixture, &model, &fixture.repo(), "STAGE probe: say done").await;
    assert_eq!(
        placement(&model),
        [
            ("MARK-ROOT-AGENTS", system()),
            ("MARK-NESTED-AGENTS", vec![]),
            ("MARK-GITHUB-COPILOT", system()),
            ("MARK-PATH-INSTRUCTIONS", system()),
            ("MARK-CLAUDE", system()),
            ("MARK-GEMINI", system()),
        ]
    );

    // Run in a subfolder: the git root's files still, and the working folder's AGENTS.md too.
    let model = MockModel::start(script()).await.unwrap();
    run_cli_with_its_own_instructions(&fixture, &model, &fixture.repo().join("sub"), "STAGE probe: say done").await;
    assert_eq!(placement(&model)[1], ("MARK-NESTED-AGENTS", system()));

    // The agent's own run passes `--no-custom-instructions`: none of them reaches the model.
    let model = MockModel::start(script()).await.unwrap();
    fixture.run(&model, "STAGE probe: say done").await;
    let sent: Vec<_> = model.completions().iter().map(|request| request.body.clone()).collect();
    assert!(!sent.is_empty());
    for marker in MARKERS {
        assert!(sent.iter().all(|body| !body.contains(marker)), "`{marker}` reached the model: {sent:?}");
    }
}
