//! Every environment variable copilot-runner reads, as one documented constant each.
//!
//! Users, the CI template and the Helm values depend on these names, so they live in one place:
//! `config.rs` resolves them, `copilot-runner config` prints them, and a test keeps the README's
//! configuration table in sync with [`SETTINGS`].

/// What a variable is for, which decides where it is documented and how it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A setting of ours: documented in the README's configuration table.
    Setting,
    /// A secret setting: documented, never printed, registered with the log redactor.
    Secret,
}

/// One environment variable: its name, default (as shown to people) and meaning.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    pub kind: Kind,
    /// The default as documented; `None` when the setting is empty unless given.
    pub default: Option<&'static str>,
    pub description: &'static str,
}

impl EnvVar {
    /// Whether the value must be masked wherever it could be shown.
    pub fn is_secret(&self) -> bool {
        self.kind == Kind::Secret
    }

    /// The key this variable takes in the YAML configuration file (`gitlab_api_base`).
    pub fn file_key(&self) -> String {
        self.name.to_ascii_lowercase()
    }
}

macro_rules! env_vars {
    ($($(#[doc = $doc:literal])* $ident:ident = $name:literal, $kind:ident, $default:expr;)*) => {
        $(
            $(#[doc = $doc])*
            pub const $ident: &str = $name;
        )*
        /// Every setting, in the order the README documents them.
        pub const SETTINGS: &[EnvVar] = &[
            $(EnvVar {
                name: $name,
                kind: Kind::$kind,
                default: $default,
                description: concat!($($doc, "\n"),*),
            },)*
        ];
    };
}

env_vars! {
    /// Base URL of the GitLab instance (API at `<base>/api/v4`). Defaults to `CI_SERVER_URL` inside CI.
    GITLAB_API_BASE = "GITLAB_API_BASE", Setting, Some("`CI_SERVER_URL`, else `https://gitlab.com`");
    /// Personal, project or group access token of the agent user (scopes `api`, `write_repository`).
    GITLAB_TOKEN = "GITLAB_TOKEN", Secret, None;
    /// Username of the agent user that people assign, mention and add as reviewer.
    COPILOT_AGENT_USERNAME = "COPILOT_AGENT_USERNAME", Setting, Some("copilot-agent");
    /// Language of prompts and of every comment on GitLab: `en`, `zh`, `ja`, `ko`, `hi` or `th`.
    COPILOT_LANGUAGE = "COPILOT_LANGUAGE", Setting, Some("en");
    /// Folder whose `<lang>/<name>.md.tera` files replace the embedded prompt and message templates of the same path.
    COPILOT_PROMPTS_DIR = "COPILOT_PROMPTS_DIR", Setting, None;
    /// Lowest project access level that may start work (10 guest, 20 reporter, 30 developer, 40 maintainer, 50 owner).
    COPILOT_MIN_ACCESS_LEVEL = "COPILOT_MIN_ACCESS_LEVEL", Setting, Some("30");
    /// Work on confidential issues; when `false` the agent replies on such an issue that it does not work on them. The Draft merge request of a confidential issue only links it: no title or text of the issue.
    COPILOT_ALLOW_CONFIDENTIAL = "COPILOT_ALLOW_CONFIDENTIAL", Setting, Some("false");
    /// Prefix of every branch the agent creates and pushes to.
    COPILOT_BRANCH_PREFIX = "COPILOT_BRANCH_PREFIX", Setting, Some("copilot/");
    /// Run issues through the multi-stage plan (`false`: a single implementation stage).
    USE_ORCHESTRATED_ISSUE = "USE_ORCHESTRATED_ISSUE", Setting, Some("true");
    /// Every request on an issue (an assignment or a note) first posts its plan and waits for a person's `proceed` before any code is written.
    COPILOT_REQUIRE_PLAN_APPROVAL = "COPILOT_REQUIRE_PLAN_APPROVAL", Setting, Some("false");
    /// Optional stages no plan runs, comma-separated among `architecture`, `tests` and `docs` (analysis and implementation always run). A repository's `.gitlab/copilot-agent.yml` cannot turn them back on.
    COPILOT_DISABLED_STAGES = "COPILOT_DISABLED_STAGES", Setting, None;
    /// Run merge request notes through the multi-stage plan (`false`: a single stage with the `mr_note` prompt).
    USE_ORCHESTRATED_MR_NOTE = "USE_ORCHESTRATED_MR_NOTE", Setting, Some("false");
    /// Let the agent write a `project_context.md` understanding of the project (cached); never of a merge request under review, whose files are the branch's word, not the project's.
    ENABLE_PROJECT_UNDERSTANDING = "ENABLE_PROJECT_UNDERSTANDING", Setting, Some("false");
    /// Post review findings as inline discussions (`false`: summary note only).
    ENABLE_INLINE_REVIEW_COMMENTS = "ENABLE_INLINE_REVIEW_COMMENTS", Setting, Some("true");
    /// Bytes of diff one review prompt carries; a larger merge request is reviewed in several prompts, and a file whose diff is over two thirds of this is skipped and named in the summary, as is a changed file over 1 MiB in the checkout. A symbolic link is reviewed as a link (its target text), never read through.
    COPILOT_REVIEW_PROMPT_BYTES = "COPILOT_REVIEW_PROMPT_BYTES", Setting, Some("60000");
    /// Least severe review finding posted as an inline discussion: `critical`, `major`, `minor` or `info`; less severe ones are listed in the summary, grouped by severity and file. `info` findings become discussions only when this is `info`.
    COPILOT_REVIEW_MIN_SEVERITY = "COPILOT_REVIEW_MIN_SEVERITY", Setting, Some("minor");
    /// Most findings one review keeps as inline discussions, the most severe first (findings posted earlier that the review finds again count); the rest are listed in the summary. Empty: no limit.
    COPILOT_REVIEW_MAX_INLINE_COMMENTS = "COPILOT_REVIEW_MAX_INLINE_COMMENTS", Setting, None;
    /// Post review findings as draft notes and publish them all at once (one notification instead of one per finding); drafts a stopped job left are published or replaced by the next review, never doubled.
    COPILOT_REVIEW_AS_DRAFT = "COPILOT_REVIEW_AS_DRAFT", Setting, Some("false");
    /// Where project understanding is cached: `file://DIR`, `az://container/prefix`, `s3://bucket/prefix`, `gs://bucket/prefix`.
    CONTEXT_CACHE_URL = "CONTEXT_CACHE_URL", Setting, Some("`file://$CI_PROJECT_DIR/.copilot-cache` in CI, else `file://.copilot-cache`");
    /// Azure Blob Storage connection string for an `az://` context cache.
    AZURE_STORAGE_CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING", Secret, None;
    /// Trigger token of the agent project, used by `serve` to start pipelines. When unset, `serve` reads the agent user's own trigger token described `copilot-runner webhook` (the one `setup` creates) from GitLab at start-up.
    PIPELINE_TRIGGER_TOKEN = "PIPELINE_TRIGGER_TOKEN", Secret, None;
    /// Numeric id of the agent project whose pipeline `serve` triggers.
    PIPELINE_PROJECT_ID = "PIPELINE_PROJECT_ID", Setting, None;
    /// Ref of the agent project that triggered pipelines run on.
    PIPELINE_REF = "PIPELINE_REF", Setting, Some("main");
    /// How `serve` passes a trigger: `inputs` (pipeline inputs, GitLab 18.1 and later) or `variables` (pipeline variables, the fallback for older GitLab).
    PIPELINE_TRIGGER_WITH = "PIPELINE_TRIGGER_WITH", Setting, Some("inputs");
    /// Secret GitLab sends in `X-Gitlab-Token` with every webhook; `serve` refuses to start without it.
    WEBHOOK_SECRET_TOKEN = "WEBHOOK_SECRET_TOKEN", Secret, None;
    /// Signing token of the hook (Standard Webhooks, `whsec_<base64>`); when set, `serve` also requires a valid `webhook-signature` no more than 5 minutes old.
    WEBHOOK_SIGNING_SECRET = "WEBHOOK_SIGNING_SECRET", Secret, None;
    /// Most webhook deliveries `serve` works on at once; beyond it a delivery is answered 503 with `Retry-After`.
    WEBHOOK_MAX_IN_FLIGHT = "WEBHOOK_MAX_IN_FLIGHT", Setting, Some("64");
    /// Which merge requests `serve` has the agent review without being asked, when one is opened and on every push to an open one: `off`, `label` (those that carry `COPILOT_AUTO_REVIEW_LABEL`; adding the label starts a review too) or `all`. Merge requests the agent opened (from a `COPILOT_BRANCH_PREFIX` branch) never are.
    COPILOT_AUTO_REVIEW = "COPILOT_AUTO_REVIEW", Setting, Some("label");
    /// The label that asks for automatic reviews of a merge request when `COPILOT_AUTO_REVIEW` is `label`.
    COPILOT_AUTO_REVIEW_LABEL = "COPILOT_AUTO_REVIEW_LABEL", Setting, Some("copilot-review");
    /// Review Draft merge requests automatically too; when `false`, a draft is reviewed automatically once it is marked ready.
    COPILOT_AUTO_REVIEW_DRAFTS = "COPILOT_AUTO_REVIEW_DRAFTS", Setting, Some("false");
    /// Public URL GitLab delivers webhooks to: where `serve` listens behind its ingress, e.g. `https://copilot-runner.example.com/webhook`. `setup` registers it on the targets.
    WEBHOOK_URL = "WEBHOOK_URL", Setting, None;
    /// Projects and groups the agent works on, as full paths separated by commas (e.g. `acme/widgets,acme/tools`): `setup` gives the agent user the Developer role there and adds the webhook.
    COPILOT_TARGETS = "COPILOT_TARGETS", Setting, None;
    /// Token of the person running `setup` (scope `api`; Owner or Maintainer of the agent project's namespace and of the targets). Only `setup` uses it; it is never stored.
    COPILOT_SETUP_TOKEN = "COPILOT_SETUP_TOKEN", Secret, None;
    /// GitHub token for the Copilot CLI (fine-grained PAT with "Copilot Requests", or an OAuth token).
    COPILOT_GITHUB_TOKEN = "COPILOT_GITHUB_TOKEN", Secret, None;
    /// Agent backend that runs each stage: `copilot` (the GitHub Copilot CLI) or `command` (any CLI from `COPILOT_AGENT_COMMAND`).
    COPILOT_AGENT = "COPILOT_AGENT", Setting, Some("copilot");
    /// Command template of the `command` backend, split into arguments without a shell; placeholders `{prompt_file}`, `{workdir}`, `{scratch_dir}`.
    COPILOT_AGENT_COMMAND = "COPILOT_AGENT_COMMAND", Setting, None;
    /// Path of the Copilot CLI executable.
    COPILOT_CLI_PATH = "COPILOT_CLI_PATH", Setting, Some("`copilot` on `PATH`");
    /// Model the Copilot CLI uses (`--model`); empty leaves the choice to the CLI.
    COPILOT_MODEL = "COPILOT_MODEL", Setting, None;
    /// Wall-clock limit of one agent stage in seconds; the agent's whole process group is stopped after it.
    COPILOT_STAGE_TIMEOUT = "COPILOT_STAGE_TIMEOUT", Setting, Some("1800");
    /// Extra tool patterns the agent may never use, comma-separated (e.g. `shell(curl),shell(rm)`); added to the built-in deny list.
    COPILOT_DENY_TOOLS = "COPILOT_DENY_TOOLS", Setting, None;
    /// JSON file of the MCP servers the agent may use, in the Copilot CLI's `mcpServers` shape (a GitLab "File" variable fits); `env` and `headers` values written `$VAR` are read from masked CI variables at run time. A repository may pick among them, never add one.
    COPILOT_MCP_CONFIG = "COPILOT_MCP_CONFIG", Setting, None;
    /// Folder for logs, transcripts, plans and reports kept as job artifacts.
    COPILOT_ARTIFACTS_DIR = "COPILOT_ARTIFACTS_DIR", Setting, Some("`$CI_PROJECT_DIR/copilot-artifacts` in CI, else `./copilot-artifacts`");
    /// Folder outside the artifacts where the job clones the target project and keeps each stage's scratch, temp and agent-state folders; removed at the end of the job unless set.
    COPILOT_WORK_DIR = "COPILOT_WORK_DIR", Setting, Some("a new folder under the system's temporary folder");
    /// The agent sandbox (Landlock): `require` refuses to run an agent on a kernel without Landlock, `best-effort` warns and runs it with what the kernel enforces, `off` runs it unconfined.
    COPILOT_SANDBOX = "COPILOT_SANDBOX", Setting, Some("require");
    /// TCP ports the sandboxed agent may connect to besides 443, 53 and the ports of `COPILOT_PROVIDER_BASE_URL` and the HTTPS proxy, comma-separated.
    COPILOT_SANDBOX_PORTS = "COPILOT_SANDBOX_PORTS", Setting, None;
    /// Extra folders the sandboxed agent may read and execute from (toolchains outside the system folders), separated by `:`.
    COPILOT_SANDBOX_READ_PATHS = "COPILOT_SANDBOX_READ_PATHS", Setting, None;
    /// PEM file of extra certificate authorities to trust beside the system's, for a GitLab, object store or model endpoint behind a private CA or a TLS-inspecting proxy: GitLab's API, git (clone and push), the cache store and the Copilot CLI (`NODE_EXTRA_CA_CERTS`) all honour it. A GitLab "File" variable fits.
    COPILOT_CA_BUNDLE = "COPILOT_CA_BUNDLE", Setting, None;
    /// Seconds between polls of a watched pipeline (fractions allowed); polling backs off from here to 8 times as long. A pipeline no runner picked up within 20 intervals is reported instead of waited on.
    RETRY_INTERVAL_TIME = "RETRY_INTERVAL_TIME", Setting, Some("30");
    /// How many times an infrastructure failure (runner, timeout, scheduler) is retried before giving up.
    RETRY_MAX_TIME = "RETRY_MAX_TIME", Setting, Some("3");
    /// How many fix attempts the debug loop makes on a failed pipeline.
    DEBUG_MAX_TIME = "DEBUG_MAX_TIME", Setting, Some("5");
    /// Wall-clock budget of one job in seconds, counted from the job's start (`CI_JOB_STARTED_AT`): no agent call starts after it or runs past it (the job then exits 1 and its notes say what was not done), the debug loop ends within it, and a review out of time names the files it did not review.
    TOTAL_TIMEOUT = "TOTAL_TIMEOUT", Setting, Some("36000");
    /// Most premium requests one job may use, as the Copilot CLI reports them (fractions allowed): counted after every agent call, and no call starts once the job has used this many. The call that reached the cap finishes, the stages' work is not pushed, the job exits 1 and its note says what remains ([docs/agents.md](docs/agents.md)). Empty: no cap.
    COPILOT_MAX_PREMIUM_REQUESTS = "COPILOT_MAX_PREMIUM_REQUESTS", Setting, None;
    /// Most premium requests one project may use per calendar month (UTC), added up from the record every job keeps in the context cache's store (`CONTEXT_CACHE_URL`); once a project has used them, new requests get a note and no work. Empty: no cap.
    COPILOT_MONTHLY_PREMIUM_REQUESTS = "COPILOT_MONTHLY_PREMIUM_REQUESTS", Setting, None;
    /// Start the pipeline-fix loop on the merge request right after the issue workflow opened or updated it.
    COPILOT_AUTO_FIX_PIPELINE = "COPILOT_AUTO_FIX_PIPELINE", Setting, Some("false");
    /// Before the first fix attempt, re-run the failed jobs once unchanged: a job that then passes is reported as flaky, not fixed.
    COPILOT_FLAKY_CHECK = "COPILOT_FLAKY_CHECK", Setting, Some("true");
    /// Path of an optional YAML configuration file (same as `--config`).
    COPILOT_RUNNER_CONFIG = "COPILOT_RUNNER_CONFIG", Setting, None;
    /// Log filter for stderr and the file log, in `tracing` syntax (`info`, `copilot_runner=debug`).
    COPILOT_RUNNER_LOG = "COPILOT_RUNNER_LOG", Setting, Some("info");
    /// Log format on stderr: `human` or `json` (same as `--log-format`).
    COPILOT_RUNNER_LOG_FORMAT = "COPILOT_RUNNER_LOG_FORMAT", Setting, Some("human");
}

/// Variables of the trigger contract (webhook → pipeline → `run`). They carry identifiers only.
pub mod trigger {
    /// Which workflow to run: `issue_assignee`, `issue_note`, `mr_note`, `mr_reviewer`, `pipeline_failed`.
    pub const TRIGGER_TYPE: &str = "TRIGGER_TYPE";
    pub const TARGET_PROJECT_ID: &str = "TARGET_PROJECT_ID";
    pub const TARGET_ISSUE_IID: &str = "TARGET_ISSUE_IID";
    pub const TARGET_MR_IID: &str = "TARGET_MR_IID";
    pub const TARGET_NOTE_ID: &str = "TARGET_NOTE_ID";
    pub const TARGET_PIPELINE_ID: &str = "TARGET_PIPELINE_ID";
    pub const SOURCE_BRANCH: &str = "SOURCE_BRANCH";
    pub const TARGET_BRANCH: &str = "TARGET_BRANCH";
}

/// Variables GitLab CI sets in every job, read for defaults and links.
pub mod ci {
    /// Set to `true` in every GitLab CI job.
    pub const CI: &str = "CI";
    pub const CI_SERVER_URL: &str = "CI_SERVER_URL";
    pub const CI_PROJECT_DIR: &str = "CI_PROJECT_DIR";
    pub const CI_PIPELINE_URL: &str = "CI_PIPELINE_URL";
    pub const CI_JOB_URL: &str = "CI_JOB_URL";
    pub const CI_PIPELINE_ID: &str = "CI_PIPELINE_ID";
    pub const CI_PROJECT_ID: &str = "CI_PROJECT_ID";
    pub const CI_API_V4_URL: &str = "CI_API_V4_URL";
    pub const CI_JOB_ID: &str = "CI_JOB_ID";
    /// When the job started (RFC 3339): `TOTAL_TIMEOUT` counts from there.
    pub const CI_JOB_STARTED_AT: &str = "CI_JOB_STARTED_AT";
    pub const GITLAB_CI: &str = "GITLAB_CI";
}

/// Cloud credentials read for a shared context cache (`s3://`, `gs://`); named by their
/// providers, so they are not settings of ours.
pub mod cloud {
    pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
    pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
    pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
    pub const AWS_REGION: &str = "AWS_REGION";
    pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
    /// An S3-compatible endpoint (MinIO, a local test server) instead of AWS.
    pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
    pub const GOOGLE_APPLICATION_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";
}

/// Looks a setting up by name.
pub fn setting(name: &str) -> Option<&'static EnvVar> {
    SETTINGS.iter().find(|var| var.name == name)
}

/// The README's configuration table, generated from [`SETTINGS`] (a test keeps them equal).
pub fn markdown_table() -> String {
    let mut table = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for var in SETTINGS {
        let default = match (var.kind, var.default) {
            (Kind::Secret, _) => "— (secret)".to_owned(),
            (_, Some(default)) if default.starts_with('`') => default.to_owned(),
            (_, Some(default)) => format!("`{default}`"),
            (_, None) => "—".to_owned(),
        };
        let meaning = var.description.trim().replace('\n', " ").replace('|', "\\|");
        table.push_str(&format!("| `{}` | {default} | {meaning} |\n", var.name));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_documented_and_unique() {
        let mut names: Vec<_> = SETTINGS.iter().map(|var| var.name).collect();
        for var in SETTINGS {
            assert!(!var.description.trim().is_empty(), "{} has no description", var.name);
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SETTINGS.len(), "a setting is listed twice");
    }

    #[test]
    fn tokens_are_secrets() {
        for name in [
            GITLAB_TOKEN,
            PIPELINE_TRIGGER_TOKEN,
            WEBHOOK_SECRET_TOKEN,
            WEBHOOK_SIGNING_SECRET,
            COPILOT_GITHUB_TOKEN,
            COPILOT_SETUP_TOKEN,
        ] {
            assert!(setting(name).is_some_and(EnvVar::is_secret), "{name} must be secret");
        }
    }
}
