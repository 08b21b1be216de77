//! `copilot-runner doctor` against the fake GitLab, a real `serve` and the mock model: a
//! complete installation (what `setup` creates: the webhook, the trigger, the runner) passes
//! every check without starting a pipeline; each misconfiguration fails its own check with a
//! fix (the agent project's "minimum role to use pipeline variables" included); an unreachable
//! GitLab exits 3. The Copilot CLI check runs a scripted stand-in that prints what the real CLI
//! prints for `--version`. `doctor_chain` takes the chain's pieces away one at a time.
#![expect(clippy::disallowed_methods, reason = "the test runs the built binary")]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use copilot_runner::cli::doctor::{self, DoctorArgs, Outcome, Report};
use copilot_runner::config::{Env, Flags, Settings};
use copilot_runner::exit::Code;
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::{HookSeed, RunnerSeed};
use copilot_runner_testkit::mock_model::{MockModel, Script};
use tokio::sync::oneshot;

use crate::webhook::harness::{self, Instance};

pub(crate) const AGENT_PROJECT: &str = "acme/copilot-agent";
const AGENT_TRIGGER: &str = "glptt-fake-agent";
pub(crate) const WIDGETS: &str = "acme/widgets";
/// The variable `--maintainer-token-env` names in these tests: maria maintains both projects.
const MAINTAINER_TOKEN: &str = "DOCTOR_MAINTAINER_TOKEN";

/// A stand-in `copilot` that answers `--version` as version 1.0.102 does.
fn copilot_stand_in(dir: &Path) -> PathBuf {
    let path = dir.join("copilot");
    std::fs::write(
        &path,
        "#!/bin/sh\necho 'GitHub Copilot CLI 1.0.102.'\necho \"Run 'copilot update' to check for updates.\"\n",
    )
    .expect("write the stand-in");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("make it executable");
    path
}

/// An installation: the fake GitLab seeded with what `setup` creates (a webhook of
/// `acme/widgets` pointing at a running `serve`, the agent project's trigger token, an online
/// runner tagged `copilot-agent`), the mock model as the BYOK endpoint, and the variables doctor
/// runs with.
pub(crate) struct Install {
    pub(crate) fake: FakeGitLab,
    pub(crate) scratch: tempfile::TempDir,
    pub(crate) vars: Vec<(String, String)>,
    pub(crate) serve: Option<(Instance, oneshot::Sender<()>)>,
    pub(crate) webhook_url: String,
    pub(crate) hook_id: u64,
    pub(crate) runner_id: u64,
    _model: MockModel,
}

impl Install {
    /// A complete installation against the standard fake world.
    pub(crate) async fn complete() -> Self {
        let fake = FakeGitLab::start().await.expect("the fake starts");
        let scratch = tempfile::tempdir().expect("a scratch folder");
        let (stop, stopped) = oneshot::channel::<()>();
        let serve = Instance::start_until(&fake, async move {
            let _ = stopped.await;
        })
        .await;
        let webhook_url = format!("{}/webhook", serve.url);
        let hook_id = fake.add_project_hook(WIDGETS, HookSeed::copilot_runner(&webhook_url, harness::SECRET));
        let runner_id = fake.add_runner(RunnerSeed::project(AGENT_PROJECT, &["copilot-agent"]));
        let model = MockModel::start(Script::new()).await.expect("the mock model starts");
        let vars = vec![
            ("GITLAB_API_BASE".to_owned(), fake.url()),
            ("GITLAB_TOKEN".to_owned(), fake.agent_token()),
            ("COPILOT_AGENT_USERNAME".to_owned(), "copilot-agent".to_owned()),
            ("PIPELINE_PROJECT_ID".to_owned(), fake.project_id(AGENT_PROJECT).to_string()),
            ("PIPELINE_TRIGGER_TOKEN".to_owned(), AGENT_TRIGGER.to_owned()),
            ("PIPELINE_REF".to_owned(), "main".to_owned()),
            ("CONTEXT_CACHE_URL".to_owned(), format!("file://{}", scratch.path().join("cache").display())),
            ("HOME".to_owned(), scratch.path().display().to_string()),
            ("COPILOT_PROVIDER_BASE_URL".to_owned(), model.base_url()),
            ("COPILOT_MODEL".to_owned(), "gpt-4.1".to_owned()),
            (MAINTAINER_TOKEN.to_owned(), fake.token("maria")),
        ];
        Self { fake, scratch, vars, serve: Some((serve, stop)), webhook_url, hook_id, runner_id, _model: model }
    }

    pub(crate) fn set(&mut self, name: &str, value: &str) {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_owned(), value.to_owned()));
    }

    pub(crate) fn unset(&mut self, name: &str) {
        self.vars.retain(|(n, _)| n != name);
    }

    /// Stops `serve` and waits until it no longer listens.
    pub(crate) async fn stop_serve(&mut self) {
        let (instance, stop) = self.serve.take().expect("serve runs");
        let _ = stop.send(());
        instance.join().await.expect("serve stops cleanly");
    }

    /// Every check doctor has, with the webhook and the maintainer's token.
    pub(crate) fn args(&self, project: &str) -> DoctorArgs {
        DoctorArgs {
            project: Some(project.to_owned()),
            webhook_url: Some(self.webhook_url.clone()),
            maintainer_token_env: Some(MAINTAINER_TOKEN.to_owned()),
            copilot: Some(copilot_stand_in(self.scratch.path())),
            sandbox_helper: Some(env!("CARGO_BIN_EXE_copilot-runner").into()),
            ..DoctorArgs::default()
        }
    }

    pub(crate) async fn diagnose(&self, args: &DoctorArgs) -> Report {
        let env = Env::from_pairs(self.vars.clone());
        let settings = Settings::resolve(&env, &Flags::default()).expect("the settings resolve");
        doctor::diagnose(args, &settings, &env).await
    }
}

pub(crate) fn outcome(report: &Report, name: &str) -> Outcome {
    report.check(name).unwrap_or_else(|| panic!("no `{name}` check in:\n{}", report.render())).outcome
}

pub(crate) fn fix(report: &Report, name: &str) -> String {
    report.check(name).and_then(|check| check.fix.clone()).unwrap_or_default()
}

#[tokio::test]
async fn complete_installation_passes_every_check_without_starting_a_pipeline() {
    let install = Install::complete().await;
    let report = install.diagnose(&install.args(WIDGETS)).await;
    let text = report.render();
    for name in [
        "gitlab token",
        "agent user",
        "project access",
        "webhooks",
        "agent project",
        "pipeline variables",
        "trigger token",
        "runner",
        "copilot cli",
        "model endpoint",
        "agent sandbox",
        "context cache",
    ] {
        assert_eq!(outcome(&report, name), Outcome::Pass, "{name}:\n{text}");
    }
    assert_eq!(report.exit_code(), Code::Done, "{text}");
    assert!(text.contains("@copilot-agent has access level 30 on acme/widgets"), "{text}");
    assert!(text.contains("version 1.0.102"), "{text}");
    assert!(text.contains("lists `gpt-4.1`"), "{text}");

    // The trigger API got the whole contract as inputs, on the agent project's ref, and GitLab
    // filtered the empty trigger out: nothing ran.
    let calls = install.fake.requests_to("POST /projects/*/trigger/pipeline");
    assert_eq!(calls.len(), 1, "one call of the trigger API");
    let fields = calls[0].form();
    for input in ["trigger_type", "target_project_id", "target_issue_iid", "target_note_id", "target_branch"] {
        assert!(fields.contains(&(format!("inputs[{input}]"), String::new())), "`{input}` missing: {fields:?}");
    }
    assert!(fields.contains(&("ref".to_owned(), "main".to_owned())), "{fields:?}");
    assert_eq!(calls[0].status, Some(400));
    assert!(install.fake.trigger_calls().is_empty(), "doctor must never start a pipeline");
    assert!(install.fake.pipelines(AGENT_PROJECT).is_empty());

    // GitLab's test push reached `serve`, which checked the secret and ignored the push.
    let deliveries = install.fake.hook_deliveries(install.hook_id);
    assert_eq!(deliveries.len(), 1, "one test delivery");
    assert_eq!((deliveries[0].response_status.as_str(), deliveries[0].trigger.as_str()), ("200", "push_hooks"));
    assert!(deliveries[0].response_body.contains("ignored"), "{}", deliveries[0].response_body);
}

#[tokio::test]
async fn the_webhook_url_comes_from_the_flag_or_from_webhook_url() {
    let mut install = Install::complete().await;
    let without = DoctorArgs { webhook_url: None, ..install.args(WIDGETS) };
    let report = install.diagnose(&without).await;
    assert_eq!(outcome(&report, "webhooks"), Outcome::Skipped, "{}", report.render());

    // The same setting `setup` registers the hook with.
    let url = install.webhook_url.clone();
    install.set("WEBHOOK_URL", &url);
    let report = install.diagnose(&without).await;
    assert_eq!(outcome(&report, "webhooks"), Outcome::Pass, "{}", report.render());
    assert_eq!(install.fake.hook_deliveries(install.hook_id).len(), 1, "one test delivery");
}

#[tokio::test]
async fn each_misconfiguration_fails_its_own_check_with_a_fix() {
    let mut install = Install::complete().await;
    // A guest's token, a wrong trigger token, a branch that does not exist.
    let guest_token = install.fake.token("gus");
    install.set("GITLAB_TOKEN", &guest_token);
    install.set("PIPELINE_TRIGGER_TOKEN", "glptt-not-a-token");
    let report = install.diagnose(&install.args(WIDGETS)).await;
    let text = report.render();
    assert_eq!(outcome(&report, "gitlab token"), Outcome::Pass, "{text}");
    assert_eq!(outcome(&report, "agent user"), Outcome::Fail, "{text}");
    assert!(fix(&report, "agent user").contains("COPILOT_AGENT_USERNAME=gus"), "{text}");
    assert_eq!(outcome(&report, "project access"), Outcome::Fail, "{text}");
    assert!(text.contains("needs Developer (30)"), "{text}");
    assert!(fix(&report, "project access").contains("Developer role"), "{text}");
    assert_eq!(outcome(&report, "trigger token"), Outcome::Fail, "{text}");
    assert!(fix(&report, "trigger token").contains("Pipeline trigger tokens"), "{text}");
    assert_eq!(report.exit_code(), Code::Usage);

    let mut install = Install::complete().await;
    install.set("PIPELINE_REF", "no-such-branch");
    let report = install.diagnose(&install.args(WIDGETS)).await;
    assert_eq!(outcome(&report, "agent project"), Outcome::Fail, "{}", report.render());
    assert!(fix(&report, "agent project").contains("PIPELINE_REF"));

    let mut install = Install::complete().await;
    let outsider = install.fake.token("outsider");
    install.set("GITLAB_TOKEN", &outsider);
    install.set("COPILOT_AGENT_USERNAME", "outsider");
    let report = install.diagnose(&install.args(WIDGETS)).await;
    assert_eq!(outcome(&report, "project access"), Outcome::Fail, "{}", report.render());
}

#[tokio::test]
async fn pipeline_variables_must_be_refused_once_triggers_pass_inputs() {
    let mut install = Install::complete().await;
    let report = install.diagnose(&install.args(WIDGETS)).await;
    assert_eq!(outcome(&report, "pipeline variables"), Outcome::Pass, "{}", report.render());

    // Developers may still pass variables: doctor says what to set.
    install.fake.set_pipeline_variables_role(AGENT_PROJECT, "developer");
    let report = install.diagnose(&install.args(WIDGETS)).await;
    let text = report.render();
    assert_eq!(outcome(&report, "pipeline variables"), Outcome::Fail, "{text}");
    assert!(text.contains("the role `developer` and above may pass variables"), "{text}");
    assert!(fix(&report, "pipeline variables").contains("`no_one_allowed`"), "{text}");
    assert_eq!(report.exit_code(), Code::Usage);

    // The fallback for GitLab before 18.1 triggers with variables, so it needs them allowed.
    install.set("PIPELINE_TRIGGER_WITH", "variables");
    let report = install.diagnose(&install.args(WIDGETS)).await;
    assert_eq!(outcome(&report, "pipeline variables"), Outcome::Pass, "{}", report.render());
    install.fake.set_pipeline_variables_role(AGENT_PROJECT, "no_one_allowed");
    let report = install.diagnose(&install.args(WIDGETS)).await;
    assert_eq!(outcome(&report, "pipeline variables"), Outcome::Fail, "{}", report.render());
    assert!(fix(&report, "pipeline variables").contains("`PIPELINE_TRIGGER_WITH=inputs`"), "{}", report.render());

    // GitLab shows the setting to Maintainers only: a Developer's token cannot tell.
    let install = Install::complete().await;
    install.fake.set_access(AGENT_PROJECT, "copilot-agent", 30);
    let report = install.diagnose(&install.args(WIDGETS)).await;
    assert_eq!(outcome(&report, "pipeline variables"), Outcome::Skipped, "{}", report.render());
}

#[tokio::test]
async fn a_rejected_token_skips_what_depends_on_it() {
    let mut install = Install::complete().await;
    install.set("GITLAB_TOKEN", "glpat-revoked");
    let report = install.diagnose(&install.args(WIDGETS)).await;
    let text = report.render();
    assert_eq!(outcome(&report, "gitlab token"), Outcome::Fail, "{text}");
    assert!(fix(&report, "gitlab token").contains("`api` and `write_repository`"), "{text}");
    for name in ["agent user", "project access", "agent project", "pipeline variables", "trigger token"] {
        assert_eq!(outcome(&report, name), Outcome::Skipped, "{name}:\n{text}");
    }
    assert!(!text.contains("glpat-revoked"), "the report never shows a token:\n{text}");
    assert_eq!(report.exit_code(), Code::Usage);
}

#[tokio::test]
async fn a_missing_copilot_cli_fails_with_the_install_command() {
    let install = Install::complete().await;
    let args = DoctorArgs {
        copilot: Some(install.scratch.path().join("no-copilot-here")),
        sandbox_helper: Some(env!("CARGO_BIN_EXE_copilot-runner").into()),
        ..DoctorArgs::default()
    };
    let report = install.diagnose(&args).await;
    assert_eq!(outcome(&report, "copilot cli"), Outcome::Fail);
    assert!(fix(&report, "copilot cli").contains("npm install -g @github/copilot@1.0.102"));
    assert_eq!(outcome(&report, "project access"), Outcome::Skipped, "no `--project`, no access check");
}

#[test]
fn binary_exits_3_when_gitlab_is_unreachable_and_2_when_misconfigured() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let install = runtime.block_on(Install::complete());
    let copilot = copilot_stand_in(install.scratch.path());
    let doctor = |vars: &[(String, String)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_copilot-runner"))
            .args(["doctor", "--project", "acme/widgets", "--copilot"])
            .arg(&copilot)
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("the binary runs")
    };

    let output = doctor(&install.vars);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.ends_with("all checks passed\n"), "{stdout}");

    let mut vars = install.vars.clone();
    vars.retain(|(name, _)| name != "PIPELINE_TRIGGER_TOKEN");
    let output = doctor(&vars);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("[FAIL] trigger token: `PIPELINE_TRIGGER_TOKEN` is not set"), "{stdout}");

    // A port nobody listens on: the listener is bound, its address read, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut vars = install.vars.clone();
    vars.retain(|(name, _)| name != "GITLAB_API_BASE");
    vars.push(("GITLAB_API_BASE".to_owned(), format!("http://{closed}")));
    let output = doctor(&vars);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("[DOWN] gitlab token"), "{stdout}");
    drop(install);
}

#[tokio::test]
async fn finds_the_cli_through_copilot_cli_path_and_reads_the_real_version() {
    // The real Copilot CLI that scripts/test installs, found the way the agent finds it.
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/npm/node_modules/.bin/copilot");
    assert!(real.exists(), "the Copilot CLI is missing at {}: run scripts/test to install it", real.display());
    let mut install = Install::complete().await;
    install.set("COPILOT_CLI_PATH", &real.display().to_string());
    install.set("PATH", &std::env::var("PATH").unwrap_or_default());
    let report = install.diagnose(&DoctorArgs::default()).await;
    let check = report.check("copilot cli").expect("a copilot check");
    assert_eq!(check.outcome, Outcome::Pass, "{}", report.render());
    assert!(check.detail.contains("version 1.0.102"), "{}", check.detail);
}

#[tokio::test]
async fn reports_the_landlock_abi_and_what_the_sandbox_will_enforce() {
    let install = Install::complete().await;
    let report = install.diagnose(&install.args(WIDGETS)).await;
    let check = report.check("agent sandbox").unwrap_or_else(|| panic!("no sandbox check in:\n{}", report.render()));
    assert_eq!(check.outcome, Outcome::Pass, "{}", report.render());
    // This machine's kernel offers every ABI the sandbox uses.
    assert!(check.detail.contains("`COPILOT_SANDBOX=require`"), "{}", check.detail);
    assert!(check.detail.contains("Landlock ABI"), "{}", check.detail);
    for enforced in ["files:", "processes:", "network: TCP", "signals"] {
        assert!(check.detail.contains(enforced), "`{enforced}` missing: {}", check.detail);
    }
    assert!(check.detail.ends_with("not enforced: nothing"), "{}", check.detail);
}
