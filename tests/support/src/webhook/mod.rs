//! What webhook tests and benchmarks share about `copilot-runner serve`: the fake GitLab's
//! world as deliveries and settings see it ([`Directory`]), the standard settings, payloads built
//! from GitLab's fixtures ([`payloads`]), deliveries sent the way GitLab sends them
//! ([`delivery`]), the built binary as a child process ([`serve`]) and a mixed burst of
//! deliveries against several replicas ([`burst`]).

pub mod burst;
pub mod delivery;
pub mod payloads;
pub mod serve;

use crate::fake_gitlab::{AGENT, FakeGitLab};
use crate::standalone::World;

/// The hook's secret token (`WEBHOOK_SECRET_TOKEN`) every delivery carries.
pub const SECRET: &str = "whsec-test-0123456789abcdef";
pub const AGENT_TRIGGER_TOKEN: &str = "glptt-fake-agent";
pub const WIDGETS: &str = "acme/widgets";
pub const AGENT_PROJECT: &str = "acme/copilot-agent";

/// What payloads and `serve`'s settings need to know of a fake GitLab: the fake in the test
/// process, or the world a standalone `fake-gitlab` printed (both from the standard seed).
pub trait Directory {
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

/// The standard variables of `serve` pointed at `fake`, as `(name, value)`.
pub fn standard_env(fake: &impl Directory) -> Vec<(&'static str, String)> {
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
