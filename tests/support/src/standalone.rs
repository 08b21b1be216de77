//! The rig's servers as programs of their own (`fake-gitlab`, `mock-model`), for tests that run
//! copilot-runner outside the test process: a pipeline run by gitlab-ci-local, a job inside the
//! container image. Also the world those tests share: issue #1 of `acme/widgets` assigned to the
//! agent, and a model script whose job adds one file. What the fake received is read from its
//! request log over HTTP ([`World::requests_to`]).
#![expect(clippy::disallowed_methods, reason = "the rig starts its own programs and cargo")]

use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::ci_job::{AGENT_PROJECT, add_one_file_script};
use crate::fake_gitlab::{AGENT, NoteSeed, REQUEST_LOG, RecordedRequest, Seed};

/// The project whose issue the agent is assigned in [`assigned_issue_seed_file`].
pub const TARGET: &str = "acme/widgets";

/// A testkit server run as its own program: started with its ready line read, stopped with
/// SIGINT on drop so it removes what it created.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// The first line the server printed: the fake's world as JSON, the mock model's URL.
    pub ready: String,
}

impl Server {
    /// Starts `program` with `args` and waits up to a minute for its ready line.
    pub fn start(program: &Path, args: &[&OsStr]) -> Self {
        let name = program.display();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("{name} starts: {error}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = sender.send(read);
        });
        let ready =
            receiver.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("{name} is ready within 60s"));
        let ready = ready.unwrap_or_else(|error| panic!("reading {name}'s ready line: {error}"));
        let server = Self { child, ready: ready.trim().to_owned() };
        assert!(!server.ready.is_empty(), "{name} exited before printing its ready line");
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let interrupted = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .is_ok_and(|status| status.success());
        if interrupted {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `fake-gitlab` printed when it became ready: its URLs, projects and users.
#[derive(Debug)]
pub struct World(Value);

impl World {
    /// The world of a started `fake-gitlab` server.
    pub fn of(server: &Server) -> Self {
        Self(serde_json::from_str(&server.ready).expect("fake-gitlab prints its world as JSON"))
    }

    /// The base URL (what `GITLAB_API_BASE` is set to).
    pub fn url(&self) -> &str {
        self.0["url"].as_str().expect("url")
    }

    /// The REST API's root (`…/api/v4`).
    pub fn api_url(&self) -> &str {
        self.0["api_url"].as_str().expect("api_url")
    }

    /// The id of [`TARGET`].
    pub fn target_project_id(&self) -> u64 {
        self.project_id(TARGET)
    }

    /// A seeded user's token.
    pub fn token(&self, user: &str) -> String {
        self.0["users"][user]["token"].as_str().expect("a seeded user's token").to_owned()
    }

    /// A seeded user's id.
    pub fn user_id(&self, user: &str) -> u64 {
        self.0["users"][user]["id"].as_u64().expect("a seeded user's id")
    }

    /// A seeded user's display name.
    pub fn user_name(&self, user: &str) -> String {
        self.0["users"][user]["name"].as_str().expect("a seeded user's name").to_owned()
    }

    /// The id of a seeded project, by `namespace/path`.
    pub fn project_id(&self, path: &str) -> u64 {
        self.0["projects"][path]["id"].as_u64().unwrap_or_else(|| panic!("the fake has no project `{path}`"))
    }

    /// The requests the fake received so far that match `route` (`"METHOD /pattern"` as in
    /// [`crate::FakeGitLab::requests_to`]), read from its request log.
    pub fn requests_to(&self, route: &str) -> Vec<RecordedRequest> {
        let url = format!("{}{REQUEST_LOG}", self.url());
        let (status, log) = api_send(reqwest::Method::GET, &url, None, None);
        assert_eq!(status, 200, "the fake serves its request log: {log}");
        let log: Vec<RecordedRequest> = serde_json::from_value(log).expect("the request log's shape");
        log.into_iter().filter(|request| request.matches(route)).collect()
    }

    /// The id of the agent project ([`AGENT_PROJECT`]).
    pub fn agent_project_id(&self) -> u64 {
        self.project_id(AGENT_PROJECT)
    }

    /// Sets the agent project's "minimum role to use pipeline variables" as its owner (maria)
    /// does in its CI/CD settings.
    pub fn set_pipeline_variables_role(&self, role: &str) {
        let url = format!("{}/projects/{}", self.api_url(), self.agent_project_id());
        let form = [("ci_pipeline_variables_minimum_override_role".to_owned(), role.to_owned())];
        let (status, project) = api_send(reqwest::Method::PUT, &url, Some(&self.token("maria")), Some(&form));
        assert_eq!(status, 200, "the setting was not changed: {project}");
    }

    /// The agent project's trigger token.
    pub fn agent_trigger_token(&self) -> String {
        self.0["projects"][AGENT_PROJECT]["trigger_tokens"][0]
            .as_str()
            .expect("the agent project's trigger token")
            .to_owned()
    }

    /// Starts the agent project's pipeline on `main` through the trigger API with its trigger
    /// token and the given form `fields` (`inputs[name]`, `variables[NAME]`); returns the
    /// pipeline's id. The variables it was started with are what `run` checks.
    pub fn trigger_agent_pipeline(&self, fields: &[(String, String)]) -> u64 {
        let mut form = vec![("token".to_owned(), self.agent_trigger_token()), ("ref".to_owned(), "main".to_owned())];
        form.extend(fields.iter().cloned());
        let url = format!("{}/projects/{}/trigger/pipeline", self.api_url(), self.agent_project_id());
        let (status, pipeline) = api_send(reqwest::Method::POST, &url, None, Some(&form));
        assert_eq!(status, 201, "the trigger API started no pipeline: {pipeline}");
        pipeline["id"].as_u64().expect("the pipeline's id")
    }
}

/// The world of an issue job, each server its own program: the fake GitLab with issue #1 of
/// [`TARGET`] assigned to the agent, and the mock model whose job adds `greeting.txt`. Dropping
/// it stops the model, then the fake.
#[derive(Debug)]
pub struct IssueJobServers {
    pub model: Server,
    pub gitlab: Server,
    pub world: World,
}

impl IssueJobServers {
    /// Starts both servers with their files in `scratch`; `bin` finds a testkit binary, and
    /// `work` is the job's work folder as the job sees it (the model's tool calls name it).
    pub fn start(bin: impl Fn(&str) -> PathBuf, scratch: &Path, work: &Path) -> Self {
        let gitlab =
            Server::start(&bin("fake-gitlab"), &[OsStr::new("--seed"), assigned_issue_seed_file(scratch).as_os_str()]);
        let world = World::of(&gitlab);
        let script = greeting_script_file(scratch, work, world.target_project_id());
        let model = Server::start(&bin("mock-model"), &[script.as_os_str()]);
        Self { model, gitlab, world }
    }

    /// The job's effect seen through the fake's REST API: exactly one MR, a Draft from the
    /// agent's branch that closes the issue. `log` is the job's output, for failure messages.
    pub fn only_draft_mr(&self, log: &str) -> Value {
        let (api, project_id) = (self.world.api_url(), self.world.target_project_id());
        let (status, mrs) =
            api_get(&format!("{api}/projects/{project_id}/merge_requests?state=all"), &self.world.token("maria"));
        assert_eq!(status, 200, "{mrs}");
        let mrs = mrs.as_array().expect("a list of merge requests");
        assert_eq!(mrs.len(), 1, "exactly one MR: {mrs:#?}\n{log}");
        let mr = mrs[0].clone();
        assert_eq!(mr["source_branch"], "copilot/issue-1");
        assert_eq!(mr["draft"], true, "{mr}");
        assert!(mr["description"].as_str().is_some_and(|text| text.contains("Closes #1")), "{mr}");
        mr
    }
}

/// `GET` on a standalone fake's REST API as `token`: the status and the JSON body (`null` when
/// the body is not JSON).
pub fn api_get(url: &str, token: &str) -> (u16, Value) {
    api_send(reqwest::Method::GET, url, Some(token), None)
}

/// One request to a standalone fake's REST API, as `token` when given, with `form` fields when
/// given: the status and the JSON body (`null` when the body is not JSON).
fn api_send(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    form: Option<&[(String, String)]>,
) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    // Whichever caller came first installed it; the error only says one is there already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    runtime.block_on(async {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("an HTTP client");
        let mut request = client.request(method, url);
        if let Some(token) = token {
            request = request.header("PRIVATE-TOKEN", token);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request.send().await.expect("the fake GitLab answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

/// [`testkit_bin`] for the test crate it is written in: the testkit's binary `$name` (`"mcp-server"`,
/// `"fake-gitlab"`, …), built next to that crate's `copilot-runner`.
#[macro_export]
macro_rules! testkit_bin {
    ($name:expr) => {
        $crate::standalone::testkit_bin(
            ::std::path::Path::new(env!("CARGO")),
            ::std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
            ::std::path::Path::new(env!("CARGO_BIN_EXE_copilot-runner")),
            $name,
        )
    };
}

/// A binary of the testkit, built by `cargo` next to `binary_under_test` (same target folder,
/// same profile): `cargo nextest run --workspace` has built it already, a narrower run builds
/// it here, once per test process.
pub fn testkit_bin(cargo: &Path, repo: &Path, binary_under_test: &Path, name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let profile_dir = binary_under_test.parent().expect("the binary's folder");
    BUILT.get_or_init(|| {
        let profile = match profile_dir.file_name().and_then(OsStr::to_str) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let target_dir = profile_dir.parent().expect("the target folder");
        let output = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--locked",
                "--package",
                "copilot-runner-testkit",
                "--bins",
                "--profile",
                profile,
            ])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(repo)
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "building the testkit's servers failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
    let path = profile_dir.join(name);
    assert!(path.is_file(), "{} is missing after building the testkit", path.display());
    path
}

/// The standard world with issue #1 of [`TARGET`] assigned to the agent by alice, a Developer
/// (GitLab records the assignment as a system note by her), as a seed file for `fake-gitlab`.
pub fn assigned_issue_seed_file(dir: &Path) -> PathBuf {
    let mut seed = Seed::standard();
    let widgets = seed.projects.iter_mut().find(|project| project.path == TARGET).expect("the standard seed has it");
    assert_eq!(widgets.issues[0].assignees, vec![AGENT.to_owned()], "issue #1 is assigned to the agent");
    widgets.notes.push(NoteSeed {
        issue: 1,
        author: "alice".to_owned(),
        body: format!("assigned to @{AGENT}"),
        system: true,
    });
    let path = dir.join("seed.json");
    std::fs::write(&path, serde_json::to_string(&seed).expect("the seed serializes")).expect("test setup");
    path
}

/// The mock model's script as a file for `mock-model`: the job, working in `work` (as the job
/// sees that folder), adds `greeting.txt`.
pub fn greeting_script_file(dir: &Path, work: &Path, project_id: u64) -> PathBuf {
    let script = add_one_file_script(work, project_id, "greeting.txt", "hello\n");
    let path = dir.join("script.json");
    std::fs::write(&path, serde_json::to_string(&script).expect("the script serializes")).expect("test setup");
    path
}
