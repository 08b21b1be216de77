//! The example agent project's pipeline, run for real by gitlab-ci-local (pinned by
//! `scripts/test`) with its shell executor: the template is included with `include: local` in
//! place of the component, and the webhook's trigger arrives as pipeline inputs (`--input`, which
//! the example's `spec:inputs` passes on to the template) or, as on GitLab before 18.1, as
//! trigger variables. For each `TRIGGER_TYPE` exactly the matching job is active and every other
//! job is skipped by its rules. An `issue_assignee` pipeline, triggered in the standalone
//! `fake-gitlab` server with the inputs `serve` sends, runs the job's script with the built
//! `copilot-runner` on PATH, with the real Copilot CLI talking to the standalone `mock-model`
//! server, and the job's effect is visible through the fake's REST API: one Draft MR from the
//! agent's branch. End to end from GitLab's side: a signed issue-assignment webhook delivered to
//! the built `copilot-runner serve`, whose trigger request the fake records (inputs only, no
//! variables), and the pipeline run with exactly those inputs, its job logging the contract they
//! carried. The same job refuses to start, before its token goes anywhere, when the trigger
//! passed `GITLAB_API_BASE` as a pipeline variable.
//!
//! gitlab-ci-local does not stop a pipeline on `workflow: rules`, but the component's jobs carry
//! the trigger-only rule themselves, so a pipeline from any other source runs none of them here.
//! The resource group each job gets, expanded from the pipeline's variables as GitLab expands
//! it, is the same for the issue job and the pipeline-fix job of one project, whether the trigger
//! sent inputs or variables. The component project itself (`ci-templates/` as a project's root)
//! runs too: its `.gitlab-ci.yml` includes the component at its own commit with inputs, its check
//! job passes (and fails on a README that misses an input), and its release job runs only for a
//! semantic-version tag.
#![expect(clippy::disallowed_methods, reason = "the test runs gitlab-ci-local, git, cargo and the built binaries")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use copilot_runner::config::Env;
use copilot_runner::gitlab::{Client, TriggerParameters};
use copilot_runner::trigger::{Trigger, TriggerWith};
use copilot_runner_testkit::copilot_cli;
use copilot_runner_testkit::fake_gitlab::AGENT;
use copilot_runner_testkit::standalone::{IssueJobServers, Server, World, api_get, assigned_issue_seed_file};
use secrecy::SecretString;
use serde_json::Value;

use crate::webhook::harness::{Delivery, deliver, now, serve_process, signing_secret};
use crate::webhook::payloads;

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

/// A throwaway project committed in a fresh git repository, for gitlab-ci-local to run.
struct LocalProject {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

/// The component project's `origin`: what gitlab-ci-local reads `CI_SERVER_FQDN` and
/// `CI_PROJECT_PATH` from, so the component include at `$CI_COMMIT_SHA` is this very project.
const COMPONENT_PROJECT_URL: &str = "https://gitlab.example.com/tools/copilot-runner-ci.git";

impl LocalProject {
    /// The agent project: the example `.gitlab-ci.yml` with its component include turned into a
    /// local include of the template.
    fn agent() -> Self {
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
        Self::committed(dir, None)
    }

    /// The component project: `ci-templates/` as it is, as the root of a project whose `origin`
    /// is [`COMPONENT_PROJECT_URL`].
    fn component() -> Self {
        let dir = tempfile::tempdir().expect("test setup");
        copy_tree(&repo().join("ci-templates"), dir.path());
        Self::committed(dir, Some(COMPONENT_PROJECT_URL))
    }

    fn committed(dir: tempfile::TempDir, origin: Option<&str>) -> Self {
        let mut steps: Vec<Vec<&str>> = vec![vec!["init", "-q", "-b", "main"]];
        if let Some(url) = origin {
            steps.push(vec!["remote", "add", "origin", url]);
        }
        steps.extend([vec!["add", "-A"], vec!["commit", "-q", "-m", "project"]]);
        for args in steps {
            let status = Command::new("git")
                .args(&args)
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
    /// `path_first` in front when given) and its own home. Pipeline inputs are `--input` (as
    /// YAML strings, the way the trigger API's form fields arrive); variables reach the jobs as
    /// `--variable`, the way a trigger or the project's CI/CD variables pass them.
    fn gitlab_ci_local(
        &self,
        args: &[&str],
        inputs: &[(&str, &str)],
        variables: &[(&str, &str)],
        path_first: Option<&Path>,
    ) -> Output {
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
            .env(
                "GCL_IGNORE_PREDEFINED_VARS",
                "CI_PIPELINE_SOURCE,CI_PROJECT_DIR,CI_SERVER_URL,CI_PROJECT_ID,CI_PIPELINE_ID",
            )
            .env("NO_COLOR", "1");
        // The shell executor runs the script in the project folder, as a shell runner runs it in
        // its build folder; gitlab-ci-local would report a container path (`/builds/…`) instead.
        command.arg("--variable").arg(format!("CI_PROJECT_DIR={}", self.dir.path().display()));
        for (name, value) in inputs {
            let text = serde_json::to_string(value).expect("a string serializes");
            command.arg("--input").arg(format!("{name}={text}"));
        }
        for (name, value) in variables {
            command.arg("--variable").arg(format!("{name}={value}"));
        }
        command.output().expect("gitlab-ci-local runs")
    }

    /// Runs the pipeline with the shell executor and the built `copilot-runner` first on `PATH`.
    fn run_pipeline(&self, inputs: &[(String, String)], variables: &[(&str, &str)]) -> Output {
        let binary = Path::new(env!("CARGO_BIN_EXE_copilot-runner"));
        self.gitlab_ci_local(
            &["--force-shell-executor"],
            &pairs(inputs),
            variables,
            Some(binary.parent().expect("its folder")),
        )
    }
}

const TRIGGERED: [(&str, &str); 1] = [("CI_PIPELINE_SOURCE", "trigger")];

/// The inputs `serve` sends for a trigger of type `kind` (on project 42, issue 7, MR 9 from
/// `feature/$HOME` into `main`, note 1001, pipeline 555).
fn trigger_inputs(kind: &str) -> Vec<(String, String)> {
    let env = Env::from_pairs([
        ("TRIGGER_TYPE", kind),
        ("TARGET_PROJECT_ID", "42"),
        ("TARGET_ISSUE_IID", "7"),
        ("TARGET_MR_IID", "9"),
        ("TARGET_NOTE_ID", "1001"),
        ("TARGET_PIPELINE_ID", "555"),
        ("SOURCE_BRANCH", "feature/$HOME"),
        ("TARGET_BRANCH", "main"),
    ]);
    let trigger = Trigger::from_env(&env).expect("a valid trigger");
    let TriggerParameters::Inputs(inputs) = trigger.parameters(TriggerWith::Inputs) else {
        panic!("`serve` sends inputs by default")
    };
    inputs.into_iter().collect()
}

/// Triggers the agent project's pipeline in the standalone fake the way `serve` does (the same
/// client call with the same inputs); returns the pipeline's id and the inputs sent.
fn trigger_as_serve_does(world: &World, trigger: &Trigger) -> (u64, Vec<(String, String)>) {
    let parameters = trigger.parameters(TriggerWith::Inputs);
    let TriggerParameters::Inputs(inputs) = &parameters else { panic!("`serve` sends inputs by default") };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let client = Client::new(world.api_url(), &SecretString::from(world.token(AGENT))).expect("a client");
    let trigger_token = SecretString::from(world.agent_trigger_token());
    let pipeline = runtime
        .block_on(client.trigger_pipeline(world.agent_project_id(), &trigger_token, "main", &parameters))
        .expect("the trigger API starts the pipeline");
    (pipeline.id, inputs.clone().into_iter().collect())
}

/// What GitLab names in every job of the agent project's triggered pipeline `pipeline`.
fn ci_variables<'a>(world: &'a World, agent_project: &'a str, pipeline: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CI_PIPELINE_SOURCE", "trigger"),
        ("CI_SERVER_URL", world.url()),
        ("CI_PROJECT_ID", agent_project),
        ("CI_PIPELINE_ID", pipeline),
    ]
}

fn pairs(owned: &[(String, String)]) -> Vec<(&str, &str)> {
    owned.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect()
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
                    let project = LocalProject::agent();
                    let inputs = trigger_inputs(trigger);
                    (trigger, project.gitlab_ci_local(&["--list-json"], &pairs(&inputs), &TRIGGERED, None))
                })
            })
            .collect();
        // The fallback for GitLab before 18.1: the same names as trigger variables.
        let fallback = scope.spawn(|| {
            let project = LocalProject::agent();
            let variables = [("CI_PIPELINE_SOURCE", "trigger"), ("TRIGGER_TYPE", "mr_note"), ("TARGET_MR_IID", "9")];
            project.gitlab_ci_local(&["--list-json"], &[], &variables, None)
        });
        for listing in listings {
            let (trigger, output) = listing.join().expect("the listing thread finishes");
            assert_eq!(active_jobs(&output), vec![format!("copilot:{trigger}")], "for trigger_type={trigger}");
        }
        let output = fallback.join().expect("the listing thread finishes");
        assert_eq!(active_jobs(&output), vec!["copilot:mr_note"], "trigger variables select the job too");
    });
    let project = LocalProject::agent();
    let output = project.gitlab_ci_local(&["--list-json"], &[], &TRIGGERED, None);
    assert!(active_jobs(&output).is_empty(), "no job without a trigger type");
    // The same inputs in a pipeline the trigger API did not start: "Run pipeline", the pipelines
    // API, a push.
    for source in ["web", "api", "push"] {
        let inputs = trigger_inputs("issue_assignee");
        let output =
            project.gitlab_ci_local(&["--list-json"], &pairs(&inputs), &[("CI_PIPELINE_SOURCE", source)], None);
        assert!(active_jobs(&output).is_empty(), "a `{source}` pipeline runs an agent job");
    }
}

/// `text` with each `$NAME` replaced by its value in `variables` (one level, as GitLab expands
/// `resource_group`); a variable given as `{value, expand}` counts by its value.
fn expand_once(text: &str, variables: &serde_json::Map<String, Value>) -> String {
    let pattern = regex::Regex::new(r"\$([A-Za-z_][A-Za-z0-9_]*)").expect("a valid regex");
    pattern
        .replace_all(text, |caps: &regex::Captures<'_>| {
            let value = &variables[&caps[1]];
            value.get("value").unwrap_or(value).as_str().expect("a string variable").to_owned()
        })
        .into_owned()
}

/// The resource group job `job` of the agent project's pipeline gets, expanded from the
/// pipeline's variables: the component's (from `inputs`), overridden by trigger `variables`.
fn expanded_resource_group(job: &str, inputs: &[(String, String)], variables: &[(&str, &str)]) -> String {
    let project = LocalProject::agent();
    let mut all = TRIGGERED.to_vec();
    all.extend_from_slice(variables);
    let output = project.gitlab_ci_local(&["--preview"], &pairs(inputs), &all, None);
    assert!(output.status.success(), "gitlab-ci-local --preview failed:\n{}", text(&output));
    let preview = String::from_utf8_lossy(&output.stdout);
    let pipeline: Value = serde_saphyr::from_str(preview.trim_start_matches("---\n")).expect("--preview prints YAML");
    let mut known = pipeline["variables"].as_object().cloned().expect("the component's variables");
    known.extend(variables.iter().map(|(name, value)| ((*name).to_owned(), Value::from(*value))));
    expand_once(pipeline[job]["resource_group"].as_str().expect("a resource group"), &known)
}

#[test]
fn the_issue_job_and_the_pipeline_fix_job_of_one_project_share_a_resource_group() {
    // The issue job pushes `copilot/issue-7`; the fix loop for that branch's failed pipeline
    // pushes the same branch, and its trigger carries no issue.
    let issue = expanded_resource_group("copilot:issue_assignee", &trigger_inputs("issue_assignee"), &[]);
    let fix = expanded_resource_group("copilot:pipeline_failed", &trigger_inputs("pipeline_failed"), &[]);
    assert_eq!((issue.as_str(), fix.as_str()), ("copilot-42", "copilot-42"));
    // GitLab before 18.1: the same contract as trigger variables gives the same key.
    let variables = [("TRIGGER_TYPE", "pipeline_failed"), ("TARGET_PROJECT_ID", "42"), ("TARGET_PIPELINE_ID", "555")];
    assert_eq!(expanded_resource_group("copilot:pipeline_failed", &[], &variables), "copilot-42");
    // Another project's jobs take their own turn, and a review of MR 9 does not wait for them.
    let other = [("TRIGGER_TYPE", "issue_assignee"), ("TARGET_PROJECT_ID", "43"), ("TARGET_ISSUE_IID", "7")];
    assert_eq!(expanded_resource_group("copilot:issue_assignee", &[], &other), "copilot-43");
    let review = expanded_resource_group("copilot:mr_reviewer", &trigger_inputs("mr_reviewer"), &[]);
    assert_eq!(review, "copilot-42-review-9");
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
    let project = LocalProject::agent();
    let inputs = trigger_inputs("mr_reviewer");
    let output = project.gitlab_ci_local(&["--preview"], &pairs(&inputs), &TRIGGERED, None);
    assert!(output.status.success(), "gitlab-ci-local --preview failed:\n{}", text(&output));
    let preview = String::from_utf8_lossy(&output.stdout);
    let pipeline: Value = serde_saphyr::from_str(preview.trim_start_matches("---\n")).expect("--preview prints YAML");
    let job = &pipeline["copilot:mr_reviewer"];
    assert_eq!(job["image"]["name"], "registry.example.com/tools/copilot-runner:0.1.0");
    assert_eq!(job["tags"], serde_json::json!(["copilot-agent"]));
    assert_eq!(job["timeout"], "3h");
    assert_eq!(job["resource_group"], "copilot-$TARGET_PROJECT_ID-review-$TARGET_MR_IID");
    assert_eq!(job["artifacts"]["reports"]["codequality"], "copilot-artifacts/gl-code-quality-report.json");
    let paths = job["artifacts"]["paths"].as_array().expect("a list of artifact paths");
    assert!(paths.contains(&Value::from("copilot-artifacts/copilot-runner.log")), "{paths:?}");
    assert!(!paths.contains(&Value::from("copilot-artifacts/")), "the whole folder is never uploaded: {paths:?}");
    assert_eq!(job["artifacts"]["access"], "developer");
    assert_eq!(job["variables"]["COPILOT_LANGUAGE"], "en");
    assert_eq!(job["variables"]["COPILOT_SANDBOX"], "require", "the agent never runs unconfined from the template");
    assert_eq!(job["script"], serde_json::json!(["copilot-runner run"]));
    // The trigger's inputs became the pipeline's variables of the contract, branch names as
    // written (not expanded).
    let variables = &pipeline["variables"];
    assert_eq!(variables["TRIGGER_TYPE"], "mr_reviewer");
    assert_eq!(variables["TARGET_PROJECT_ID"], "42");
    assert_eq!(variables["TARGET_MR_IID"], "9");
    assert_eq!(variables["TARGET_ISSUE_IID"], "", "a review carries no issue");
    assert_eq!(variables["TARGET_BRANCH"], "main");
    assert!(variables["SOURCE_BRANCH"].as_str().is_some_and(|branch| branch.starts_with("feature/$")), "{variables}");
}

#[test]
fn a_trigger_that_sets_gitlab_api_base_or_the_agent_command_is_refused_before_anything_runs() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let gitlab = Server::start(
        &copilot_runner_testkit::testkit_bin!("fake-gitlab"),
        &[std::ffi::OsStr::new("--seed"), assigned_issue_seed_file(scratch.path()).as_os_str()],
    );
    let world = World::of(&gitlab);
    // Where the trigger wants the token to go: a listener that records any connection.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").expect("a trap listener");
    trap.set_nonblocking(true).expect("test setup");
    let trap_url = format!("http://{}", trap.local_addr().expect("its address"));
    // The agent project still lets Developers pass variables, and someone holding its trigger
    // token passes `GITLAB_API_BASE` (the agent user owns the trigger token).
    world.set_pipeline_variables_role("developer");
    let mut fields: Vec<(String, String)> =
        trigger_inputs("issue_assignee").into_iter().map(|(name, value)| (format!("inputs[{name}]"), value)).collect();
    // And a command of its own for the agent to run.
    let marker = scratch.path().join("the-triggers-command-ran");
    let command = format!("touch {}", marker.display());
    fields.push(("variables[GITLAB_API_BASE]".to_owned(), trap_url.clone()));
    fields.push(("variables[COPILOT_AGENT]".to_owned(), "command".to_owned()));
    fields.push(("variables[COPILOT_AGENT_COMMAND]".to_owned(), command.clone()));
    let pipeline = world.trigger_agent_pipeline(&fields).to_string();
    let agent_project = world.agent_project_id().to_string();
    let agent_token = world.token(AGENT);

    let project = LocalProject::agent();
    let mut variables = ci_variables(&world, &agent_project, &pipeline);
    variables.extend([
        ("GITLAB_TOKEN", agent_token.as_str()),
        ("GITLAB_API_BASE", trap_url.as_str()),
        ("COPILOT_AGENT", "command"),
        ("COPILOT_AGENT_COMMAND", command.as_str()),
    ]);
    let output = project.run_pipeline(&trigger_inputs("issue_assignee"), &variables);
    let log = text(&output);
    assert!(!output.status.success(), "the job must fail:\n{log}");
    assert!(
        log.contains("`GITLAB_API_BASE`, `COPILOT_AGENT`, `COPILOT_AGENT_COMMAND` as pipeline variables"),
        "the error names the variables:\n{log}"
    );
    assert!(log.contains("no_one_allowed"), "the error says what to set:\n{log}");
    assert!(trap.accept().is_err(), "the job connected to the URL the trigger chose");
    assert!(!marker.exists(), "the trigger's command ran");
    assert!(!log.contains(&agent_token), "the GitLab token reached the job log");

    // The same setting as a CI/CD variable of the agent project is accepted: see
    // `triggered_pipeline_runs_the_built_binary_which_opens_a_draft_mr_in_the_fake_gitlab`.
}

/// What the issue job of the agent project's pipeline `pipeline` sees besides its inputs:
/// GitLab's predefined variables, and what the agent project's CI/CD variables and the runner's
/// image would provide (the GitLab endpoint and token, the Copilot CLI and its model, the job's
/// work folder `scratch/work`). Settings from there are accepted; the same from a trigger are
/// refused.
fn issue_job_variables(servers: &IssueJobServers, scratch: &Path, pipeline: u64) -> Vec<(String, String)> {
    let world = &servers.world;
    let cli = copilot_cli::cli_path();
    let inherited_path = std::env::var("PATH").unwrap_or_default();
    let home = copilot_cli::shared_home(Path::new(env!("CARGO_TARGET_TMPDIR")), &cli, &inherited_path);
    let (agent_project, pipeline) = (world.agent_project_id().to_string(), pipeline.to_string());
    let path = |path: &Path| path.to_str().expect("a UTF-8 path").to_owned();
    let mut variables: Vec<(String, String)> = ci_variables(world, &agent_project, &pipeline)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    variables.extend(
        [
            ("GITLAB_API_BASE", world.url().to_owned()),
            ("GITLAB_TOKEN", world.token(AGENT)),
            ("HOME", path(&home)),
            ("COPILOT_HOME", path(&scratch.join("copilot-home"))),
            ("COPILOT_WORK_DIR", path(&scratch.join("work"))),
            ("COPILOT_CLI_PATH", path(&cli)),
            ("COPILOT_OFFLINE", "true".to_owned()),
            ("COPILOT_PROVIDER_BASE_URL", servers.model.ready.clone()),
            ("COPILOT_MODEL", "gpt-4.1".to_owned()),
            ("COPILOT_STAGE_TIMEOUT", "120".to_owned()),
        ]
        .map(|(name, value)| (name.to_owned(), value)),
    );
    variables
}

/// Runs the agent project's pipeline `pipeline` with the trigger's `inputs`, and checks that
/// exactly the issue job ran the built binary to success; returns the pipeline's log.
fn run_issue_job(
    project: &LocalProject,
    servers: &IssueJobServers,
    scratch: &Path,
    inputs: &[(String, String)],
    pipeline: u64,
) -> String {
    let variables = issue_job_variables(servers, scratch, pipeline);
    let output = project.run_pipeline(inputs, &pairs(&variables));
    let log = text(&output);
    assert!(output.status.success(), "the pipeline failed:\n{log}");
    assert!(log.contains("no protected setting among the pipeline's own variables"), "the check ran:\n{log}");
    assert!(log.contains("copilot:issue_assignee  $ copilot-runner run"), "the selected job ran its script:\n{log}");
    assert!(log.contains("PASS  copilot:issue_assignee"), "{log}");
    for other in TRIGGER_TYPES.iter().filter(|t| **t != "issue_assignee") {
        assert!(!log.contains(&format!("copilot:{other}")), "job copilot:{other} must not run:\n{log}");
    }
    assert!(!log.contains(&servers.world.token(AGENT)), "the GitLab token reached the job log");
    log
}

#[test]
fn triggered_pipeline_runs_the_built_binary_which_opens_a_draft_mr_in_the_fake_gitlab() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    // The job's work folder (clone and stage scratch folders), outside the agent project.
    let work = scratch.path().join("work");
    let servers = IssueJobServers::start(|name| copilot_runner_testkit::testkit_bin!(name), scratch.path(), &work);
    let world = &servers.world;
    let (api, project_id) = (world.api_url(), world.target_project_id());
    let project = LocalProject::agent();

    // The webhook service triggers the agent project's pipeline with the trigger as inputs.
    let trigger = Trigger::IssueAssignee { project_id, issue_iid: 1 };
    let (pipeline_id, inputs) = trigger_as_serve_does(world, &trigger);
    assert!(inputs.iter().any(|(name, value)| name == "target_project_id" && *value == project_id.to_string()));
    let log = run_issue_job(&project, &servers, scratch.path(), &inputs, pipeline_id);
    // With the same variables, every other job is `when: never` by its rules.
    let variables = issue_job_variables(&servers, scratch.path(), pipeline_id);
    let listing = project.gitlab_ci_local(&["--list-json"], &pairs(&inputs), &pairs(&variables), None);
    assert_eq!(active_jobs(&listing), vec!["copilot:issue_assignee"], "only the selected job is active");

    // The job's effect, seen through the fake's REST API: one Draft MR from the agent's branch
    // that closes the issue, and the branch holds the agent's change.
    let mr = servers.only_draft_mr(&log);
    let (status, branch) =
        api_get(&format!("{api}/projects/{project_id}/repository/branches/copilot%2Fissue-1"), &world.token("maria"));
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

/// The hook's signing token in the webhook delivery test.
const SIGNING_KEY: &[u8] = b"the agent hook's signing key 32b";

#[test]
fn a_webhook_delivered_to_serve_starts_the_pipeline_whose_job_opens_the_draft_mr() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let servers = IssueJobServers::start(
        |name| copilot_runner_testkit::testkit_bin!(name),
        scratch.path(),
        &scratch.path().join("work"),
    );
    let world = &servers.world;
    let (project_id, agent_project) = (world.target_project_id(), world.agent_project_id());

    // GitLab delivers alice's assignment of the agent to issue #1 to the built `serve`, with the
    // hook's secret token and signed with its signing token.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
    let answer = runtime.block_on(async {
        let serve = serve_process(world, &[("WEBHOOK_SIGNING_SECRET", signing_secret(SIGNING_KEY))]).await;
        let payload = payloads::issue_assignees(world, "alice", 1, &[], &[AGENT]);
        let answer = deliver(&serve.url, &Delivery::new("Issue Hook", &payload).signed(SIGNING_KEY, now())).await;
        serve.kill().await;
        answer
    });
    drop(runtime);
    assert_eq!((answer.status, answer.outcome()), (200, "triggered"), "{:?}", answer.body);
    let pipeline = answer.body["pipeline_id"].as_u64().expect("the answer names the pipeline");

    // The trigger request GitLab received: its token, the ref and the contract as inputs; no
    // variables, and the pipeline it started has none.
    let requests = world.requests_to("POST /projects/*/trigger/pipeline");
    assert_eq!(requests.len(), 1, "one trigger: {requests:#?}");
    assert_eq!(requests[0].path, format!("/api/v4/projects/{agent_project}/trigger/pipeline"));
    let form = requests[0].form();
    let mut inputs: Vec<(String, String)> = form
        .iter()
        .filter_map(|(name, value)| Some((name.strip_prefix("inputs[")?.strip_suffix(']')?.to_owned(), value.clone())))
        .collect();
    let mut others: Vec<&str> =
        form.iter().map(|(name, _)| name.as_str()).filter(|name| !name.starts_with("inputs[")).collect();
    others.sort_unstable();
    assert_eq!(others, ["ref", "token"], "nothing but inputs besides the token and the ref: {form:?}");
    inputs.sort();
    let expected = [
        ("target_issue_iid", "1"),
        ("target_project_id", &*project_id.to_string()),
        ("trigger_type", "issue_assignee"),
    ];
    assert_eq!(pairs(&inputs), expected, "the contract, as inputs");
    let variables_url = format!("{}/projects/{agent_project}/pipelines/{pipeline}/variables", world.api_url());
    let (status, variables) = api_get(&variables_url, &world.token("maria"));
    assert_eq!((status, variables), (200, Value::Array(Vec::new())), "the triggered pipeline has no variables");

    // gitlab-ci-local runs that pipeline with exactly those inputs; the contract reaches the job
    // through them alone (none of its names is among the job's variables).
    let job_variables = issue_job_variables(&servers, scratch.path(), pipeline);
    let contract = |name: &str| name == "TRIGGER_TYPE" || name.starts_with("TARGET_") || name.ends_with("_BRANCH");
    assert!(!job_variables.iter().any(|(name, _)| contract(name)), "{job_variables:?}");
    let project = LocalProject::agent();
    let log = run_issue_job(&project, &servers, scratch.path(), &inputs, pipeline);

    // The job read the contract the inputs carried, and did the work: one Draft MR closing #1.
    let received = log
        .lines()
        .find_map(|line| line.split_once("trigger received: ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("the job logs the trigger it received:\n{log}"));
    let mut shown: Vec<(String, String)> = received
        .split_whitespace()
        .map_while(|field| field.split_once('=').filter(|(name, _)| contract(name)))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect();
    shown.sort();
    assert_eq!(shown, inputs, "the job's TRIGGER_TYPE and TARGET_* are the inputs: {received}");
    servers.only_draft_mr(&log);
}

/// Copies the files under `from` (hidden ones included) into `to`.
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("a readable folder") {
        let entry = entry.expect("a readable entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            std::fs::create_dir_all(&target).expect("test setup");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("test setup");
        }
    }
}

/// The component project's jobs in a `--list-json` listing, each with its `when`.
fn listed(output: &Output) -> Vec<(String, String)> {
    assert!(output.status.success(), "gitlab-ci-local --list-json failed:\n{}", text(output));
    let jobs: Vec<Value> = serde_json::from_slice(&output.stdout).expect("--list-json prints JSON");
    jobs.iter()
        .map(|job| {
            let name = job["name"].as_str().expect("a job name").to_owned();
            (name, job["when"].as_str().unwrap_or("on_success").to_owned())
        })
        .collect()
}

#[test]
fn the_component_project_includes_its_component_at_its_own_commit_and_runs_only_its_own_jobs_on_a_push() {
    let project = LocalProject::component();
    let push = [("CI_PIPELINE_SOURCE", "push")];
    let jobs = listed(&project.gitlab_ci_local(&["--list-json"], &[], &push, None));
    // The component, compiled with the project's inputs: its five jobs are there, in the
    // project's `test` stage, and none of them runs in a pipeline the trigger API did not start.
    let names: Vec<&str> = jobs.iter().map(|(name, _)| name.as_str()).collect();
    for trigger in TRIGGER_TYPES {
        assert!(names.contains(&format!("copilot:{trigger}").as_str()), "the component's jobs are included: {names:?}");
    }
    let active: Vec<&str> = jobs.iter().filter(|(_, when)| when != "never").map(|(name, _)| name.as_str()).collect();
    assert_eq!(active, ["component:check"], "{jobs:?}");

    // A semantic-version tag adds the release; any other tag does not.
    for (tag, releases) in [("1.2.3", true), ("v1.2.3", false), ("1.2", false), ("1.2.3-rc1", false)] {
        let variables = [("CI_PIPELINE_SOURCE", "push"), ("CI_COMMIT_TAG", tag)];
        let jobs = listed(&project.gitlab_ci_local(&["--list-json"], &[], &variables, None));
        let release = jobs.iter().find(|(name, _)| name == "release").expect("a release job");
        assert_eq!(release.1 != "never", releases, "tag `{tag}`: {jobs:?}");
    }
}

#[test]
fn the_component_projects_check_passes_and_fails_on_a_readme_that_misses_an_input() {
    let project = LocalProject::component();
    let push = [("CI_PIPELINE_SOURCE", "push")];
    let output = project.gitlab_ci_local(&["--force-shell-executor", "component:check"], &[], &push, None);
    let log = text(&output);
    assert!(output.status.success(), "component:check failed:\n{log}");
    assert!(log.contains("README.md lists every input: image stage tags"), "{log}");

    // The same check on a README without the `total_timeout` row.
    let readme = project.dir.path().join("README.md");
    let text_before = std::fs::read_to_string(&readme).expect("the README");
    let row = text_before.lines().find(|line| line.starts_with("| `total_timeout` |")).expect("the row").to_owned();
    std::fs::write(&readme, text_before.replace(&format!("{row}\n"), "")).expect("test setup");
    let output = project.gitlab_ci_local(&["--force-shell-executor", "component:check"], &[], &push, None);
    let log = text(&output);
    assert!(!output.status.success(), "component:check passed without the row:\n{log}");
    assert!(log.contains("README.md does not list the input total_timeout"), "{log}");
}
