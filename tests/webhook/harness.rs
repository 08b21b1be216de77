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
use copilot_runner_testkit::fake_gitlab::FakeGitLab;
use copilot_runner_testkit::offline;
use secrecy::SecretString;
use tokio::sync::oneshot;

pub(crate) use copilot_runner_testkit::webhook::delivery::{Answer, Delivery, try_deliver};
pub(crate) use copilot_runner_testkit::webhook::serve::ServeProcess;
pub(crate) use copilot_runner_testkit::webhook::{AGENT_PROJECT, Directory, SECRET, WIDGETS, standard_env};

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

/// `copilot-runner serve`, the built binary, as a child process on a free loopback port, with
/// the standard settings for `fake` and `extra` ones; killed when dropped.
pub(crate) async fn serve_process(fake: &impl Directory, extra: &[(&str, String)]) -> ServeProcess {
    ServeProcess::start(std::path::Path::new(env!("CARGO_BIN_EXE_copilot-runner")), fake, extra).await
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

pub(crate) async fn deliver(url: &str, delivery: &Delivery) -> Answer {
    deliver_with(&http(), url, delivery).await
}

/// [`deliver`] through `client`, so that many deliveries share its connections.
pub(crate) async fn deliver_with(client: &reqwest::Client, url: &str, delivery: &Delivery) -> Answer {
    try_deliver(client, url, delivery).await.expect("the service answers")
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

/// Minutes pass before the `step`-th event on an issue or MR: the awards so far grow an hour older
/// than it, and the event reports a time of its own (`updated_at`), later than the earlier steps'
/// (a test's steps run within one second, and GitLab's times are to the second).
pub(crate) fn later(fake: &FakeGitLab, mut payload: serde_json::Value, step: u64) -> serde_json::Value {
    use copilot_runner_testkit::webhook::payloads::{Form, changed_before};
    fake.age(Duration::from_secs(3600));
    let at = changed_before(Duration::from_secs(1000_u64.saturating_sub(step)), Form::Iso);
    payload["object_attributes"]["updated_at"] = serde_json::Value::String(at);
    payload
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
