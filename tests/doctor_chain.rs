//! `copilot-runner doctor` proves the chain a request travels, one piece at a time: each test
//! starts from a complete installation where the check passes, takes one piece away (the
//! trigger token, the declared inputs, the workflow rules, the webhook or its secret, `serve`,
//! the instance's permission to call local addresses, the runner, the model endpoint) and sees
//! that check fail with the fix for that piece. Without a Maintainer's token the checks a
//! Developer may not do are skipped, naming the flag that supplies one.

use copilot_runner::cli::doctor::{Outcome, Report};
use copilot_runner_testkit::fake_gitlab::{
    AGENT_PROJECT_INPUTS, CiRule, CiScript, HookSeed, JobSpec, Outcome as CiOutcome, access,
};
use copilot_runner_testkit::mock_model::unreachable_base_url;

use crate::doctor::{AGENT_PROJECT, Install, WIDGETS, fix, outcome};
use crate::webhook::harness::SECRET;

/// The agent project's CI configuration with or without the `spec:inputs` header and the
/// template's `workflow: rules`; its job stays pending, so a cancel shows.
fn agent_ci(declares_inputs: bool, filters_empty_trigger: bool) -> CiScript {
    CiScript {
        jobs: vec![JobSpec::new("copilot", "run")],
        inputs: declares_inputs.then(|| AGENT_PROJECT_INPUTS.map(str::to_owned).to_vec()),
        workflow_requires: filters_empty_trigger.then(|| "TRIGGER_TYPE".to_owned()),
        rules: vec![CiRule { ref_pattern: "main".into(), outcome: CiOutcome::Pending, reads_until_done: 0 }],
        ..CiScript::default()
    }
}

/// The check named `name` passes now; returns the report for further asserts.
async fn passes(install: &Install, name: &str) -> Report {
    let report = install.diagnose(&install.args(WIDGETS)).await;
    assert_eq!(outcome(&report, name), Outcome::Pass, "{name} before the change:\n{}", report.render());
    report
}

/// The check named `name` fails now; returns its detail and fix.
async fn fails(install: &Install, name: &str) -> (String, String) {
    let report = install.diagnose(&install.args(WIDGETS)).await;
    assert_eq!(outcome(&report, name), Outcome::Fail, "{name} after the change:\n{}", report.render());
    (report.check(name).map(|check| check.detail.clone()).unwrap_or_default(), fix(&report, name))
}

#[tokio::test]
async fn a_revoked_trigger_token_fails_the_trigger_check() {
    let mut install = Install::complete().await;
    passes(&install, "trigger token").await;
    install.set("PIPELINE_TRIGGER_TOKEN", "glptt-revoked");
    let (detail, fix) = fails(&install, "trigger token").await;
    assert!(detail.contains("did not accept the token"), "{detail}");
    assert!(fix.contains("Pipeline trigger tokens") && fix.contains("PIPELINE_TRIGGER_TOKEN"), "{fix}");
}

#[tokio::test]
async fn inputs_the_agent_project_does_not_declare_fail_the_trigger_check() {
    let install = Install::complete().await;
    passes(&install, "trigger token").await;
    // A `.gitlab-ci.yml` without the `spec:inputs` header.
    install.fake.set_ci(AGENT_PROJECT, agent_ci(false, true));
    let (detail, fix) = fails(&install, "trigger token").await;
    assert!(detail.contains("unknown input arguments: "), "{detail}");
    assert!(fix.contains("`spec:inputs`") && fix.contains("agent-project.gitlab-ci.yml"), "{fix}");
    assert!(install.fake.pipelines(AGENT_PROJECT).is_empty());
}

#[tokio::test]
async fn refused_pipeline_variables_fail_the_trigger_check_of_the_variables_fallback() {
    let mut install = Install::complete().await;
    install.set("PIPELINE_TRIGGER_WITH", "variables");
    install.fake.set_pipeline_variables_role(AGENT_PROJECT, "developer");
    passes(&install, "trigger token").await;
    let sent = install.fake.requests_to("POST /projects/*/trigger/pipeline");
    assert!(sent[0].form().contains(&("variables[TRIGGER_TYPE]".to_owned(), String::new())), "{:?}", sent[0].form());

    install.fake.set_pipeline_variables_role(AGENT_PROJECT, "no_one_allowed");
    let (detail, fix) = fails(&install, "trigger token").await;
    assert!(detail.contains("Insufficient permissions to set pipeline variables"), "{detail}");
    assert!(fix.contains("PIPELINE_TRIGGER_WITH=inputs"), "{fix}");
}

#[tokio::test]
async fn a_configuration_that_runs_an_empty_trigger_gets_its_pipeline_cancelled_at_once() {
    let install = Install::complete().await;
    passes(&install, "trigger token").await;
    // Workflow rules that let every trigger through.
    install.fake.set_ci(AGENT_PROJECT, agent_ci(true, false));
    let (detail, fix) = fails(&install, "trigger token").await;
    let pipelines = install.fake.pipelines(AGENT_PROJECT);
    assert_eq!(pipelines.len(), 1, "GitLab created one");
    assert!(
        detail.contains(&format!("pipeline {}", pipelines[0].id)) && detail.contains("cancelled at once"),
        "{detail}"
    );
    assert_eq!(install.fake.pipeline_status(pipelines[0].id).as_deref(), Some("canceled"));
    assert!(install.fake.jobs(pipelines[0].id).iter().all(|job| job.status == "canceled"), "no job ran");
    assert!(fix.contains("`workflow: rules`"), "{fix}");
}

#[tokio::test]
async fn a_missing_webhook_fails_and_a_group_webhook_counts_where_the_tier_has_them() {
    let install = Install::complete().await;
    passes(&install, "webhooks").await;
    install.fake.remove_hook(install.hook_id);
    let (detail, fix) = fails(&install, "webhooks").await;
    assert!(detail.contains("no webhook of acme/widgets"), "{detail}");
    assert!(fix.contains(&install.webhook_url) && fix.contains("WEBHOOK_SECRET_TOKEN"), "{fix}");

    // The same hook on the project's group, read with the group Owner's token.
    install.fake.set_group_access("acme", "maria", access::OWNER);
    let group_hook = install.fake.add_group_hook("acme", HookSeed::copilot_runner(&install.webhook_url, SECRET));
    let report = passes(&install, "webhooks").await;
    assert!(report.check("webhooks").unwrap().detail.contains(&format!("hook {group_hook} of group acme")));
    // GitLab Free has no group webhooks: the hook is out of reach, and doctor says why.
    install.fake.set_group_webhooks_licensed("acme", false);
    let (detail, _) = fails(&install, "webhooks").await;
    assert!(detail.contains("GitLab Free has no group hooks"), "{detail}");
}

#[tokio::test]
async fn a_webhook_with_the_wrong_secret_fails_with_serves_401() {
    let install = Install::complete().await;
    passes(&install, "webhooks").await;
    install.fake.set_hook_token(install.hook_id, Some("an-old-secret"));
    let (detail, fix) = fails(&install, "webhooks").await;
    assert!(detail.contains("got 401") && detail.contains("invalid X-Gitlab-Token"), "{detail}");
    assert!(fix.contains("secret token") && fix.contains("WEBHOOK_SECRET_TOKEN"), "{fix}");
}

#[tokio::test]
async fn a_webhook_missing_a_trigger_fails_naming_it() {
    let install = Install::complete().await;
    passes(&install, "webhooks").await;
    install.fake.remove_hook(install.hook_id);
    let mut seed = HookSeed::copilot_runner(&install.webhook_url, SECRET);
    seed.events.retain(|flag| flag != "note_events");
    install.fake.add_project_hook(WIDGETS, seed);
    let (detail, fix) = fails(&install, "webhooks").await;
    assert!(detail.contains("does not send note_events"), "{detail}");
    assert!(fix.contains("tick the missing triggers"), "{fix}");
}

#[tokio::test]
async fn serve_down_fails_the_webhook_check_with_where_to_look() {
    let mut install = Install::complete().await;
    passes(&install, "webhooks").await;
    install.stop_serve().await;
    let (detail, fix) = fails(&install, "webhooks").await;
    assert!(detail.contains("did not reach") && detail.contains("Failed to open TCP connection"), "{detail}");
    assert!(fix.contains("copilot-runner serve") && fix.contains("`/readyz`"), "{fix}");
    let deliveries = install.fake.hook_deliveries(install.hook_id);
    assert_eq!(deliveries.last().map(|d| d.response_status.as_str()), Some("internal error"));
}

#[tokio::test]
async fn an_instance_that_refuses_local_addresses_is_named_by_its_admin_setting() {
    let install = Install::complete().await;
    passes(&install, "webhooks").await;
    install.fake.block_local_requests(true);
    let (detail, fix) = fails(&install, "webhooks").await;
    assert!(detail.contains("URL is blocked"), "{detail}");
    assert!(fix.contains("\"Allow requests to the local network from webhooks and integrations\""), "{fix}");
}

#[tokio::test]
async fn an_offline_or_missing_runner_fails_the_runner_check() {
    let install = Install::complete().await;
    passes(&install, "runner").await;
    install.fake.set_runner_online(install.runner_id, false);
    let (detail, runner_fix) = fails(&install, "runner").await;
    assert!(detail.contains(&format!("runner {} is offline", install.runner_id)), "{detail}");
    assert!(runner_fix.contains("start the runner"), "{runner_fix}");

    // A runner without the jobs' tag is no runner for them.
    let mut args = install.args(WIDGETS);
    args.runner_tags = vec!["gpu".to_owned()];
    let report = install.diagnose(&args).await;
    assert_eq!(outcome(&report, "runner"), Outcome::Fail, "{}", report.render());
    assert!(fix(&report, "runner").contains("--runner-tag"), "{}", report.render());
}

#[tokio::test]
async fn a_model_endpoint_that_is_down_or_lacks_the_model_fails_the_model_check() {
    let mut install = Install::complete().await;
    passes(&install, "model endpoint").await;
    install.set("COPILOT_MODEL", "gpt-9");
    let (detail, fix) = fails(&install, "model endpoint").await;
    assert!(detail.contains("does not list `gpt-9`") && detail.contains("gpt-4.1"), "{detail}");
    assert!(fix.contains("COPILOT_MODEL"), "{fix}");

    install.set("COPILOT_MODEL", "gpt-4.1");
    install.set("COPILOT_PROVIDER_BASE_URL", &unreachable_base_url().await.unwrap());
    let (_, fix) = fails(&install, "model endpoint").await;
    assert!(fix.contains("COPILOT_PROVIDER_BASE_URL"), "{fix}");
}

#[tokio::test]
async fn a_copilot_token_is_checked_by_its_form_and_says_what_is_not_proven() {
    let mut install = Install::complete().await;
    install.unset("COPILOT_PROVIDER_BASE_URL");
    install.set("COPILOT_GITHUB_TOKEN", "github_pat_11AAAAAAA0fine");
    let report = passes(&install, "model endpoint").await;
    assert!(report.check("model endpoint").unwrap().detail.contains("not proven"), "{}", report.render());
    assert!(!report.render().contains("github_pat_11AAAAAAA0fine"), "the report never shows a token");
    install.set("COPILOT_GITHUB_TOKEN", "ghp_classic0token");
    let (_, fix) = fails(&install, "model endpoint").await;
    assert!(fix.contains("fine-grained") && fix.contains("Copilot Requests"), "{fix}");
}

#[tokio::test]
async fn without_a_maintainers_token_the_checks_a_developer_may_not_do_are_skipped_with_the_flag_to_pass() {
    let install = Install::complete().await;
    passes(&install, "webhooks").await;
    let mut args = install.args(WIDGETS);
    args.maintainer_token_env = None;
    let report = install.diagnose(&args).await;
    assert_eq!(outcome(&report, "webhooks"), Outcome::Skipped, "{}", report.render());
    assert!(fix(&report, "webhooks").contains("--maintainer-token-env"), "{}", report.render());
    // The agent maintains the agent project, so its own token lists the runners.
    assert_eq!(outcome(&report, "runner"), Outcome::Pass, "{}", report.render());
    install.fake.set_access(AGENT_PROJECT, "copilot-agent", access::DEVELOPER);
    let report = install.diagnose(&args).await;
    assert_eq!(outcome(&report, "runner"), Outcome::Skipped, "{}", report.render());

    // A variable named but not set is a mistake, not a reason to skip.
    args.maintainer_token_env = Some("NO_SUCH_TOKEN_VARIABLE".to_owned());
    let report = install.diagnose(&args).await;
    assert_eq!(outcome(&report, "webhooks"), Outcome::Fail, "{}", report.render());
    assert!(report.check("webhooks").unwrap().detail.contains("`NO_SUCH_TOKEN_VARIABLE` is not set"));
}
