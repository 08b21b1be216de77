//! The handle's methods for what an installation adds to GitLab around the agent project:
//! webhooks on projects and groups, runners with tags and a status, groups' members and tier,
//! and the instance's outbound-request setting. Tests seed with them what `setup` creates,
//! then take each piece away again to see a check fail.

use serde::{Deserialize, Serialize};

use super::FakeGitLab;
use super::clock::now;
use super::model::{Group, Hook, HookDelivery, HookOwner, Runner};

/// A webhook to add.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HookSeed {
    pub url: String,
    /// The secret token GitLab sends as `X-Gitlab-Token`.
    pub token: Option<String>,
    /// The `*_events` flags to turn on; every other one is off.
    pub events: Vec<String>,
    pub enable_ssl_verification: bool,
}

impl HookSeed {
    /// The hook copilot-runner's webhook service needs: issues, confidential issues, comments,
    /// confidential comments, merge requests and pipelines, SSL verification on.
    pub fn copilot_runner(url: &str, token: &str) -> Self {
        let events = [
            "issues_events",
            "confidential_issues_events",
            "note_events",
            "confidential_note_events",
            "merge_requests_events",
            "pipeline_events",
        ];
        Self {
            url: url.to_owned(),
            token: Some(token.to_owned()),
            events: events.iter().map(|&flag| flag.to_owned()).collect(),
            enable_ssl_verification: true,
        }
    }
}

/// A runner to register.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunnerSeed {
    pub description: String,
    /// `instance_type`, `group_type` or `project_type`.
    pub runner_type: String,
    /// The group of a group runner (`full/path`).
    pub group: Option<String>,
    /// The projects a project runner is assigned to (`namespace/path`).
    pub projects: Vec<String>,
    pub tags: Vec<String>,
    pub online: bool,
    pub paused: bool,
}

impl RunnerSeed {
    /// An online project runner of `project` with `tags`.
    pub fn project(project: &str, tags: &[&str]) -> Self {
        Self {
            description: format!("runner of {project}"),
            runner_type: "project_type".to_owned(),
            group: None,
            projects: vec![project.to_owned()],
            tags: tags.iter().map(|&tag| tag.to_owned()).collect(),
            online: true,
            paused: false,
        }
    }

    /// An online instance runner with `tags`.
    pub fn instance(tags: &[&str]) -> Self {
        Self {
            description: "instance runner".to_owned(),
            runner_type: "instance_type".to_owned(),
            projects: Vec::new(),
            ..Self::project("", tags)
        }
    }
}

impl FakeGitLab {
    /// The group at `full_path`, created (with no members, on a tier with group webhooks) when
    /// missing; returns its id.
    pub fn ensure_group(&self, full_path: &str) -> u64 {
        let mut state = self.shared.state();
        if let Some(group) = state.groups.iter().find(|g| g.full_path == full_path) {
            return group.id;
        }
        let id = state.allocate("group");
        state.groups.push(Group {
            id,
            full_path: full_path.to_owned(),
            members: Default::default(),
            webhooks_licensed: true,
            created_at: now(),
        });
        id
    }

    /// The id of the group at `full_path`. Panics when unknown.
    pub fn group_id(&self, full_path: &str) -> u64 {
        let state = self.shared.state();
        state.group(full_path).map(|g| g.id).unwrap_or_else(|| panic!("fake GitLab has no group `{full_path}`"))
    }

    /// Sets a user's role in a group (0 removes the membership).
    pub fn set_group_access(&self, group: &str, username: &str, level: u32) {
        let user_id = self.user_id(username);
        let group_id = self.group_id(group);
        let mut state = self.shared.state();
        if let Some(group) = state.groups.iter_mut().find(|g| g.id == group_id) {
            if level == 0 {
                group.members.remove(&user_id);
            } else {
                group.members.insert(user_id, level);
            }
        }
    }

    /// `false`: the group is on GitLab Free, where the group webhooks API answers 403.
    pub fn set_group_webhooks_licensed(&self, group: &str, licensed: bool) {
        let group_id = self.group_id(group);
        if let Some(group) = self.shared.state().groups.iter_mut().find(|g| g.id == group_id) {
            group.webhooks_licensed = licensed;
        }
    }

    /// `true`: the admin setting "Allow requests to the local network from webhooks and
    /// integrations" is off, so hooks to loopback or private addresses are refused.
    pub fn block_local_requests(&self, blocked: bool) {
        self.shared.state().local_requests_blocked = blocked;
    }

    fn add_hook(&self, owner: HookOwner, seed: HookSeed) -> u64 {
        let mut state = self.shared.state();
        let id = state.allocate("hook");
        let mut events: std::collections::BTreeMap<String, bool> =
            seed.events.into_iter().map(|flag| (flag, true)).collect();
        events.entry("push_events".to_owned()).or_insert(false);
        state.hooks.push(Hook {
            id,
            owner,
            url: seed.url,
            name: Some("copilot-runner".to_owned()),
            description: None,
            token: seed.token,
            events,
            push_events_branch_filter: None,
            branch_filter_strategy: "wildcard".to_owned(),
            enable_ssl_verification: seed.enable_ssl_verification,
            created_at: now(),
        });
        id
    }

    /// Adds a webhook to a project; returns its id.
    pub fn add_project_hook(&self, project: &str, seed: HookSeed) -> u64 {
        let project_id = self.project_id(project);
        self.add_hook(HookOwner::Project(project_id), seed)
    }

    /// Adds a webhook to a group; returns its id.
    pub fn add_group_hook(&self, group: &str, seed: HookSeed) -> u64 {
        let group_id = self.group_id(group);
        self.add_hook(HookOwner::Group(group_id), seed)
    }

    /// A webhook by id, with its secret token (which the API never shows).
    pub fn hook(&self, hook_id: u64) -> Option<Hook> {
        self.shared.state().hooks.iter().find(|h| h.id == hook_id).cloned()
    }

    /// Every webhook of a project, oldest first.
    pub fn project_hooks(&self, project: &str) -> Vec<Hook> {
        let owner = HookOwner::Project(self.project_id(project));
        self.shared.state().hooks.iter().filter(|h| h.owner == owner).cloned().collect()
    }

    /// Changes a webhook's secret token (`None`: no token), as a maintainer does in its settings.
    pub fn set_hook_token(&self, hook_id: u64, token: Option<&str>) {
        if let Some(hook) = self.shared.state().hooks.iter_mut().find(|h| h.id == hook_id) {
            hook.token = token.map(str::to_owned);
        }
    }

    /// Removes a webhook.
    pub fn remove_hook(&self, hook_id: u64) {
        self.shared.state().hooks.retain(|h| h.id != hook_id);
    }

    /// The deliveries a webhook made, oldest first.
    pub fn hook_deliveries(&self, hook_id: u64) -> Vec<HookDelivery> {
        self.shared.state().hook_deliveries.iter().filter(|d| d.hook_id == hook_id).cloned().collect()
    }

    /// Registers a runner; returns its id. Panics for an unknown group or project.
    pub fn add_runner(&self, seed: RunnerSeed) -> u64 {
        let group_id = seed.group.as_deref().map(|group| self.group_id(group));
        let project_ids = seed.projects.iter().map(|project| self.project_id(project)).collect();
        let mut state = self.shared.state();
        let id = state.allocate("runner");
        state.runners.push(Runner {
            id,
            description: seed.description,
            runner_type: seed.runner_type,
            group_id,
            project_ids,
            tags: seed.tags,
            run_untagged: false,
            online: seed.online,
            paused: seed.paused,
            created_at: now(),
        });
        id
    }

    /// A runner comes online or goes offline (stops contacting GitLab).
    pub fn set_runner_online(&self, runner_id: u64, online: bool) {
        if let Some(runner) = self.shared.state().runners.iter_mut().find(|r| r.id == runner_id) {
            runner.online = online;
        }
    }

    /// Pauses a runner or lets it pick up jobs again.
    pub fn set_runner_paused(&self, runner_id: u64, paused: bool) {
        if let Some(runner) = self.shared.state().runners.iter_mut().find(|r| r.id == runner_id) {
            runner.paused = paused;
        }
    }
}
