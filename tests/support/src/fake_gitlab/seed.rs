//! What a fresh fake contains: users with tokens, projects with members, files, issues and
//! their notes, trigger tokens and CI scripts. [`Seed::standard`] is the world most tests start from; the
//! `fake-gitlab` binary reads the same structure from JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ci::CiScript;
use super::model::access;

/// The agent's username in the standard seed.
pub const AGENT: &str = "copilot-agent";

/// The person who runs `setup` in [`Seed::empty_instance`]: Owner of the group `acme`.
pub const SETUP_USER: &str = "olivia";

/// The pipeline inputs of the agent project's CI configuration: the trigger contract.
pub const AGENT_PROJECT_INPUTS: [&str; 8] = [
    "trigger_type",
    "target_project_id",
    "target_issue_iid",
    "target_mr_iid",
    "target_note_id",
    "target_pipeline_id",
    "source_branch",
    "target_branch",
];

/// The token the fake issues for a seeded user without an explicit one.
pub fn default_token(username: &str) -> String {
    format!("glpat-fake-{username}")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserSeed {
    pub username: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Defaults to [`default_token`].
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub bot: bool,
}

impl UserSeed {
    pub fn new(username: &str) -> Self {
        Self { username: username.to_owned(), name: None, token: None, bot: false }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueSeed {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub author: String,
    #[serde(default)]
    pub assignees: Vec<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// A confidential issue (`confidential: true` in the issues API).
    #[serde(default)]
    pub confidential: bool,
}

/// A note on one of the project's seeded issues, e.g. the system note GitLab records when a
/// person assigns an issue: `{"issue": 1, "author": "alice", "body": "assigned to @copilot-agent",
/// "system": true}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoteSeed {
    /// The issue's iid in this project.
    pub issue: u64,
    pub author: String,
    pub body: String,
    /// A system note (an action GitLab records, attributed to `author`) rather than a comment.
    #[serde(default)]
    pub system: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TriggerSeed {
    pub token: String,
    /// The username pipelines created with this token run as.
    pub owner: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectSeed {
    /// `namespace/path`.
    pub path: String,
    #[serde(default = "default_branch")]
    pub default_branch: String,
    /// username → access level (10 guest, 20 reporter, 30 developer, 40 maintainer, 50 owner).
    #[serde(default)]
    pub members: BTreeMap<String, u32>,
    /// path → content of the initial commit.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub issues: Vec<IssueSeed>,
    /// Notes on `issues`, oldest first.
    #[serde(default)]
    pub notes: Vec<NoteSeed>,
    #[serde(default)]
    pub triggers: Vec<TriggerSeed>,
    #[serde(default)]
    pub ci: Option<CiScript>,
    /// "Minimum role to use pipeline variables"; GitLab's default for an existing project.
    #[serde(default = "default_variables_role")]
    pub pipeline_variables_minimum_role: String,
}

fn default_variables_role() -> String {
    "developer".to_owned()
}

fn default_branch() -> String {
    "main".to_owned()
}

impl ProjectSeed {
    pub fn new(path: &str) -> Self {
        Self {
            path: path.to_owned(),
            default_branch: default_branch(),
            members: BTreeMap::new(),
            files: BTreeMap::from([("README.md".to_owned(), format!("# {path}\n"))]),
            issues: Vec::new(),
            notes: Vec::new(),
            triggers: Vec::new(),
            ci: None,
            pipeline_variables_minimum_role: default_variables_role(),
        }
    }
}

/// A group; its projects are the seeded projects whose path starts with its `path`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSeed {
    /// The full path, e.g. `acme` or `acme/tools`.
    pub path: String,
    /// username → access level on the group (inherited by its projects and subgroups).
    #[serde(default)]
    pub members: BTreeMap<String, u32>,
    /// Whether the instance's tier offers group webhooks (Premium and up).
    #[serde(default)]
    pub webhooks_licensed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seed {
    pub users: Vec<UserSeed>,
    /// Groups, parents before their subgroups.
    #[serde(default)]
    pub groups: Vec<GroupSeed>,
    pub projects: Vec<ProjectSeed>,
}

const LIB_RS: &str = "//! Widgets.\n\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\npub fn sub(a: i32, b: i32) -> i32 {\n    a - b\n}\n\npub fn mul(a: i32, b: i32) -> i32 {\n    a * b\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(1, 2), 3);\n    }\n}\n";

const CARGO_TOML: &str = "[package]\nname = \"widgets\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n";

/// The agent project's `.gitlab-ci.yml`: its `spec:inputs` header declares [`AGENT_PROJECT_INPUTS`].
/// The agent project's `workflow:name` (the example's), which names a triggered pipeline by its
/// whole trigger contract.
pub const AGENT_PIPELINE_NAME: &str =
    "copilot $TRIGGER_TYPE $TARGET_PROJECT_ID/$TARGET_ISSUE_IID/$TARGET_MR_IID/$TARGET_NOTE_ID/$TARGET_PIPELINE_ID";

const AGENT_PROJECT_CI: &str = "spec:\n  inputs:\n    trigger_type: {default: ''}\n    target_project_id: {default: ''}\n    target_issue_iid: {default: ''}\n    target_mr_iid: {default: ''}\n    target_note_id: {default: ''}\n    target_pipeline_id: {default: ''}\n    source_branch: {default: ''}\n    target_branch: {default: ''}\n---\ncopilot:\n  script: copilot-runner run\n";

const GITLAB_CI: &str = "stages: [build, test]\n\nbuild:\n  stage: build\n  script: cargo build\n\ntest:\n  stage: test\n  script: cargo test\n";

impl Seed {
    /// The standard world:
    /// - users `copilot-agent` (the agent), `alice` and `dave` (developers), `maria`
    ///   (maintainer), `gus` (guest), `renovate-bot` (a bot, developer), `outsider` (no
    ///   membership); tokens are [`default_token`] of the username;
    /// - the group `acme` both projects live in (no members of its own);
    /// - `acme/widgets` (a small Rust crate, `main`), issue #1 by alice assigned to the agent,
    ///   trigger token `glptt-fake-widgets` owned by maria;
    /// - `acme/copilot-agent` (the agent project the webhook triggers), trigger token
    ///   `glptt-fake-agent` owned by the agent, which is its maintainer; its CI configuration
    ///   declares the trigger contract as `spec:inputs`, its `workflow:rules` filter out a
    ///   trigger without `TRIGGER_TYPE`, and it refuses pipeline variables (`no_one_allowed`).
    pub fn standard() -> Self {
        let users = vec![
            UserSeed { name: Some("Copilot Agent".into()), ..UserSeed::new(AGENT) },
            UserSeed { name: Some("Alice Developer".into()), ..UserSeed::new("alice") },
            UserSeed { name: Some("Dave Developer".into()), ..UserSeed::new("dave") },
            UserSeed { name: Some("Maria Maintainer".into()), ..UserSeed::new("maria") },
            UserSeed { name: Some("Gus Guest".into()), ..UserSeed::new("gus") },
            UserSeed { name: Some("Renovate Bot".into()), bot: true, ..UserSeed::new("renovate-bot") },
            UserSeed { name: Some("Olga Outsider".into()), ..UserSeed::new("outsider") },
        ];
        let widgets = ProjectSeed {
            members: BTreeMap::from([
                (AGENT.to_owned(), access::DEVELOPER),
                ("alice".to_owned(), access::DEVELOPER),
                ("dave".to_owned(), access::DEVELOPER),
                ("maria".to_owned(), access::MAINTAINER),
                ("gus".to_owned(), access::GUEST),
                ("renovate-bot".to_owned(), access::DEVELOPER),
            ]),
            files: BTreeMap::from([
                ("README.md".to_owned(), "# widgets\n\nSmall arithmetic helpers.\n".to_owned()),
                ("Cargo.toml".to_owned(), CARGO_TOML.to_owned()),
                ("src/lib.rs".to_owned(), LIB_RS.to_owned()),
                (".gitlab-ci.yml".to_owned(), GITLAB_CI.to_owned()),
            ]),
            issues: vec![IssueSeed {
                title: "Add a greeting function".to_owned(),
                description: "Please add `greet(name)` returning `Hello, <name>!` with a test.".to_owned(),
                author: "alice".to_owned(),
                assignees: vec![AGENT.to_owned()],
                labels: vec!["feature".to_owned()],
                confidential: false,
            }],
            triggers: vec![TriggerSeed { token: "glptt-fake-widgets".to_owned(), owner: "maria".to_owned() }],
            ..ProjectSeed::new("acme/widgets")
        };
        let agent_project = ProjectSeed {
            members: BTreeMap::from([(AGENT.to_owned(), access::MAINTAINER), ("maria".to_owned(), access::OWNER)]),
            files: BTreeMap::from([(".gitlab-ci.yml".to_owned(), AGENT_PROJECT_CI.to_owned())]),
            triggers: vec![TriggerSeed { token: "glptt-fake-agent".to_owned(), owner: AGENT.to_owned() }],
            // Triggers pass inputs, so nobody needs pipeline variables.
            pipeline_variables_minimum_role: "no_one_allowed".to_owned(),
            ci: Some(CiScript {
                jobs: vec![super::ci::JobSpec::new("copilot", "run")],
                inputs: Some(AGENT_PROJECT_INPUTS.iter().map(|name| (*name).to_owned()).collect()),
                workflow_name: Some(AGENT_PIPELINE_NAME.to_owned()),
                // The template's `workflow:rules`: only a trigger with a `TRIGGER_TYPE` runs.
                workflow_requires: Some("TRIGGER_TYPE".to_owned()),
                ..CiScript::default()
            }),
            ..ProjectSeed::new("acme/copilot-agent")
        };
        Self { users, groups: Vec::new(), projects: vec![widgets, agent_project] }
    }

    /// An instance nobody has set up copilot-runner on yet, as `setup` finds it:
    /// - users `olivia` (Owner of the group `acme`: the person running `setup`), `dave` (a
    ///   Developer of `acme`), and `copilot-agent` (the agent user, member of nothing yet);
    /// - the group `acme` (Premium: group webhooks available) with the projects `acme/widgets`
    ///   and `acme/gadgets`;
    /// - no agent project.
    pub fn empty_instance() -> Self {
        let users = vec![
            UserSeed { name: Some("Olivia Owner".into()), ..UserSeed::new(SETUP_USER) },
            UserSeed { name: Some("Dave Developer".into()), ..UserSeed::new("dave") },
            UserSeed { name: Some("Copilot Agent".into()), ..UserSeed::new(AGENT) },
        ];
        let acme = GroupSeed {
            path: "acme".to_owned(),
            members: BTreeMap::from([(SETUP_USER.to_owned(), access::OWNER), ("dave".to_owned(), access::DEVELOPER)]),
            webhooks_licensed: true,
        };
        let projects = vec![
            ProjectSeed {
                files: BTreeMap::from([
                    ("README.md".to_owned(), "# widgets\n".to_owned()),
                    ("Cargo.toml".to_owned(), CARGO_TOML.to_owned()),
                    ("src/lib.rs".to_owned(), LIB_RS.to_owned()),
                ]),
                ..ProjectSeed::new("acme/widgets")
            },
            ProjectSeed::new("acme/gadgets"),
        ];
        Self { users, groups: vec![acme], projects }
    }
}
