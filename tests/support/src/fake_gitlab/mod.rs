//! A stateful fake GitLab for tests: REST API v4 (the subset copilot-runner uses) and git smart
//! HTTP over real bare repositories, on `127.0.0.1:0`.
//!
//! It is an independent model of GitLab — it shares no code with the client it tests — so a
//! client that builds a wrong position, forgets pagination or retries a non-idempotent write
//! blindly fails here as it would on gitlab.com. Tests start it with [`FakeGitLab::start`],
//! point the client at [`FakeGitLab::api_url`], script pipelines and faults, and assert on
//! its state and on the request log.
//!
//! Files: `model` (state), `seed` (initial world), `api/` (REST handlers, draft notes among
//! them), `git_http` (smart HTTP through `git http-backend`), `repo` (git CLI), `diff` (diff
//! parsing, position rules), `ci` (scripted pipelines), `push` (push side effects), `delivery`
//! (webhook deliveries), `membership` (inherited roles), `faults`, `request_log`, `server`
//! (accept loop), `scripting`, `installation`, `access_and_ci` and `inspect` (the handle's
//! methods).

mod access_and_ci;
mod api;
mod ci;
mod clock;
mod delivery;
mod diff;
pub(crate) mod faults;
mod git_http;
mod inspect;
mod installation;
mod membership;
mod model;
mod params;
mod protection;
mod push;
mod render;
mod repo;
mod request_log;
mod scripting;
mod seed;
mod server;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;

pub use api::REQUEST_LOG;
pub use ci::{CiRule, CiScript, JobSpec, Outcome};
pub use diff::DiffFile;
pub use faults::{Budget, Fault, FaultKind};
pub use installation::{HookSeed, RunnerSeed};
pub use model::{
    Award, Awardable, CiVariable, DraftNote, Group, Hook, HookDelivery, HookOwner, Issue, Job, MergeRequest, MrVersion,
    Note, Noteable, Pipeline, Runner, TriggerCall, TriggerToken, User, access,
};
pub use repo::{CommitInfo, FileChange};
pub use request_log::RecordedRequest;
pub use seed::{
    AGENT, AGENT_PIPELINE_NAME, AGENT_PROJECT_INPUTS, GroupSeed, IssueSeed, NoteSeed, ProjectSeed, SETUP_USER, Seed,
    TriggerSeed, UserSeed, default_token,
};

use server::Shared;

/// A running fake GitLab. Dropping it stops the server and deletes its repositories.
#[derive(Debug)]
pub struct FakeGitLab {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    _root: tempfile::TempDir,
}

impl Drop for FakeGitLab {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGitLab {
    /// Starts with [`Seed::standard`] on a random port.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Seed::standard()).await
    }

    /// Starts with `seed` on a random port.
    pub async fn start_with(seed: Seed) -> anyhow::Result<Self> {
        Self::start_on("127.0.0.1:0".parse().context("while parsing the listen address")?, seed).await
    }

    /// Starts with `seed` on `addr` (port 0 for a random one).
    pub async fn start_on(addr: SocketAddr, seed: Seed) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await.context("while binding the fake GitLab")?;
        let addr = listener.local_addr().context("while reading the bound address")?;
        let root = tempfile::Builder::new().prefix("fake-gitlab-").tempdir().context("while creating a temp dir")?;
        let repos_root = root.path().join("repositories");
        let git_home = root.path().join("home");
        tokio::fs::create_dir_all(&git_home).await.context("while creating the git home")?;
        let mut state = model::State::default();
        state.base_url = format!("http://{addr}");
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            repos_root,
            git_home,
            push_lock: tokio::sync::Mutex::new(()),
            logged: tokio::sync::Notify::new(),
            hung_release: tokio::sync::watch::Sender::new(0),
            omit_totals: std::sync::atomic::AtomicBool::new(false),
            collapse_diffs_over: std::sync::atomic::AtomicUsize::new(0),
        });
        let fake_shared = Arc::clone(&shared);
        let router = api::router(Arc::clone(&shared));
        let server = tokio::spawn(server::serve(listener, Arc::clone(&shared), router));
        let fake = Self { shared: fake_shared, addr, server, _root: root };
        for user in &seed.users {
            fake.add_user(user.clone());
        }
        for group in seed.groups {
            fake.add_group(group)?;
        }
        for project in seed.projects {
            fake.add_project(project).await?;
        }
        Ok(fake)
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (the "GitLab host").
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes the fake render `url` as its own address in every link and clone URL, as a GitLab
    /// behind a TLS-terminating proxy does with its `external_url`.
    pub fn set_external_url(&self, url: &str) {
        self.shared.state().base_url = url.trim_end_matches('/').to_owned();
    }

    /// The REST base, `<url>/api/v4`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.url())
    }

    /// The HTTP clone URL of a project, `<url>/<namespace>/<path>.git` (no credentials in it).
    pub fn git_url(&self, project: &str) -> String {
        format!("{}/{}.git", self.url(), self.project(project).path_with_namespace)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token of a user. Panics for an unknown username (a typo in a test).
    pub fn token(&self, username: &str) -> String {
        self.user(username).token
    }

    /// The agent's token (`copilot-agent`).
    pub fn agent_token(&self) -> String {
        self.token(AGENT)
    }

    /// A user by username. Panics when unknown.
    pub fn user(&self, username: &str) -> User {
        let state = self.shared.state();
        state.user_by_name(username).cloned().unwrap_or_else(|| panic!("fake GitLab has no user `{username}`"))
    }

    pub fn user_id(&self, username: &str) -> u64 {
        self.user(username).id
    }

    /// The numeric id of a project given by `namespace/path` (or id). Panics when unknown.
    pub fn project_id(&self, project: &str) -> u64 {
        self.project(project).id
    }

    fn project(&self, project: &str) -> model::Project {
        let state = self.shared.state();
        state.project(project).cloned().unwrap_or_else(|| panic!("fake GitLab has no project `{project}`"))
    }

    fn repo(&self, project: &str) -> repo::Repo {
        self.shared.repo_for(&self.project(project).path_with_namespace)
    }

    /// A JSON summary for scripts: `url`, `api_url`, every user (`id`, `name`, `token`, `bot`) and every
    /// project (`id`, `git_url`, `default_branch`, `trigger_tokens`).
    pub fn describe(&self) -> serde_json::Value {
        let state = self.shared.state();
        let users: serde_json::Map<String, serde_json::Value> = state
            .users
            .iter()
            .map(|u| {
                (u.username.clone(), serde_json::json!({"id": u.id, "name": u.name, "token": u.token, "bot": u.bot}))
            })
            .collect();
        let projects: serde_json::Map<String, serde_json::Value> = state
            .projects
            .iter()
            .map(|p| {
                let value = serde_json::json!({
                    "id": p.id,
                    "git_url": format!("{}/{}.git", self.url(), p.path_with_namespace),
                    "default_branch": p.default_branch,
                    "trigger_tokens": p.trigger_tokens.iter().map(|t| t.token.clone()).collect::<Vec<_>>(),
                });
                (p.path_with_namespace.clone(), value)
            })
            .collect();
        serde_json::json!({"url": self.url(), "api_url": self.api_url(), "users": users, "projects": projects})
    }

    // ----- faults -----

    /// Installs a fault; the first installed rule that fires for a request wins.
    /// Returns its index for [`FakeGitLab::fault_hits`].
    pub fn inject(&self, fault: Fault) -> usize {
        let mut faults = self.shared.faults();
        faults.push(fault.into_rule());
        faults.len() - 1
    }

    /// How many calls fault `index` has faulted so far.
    pub fn fault_hits(&self, index: usize) -> u32 {
        self.shared.faults().get(index).map_or(0, |r| r.fired)
    }

    /// Lets every call held by a [`Fault::hang`] go ahead (calls that arrive later hang anew
    /// while the fault is installed).
    pub fn release_hung(&self) {
        self.shared.hung_release.send_modify(|generation| *generation += 1);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// Paginate without `x-total`, `x-total-pages` and `rel="last"`, as GitLab does for large
    /// collections: a client must follow `x-next-page`/`rel="next"` instead of counting.
    pub fn omit_pagination_totals(&self, omit: bool) {
        self.shared.omit_totals.store(omit, std::sync::atomic::Ordering::SeqCst);
    }

    /// From now on `GET …/merge_requests/:iid/diffs` sends every file diff longer than `bytes`
    /// empty, with `collapsed` and `too_large` set, as GitLab does past its diff limits
    /// (`None`: every diff in full again).
    pub fn collapse_diffs_over(&self, bytes: Option<usize>) {
        self.shared.collapse_diffs_over.store(bytes.unwrap_or(0), std::sync::atomic::Ordering::SeqCst);
    }

    // ----- request log -----

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log().clone()
    }

    /// Requests matching `"METHOD /pattern"` or `"/pattern"`; patterns as in [`Fault::on`]
    /// (`*` one segment, `**` any, `/api/v4` optional), e.g.
    /// `requests_to("POST /projects/*/merge_requests/*/discussions")`.
    pub fn requests_to(&self, route: &str) -> Vec<RecordedRequest> {
        self.shared.log().iter().filter(|r| r.matches(route)).cloned().collect()
    }

    /// Waits until a request matching `route` arrives (or has arrived), up to `timeout`.
    pub async fn wait_for_request(&self, route: &str, timeout: std::time::Duration) -> anyhow::Result<RecordedRequest> {
        let mut found = self.wait_for_requests(route, 1, timeout).await?;
        Ok(found.swap_remove(0))
    }

    /// Waits until at least `count` requests matching `route` have arrived, up to `timeout`,
    /// and returns them.
    pub async fn wait_for_requests(
        &self,
        route: &str,
        count: usize,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Vec<RecordedRequest>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.logged.notified();
            let found: Vec<RecordedRequest> = self.shared.log().iter().filter(|r| r.matches(route)).cloned().collect();
            if found.len() >= count {
                return Ok(found);
            }
            tokio::time::timeout_at(deadline, notified)
                .await
                .with_context(|| format!("{} of {count} requests to `{route}` within {timeout:?}", found.len()))?;
        }
    }

    /// Forgets the logged requests (e.g. after setup calls).
    pub fn clear_requests(&self) {
        self.shared.log().clear();
    }
}
