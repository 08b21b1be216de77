//! The rig every webhook test stands on: the fake GitLab with its standard world, one or more
//! real `serve` instances on loopback (the real router, configured from settings as the binary
//! does), and helpers to deliver payloads the way GitLab does and read what GitLab recorded.

use std::collections::BTreeMap;
use std::time::Duration;

use copilot_runner::cli::serve::configure;
use copilot_runner::config::{Env, Flags, Settings};
use copilot_runner::gitlab::{Client, NewMergeRequest};
use copilot_runner::webhook::Config;
use copilot_runner::webhook::server::{self, Service};
use copilot_runner_testkit::fake_gitlab::{AGENT, FakeGitLab};
use copilot_runner_testkit::offline;
use copilot_runner_testkit::standalone::World;
use secrecy::SecretString;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::sync::oneshot;

pub(crate) const SECRET: &str = "whsec-test-0123456789abcdef";
pub(crate) const AGENT_TRIGGER_TOKEN: &str = "glptt-fake-agent";
pub(crate) const WIDGETS: &str = "acme/widgets";
pub(crate) const AGENT_PROJECT: &str = "acme/copilot-agent";

/// Every test finishes well within this, or fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// One running `serve` instance.
#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) url: String,
    /// Dropping the sender stops the instance.
    _shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Instance {
    /// Starts an instance against `fake`, configured through [`Settings`] like the binary.
    pub(crate) async fn start(fake: &FakeGitLab) -> Self {
        let (shutdown, stopped) = oneshot::channel::<()>();
        Self::start_until(fake, async move {
            let _ = stopped.await;
        })
        .await
        .with_sender(shutdown)
    }

    /// Starts an instance with `extra` settings on top of the standard ones, and `adjust` applied
    /// to what is not a setting (such as the duplicate filter's capacity).
    pub(crate) async fn start_with(
        fake: &FakeGitLab,
        extra: &[(&str, String)],
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let (shutdown, stopped) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let (mut config, gitlab) = configure(&settings_with(fake, extra)).await.expect("serve accepts the settings");
        adjust(&mut config);
        Self::serve(config, gitlab, stopped).await.with_sender(shutdown)
    }

    /// Starts an instance that stops when `shutdown` completes.
    pub(crate) async fn start_until(fake: &FakeGitLab, shutdown: impl Future<Output = ()> + Send + 'static) -> Self {
        let (config, gitlab) = configure(&settings(fake)).await.expect("serve accepts the settings");
        Self::serve(config, gitlab, shutdown).await
    }

    async fn serve(config: Config, gitlab: Client, shutdown: impl Future<Output = ()> + Send + 'static) -> Self {
        let service = Service::new(config, gitlab);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(server::serve(listener, service, shutdown));
        Self { url, _shutdown: None, task }
    }

    fn with_sender(mut self, shutdown: oneshot::Sender<()>) -> Self {
        self._shutdown = Some(shutdown);
        self
    }

    pub(crate) async fn join(self) -> std::io::Result<()> {
        tokio::time::timeout(DEADLINE, self.task).await.expect("server stops in time").expect("server task")
    }
}

/// What payloads and `serve`'s settings need to know of a fake GitLab: the fake in the test
/// process, or the world a standalone `fake-gitlab` printed (both from the standard seed).
pub(crate) trait Directory {
    /// The base URL (`GITLAB_API_BASE`).
    fn base_url(&self) -> String;
    fn token_of(&self, username: &str) -> String;
    fn id_of_user(&self, username: &str) -> u64;
    fn name_of_user(&self, username: &str) -> String;
    /// A project's id, by `namespace/path`.
    fn id_of_project(&self, path: &str) -> u64;
}

impl Directory for FakeGitLab {
    fn base_url(&self) -> String {
        self.url()
    }

    fn token_of(&self, username: &str) -> String {
        self.token(username)
    }

    fn id_of_user(&self, username: &str) -> u64 {
        self.user_id(username)
    }

    fn name_of_user(&self, username: &str) -> String {
        self.user(username).name
    }

    fn id_of_project(&self, path: &str) -> u64 {
        self.project_id(path)
    }
}

impl Directory for World {
    fn base_url(&self) -> String {
        self.url().to_owned()
    }

    fn token_of(&self, username: &str) -> String {
        self.token(username)
    }

    fn id_of_user(&self, username: &str) -> u64 {
        self.user_id(username)
    }

    fn name_of_user(&self, username: &str) -> String {
        self.user_name(username)
    }

    fn id_of_project(&self, path: &str) -> u64 {
        self.project_id(path)
    }
}

/// The environment `serve` runs with in production, pointed at the fake.
pub(crate) fn settings(fake: &FakeGitLab) -> Settings {
    settings_with(fake, &[])
}

/// [`settings`] with `extra` variables added (or replacing standard ones).
pub(crate) fn settings_with(fake: &FakeGitLab, extra: &[(&str, String)]) -> Settings {
    let env =
        Env::from_pairs(standard_env(fake).into_iter().chain(extra.iter().map(|(name, value)| (*name, value.clone()))));
    Settings::resolve(&env, &Flags::default()).expect("valid settings")
}

/// The standard variables, as `(name, value)`.
pub(crate) fn standard_env(fake: &impl Directory) -> Vec<(&'static str, String)> {
    vec![
        ("GITLAB_API_BASE", fake.base_url()),
        ("GITLAB_TOKEN", fake.token_of(AGENT)),
        ("WEBHOOK_SECRET_TOKEN", SECRET.to_owned()),
        ("PIPELINE_PROJECT_ID", fake.id_of_project(AGENT_PROJECT).to_string()),
        ("PIPELINE_TRIGGER_TOKEN", AGENT_TRIGGER_TOKEN.to_owned()),
        ("PIPELINE_REF", "main".to_owned()),
        ("COPILOT_AGENT_USERNAME", AGENT.to_owned()),
    ]
}

/// A GitLab client acting as `username` (to create the notes and MRs that events are about).
pub(crate) fn gitlab_as(fake: &FakeGitLab, username: &str) -> Client {
    Client::new(&fake.api_url(), &SecretString::from(fake.token(username))).expect("client")
}

/// The fake, and one instance of the service.
pub(crate) async fn rig() -> (FakeGitLab, Instance) {
    let fake = FakeGitLab::start().await.expect("fake GitLab starts");
    let instance = Instance::start(&fake).await;
    (fake, instance)
}

/// An HTTP client for delivering webhooks.
pub(crate) fn http() -> reqwest::Client {
    // Already installed when this process built a GitLab client; not when `serve` is a child.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(DEADLINE).build().expect("http client")
}

/// A delivery as GitLab sends it.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) hook: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) token: Option<String>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) event_uuid: Option<String>,
    /// Further headers, such as a signature.
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Delivery {
    pub(crate) fn new(hook: &'static str, payload: &Value) -> Self {
        Self {
            hook,
            body: payload.to_string().into_bytes(),
            token: Some(SECRET.to_owned()),
            idempotency_key: Some(unique_id()),
            event_uuid: Some(unique_id()),
            headers: Vec::new(),
        }
    }

    pub(crate) fn raw(hook: &'static str, body: Vec<u8>) -> Self {
        Self { body, ..Self::new(hook, &Value::Null) }
    }

    pub(crate) fn with_token(mut self, token: Option<&str>) -> Self {
        self.token = token.map(str::to_owned);
        self
    }

    /// Signs the delivery as GitLab's signed webhooks do (Standard Webhooks): `webhook-id`
    /// (GitLab sends the `Idempotency-Key`), `webhook-timestamp` and
    /// `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub(crate) fn signed(mut self, key: &[u8], timestamp: i64) -> Self {
        use base64::Engine as _;
        let id = self.idempotency_key.clone().unwrap_or_else(unique_id);
        let message = [id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", &self.body].concat();
        let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), &message);
        let signature = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag));
        self.headers.retain(|(name, _)| !name.starts_with("webhook-"));
        self.headers.extend([
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ]);
        self
    }
}

fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// What the service answered.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Answer {
    pub(crate) fn outcome(&self) -> &str {
        self.body["status"].as_str().unwrap_or("")
    }
}

pub(crate) async fn deliver(url: &str, delivery: &Delivery) -> Answer {
    deliver_with(&http(), url, delivery).await
}

/// [`deliver`] through `client`, so that many deliveries share its connections.
pub(crate) async fn deliver_with(client: &reqwest::Client, url: &str, delivery: &Delivery) -> Answer {
    try_deliver(client, url, delivery).await.expect("the service answers")
}

/// Delivers, or says why no answer came (the service died, say).
pub(crate) async fn try_deliver(client: &reqwest::Client, url: &str, delivery: &Delivery) -> reqwest::Result<Answer> {
    let mut request = client
        .post(format!("{url}/webhook"))
        .header("Content-Type", "application/json")
        .header("User-Agent", "GitLab/18.6.0")
        .header("X-Gitlab-Event", delivery.hook)
        .header("X-Gitlab-Instance", "https://gitlab.example.com")
        .body(delivery.body.clone());
    if let Some(token) = &delivery.token {
        request = request.header("X-Gitlab-Token", token);
    }
    if let Some(key) = &delivery.idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    if let Some(uuid) = &delivery.event_uuid {
        request = request.header("X-Gitlab-Event-UUID", uuid);
    }
    for (name, value) in &delivery.headers {
        request = request.header(*name, value);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Answer { status, body })
}

/// The trigger contract of every trigger call the fake GitLab accepted, in order, named by the
/// variables the job reads: sent as inputs (their lowercase names) or, with
/// `PIPELINE_TRIGGER_WITH=variables`, as variables, never both. Each must have come to the agent
/// project on `PIPELINE_REF`.
pub(crate) fn triggered(fake: &FakeGitLab) -> Vec<BTreeMap<String, String>> {
    let agent_project = fake.project_id(AGENT_PROJECT);
    fake.trigger_calls()
        .into_iter()
        .map(|call| {
            assert_eq!(
                (call.project_id, call.git_ref.as_str()),
                (agent_project, "main"),
                "the agent project's pipeline"
            );
            assert!(call.inputs.is_empty() || call.variables.is_empty(), "inputs and variables at once: {call:?}");
            let inputs = call.inputs.into_iter().map(|(name, value)| (name.to_ascii_uppercase(), value));
            inputs.chain(call.variables).collect()
        })
        .collect()
}

/// The expected variables, for `assert_eq!` against [`triggered`].
pub(crate) fn vars(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(key, value)| ((*key).to_owned(), value.clone())).collect()
}

/// The awards on a note, as `(name, username)`.
pub(crate) fn note_awards(fake: &FakeGitLab, note_id: u64) -> Vec<(String, String)> {
    fake.note_awards(note_id)
}

/// Creates a note as `author` on issue `iid` of `acme/widgets` and returns its id.
pub(crate) fn issue_note(fake: &FakeGitLab, author: &str, iid: u64, body: &str) -> u64 {
    fake.add_issue_note(WIDGETS, iid, author, body)
}

/// Opens an MR from a new branch as `author` and returns its iid.
pub(crate) async fn merge_request(fake: &FakeGitLab, author: &str, branch: &str) -> u64 {
    let client = gitlab_as(fake, author);
    let project = fake.project_id(WIDGETS);
    client.create_branch(project, branch, "main").await.expect("branch created");
    let new = NewMergeRequest {
        source_branch: branch.to_owned(),
        target_branch: "main".to_owned(),
        title: "Tidy up".to_owned(),
        description: None,
        draft: false,
        assignee_ids: Vec::new(),
        reviewer_ids: Vec::new(),
        labels: Vec::new(),
        remove_source_branch: false,
    };
    client.create_merge_request(project, &new).await.expect("MR created").iid
}

/// Creates a note as `author` on MR `iid` of `acme/widgets` and returns its id.
pub(crate) fn mr_note(fake: &FakeGitLab, author: &str, iid: u64, body: &str) -> u64 {
    fake.add_mr_note(WIDGETS, iid, author, body)
}

/// `copilot-runner serve`, the built binary, as a child process on a free loopback port, with
/// the standard settings for `fake` and `extra` ones; killed when dropped.
#[derive(Debug)]
pub(crate) struct ServeProcess {
    child: tokio::process::Child,
    pub(crate) url: String,
    _home: tempfile::TempDir,
}

impl ServeProcess {
    pub(crate) async fn start(fake: &impl Directory) -> Self {
        Self::start_with(fake, &[]).await
    }

    pub(crate) async fn start_with(fake: &impl Directory, extra: &[(&str, String)]) -> Self {
        let home = tempfile::tempdir().expect("home");
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_copilot-runner"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home.path())
            .envs(offline::loopback_only([]))
            .envs(standard_env(fake))
            .envs(extra.iter().map(|(name, value)| (*name, value)))
            .current_dir(home.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start copilot-runner serve");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let listening = async {
            while let Some(line) = lines.next_line().await.expect("read the log") {
                if line.contains("serving GitLab webhooks") {
                    let address = line.split_whitespace().find_map(|word| word.strip_prefix("listen="));
                    return address.expect("the log names the address").trim_matches('"').to_owned();
                }
            }
            panic!("serve ended before listening");
        };
        let address = tokio::time::timeout(DEADLINE, listening).await.expect("serve listens in time");
        // Keep draining the log so that the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, url: format!("http://{address}"), _home: home }
    }

    pub(crate) async fn kill(mut self) {
        self.child.kill().await.expect("SIGKILL serve");
    }
}

/// A hook's signing token as GitLab shows it and `serve` takes it (`WEBHOOK_SIGNING_SECRET`):
/// `whsec_` and the key in base64.
pub(crate) fn signing_secret(key: &[u8]) -> String {
    use base64::Engine as _;
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key))
}

/// Now in Unix seconds, as `webhook-timestamp` carries it.
pub(crate) fn now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970");
    i64::try_from(since.as_secs()).expect("fits")
}

/// Runs the built binary's `serve` with only `env` (and a bare `PATH` and `HOME`), for settings
/// it must refuse before listening, and returns how it ended.
pub(crate) fn serve_that_exits(env: &[(&str, &str)]) -> std::process::Output {
    let home = tempfile::tempdir().expect("home");
    std::process::Command::new(env!("CARGO_BIN_EXE_copilot-runner"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .envs(offline::loopback_only(env.iter().copied()))
        .envs(env.iter().copied())
        .current_dir(home.path())
        .output()
        .expect("run copilot-runner")
}
