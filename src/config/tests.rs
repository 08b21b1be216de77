//! Unit tests of layered configuration: precedence, sources, file layouts and error reporting.

use std::io::Write as _;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().copied())
}

fn yaml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write config");
    file
}

fn source_of(settings: &Settings, name: &str) -> Option<Source> {
    settings.shown.iter().find(|shown| shown.name == name).and_then(|shown| shown.source.clone())
}

#[test]
fn defaults_apply_outside_ci() {
    let settings = Settings::resolve(&Env::default(), &Flags::default()).expect("defaults are valid");
    assert_eq!(settings.gitlab.api_base, "https://gitlab.com");
    assert_eq!(settings.access.agent_username, "copilot-agent");
    assert_eq!(settings.prompts.language, Language::En);
    assert_eq!(settings.access.min_access_level, 30);
    assert!(!settings.access.allow_confidential, "confidential issues are refused unless allowed");
    assert_eq!(settings.workflow.branch_prefix, "copilot/");
    assert_eq!(settings.pipeline_fix.debug_max, 5);
    assert_eq!(settings.workflow.total_timeout, Duration::from_secs(36000));
    assert_eq!(settings.artifacts_dir, PathBuf::from("copilot-artifacts"));
    assert!(settings.gitlab.token.is_none());
    assert_eq!(source_of(&settings, env_vars::COPILOT_LANGUAGE), Some(Source::Default));
}

#[test]
fn ci_variables_feed_the_defaults() {
    let env =
        env(&[("CI", "true"), ("CI_SERVER_URL", "https://gitlab.example.com"), ("CI_PROJECT_DIR", "/builds/agent")]);
    let settings = Settings::resolve(&env, &Flags::default()).expect("valid");
    assert_eq!(settings.gitlab.api_base, "https://gitlab.example.com");
    assert_eq!(settings.gitlab.api_url(), "https://gitlab.example.com/api/v4");
    assert_eq!(settings.artifacts_dir, PathBuf::from("/builds/agent/copilot-artifacts"));
    assert_eq!(settings.cache.url, "file:///builds/agent/.copilot-cache");
    assert_eq!(source_of(&settings, env_vars::GITLAB_API_BASE), Some(Source::Derived("CI_SERVER_URL")));
}

#[test]
fn flags_beat_environment_which_beats_the_file() {
    let file = yaml_file("copilot_language: ja\ncopilot_agent_username: file-bot\nretry_max_time: 7\n");
    let env = env(&[
        ("COPILOT_RUNNER_CONFIG", file.path().to_str().expect("utf-8 path")),
        ("COPILOT_LANGUAGE", "ko"),
        ("COPILOT_AGENT_USERNAME", "env-bot"),
    ]);
    let mut flags = Flags::default();
    flags.set(env_vars::COPILOT_LANGUAGE, "--language", Some("zh"));
    let settings = Settings::resolve(&env, &flags).expect("valid");
    assert_eq!(settings.prompts.language, Language::Zh);
    assert_eq!(source_of(&settings, env_vars::COPILOT_LANGUAGE), Some(Source::Flag("--language")));
    assert_eq!(settings.access.agent_username, "env-bot");
    assert_eq!(settings.pipeline_fix.retry_max, 7);
    assert_eq!(
        source_of(&settings, env_vars::RETRY_MAX_TIME),
        Some(Source::File { path: file.path().to_owned(), line: 3 })
    );
}

#[test]
fn the_original_grouped_layout_is_understood() {
    let file = yaml_file(
        "services:\n  gitlab_url: https://git.corp.example\n  agent_username: corp-agent\n\
         authentication:\n  token: glpat-from-file-123\nretry_config:\n  debug_max_time: 2\n  \
         total_timeout: 600\ntemplates:\n  language: th\npaths:\n  artifacts_dir: /tmp/out\n",
    );
    let env = env(&[("COPILOT_RUNNER_CONFIG", file.path().to_str().expect("utf-8 path"))]);
    let settings = Settings::resolve(&env, &Flags::default()).expect("valid");
    assert_eq!(settings.gitlab.api_base, "https://git.corp.example");
    assert_eq!(settings.access.agent_username, "corp-agent");
    assert_eq!(settings.pipeline_fix.debug_max, 2);
    assert_eq!(settings.workflow.total_timeout, Duration::from_secs(600));
    assert_eq!(settings.prompts.language, Language::Th);
    assert_eq!(settings.artifacts_dir, PathBuf::from("/tmp/out"));
    assert_eq!(
        settings.gitlab.token.as_ref().map(|t| t.expose_secret().to_owned()),
        Some("glpat-from-file-123".into())
    );
    let shown = settings.shown.iter().find(|s| s.name == env_vars::GITLAB_TOKEN).expect("token shown");
    assert_eq!(shown.value.as_deref(), Some(crate::redact::MASK));
}

#[test]
fn every_error_is_reported_at_once_with_key_source_and_allowed_values() {
    let file = yaml_file("# settings\ncopilot_min_access_level: 31\nunknown_key: 1\n");
    let env = env(&[
        ("COPILOT_RUNNER_CONFIG", file.path().to_str().expect("utf-8 path")),
        ("COPILOT_LANGUAGE", "fr"),
        ("USE_ORCHESTRATED_ISSUE", "maybe"),
    ]);
    let errors = Settings::resolve(&env, &Flags::default()).expect_err("invalid").0;
    let keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["unknown_key", "COPILOT_LANGUAGE", "COPILOT_MIN_ACCESS_LEVEL", "USE_ORCHESTRATED_ISSUE"]);
    let language = &errors[1];
    assert_eq!(
        language.to_string(),
        "`COPILOT_LANGUAGE` = `fr` (from environment) is not valid: expected one of en, zh, ja, ko, hi, th"
    );
    assert_eq!(errors[2].source, Source::File { path: file.path().to_owned(), line: 2 });
    assert_eq!(errors[0].source, Source::File { path: file.path().to_owned(), line: 3 });
}

#[test]
fn a_missing_or_broken_file_names_the_file() {
    let env = env(&[("COPILOT_RUNNER_CONFIG", "/nonexistent/copilot.yml")]);
    let errors = Settings::resolve(&env, &Flags::default()).expect_err("missing file").0;
    assert_eq!(errors[0].key, "COPILOT_RUNNER_CONFIG");
    assert!(errors[0].allowed.contains("readable YAML file"), "{}", errors[0]);

    let file = yaml_file("copilot_language: [unclosed\n");
    let env = Env::from_pairs([("COPILOT_RUNNER_CONFIG", file.path().to_str().expect("utf-8 path"))]);
    let errors = Settings::resolve(&env, &Flags::default()).expect_err("broken file").0;
    assert!(errors[0].allowed.starts_with("a YAML mapping"), "{}", errors[0]);
}

#[test]
fn secrets_never_appear_in_errors_or_debug_output() {
    let env = env(&[("GITLAB_TOKEN", "glpat-super-secret-value"), ("GITLAB_API_BASE", "ftp://nope")]);
    let errors = Settings::resolve(&env, &Flags::default()).expect_err("bad url");
    assert!(!errors.to_string().contains("glpat-super-secret-value"));
    let ok = Settings::resolve(&Env::from_pairs([("GITLAB_TOKEN", "glpat-super-secret-value")]), &Flags::default())
        .expect("valid");
    assert!(!format!("{ok:?}").contains("glpat-super-secret-value"));
    assert!(!format!("{:?}", Env::from_pairs([("GITLAB_TOKEN", "glpat-super-secret-value")])).contains("glpat"));
}

#[test]
fn the_prompts_override_folder_is_unset_by_default_and_read_from_the_environment() {
    let settings = Settings::resolve(&Env::default(), &Flags::default()).expect("defaults are valid");
    assert_eq!(settings.prompts.dir, None);
    let settings =
        Settings::resolve(&env(&[("COPILOT_PROMPTS_DIR", "/etc/copilot/prompts")]), &Flags::default()).expect("valid");
    assert_eq!(settings.prompts.dir, Some(PathBuf::from("/etc/copilot/prompts")));
    assert_eq!(source_of(&settings, env_vars::COPILOT_PROMPTS_DIR), Some(Source::Env));
}

#[test]
fn agent_settings_default_to_copilot_and_the_command_backend_needs_its_template() {
    let settings = Settings::resolve(&Env::default(), &Flags::default()).expect("defaults are valid");
    assert_eq!(settings.agent.kind, AgentKind::Copilot);
    assert_eq!(settings.agent.stage_timeout, Duration::from_secs(1800));
    assert!(settings.agent.deny_tools.is_empty() && settings.agent.copilot_model.is_none());

    let env = env(&[("COPILOT_DENY_TOOLS", " shell(curl), ,write(.env) "), ("COPILOT_STAGE_TIMEOUT", "600")]);
    let settings = Settings::resolve(&env, &Flags::default()).expect("valid");
    assert_eq!(settings.agent.deny_tools, ["shell(curl)", "write(.env)"]);
    assert_eq!(settings.agent.stage_timeout, Duration::from_secs(600));

    let errors = Settings::resolve(&self::env(&[("COPILOT_AGENT", "command")]), &Flags::default()).unwrap_err();
    assert_eq!(errors.0.len(), 1);
    assert_eq!(errors.0[0].key, "COPILOT_AGENT_COMMAND");
    let errors = Settings::resolve(&self::env(&[("COPILOT_AGENT", "claude")]), &Flags::default()).unwrap_err();
    assert!(errors.to_string().contains("`copilot` or `command`"), "{errors}");
}

#[test]
fn a_secret_given_as_a_file_variable_is_read_from_the_file_and_the_file_remembered() {
    let file = yaml_file("glpat-from-a-file-variable\n");
    let path = file.path().display().to_string();
    let settings = Settings::resolve(&env(&[("GITLAB_TOKEN", &path)]), &Flags::default()).expect("valid");
    assert_eq!(settings.gitlab.token.as_ref().map(ExposeSecret::expose_secret), Some("glpat-from-a-file-variable"));
    assert_eq!(settings.sandbox.secret_files, vec![file.path().to_owned()]);
    // A value that is not a path is the secret itself.
    let settings = Settings::resolve(&env(&[("GITLAB_TOKEN", "glpat-plain")]), &Flags::default()).expect("valid");
    assert_eq!(settings.gitlab.token.as_ref().map(ExposeSecret::expose_secret), Some("glpat-plain"));
    assert!(settings.sandbox.secret_files.is_empty());
}

#[test]
fn sandbox_settings_are_checked() {
    let settings = Settings::resolve(&Env::default(), &Flags::default()).expect("defaults are valid");
    assert_eq!(settings.sandbox.mode, SandboxMode::Require);
    let settings = Settings::resolve(
        &env(&[("COPILOT_SANDBOX", "best-effort"), ("COPILOT_SANDBOX_PORTS", "8443, 9000")]),
        &Flags::default(),
    )
    .expect("valid");
    assert_eq!((settings.sandbox.mode, settings.sandbox.ports), (SandboxMode::BestEffort, vec![8443, 9000]));
    let errors =
        Settings::resolve(&env(&[("COPILOT_SANDBOX", "maybe"), ("COPILOT_SANDBOX_PORTS", "http")]), &Flags::default())
            .unwrap_err();
    let keys: Vec<&str> = errors.0.iter().map(|error| error.key.as_str()).collect();
    assert_eq!(keys, ["COPILOT_SANDBOX", "COPILOT_SANDBOX_PORTS"]);
}

#[test]
fn confidential_issues_are_allowed_from_the_environment_or_the_file() {
    let from_env = Settings::resolve(&env(&[("COPILOT_ALLOW_CONFIDENTIAL", "true")]), &Flags::default()).unwrap();
    assert!(from_env.access.allow_confidential);
    let file = yaml_file("copilot_allow_confidential: true\n");
    let env = env(&[("COPILOT_RUNNER_CONFIG", file.path().to_str().expect("utf-8 path"))]);
    assert!(Settings::resolve(&env, &Flags::default()).unwrap().access.allow_confidential);
}

#[test]
fn the_sandbox_group_keeps_the_artifacts_the_file_and_a_local_cache_out_of_reach() {
    let file = yaml_file("copilot_language: en\n");
    let env = env(&[
        ("CI", "true"),
        ("CI_PROJECT_DIR", "/builds/agent"),
        ("COPILOT_RUNNER_CONFIG", file.path().to_str().expect("utf-8 path")),
    ]);
    let settings = Settings::resolve(&env, &Flags::default()).expect("valid");
    assert_eq!(settings.sandbox.artifacts_dir, settings.artifacts_dir);
    assert_eq!(settings.sandbox.config_file.as_deref(), Some(file.path()));
    assert_eq!(settings.sandbox.cache_dir, Some(PathBuf::from("/builds/agent/.copilot-cache")));
    let settings = Settings::resolve(&self::env(&[("CONTEXT_CACHE_URL", "s3://bucket/runner")]), &Flags::default())
        .expect("valid");
    assert_eq!(settings.sandbox.cache_dir, None, "a remote cache is no folder to keep out");
}

#[test]
fn the_secrets_are_every_secret_setting_of_every_group() {
    let secrets = [
        ("GITLAB_TOKEN", "glpat-one"),
        ("AZURE_STORAGE_CONNECTION_STRING", "AccountKey=two"),
        ("PIPELINE_TRIGGER_TOKEN", "glptt-three"),
        ("WEBHOOK_SECRET_TOKEN", "whsec-four"),
        ("WEBHOOK_SIGNING_SECRET", "whsec_Zml2ZQ=="),
        ("COPILOT_GITHUB_TOKEN", "gho_six"),
        ("COPILOT_SETUP_TOKEN", "glpat-seven"),
    ];
    let settings = Settings::resolve(&env(&secrets), &Flags::default()).expect("valid");
    let held: Vec<&str> = settings.secrets().map(ExposeSecret::expose_secret).collect();
    assert_eq!(held, secrets.map(|(_, value)| value));
    let declared = env_vars::SETTINGS.iter().filter(|var| var.is_secret()).count();
    assert_eq!(held.len(), declared, "a secret setting that `secrets()` misses is never redacted");
}

#[test]
fn a_ca_bundle_must_be_a_readable_pem_file() {
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    let good = tls.join("ca.pem").display().to_string();
    let settings = Settings::resolve(&env(&[("COPILOT_CA_BUNDLE", good.as_str())]), &Flags::default()).unwrap();
    assert_eq!(settings.ca_bundle.as_deref(), Some(tls.join("ca.pem").as_path()));

    for (value, reason) in
        [("/nonexistent/ca.pem", "cannot read"), (&*tls.join("server.key").display().to_string(), "no PEM certificate")]
    {
        let errors = Settings::resolve(&env(&[("COPILOT_CA_BUNDLE", value)]), &Flags::default()).unwrap_err();
        let error = errors.0.iter().find(|error| error.key == "COPILOT_CA_BUNDLE").expect("the bundle is named");
        assert!(error.allowed.contains(reason), "{error}");
    }
}

#[test]
fn setup_settings_read_the_targets_list_and_check_the_webhook_url() {
    let settings = Settings::resolve(
        &env(&[
            ("COPILOT_TARGETS", " acme/widgets, acme/tools/ ,,"),
            ("WEBHOOK_URL", "https://copilot.example.com/webhook"),
            ("COPILOT_SETUP_TOKEN", "glpat-setup-0123456789"),
        ]),
        &Flags::default(),
    )
    .unwrap();
    assert_eq!(settings.setup.targets, ["acme/widgets", "acme/tools"]);
    assert_eq!(settings.setup.webhook_url.as_deref(), Some("https://copilot.example.com/webhook"));
    assert!(settings.secrets().any(|secret| secret.expose_secret() == "glpat-setup-0123456789"));
    let errors = Settings::resolve(&env(&[("WEBHOOK_URL", "copilot.example.com")]), &Flags::default()).unwrap_err();
    assert_eq!(errors.0[0].key, "WEBHOOK_URL");
}

#[test]
fn the_premium_request_cap_is_off_by_default_and_a_bad_one_names_the_setting() {
    let settings = Settings::resolve(&env(&[]), &Flags::default()).expect("valid");
    assert_eq!(settings.spend.max_premium_requests, None);
    let settings =
        Settings::resolve(&env(&[("COPILOT_MAX_PREMIUM_REQUESTS", " 7.5 ")]), &Flags::default()).expect("valid");
    assert_eq!(settings.spend.max_premium_requests, Some(7.5));
    for key in ["COPILOT_MAX_PREMIUM_REQUESTS", "COPILOT_MONTHLY_PREMIUM_REQUESTS"] {
        for bad in ["many", "-1", "NaN", "inf"] {
            let errors = Settings::resolve(&env(&[(key, bad)]), &Flags::default()).unwrap_err();
            assert_eq!(errors.0.len(), 1, "{bad}: {errors}");
            assert_eq!(errors.0[0].key, key);
            assert!(errors.to_string().contains("a number of premium requests"), "{errors}");
        }
    }
    let settings =
        Settings::resolve(&env(&[("COPILOT_MONTHLY_PREMIUM_REQUESTS", "300")]), &Flags::default()).expect("valid");
    assert_eq!(settings.spend.monthly_premium_requests, Some(300.0));
}

#[test]
fn the_mcp_config_must_be_a_valid_servers_file_whose_variables_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp.json");
    std::fs::write(&path, r#"{"mcpServers": {"tickets": {"command": "tickets", "env": {"TOKEN": "$TICKETS_TOKEN"}}}}"#)
        .unwrap();
    let file = path.display().to_string();
    let settings = Settings::resolve(
        &env(&[("COPILOT_MCP_CONFIG", file.as_str()), ("TICKETS_TOKEN", "tk-0123456789")]),
        &Flags::default(),
    )
    .unwrap();
    assert_eq!(settings.agent.mcp.names(), ["tickets"]);
    assert!(Settings::resolve(&env(&[]), &Flags::default()).unwrap().agent.mcp.is_empty());

    std::fs::write(dir.path().join("bad.json"), r#"{"mcpServers": {"x": {"type": "http"}}}"#).unwrap();
    let bad = dir.path().join("bad.json").display().to_string();
    for (value, reason) in [
        (file.as_str(), "(missing: `TICKETS_TOKEN`)"),
        ("/nonexistent/mcp.json", "a readable JSON file"),
        (bad.as_str(), "MCP server `x` of type `http` to have a `url` string"),
    ] {
        let errors = Settings::resolve(&env(&[("COPILOT_MCP_CONFIG", value)]), &Flags::default()).unwrap_err();
        assert_eq!(errors.exit_code(), crate::exit::Code::Usage);
        let error = errors.0.iter().find(|error| error.key == "COPILOT_MCP_CONFIG").expect("the setting is named");
        assert!(error.allowed.contains(reason), "{error}");
    }
}

#[test]
fn disabled_stages_are_read_from_the_environment_or_the_file_and_a_bad_name_is_refused() {
    let none = Settings::resolve(&Env::default(), &Flags::default()).unwrap();
    assert!(none.workflow.disabled_stages.is_empty(), "every stage runs by default");

    let from_env = Settings::resolve(&env(&[("COPILOT_DISABLED_STAGES", " Docs, ,tests,docs ")]), &Flags::default());
    assert_eq!(from_env.unwrap().workflow.disabled_stages, [OptionalStage::Docs, OptionalStage::Tests]);
    let file = yaml_file("copilot_disabled_stages: architecture,docs\n");
    let env_with_file = env(&[("COPILOT_RUNNER_CONFIG", file.path().to_str().expect("utf-8 path"))]);
    let from_file = Settings::resolve(&env_with_file, &Flags::default()).unwrap();
    assert_eq!(from_file.workflow.disabled_stages, [OptionalStage::Architecture, OptionalStage::Docs]);

    for bad in ["docs,implementation", "analysis", "doc"] {
        let errors = Settings::resolve(&env(&[("COPILOT_DISABLED_STAGES", bad)]), &Flags::default()).unwrap_err().0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        let message = errors[0].to_string();
        assert!(message.contains("`COPILOT_DISABLED_STAGES`"), "{message}");
        assert!(message.contains("`architecture`, `tests` and `docs`"), "{message}");
        assert!(message.contains("always run"), "{message}");
    }
}
