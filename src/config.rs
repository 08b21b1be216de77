//! Effective settings: flags > environment > optional YAML file > defaults.
//!
//! This module and `env_vars.rs` are the only places that read the process environment: it is
//! captured once into an [`Env`] snapshot that the rest of the program (and every test) passes
//! around. Each resolved value remembers where it came from, so `copilot-runner config` can show
//! it and every validation error can name the key, the source and what is allowed. All errors
//! are collected, not just the first.

mod file;
pub(crate) use file::KeyLines;
mod groups;
pub mod mcp;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::env_vars::{self, EnvVar};
use crate::exit::{Classify, Code};
pub use file::ConfigFile;
pub use groups::{
    AccessSettings, AgentKind, AgentSettings, AutoReview, AutoReviewSettings, CacheSettings, GitLabSettings, Language,
    LogFormat, LogSettings, OptionalStage, PipelineFixSettings, PromptSettings, ReviewSettings, SandboxMode,
    SandboxSettings, SetupSettings, Severity, SpendSettings, TriggerSettings, TriggerWith, WebhookSettings,
    WorkflowSettings,
};

/// A snapshot of the process environment, taken once at start-up.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets: only the names are ever shown.
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Env {
    /// Reads the real environment. Variables that are not valid UTF-8 are skipped.
    #[expect(clippy::disallowed_methods, reason = "the one place that reads the environment")]
    pub fn capture() -> Self {
        Self::from_pairs(
            std::env::vars_os().filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?))),
        )
    }

    /// Builds a snapshot from explicit pairs (tests, child environments).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// The value of `name`; an empty value counts as unset, as in GitLab CI where an unset
    /// variable in a template expands to the empty string.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|value| !value.is_empty())
    }

    /// Every variable, for building a child's environment from an allowlist.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether we run inside a GitLab CI job.
    pub fn in_ci(&self) -> bool {
        self.get(env_vars::ci::CI).is_some_and(|value| value == "true")
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env,
    File { path: PathBuf, line: usize },
    Derived(&'static str),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag(flag) => write!(f, "flag `{flag}`"),
            Self::Env => f.write_str("environment"),
            Self::File { path, line } => write!(f, "{}:{line}", path.display()),
            Self::Derived(from) => write!(f, "derived from `{from}`"),
            Self::Default => f.write_str("default"),
        }
    }
}

/// One resolved setting as `copilot-runner config` shows it (secrets already masked).
#[derive(Debug, Clone)]
pub struct Shown {
    pub name: &'static str,
    pub value: Option<String>,
    pub source: Option<Source>,
}

/// One invalid setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub key: String,
    /// The offending value, masked when the key is a secret.
    pub value: String,
    pub source: Source,
    pub allowed: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` = `{}` (from {}) is not valid: expected {}", self.key, self.value, self.source, self.allowed)
    }
}

/// Every configuration problem found at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<SettingError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration ({} problem{})", self.0.len(), if self.0.len() == 1 { "" } else { "s" })?;
        for error in &self.0 {
            write!(f, "\n  - {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Classify for ConfigErrors {
    fn exit_code(&self) -> Code {
        Code::Usage
    }
}

/// Values given on the command line, by the environment variable name they override.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    values: BTreeMap<&'static str, (&'static str, String)>,
}

impl Flags {
    /// Records `--flag value` as the value of the setting `name`.
    pub fn set(&mut self, name: &'static str, flag: &'static str, value: Option<impl Into<String>>) {
        if let Some(value) = value {
            self.values.insert(name, (flag, value.into()));
        }
    }
}

/// The effective configuration of one invocation, in groups: each part of the program takes
/// only the group (or two) it reads.
#[derive(Debug)]
pub struct Settings {
    pub gitlab: GitLabSettings,
    pub access: AccessSettings,
    pub prompts: PromptSettings,
    pub workflow: WorkflowSettings,
    pub pipeline_fix: PipelineFixSettings,
    pub spend: SpendSettings,
    pub review: ReviewSettings,
    pub cache: CacheSettings,
    pub trigger: TriggerSettings,
    pub webhook: WebhookSettings,
    pub agent: AgentSettings,
    pub sandbox: SandboxSettings,
    pub log: LogSettings,
    pub setup: SetupSettings,
    /// Folder for logs, transcripts, plans and reports kept as job artifacts.
    pub artifacts_dir: PathBuf,
    /// Extra certificate authorities to trust (`COPILOT_CA_BUNDLE`), checked to hold PEM
    /// certificates: not an adapter's part but the whole process's, which `tls::install` makes
    /// every client trust.
    pub ca_bundle: Option<PathBuf>,
    /// Every setting with its (masked) value and source, in documentation order.
    pub shown: Vec<Shown>,
}

impl Settings {
    /// Resolves every setting from the layers; returns all problems at once.
    pub fn resolve(env: &Env, flags: &Flags) -> Result<Self, ConfigErrors> {
        let mut resolver = Resolver::new(env, flags);
        let settings = resolver.settings();
        match settings {
            Some(settings) if resolver.errors.is_empty() => {
                for secret in settings.secrets() {
                    crate::redact::register(secret.expose_secret());
                }
                if let Some(bundle) = &settings.ca_bundle {
                    // Read a moment ago by the check above; a file that vanished since is an
                    // error like any other.
                    crate::tls::install(bundle).map_err(|error| {
                        ConfigErrors(vec![SettingError {
                            key: env_vars::COPILOT_CA_BUNDLE.to_owned(),
                            value: bundle.display().to_string(),
                            source: Source::Env,
                            allowed: format!("a readable PEM file of one or more certificates ({error})"),
                        }])
                    })?;
                }
                Ok(settings)
            }
            _ => Err(ConfigErrors(resolver.errors)),
        }
    }

    /// Every setting as shown to people, and every problem, whether or not the whole is valid.
    pub fn inspect(env: &Env, flags: &Flags) -> (Vec<Shown>, Vec<SettingError>) {
        let mut resolver = Resolver::new(env, flags);
        let shown = match resolver.settings() {
            Some(settings) => settings.shown,
            None => std::mem::take(&mut resolver.shown),
        };
        (shown, resolver.errors)
    }

    /// Every secret we hold, for registration with the redactor and for child-env deny lists.
    pub fn secrets(&self) -> impl Iterator<Item = &SecretString> {
        [
            &self.gitlab.token,
            &self.cache.azure_connection_string,
            &self.trigger.token,
            &self.webhook.secret_token,
            &self.webhook.signing_secret,
            &self.agent.github_token,
            &self.setup.token,
        ]
        .into_iter()
        .flatten()
    }
}

/// Resolves settings layer by layer, collecting errors.
struct Resolver<'a> {
    env: &'a Env,
    flags: &'a Flags,
    file: Option<ConfigFile>,
    errors: Vec<SettingError>,
    shown: Vec<Shown>,
    secret_files: Vec<PathBuf>,
}

impl<'a> Resolver<'a> {
    fn new(env: &'a Env, flags: &'a Flags) -> Self {
        let mut errors = Vec::new();
        let path = flags
            .values
            .get(env_vars::COPILOT_RUNNER_CONFIG)
            .map(|(flag, path)| (PathBuf::from(path), Source::Flag(flag)))
            .or_else(|| env.get(env_vars::COPILOT_RUNNER_CONFIG).map(|path| (PathBuf::from(path), Source::Env)));
        let file = path.and_then(|(path, source)| match ConfigFile::load(&path) {
            Ok(file) => {
                errors.extend(file.errors.iter().cloned());
                Some(file)
            }
            Err(allowed) => {
                errors.push(SettingError {
                    key: env_vars::COPILOT_RUNNER_CONFIG.to_owned(),
                    value: path.display().to_string(),
                    source,
                    allowed,
                });
                None
            }
        });
        Self { env, flags, file, errors, shown: Vec::new(), secret_files: Vec::new() }
    }

    /// The raw value of a setting from the highest layer that has one.
    fn raw(&self, var: &EnvVar) -> Option<(String, Source)> {
        if let Some((flag, value)) = self.flags.values.get(var.name) {
            return Some((value.clone(), Source::Flag(flag)));
        }
        if let Some(value) = self.env.get(var.name) {
            return Some((value.to_owned(), Source::Env));
        }
        let file = self.file.as_ref()?;
        let entry = file.values.get(var.name)?;
        Some((entry.value.clone(), Source::File { path: file.path.clone(), line: entry.line }))
    }

    fn var(name: &str) -> &'static EnvVar {
        env_vars::setting(name).unwrap_or_else(|| panic!("`{name}` is not declared in env_vars.rs"))
    }

    /// A string setting with an optional computed default.
    fn string(&mut self, name: &'static str, default: Option<(String, Source)>) -> Option<String> {
        let var = Self::var(name);
        let resolved = self.raw(var).or(default);
        self.shown.push(Shown {
            name,
            value: resolved
                .as_ref()
                .map(|(value, _)| if var.is_secret() { crate::redact::MASK.to_owned() } else { value.clone() }),
            source: resolved.as_ref().map(|(_, source)| source.clone()),
        });
        resolved.map(|(value, _)| value)
    }

    /// A secret, given as its value or, as GitLab's "File" variables do, as the absolute path of
    /// a file that holds it. The file is read once here; its path is remembered so that it can
    /// be kept out of the agent's reach.
    fn secret(&mut self, name: &'static str) -> Option<SecretString> {
        let value = self.string(name, None)?;
        let path = Path::new(&value);
        if !(path.is_absolute() && path.is_file()) {
            return Some(SecretString::from(value));
        }
        match std::fs::read_to_string(path) {
            Ok(text) => {
                self.secret_files.push(path.to_owned());
                Some(SecretString::from(text.trim_end_matches(['\r', '\n']).to_owned()))
            }
            Err(error) => {
                let source = self.shown.last().and_then(|shown| shown.source.clone()).unwrap_or(Source::Default);
                self.errors.push(SettingError {
                    key: name.to_owned(),
                    value: value.clone(),
                    source,
                    allowed: format!(
                        "the secret itself, or a readable file that holds it (reading it failed: {error})"
                    ),
                });
                None
            }
        }
    }

    /// A parsed setting whose default comes from `env_vars.rs`.
    fn parse<T>(&mut self, name: &'static str, check: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let var = Self::var(name);
        let default = var.default.map(|value| (value.to_owned(), Source::Default));
        let Some((value, source)) = self.raw(var).or(default) else {
            self.shown.push(Shown { name, value: None, source: None });
            return None;
        };
        let shown_value = if var.is_secret() { crate::redact::MASK.to_owned() } else { value.clone() };
        self.shown.push(Shown { name, value: Some(shown_value.clone()), source: Some(source.clone()) });
        match check(&value) {
            Ok(parsed) => Some(parsed),
            Err(allowed) => {
                self.errors.push(SettingError { key: name.to_owned(), value: shown_value, source, allowed });
                None
            }
        }
    }

    fn flag(&mut self, name: &'static str) -> Option<bool> {
        self.parse(name, parse_bool)
    }

    fn number<T: std::str::FromStr + PartialOrd + fmt::Display + Copy>(
        &mut self,
        name: &'static str,
        min: T,
        max: T,
    ) -> Option<T> {
        self.parse(name, |value| {
            value
                .trim()
                .parse::<T>()
                .ok()
                .filter(|number| *number >= min && *number <= max)
                .ok_or_else(|| format!("a whole number from {min} to {max}"))
        })
    }

    fn settings(&mut self) -> Option<Settings> {
        let env = self.env;
        let in_ci = env.in_ci();
        let project_dir = env.get(env_vars::ci::CI_PROJECT_DIR).filter(|_| in_ci).map(Path::new);

        let base_default = match env.get(env_vars::ci::CI_SERVER_URL) {
            Some(url) => (url.to_owned(), Source::Derived(env_vars::ci::CI_SERVER_URL)),
            None => ("https://gitlab.com".to_owned(), Source::Default),
        };
        let gitlab_api_base = self.string(env_vars::GITLAB_API_BASE, Some(base_default));
        let gitlab_api_base =
            gitlab_api_base.and_then(|base| self.check_url(env_vars::GITLAB_API_BASE, base, &["http", "https"]));
        let gitlab_token = self.secret(env_vars::GITLAB_TOKEN);
        let agent_username = self.parse(env_vars::COPILOT_AGENT_USERNAME, |value| {
            let value = value.trim().trim_start_matches('@');
            let valid = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            valid
                .then(|| value.to_owned())
                .ok_or_else(|| "a GitLab username (letters, digits, `.`, `_`, `-`)".to_owned())
        });
        let language = self.parse(env_vars::COPILOT_LANGUAGE, str::parse::<Language>);
        let prompts_dir = self.string(env_vars::COPILOT_PROMPTS_DIR, None).map(PathBuf::from);
        let min_access_level = self.parse(env_vars::COPILOT_MIN_ACCESS_LEVEL, |value| {
            value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|level| [5, 10, 15, 20, 30, 40, 50].contains(level))
                .ok_or_else(|| "a GitLab access level: 5, 10, 15, 20, 30, 40 or 50".to_owned())
        });
        let branch_prefix = self.parse(env_vars::COPILOT_BRANCH_PREFIX, |value| {
            let valid = !value.is_empty()
                && !value.starts_with(['/', '-'])
                && !value.contains("..")
                && !value.chars().any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c));
            valid.then(|| value.to_owned()).ok_or_else(|| "a valid git ref prefix such as `copilot/`".to_owned())
        });
        let allow_confidential = self.flag(env_vars::COPILOT_ALLOW_CONFIDENTIAL);
        let orchestrated_issue = self.flag(env_vars::USE_ORCHESTRATED_ISSUE);
        let require_plan_approval = self.flag(env_vars::COPILOT_REQUIRE_PLAN_APPROVAL);
        let disabled_stages = self.parse(env_vars::COPILOT_DISABLED_STAGES, OptionalStage::parse_list);
        let orchestrated_mr_note = self.flag(env_vars::USE_ORCHESTRATED_MR_NOTE);
        let project_understanding = self.flag(env_vars::ENABLE_PROJECT_UNDERSTANDING);
        let inline_review_comments = self.flag(env_vars::ENABLE_INLINE_REVIEW_COMMENTS);
        let review_prompt_bytes = self.number(env_vars::COPILOT_REVIEW_PROMPT_BYTES, 1_000_usize, 10_000_000);
        let review_min_severity = self.parse(env_vars::COPILOT_REVIEW_MIN_SEVERITY, str::parse::<Severity>);
        let review_max_inline = self.number(env_vars::COPILOT_REVIEW_MAX_INLINE_COMMENTS, 0_usize, 10_000);
        let review_as_draft = self.flag(env_vars::COPILOT_REVIEW_AS_DRAFT);
        let auto_fix_pipeline = self.flag(env_vars::COPILOT_AUTO_FIX_PIPELINE);
        let flaky_check = self.flag(env_vars::COPILOT_FLAKY_CHECK);
        let cache_default = match project_dir {
            Some(dir) => (
                format!("file://{}", dir.join(".copilot-cache").display()),
                Source::Derived(env_vars::ci::CI_PROJECT_DIR),
            ),
            None => ("file://.copilot-cache".to_owned(), Source::Default),
        };
        let context_cache_url = self.string(env_vars::CONTEXT_CACHE_URL, Some(cache_default));
        let context_cache_url = context_cache_url
            .and_then(|url| self.check_url(env_vars::CONTEXT_CACHE_URL, url, &["file", "az", "s3", "gs"]));
        let azure_storage_connection_string = self.secret(env_vars::AZURE_STORAGE_CONNECTION_STRING);
        let pipeline_trigger_token = self.secret(env_vars::PIPELINE_TRIGGER_TOKEN);
        let pipeline_project_id = self.number(env_vars::PIPELINE_PROJECT_ID, 1_u64, u64::MAX);
        let pipeline_ref = self.parse(env_vars::PIPELINE_REF, |value| Ok::<_, String>(value.trim().to_owned()));
        let pipeline_trigger_with = self.parse(env_vars::PIPELINE_TRIGGER_WITH, str::parse);
        let webhook_secret_token = self.secret(env_vars::WEBHOOK_SECRET_TOKEN);
        let webhook_signing_secret = self.secret(env_vars::WEBHOOK_SIGNING_SECRET);
        let webhook_max_in_flight = self.number(env_vars::WEBHOOK_MAX_IN_FLIGHT, 1_usize, 100_000);
        let auto_review = self.parse(env_vars::COPILOT_AUTO_REVIEW, str::parse::<AutoReview>);
        let auto_review_label = self.parse(env_vars::COPILOT_AUTO_REVIEW_LABEL, |value| {
            let value = value.trim();
            (!value.is_empty() && !value.contains(','))
                .then(|| value.to_owned())
                .ok_or_else(|| "a GitLab label's title (not empty, no `,`)".to_owned())
        });
        let auto_review_drafts = self.flag(env_vars::COPILOT_AUTO_REVIEW_DRAFTS);
        let webhook_url = self.string(env_vars::WEBHOOK_URL, None);
        let webhook_url = webhook_url.and_then(|url| self.check_url(env_vars::WEBHOOK_URL, url, &["http", "https"]));
        let targets = self
            .string(env_vars::COPILOT_TARGETS, None)
            .map(|list| {
                list.split(',')
                    .map(|path| path.trim().trim_matches('/'))
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let setup_token = self.secret(env_vars::COPILOT_SETUP_TOKEN);
        let copilot_github_token = self.secret(env_vars::COPILOT_GITHUB_TOKEN);
        let agent = self.parse(env_vars::COPILOT_AGENT, str::parse::<AgentKind>);
        let agent_command = self.string(env_vars::COPILOT_AGENT_COMMAND, None);
        if agent == Some(AgentKind::Command) && agent_command.is_none() {
            self.errors.push(SettingError {
                key: env_vars::COPILOT_AGENT_COMMAND.to_owned(),
                value: String::new(),
                source: Source::Default,
                allowed: "a command template when `COPILOT_AGENT` is `command`".to_owned(),
            });
        }
        let copilot_cli_path = self.string(env_vars::COPILOT_CLI_PATH, None).map(PathBuf::from);
        let copilot_model = self.string(env_vars::COPILOT_MODEL, None);
        let stage_timeout = self.number(env_vars::COPILOT_STAGE_TIMEOUT, 10_u64, 24 * 3600).map(Duration::from_secs);
        let deny_tools = self
            .string(env_vars::COPILOT_DENY_TOOLS, None)
            .map(|list| list.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        let artifacts_default = match project_dir {
            Some(dir) => {
                (dir.join("copilot-artifacts").display().to_string(), Source::Derived(env_vars::ci::CI_PROJECT_DIR))
            }
            None => ("copilot-artifacts".to_owned(), Source::Default),
        };
        let artifacts_dir = self.string(env_vars::COPILOT_ARTIFACTS_DIR, Some(artifacts_default)).map(PathBuf::from);
        let work_dir = self.string(env_vars::COPILOT_WORK_DIR, None).map(PathBuf::from);
        let sandbox = self.parse(env_vars::COPILOT_SANDBOX, str::parse::<SandboxMode>);
        let sandbox_ports = self.parse(env_vars::COPILOT_SANDBOX_PORTS, parse_ports);
        let sandbox_read_paths = self
            .string(env_vars::COPILOT_SANDBOX_READ_PATHS, None)
            .map(|list| list.split(':').map(str::trim).filter(|p| !p.is_empty()).map(PathBuf::from).collect())
            .unwrap_or_default();
        let mcp = self.mcp_config();
        let ca_bundle = self.string(env_vars::COPILOT_CA_BUNDLE, None).map(PathBuf::from).filter(|path| {
            let checked = crate::tls::read_bundle(path);
            if let Err(error) = &checked {
                self.errors.push(SettingError {
                    key: env_vars::COPILOT_CA_BUNDLE.to_owned(),
                    value: path.display().to_string(),
                    source: self.shown.last().and_then(|shown| shown.source.clone()).unwrap_or(Source::Default),
                    allowed: format!("a readable PEM file of one or more certificates ({error})"),
                });
            }
            checked.is_ok()
        });
        let retry_interval = self
            .parse(env_vars::RETRY_INTERVAL_TIME, |value| {
                value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|secs| (0.01..=3600.0).contains(secs))
                    .ok_or_else(|| "seconds from 0.01 to 3600 (fractions allowed)".to_owned())
            })
            .map(Duration::from_secs_f64);
        let retry_max = self.number(env_vars::RETRY_MAX_TIME, 0_u32, 100);
        let debug_max = self.number(env_vars::DEBUG_MAX_TIME, 0_u32, 100);
        let total_timeout = self.number(env_vars::TOTAL_TIMEOUT, 60_u64, 7 * 24 * 3600).map(Duration::from_secs);
        let max_premium_requests = self.parse(env_vars::COPILOT_MAX_PREMIUM_REQUESTS, parse_premium_requests);
        let monthly_premium_requests = self.parse(env_vars::COPILOT_MONTHLY_PREMIUM_REQUESTS, parse_premium_requests);
        let config_file = self.string(env_vars::COPILOT_RUNNER_CONFIG, None).map(PathBuf::from);
        let log_filter = self.parse(env_vars::COPILOT_RUNNER_LOG, |value| {
            tracing_subscriber::EnvFilter::try_new(value)
                .map(|_| value.to_owned())
                .map_err(|_| "a tracing filter such as `info` or `copilot_runner=debug`".to_owned())
        });
        let log_format = self.parse(env_vars::COPILOT_RUNNER_LOG_FORMAT, str::parse::<LogFormat>);

        let artifacts_dir = artifacts_dir?;
        let cache = CacheSettings { url: context_cache_url?, azure_connection_string: azure_storage_connection_string };
        let sandbox = SandboxSettings {
            mode: sandbox?,
            ports: sandbox_ports.unwrap_or_default(),
            read_paths: sandbox_read_paths,
            artifacts_dir: artifacts_dir.clone(),
            config_file,
            secret_files: std::mem::take(&mut self.secret_files),
            cache_dir: cache.local_dir(),
        };
        Some(Settings {
            gitlab: GitLabSettings { api_base: gitlab_api_base?, token: gitlab_token },
            access: AccessSettings {
                agent_username: agent_username?,
                min_access_level: min_access_level?,
                allow_confidential: allow_confidential?,
            },
            prompts: PromptSettings { language: language?, dir: prompts_dir },
            workflow: WorkflowSettings {
                branch_prefix: branch_prefix?,
                orchestrated_issue: orchestrated_issue?,
                require_plan_approval: require_plan_approval?,
                disabled_stages: disabled_stages.unwrap_or_default(),
                orchestrated_mr_note: orchestrated_mr_note?,
                project_understanding: project_understanding?,
                work_dir,
                total_timeout: total_timeout?,
            },
            pipeline_fix: PipelineFixSettings {
                auto_fix: auto_fix_pipeline?,
                flaky_check: flaky_check?,
                debug_max: debug_max?,
                retry_interval: retry_interval?,
                retry_max: retry_max?,
            },
            spend: SpendSettings { max_premium_requests, monthly_premium_requests },
            review: ReviewSettings {
                inline_comments: inline_review_comments?,
                prompt_bytes: review_prompt_bytes?,
                min_severity: review_min_severity?,
                max_inline_comments: review_max_inline,
                as_draft: review_as_draft?,
            },
            sandbox,
            cache,
            trigger: TriggerSettings {
                token: pipeline_trigger_token,
                project_id: pipeline_project_id,
                git_ref: pipeline_ref?,
                with: pipeline_trigger_with?,
            },
            webhook: WebhookSettings {
                secret_token: webhook_secret_token,
                signing_secret: webhook_signing_secret,
                max_in_flight: webhook_max_in_flight?,
                auto_review: AutoReviewSettings {
                    mode: auto_review?,
                    label: auto_review_label?,
                    drafts: auto_review_drafts?,
                },
            },
            agent: AgentSettings {
                kind: agent?,
                command: agent_command,
                copilot_cli_path,
                copilot_model,
                github_token: copilot_github_token,
                stage_timeout: stage_timeout?,
                deny_tools,
                mcp,
            },
            log: LogSettings { filter: log_filter?, format: log_format? },
            setup: SetupSettings { webhook_url, targets, token: setup_token },
            artifacts_dir,
            ca_bundle,
            shown: std::mem::take(&mut self.shown),
        })
    }

    /// The admin's MCP servers (`COPILOT_MCP_CONFIG`), checked, with every `$VAR` they name set.
    fn mcp_config(&mut self) -> crate::config::mcp::McpConfig {
        use crate::config::mcp::McpConfig;
        let Some(path) = self.string(env_vars::COPILOT_MCP_CONFIG, None) else { return McpConfig::default() };
        let source = self.shown.last().and_then(|shown| shown.source.clone()).unwrap_or(Source::Default);
        let checked = McpConfig::load(std::path::Path::new(&path)).and_then(|config| {
            let missing: Vec<String> =
                config.variables().into_iter().filter(|name| self.env.get(name).is_none()).collect();
            if missing.is_empty() {
                Ok(config)
            } else {
                Err(format!(
                    "the masked CI variables its `$VAR` values name to be set (missing: {})",
                    missing.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
                ))
            }
        });
        checked.unwrap_or_else(|allowed| {
            self.errors.push(SettingError {
                key: env_vars::COPILOT_MCP_CONFIG.to_owned(),
                value: path,
                source,
                allowed,
            });
            McpConfig::default()
        })
    }

    /// Checks that `value` is a URL with one of `schemes`; records an error otherwise.
    fn check_url(&mut self, name: &'static str, value: String, schemes: &[&str]) -> Option<String> {
        let scheme_ok = value.split_once("://").is_some_and(|(scheme, rest)| {
            schemes.contains(&scheme) && (scheme == "file" || !rest.trim_matches('/').is_empty())
        });
        if scheme_ok {
            return Some(value.trim_end_matches('/').to_owned());
        }
        let source = self.shown.iter().rev().find(|shown| shown.name == name).and_then(|shown| shown.source.clone());
        self.errors.push(SettingError {
            key: name.to_owned(),
            value,
            source: source.unwrap_or(Source::Default),
            allowed: format!(
                "a URL starting with {}",
                schemes.iter().map(|s| format!("`{s}://`")).collect::<Vec<_>>().join(", ")
            ),
        });
        None
    }
}

/// Parses a comma-separated list of TCP ports.
fn parse_ports(value: &str) -> Result<Vec<u16>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|port| !port.is_empty())
        .map(|port| port.parse::<u16>().ok().filter(|port| *port > 0))
        .collect::<Option<Vec<u16>>>()
        .ok_or_else(|| "TCP port numbers from 1 to 65535, comma-separated".to_owned())
}

/// Parses a number of premium requests: not negative, fractions allowed (a request to some
/// models counts as a fraction of one).
fn parse_premium_requests(value: &str) -> Result<f64, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|count| count.is_finite() && *count >= 0.0)
        .ok_or_else(|| "a number of premium requests, 0 or more (fractions allowed)".to_owned())
}

/// Parses the boolean spellings people use in CI variables.
pub fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("`true` or `false` (also 1/0, yes/no, on/off)".to_owned()),
    }
}

#[cfg(test)]
mod tests;
