//! The settings, grouped by the part of the program that reads them.
//!
//! [`super::Settings`] is a struct of these groups, and each adapter takes only its own: the
//! sandbox its [`SandboxSettings`], an agent backend its [`AgentSettings`], the context cache its
//! [`CacheSettings`], `serve` its [`WebhookSettings`] and [`TriggerSettings`]. A value read by
//! several parts sits in the group where its meaning lives; the few paths the sandbox must keep
//! out of the agent's reach are copied into [`SandboxSettings`], so that the sandbox needs no
//! other group.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

/// The GitLab instance and the agent user's token.
#[derive(Debug)]
pub struct GitLabSettings {
    /// The instance's base URL, without a trailing `/` (`GITLAB_API_BASE`).
    pub api_base: String,
    pub token: Option<SecretString>,
}

impl GitLabSettings {
    /// The GitLab REST API root (`<base>/api/v4`).
    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.api_base.trim_end_matches('/'))
    }
}

/// Who the agent is and who may ask it for work.
#[derive(Debug)]
pub struct AccessSettings {
    /// The agent user people assign, mention and add as reviewer.
    pub agent_username: String,
    /// The lowest project access level that may start work.
    pub min_access_level: u32,
    /// Work on confidential issues (`COPILOT_ALLOW_CONFIDENTIAL`).
    pub allow_confidential: bool,
}

/// The language of prompts and comments, and where their templates may be overridden.
#[derive(Debug)]
pub struct PromptSettings {
    pub language: Language,
    /// Folder of template overrides (`<lang>/<name>.md.tera`); `None`: the embedded templates only.
    pub dir: Option<PathBuf>,
}

/// How the workflows go about their work.
#[derive(Debug)]
pub struct WorkflowSettings {
    /// Prefix of every branch the agent creates and pushes to.
    pub branch_prefix: String,
    pub orchestrated_issue: bool,
    /// Post the plan of every issue request and wait for `proceed` (`COPILOT_REQUIRE_PLAN_APPROVAL`).
    pub require_plan_approval: bool,
    /// Optional stages no plan runs (`COPILOT_DISABLED_STAGES`); a repository cannot turn them on.
    pub disabled_stages: Vec<OptionalStage>,
    pub orchestrated_mr_note: bool,
    /// Let the agent write its own understanding of the project (`ENABLE_PROJECT_UNDERSTANDING`).
    pub project_understanding: bool,
    /// `COPILOT_WORK_DIR` when set; `None`: a fresh folder under the system's temporary folder.
    pub work_dir: Option<PathBuf>,
    /// Wall-clock budget of one job.
    pub total_timeout: Duration,
}

/// What a job may spend on the model.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpendSettings {
    /// Premium requests one job may use (`COPILOT_MAX_PREMIUM_REQUESTS`); `None`: no cap.
    pub max_premium_requests: Option<f64>,
    /// Premium requests one project may use per month (`COPILOT_MONTHLY_PREMIUM_REQUESTS`).
    pub monthly_premium_requests: Option<f64>,
}

/// The pipeline-fix loop: when it starts, how often it fixes and retries, how it watches.
#[derive(Debug)]
pub struct PipelineFixSettings {
    /// Start the loop right after the issue workflow opened or updated a merge request.
    pub auto_fix: bool,
    /// Re-run failed jobs once unchanged before the first fix attempt (`COPILOT_FLAKY_CHECK`).
    pub flaky_check: bool,
    /// Fix attempts on a failed pipeline (`DEBUG_MAX_TIME`).
    pub debug_max: u32,
    /// Time between polls of a watched pipeline (`RETRY_INTERVAL_TIME`).
    pub retry_interval: Duration,
    /// Retries of an infrastructure failure (`RETRY_MAX_TIME`).
    pub retry_max: u32,
}

/// Merge request reviews.
#[derive(Debug)]
pub struct ReviewSettings {
    /// Post findings as inline discussions (`false`: the summary note only).
    pub inline_comments: bool,
    /// Bytes of diff one review prompt carries.
    pub prompt_bytes: usize,
    /// The least severe finding that may become an inline discussion; the others go to the
    /// summary.
    pub min_severity: Severity,
    /// The most findings one review keeps as inline discussions; `None`: no limit.
    pub max_inline_comments: Option<usize>,
    /// Post findings as draft notes and publish them in one go (one notification).
    pub as_draft: bool,
}

/// Where project understanding is cached between jobs.
#[derive(Debug)]
pub struct CacheSettings {
    /// `file://DIR`, `az://…`, `s3://…` or `gs://…`, without a trailing `/`.
    pub url: String,
    pub azure_connection_string: Option<SecretString>,
}

impl CacheSettings {
    /// The folder of a local (`file://`) cache.
    pub fn local_dir(&self) -> Option<PathBuf> {
        self.url.strip_prefix("file://").map(PathBuf::from)
    }
}

/// The agent project's pipeline that `serve` triggers.
#[derive(Debug)]
pub struct TriggerSettings {
    pub token: Option<SecretString>,
    pub project_id: Option<u64>,
    /// The ref triggered pipelines run on.
    pub git_ref: String,
    /// How `serve` passes a trigger to the pipeline.
    pub with: TriggerWith,
}

/// The webhook service's own settings.
#[derive(Debug)]
pub struct WebhookSettings {
    pub secret_token: Option<SecretString>,
    pub signing_secret: Option<SecretString>,
    /// Deliveries `serve` works on at once.
    pub max_in_flight: usize,
    /// Which merge requests are reviewed without being asked.
    pub auto_review: AutoReviewSettings,
}

/// Automatic reviews of new merge requests and of pushes to open ones (`COPILOT_AUTO_REVIEW*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoReviewSettings {
    pub mode: AutoReview,
    /// The label that opts a merge request in under [`AutoReview::Label`].
    pub label: String,
    /// Review drafts too.
    pub drafts: bool,
}

impl Default for AutoReviewSettings {
    /// As documented: by label, `copilot-review`, no drafts.
    fn default() -> Self {
        Self { mode: AutoReview::Label, label: "copilot-review".to_owned(), drafts: false }
    }
}

/// Which merge requests are reviewed without being asked (`COPILOT_AUTO_REVIEW`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoReview {
    /// None: the agent reviews only when asked.
    Off,
    /// Those that carry the opt-in label.
    #[default]
    Label,
    /// Every one.
    All,
}

impl std::str::FromStr for AutoReview {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(Self::Off),
            "label" => Ok(Self::Label),
            "all" => Ok(Self::All),
            _ => Err("`off`, `label` (merge requests with `COPILOT_AUTO_REVIEW_LABEL`) or `all`".to_owned()),
        }
    }
}

/// The agent backend that runs the stages.
#[derive(Debug)]
pub struct AgentSettings {
    pub kind: AgentKind,
    /// The command template of the `command` backend.
    pub command: Option<String>,
    pub copilot_cli_path: Option<PathBuf>,
    pub copilot_model: Option<String>,
    /// The Copilot CLI's GitHub token.
    pub github_token: Option<SecretString>,
    pub stage_timeout: Duration,
    /// Tool patterns denied besides the built-in ones.
    pub deny_tools: Vec<String>,
    /// The MCP servers the admin allows (`COPILOT_MCP_CONFIG`); empty when unset.
    pub mcp: crate::config::mcp::McpConfig,
}

/// The agent sandbox, and what it keeps out of the agent's reach.
#[derive(Debug)]
pub struct SandboxSettings {
    pub mode: SandboxMode,
    /// TCP ports the agent may connect to besides the built-in ones.
    pub ports: Vec<u16>,
    /// Extra folders the agent may read and execute from.
    pub read_paths: Vec<PathBuf>,
    /// The artifacts folder (a copy of [`super::Settings::artifacts_dir`]).
    pub artifacts_dir: PathBuf,
    /// The configuration file, when one is used.
    pub config_file: Option<PathBuf>,
    /// Files secrets were read from (GitLab "File" variables).
    pub secret_files: Vec<PathBuf>,
    /// The folder of a local context cache (from [`CacheSettings::local_dir`]).
    pub cache_dir: Option<PathBuf>,
}

/// Logging on stderr and to the artifact log file.
#[derive(Debug)]
pub struct LogSettings {
    /// A `tracing` filter.
    pub filter: String,
    pub format: LogFormat,
}

/// What `copilot-runner setup` brings about on GitLab, besides what the other groups name.
#[derive(Debug)]
pub struct SetupSettings {
    /// Where GitLab delivers webhooks (`WEBHOOK_URL`); `setup` registers it, `doctor` tests it.
    pub webhook_url: Option<String>,
    /// Projects and groups the agent works on, by full path (`COPILOT_TARGETS`).
    pub targets: Vec<String>,
    /// The token of the person running `setup` (`COPILOT_SETUP_TOKEN`); never stored.
    pub token: Option<SecretString>,
}

/// The language of prompts and of every comment we post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Zh,
    Ja,
    Ko,
    Hi,
    Th,
}

impl Language {
    pub const ALL: [Language; 6] = [Self::En, Self::Zh, Self::Ja, Self::Ko, Self::Hi, Self::Th];

    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh",
            Self::Ja => "ja",
            Self::Ko => "ko",
            Self::Hi => "hi",
            Self::Th => "th",
        }
    }
}

impl std::str::FromStr for Language {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|lang| lang.code().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| "one of en, zh, ja, ko, hi, th".to_owned())
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Which agent backend runs the stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentKind {
    /// The GitHub Copilot CLI.
    Copilot,
    /// Any other agent CLI, from a command template.
    Command,
}

impl std::str::FromStr for AgentKind {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "copilot" => Ok(Self::Copilot),
            "command" => Ok(Self::Command),
            _ => Err("`copilot` or `command`".to_owned()),
        }
    }
}

/// A stage the agent project may turn off; analysis and implementation always run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionalStage {
    Architecture,
    Tests,
    Docs,
}

impl OptionalStage {
    pub const ALL: [Self; 3] = [Self::Architecture, Self::Tests, Self::Docs];

    /// The name the settings and the stage folders use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Architecture => "architecture",
            Self::Tests => "tests",
            Self::Docs => "docs",
        }
    }

    /// Parses a comma-separated list of optional stages (`docs,tests`); empty parts are skipped,
    /// a stage named twice counts once.
    pub fn parse_list(value: &str) -> Result<Vec<Self>, String> {
        let mut stages = Vec::new();
        for name in value.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            let stage =
                Self::ALL.into_iter().find(|stage| stage.name().eq_ignore_ascii_case(name)).ok_or_else(|| {
                    format!(
                        "a comma-separated list of `architecture`, `tests` and `docs` (`{name}` is not one of them; \
                     analysis and implementation always run)"
                    )
                })?;
            if !stages.contains(&stage) {
                stages.push(stage);
            }
        }
        Ok(stages)
    }
}

/// How serious a review finding is, most serious first (so `a < b` means `a` is more serious).
/// The review summary and discussions show it; `COPILOT_REVIEW_MIN_SEVERITY` names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Major,
    Minor,
    Info,
}

impl Severity {
    /// Every severity, most serious first.
    pub const ALL: [Self; 4] = [Self::Critical, Self::Major, Self::Minor, Self::Info];

    /// The name the findings JSON and the settings use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Major => "major",
            Self::Minor => "minor",
            Self::Info => "info",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|severity| severity.name() == value)
            .ok_or_else(|| "`critical`, `major`, `minor` or `info`".to_owned())
    }
}

/// How strictly the agent is sandboxed (`COPILOT_SANDBOX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxMode {
    /// No agent starts unless the kernel enforces Landlock.
    Require,
    /// The agent runs with whatever the kernel enforces; a warning says what is missing.
    BestEffort,
    /// The agent runs unconfined.
    Off,
}

impl std::str::FromStr for SandboxMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "require" => Ok(Self::Require),
            "best-effort" | "best_effort" => Ok(Self::BestEffort),
            "off" => Ok(Self::Off),
            _ => Err("`require`, `best-effort` or `off`".to_owned()),
        }
    }
}

/// Format of log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            _ => Err("`human` or `json`".to_owned()),
        }
    }
}

/// How `serve` passes a trigger to the pipeline (`PIPELINE_TRIGGER_WITH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TriggerWith {
    /// Pipeline inputs (GitLab 18.1 and later): typed, declared by the template, and they work
    /// with the project setting that refuses pipeline variables.
    #[default]
    Inputs,
    /// Pipeline variables: the fallback for GitLab before 18.1.
    Variables,
}

impl std::str::FromStr for TriggerWith {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim() {
            "inputs" => Ok(Self::Inputs),
            "variables" => Ok(Self::Variables),
            _ => Err("`inputs` (GitLab 18.1 and later) or `variables` (older GitLab)".to_owned()),
        }
    }
}
