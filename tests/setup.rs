//! `copilot-runner setup` as an admin runs it: the built binary against the fake GitLab started
//! as an instance nobody has set up yet. One run brings every piece up; a second run changes
//! nothing and writes nothing; a dry run writes nothing; a group on a tier without group
//! webhooks gets one on each project; an existing hook is updated only where it differs; a
//! refused call names the role and the token that lacked it; no secret reaches the output; and
//! `serve` then finds its trigger token by itself.
#![expect(clippy::disallowed_methods, reason = "the test runs the built binary")]

use std::process::Output;

use copilot_runner::cli::doctor::{self, DoctorArgs};
use copilot_runner::cli::serve::configure;
use copilot_runner::config::{Env, Flags, Settings};
use copilot_runner::exit::Code;
use copilot_runner::setup::ci_file;
use copilot_runner::webhook::server::{self, Service};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::{AGENT, HookSeed, RunnerSeed, SETUP_USER, Seed};
use copilot_runner_testkit::mock_model::{MockModel, Script};
use secrecy::ExposeSecret as _;

const AGENT_PROJECT: &str = "acme/copilot-agent";
const IMAGE: &str = "registry.example.test/platform/copilot-runner:9.9.9";
const GITHUB_TOKEN: &str = "github_pat_setup_test_0123456789abcdef";
const WEBHOOK_SECRET: &str = "whsec-setup-test-0123456789abcdef";
const WEBHOOK_URL: &str = "https://copilot.example.test/webhook";

/// The environment an admin exports before running setup on the empty instance.
fn admin_env(fake: &FakeGitLab) -> Vec<(String, String)> {
    [
        ("GITLAB_API_BASE", fake.url()),
        ("COPILOT_SETUP_TOKEN", fake.token(SETUP_USER)),
        ("GITLAB_TOKEN", fake.agent_token()),
        ("COPILOT_GITHUB_TOKEN", GITHUB_TOKEN.to_owned()),
        ("WEBHOOK_URL", WEBHOOK_URL.to_owned()),
        ("WEBHOOK_SECRET_TOKEN", WEBHOOK_SECRET.to_owned()),
        ("COPILOT_TARGETS", "acme".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

fn set(vars: &mut Vec<(String, String)>, name: &str, value: &str) {
    vars.retain(|(n, _)| n != name);
    vars.push((name.to_owned(), value.to_owned()));
}

/// Runs the built binary with exactly `vars` (and a scratch HOME).
async fn copilot_runner(args: &[&str], vars: &[(String, String)]) -> Output {
    let home = tempfile::tempdir().expect("a scratch home");
    tokio::process::Command::new(env!("CARGO_BIN_EXE_copilot-runner"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .kill_on_drop(true)
        .output()
        .await
        .expect("the binary runs")
}

async fn setup(vars: &[(String, String)], extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["setup", "--agent-project", AGENT_PROJECT, "--image", IMAGE, "--runner-tag", "agents"];
    args.extend_from_slice(extra);
    let output = copilot_runner(&args, vars).await;
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

/// No secret, nor the trigger token GitLab made, appears in `text`.
fn assert_no_secret(fake: &FakeGitLab, vars: &[(String, String)], text: &str) {
    let mut secrets: Vec<String> =
        vars.iter().filter(|(name, _)| name.contains("TOKEN")).map(|(_, value)| value.clone()).collect();
    if fake.has_project(AGENT_PROJECT) {
        secrets.extend(fake.trigger_tokens(AGENT_PROJECT).into_iter().map(|t| t.token));
    }
    for secret in secrets {
        assert!(!text.contains(&secret), "a secret is in the output:\n{text}");
    }
}

fn writes(fake: &FakeGitLab) -> Vec<String> {
    fake.requests().into_iter().filter(|r| r.method != "GET").map(|r| format!("{} {}", r.method, r.path)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_brings_an_empty_instance_up_in_one_command() {
    let fake = FakeGitLab::start_with(Seed::empty_instance()).await.expect("the fake starts");
    let vars = admin_env(&fake);
    let (code, stdout, stderr) = setup(&vars, &[]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_no_secret(&fake, &vars, &format!("{stdout}{stderr}"));

    // The project, with the agent as its Maintainer.
    assert!(fake.has_project(AGENT_PROJECT), "{stdout}");
    assert_eq!(fake.direct_access(AGENT_PROJECT, AGENT), 40, "{stdout}");
    // Its CI file: the example with this installation put in.
    let ci = fake.read_file(AGENT_PROJECT, "main", ".gitlab-ci.yml").await.expect("the CI file is committed");
    let expected = ci_file::render(&ci_file::Values {
        component: &ci_file::default_component(),
        image: IMAGE,
        runner_tag: "agents",
        agent_username: AGENT,
    })
    .unwrap();
    assert_eq!(ci, expected);
    assert!(ci.contains(&format!("      image: {IMAGE}\n")) && ci.contains("      tags: [agents]\n"));
    // Triggers pass inputs, so nobody may pass variables.
    assert_eq!(fake.pipeline_variables_role(AGENT_PROJECT), "no_one_allowed");
    // One trigger token, the agent's, for the webhook.
    let triggers = fake.trigger_tokens(AGENT_PROJECT);
    assert_eq!(triggers.len(), 1, "{triggers:?}");
    assert_eq!(
        (triggers[0].owner_id, triggers[0].description.as_str()),
        (fake.user_id(AGENT), "copilot-runner webhook")
    );
    // The tokens as masked, hidden, protected variables.
    let variables = fake.ci_variables(AGENT_PROJECT);
    let value = |key: &str| variables.iter().find(|v| v.key == key).unwrap_or_else(|| panic!("no {key}: {stdout}"));
    for (key, expected) in [("GITLAB_TOKEN", fake.agent_token()), ("COPILOT_GITHUB_TOKEN", GITHUB_TOKEN.to_owned())] {
        let variable = value(key);
        assert_eq!(variable.value, expected, "{key}");
        assert!(variable.masked && variable.hidden && variable.protected && variable.raw, "{variable:?}");
    }
    // The agent works on the target group as a Developer.
    assert_eq!(fake.direct_access("acme", AGENT), 30);
    assert_eq!(fake.effective_access("acme/widgets", AGENT), 30);
    // One group webhook with the secret and the events `serve` acts on; confidential ones are
    // not allowed by default.
    let hooks = fake.group_hooks("acme");
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let hook = &hooks[0];
    assert_eq!((hook.url.as_str(), hook.token.as_deref()), (WEBHOOK_URL, Some(WEBHOOK_SECRET)));
    for on in ["issues_events", "note_events", "merge_requests_events", "pipeline_events"] {
        assert!(hook.event(on), "{on}: {hook:?}");
    }
    for off in ["push_events", "confidential_issues_events", "confidential_note_events"] {
        assert!(!hook.event(off), "{off}: {hook:?}");
    }
    assert!(hook.enable_ssl_verification);
    assert!(fake.project_hooks("acme/widgets").is_empty(), "the group's hook serves its projects");
    // No runner yet: a warning with the fix, not a failure.
    assert!(stdout.contains("warning    runner tag `agents`: no runner of acme/copilot-agent has the tag"), "{stdout}");
    assert!(stdout.contains("fix: register a runner with the tag `agents`"), "{stdout}");
    assert!(stdout.contains("PIPELINE_PROJECT_ID="), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_tier_without_group_webhooks_each_project_of_the_group_gets_one() {
    let fake = FakeGitLab::start_with(Seed::empty_instance()).await.expect("the fake starts");
    fake.set_group_webhooks_licensed("acme", false);
    let vars = admin_env(&fake);
    let (code, stdout, stderr) = setup(&vars, &[]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(fake.group_hooks("acme").is_empty());
    for project in ["acme/widgets", "acme/gadgets"] {
        let hooks = fake.project_hooks(project);
        assert_eq!(hooks.len(), 1, "{project}: {stdout}");
        assert_eq!(hooks[0].token.as_deref(), Some(WEBHOOK_SECRET));
    }
    assert!(fake.project_hooks(AGENT_PROJECT).is_empty(), "the agent project needs no hook of its own");
    assert!(
        stdout.contains("on the project instead of the group acme: this GitLab's tier has no group webhooks"),
        "{stdout}"
    );

    // With a runner online, a second run has nothing to do.
    fake.add_runner(RunnerSeed::project(AGENT_PROJECT, &["agents"]));
    fake.clear_requests();
    let (code, stdout, _) = setup(&vars, &[]).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(writes(&fake), Vec::<String>::new(), "{stdout}");
    assert!(stdout.contains("unchanged  runner tag `agents`: online for acme/copilot-agent"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_hook_is_updated_only_where_its_events_differ_and_keeps_its_token() {
    let fake = FakeGitLab::start_with(Seed::empty_instance()).await.expect("the fake starts");
    let mut vars = admin_env(&fake);
    set(&mut vars, "COPILOT_TARGETS", "acme/widgets");
    set(&mut vars, "COPILOT_ALLOW_CONFIDENTIAL", "true");
    let old =
        HookSeed { events: vec!["issues_events".to_owned()], ..HookSeed::copilot_runner(WEBHOOK_URL, "old-secret") };
    let hook_id = fake.add_project_hook("acme/widgets", old);
    let (code, stdout, stderr) = setup(&vars, &[]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let hook = fake.hook(hook_id).expect("the hook is kept, not replaced");
    assert_eq!(fake.project_hooks("acme/widgets").len(), 1);
    for on in ["note_events", "confidential_issues_events", "confidential_note_events", "pipeline_events"] {
        assert!(hook.event(on), "{on}: {hook:?}");
    }
    assert_eq!(hook.token.as_deref(), Some("old-secret"), "a token GitLab cannot show is not overwritten");
    assert!(stdout.contains("updated    webhook acme/widgets"), "{stdout}");

    let (code, stdout, _) = setup(&vars, &["--rotate-secrets"]).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(fake.hook(hook_id).and_then(|h| h.token).as_deref(), Some(WEBHOOK_SECRET));
    assert_no_secret(&fake, &vars, &stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_reports_no_change_and_makes_no_write_call() {
    let fake = FakeGitLab::start_with(Seed::empty_instance()).await.expect("the fake starts");
    let vars = admin_env(&fake);
    let (code, stdout, stderr) = setup(&vars, &[]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    fake.clear_requests();

    let (code, stdout, stderr) = setup(&vars, &[]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(writes(&fake), Vec::<String>::new(), "{stdout}");
    assert!(stdout.contains("no change: GitLab was already set up as asked"), "{stdout}");
    for line in stdout.lines().filter(|line| !line.starts_with(' ') && !line.contains(": ")) {
        assert!(line.starts_with("no change") || line.starts_with("`serve`"), "{line}\n{stdout}");
    }
    assert!(!stdout.contains("created") && !stdout.contains("updated  "), "{stdout}");
    assert!(stdout.contains("its value cannot be read back; `--rotate-secrets` overwrites it"), "{stdout}");

    // Rotating writes the hidden values again, and only those.
    let (code, stdout, _) = setup(&vars, &["--rotate-secrets"]).await;
    assert_eq!(code, Some(0), "{stdout}");
    let rotated: Vec<String> = writes(&fake).into_iter().filter(|w| w.contains("/variables/")).collect();
    assert_eq!(rotated.len(), 2, "{rotated:?}\n{stdout}");
    assert_no_secret(&fake, &vars, &stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_makes_no_write_call_and_says_what_it_would_do() {
    let fake = FakeGitLab::start_with(Seed::empty_instance()).await.expect("the fake starts");
    let vars = admin_env(&fake);
    let (code, stdout, stderr) = setup(&vars, &["--dry-run"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(writes(&fake), Vec::<String>::new(), "{stdout}");
    assert!(!fake.has_project(AGENT_PROJECT));
    for expected in [
        "would create  agent project acme/copilot-agent: creating the project in acme",
        "would create  ci file acme/copilot-agent:.gitlab-ci.yml",
        "would create  trigger token acme/copilot-agent",
        "would create  ci variable acme/copilot-agent GITLAB_TOKEN",
        "would create  target access acme: adding @copilot-agent to acme as Developer",
    ] {
        assert!(stdout.contains(expected), "`{expected}` missing:\n{stdout}");
    }
    assert!(stdout.contains("dry run:") && stdout.contains("none was"), "{stdout}");
    assert_no_secret(&fake, &vars, &stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_call_names_the_missing_role_and_the_token_that_lacked_it() {
    let fake = FakeGitLab::start_with(Seed::empty_instance()).await.expect("the fake starts");
    let mut vars = admin_env(&fake);
    // A Developer of the group runs setup: enough to create a project, not to add members.
    set(&mut vars, "COPILOT_SETUP_TOKEN", &fake.token("dave"));
    let (code, stdout, stderr) = setup(&vars, &[]).await;
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "adding @copilot-agent to acme as Developer needs the Maintainer role on acme; the setup token \
             (`COPILOT_SETUP_TOKEN`)'s user @dave has Developer"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("fix: give @dave the Maintainer role on acme"), "{stdout}");
    assert_no_secret(&fake, &vars, &format!("{stdout}{stderr}"));

    // A token GitLab does not know is named as such, and nothing else is tried.
    set(&mut vars, "COPILOT_SETUP_TOKEN", "glpat-revoked-0123456789");
    fake.clear_requests();
    let (code, stdout, _) = setup(&vars, &[]).await;
    assert_eq!(code, Some(2), "{stdout}");
    assert!(stdout.contains("GitLab did not accept the setup token (`COPILOT_SETUP_TOKEN`)"), "{stdout}");
    assert_eq!(fake.requests().len(), 1, "only `GET /user` was asked");
    assert!(!stdout.contains("glpat-revoked-0123456789"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_finds_the_trigger_token_setup_made_without_being_given_it() {
    let fake = FakeGitLab::start_with(Seed::empty_instance()).await.expect("the fake starts");
    let vars = admin_env(&fake);
    let serve_vars = |project_id: &str| {
        vec![
            ("GITLAB_API_BASE".to_owned(), fake.url()),
            ("GITLAB_TOKEN".to_owned(), fake.agent_token()),
            ("WEBHOOK_SECRET_TOKEN".to_owned(), WEBHOOK_SECRET.to_owned()),
            ("PIPELINE_PROJECT_ID".to_owned(), project_id.to_owned()),
        ]
    };
    // Before setup there is no project and no token: serve refuses to start and says why.
    let output = copilot_runner(&["serve", "--listen", "127.0.0.1:0"], &serve_vars("999")).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot list the trigger tokens") && stderr.contains("copilot-runner setup"), "{stderr}");

    let (code, stdout, stderr) = setup(&vars, &[]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let project_id = fake.project_id(AGENT_PROJECT).to_string();
    let env = Env::from_pairs(serve_vars(&project_id));
    let settings = Settings::resolve(&env, &Flags::default()).expect("serve's settings");
    assert!(settings.trigger.token.is_none());
    let (config, _) = configure(&settings).await.expect("serve starts without `PIPELINE_TRIGGER_TOKEN`");
    let made = fake.trigger_tokens(AGENT_PROJECT).remove(0).token;
    assert_eq!(config.pipeline.trigger_token.expose_secret(), made);
}

/// A copilot-runner `serve` on `listener` for the agent project `project_id`, configured as the
/// binary does (without `PIPELINE_TRIGGER_TOKEN`); it stops with the test.
async fn start_serve(fake: &FakeGitLab, listener: tokio::net::TcpListener, project_id: u64) {
    let env = Env::from_pairs([
        ("GITLAB_API_BASE", fake.url()),
        ("GITLAB_TOKEN", fake.agent_token()),
        ("WEBHOOK_SECRET_TOKEN", WEBHOOK_SECRET.to_owned()),
        ("PIPELINE_PROJECT_ID", project_id.to_string()),
    ]);
    let settings = Settings::resolve(&env, &Flags::default()).expect("serve's settings");
    let (config, gitlab) = configure(&settings).await.expect("serve finds its trigger token");
    let service = Service::new(config, gitlab);
    tokio::spawn(server::serve(listener, service, std::future::pending()));
}

#[tokio::test(flavor = "multi_thread")]
async fn after_setup_and_a_runner_doctor_passes_every_check() {
    let fake = FakeGitLab::start_with(Seed::empty_instance()).await.expect("the fake starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port for serve");
    let webhook_url = format!("http://{}/webhook", listener.local_addr().expect("its address"));
    let mut vars = admin_env(&fake);
    set(&mut vars, "WEBHOOK_URL", &webhook_url);
    let (code, stdout, stderr) = setup(&vars, &[]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // What setup leaves to the admin: the runner and the webhook service.
    fake.add_runner(RunnerSeed::project(AGENT_PROJECT, &["agents"]));
    let project_id = fake.project_id(AGENT_PROJECT);
    start_serve(&fake, listener, project_id).await;

    let scratch = tempfile::tempdir().expect("a scratch folder");
    let copilot = scratch.path().join("copilot");
    std::fs::write(&copilot, "#!/bin/sh\necho 'GitHub Copilot CLI 1.0.102.'\n").expect("a stand-in CLI");
    std::fs::set_permissions(&copilot, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("executable");
    let model = MockModel::start(Script::new()).await.expect("the mock model starts");
    let env = Env::from_pairs([
        ("GITLAB_API_BASE", fake.url()),
        ("GITLAB_TOKEN", fake.agent_token()),
        ("PIPELINE_PROJECT_ID", project_id.to_string()),
        ("CONTEXT_CACHE_URL", format!("file://{}", scratch.path().join("cache").display())),
        ("HOME", scratch.path().display().to_string()),
        ("COPILOT_PROVIDER_BASE_URL", model.base_url()),
        ("COPILOT_MODEL", "gpt-4.1".to_owned()),
        ("COPILOT_SETUP_TOKEN", fake.token(SETUP_USER)),
    ]);
    let settings = Settings::resolve(&env, &Flags::default()).expect("doctor's settings");
    let args = DoctorArgs {
        project: Some("acme/widgets".to_owned()),
        webhook_url: Some(webhook_url),
        runner_tags: vec!["agents".to_owned()],
        maintainer_token_env: Some("COPILOT_SETUP_TOKEN".to_owned()),
        copilot: Some(copilot),
        sandbox_helper: Some(env!("CARGO_BIN_EXE_copilot-runner").into()),
    };
    let report = doctor::diagnose(&args, &settings, &env).await;
    let text = report.render();
    assert_eq!(report.exit_code(), Code::Done, "{text}");
    assert!(text.ends_with("all checks passed\n"), "{text}");
    assert!(fake.pipelines(AGENT_PROJECT).iter().all(|p| p.source != "trigger"), "doctor started no agent pipeline");
}
