//! The handle's methods about who may do what and how a project's CI/CD is set up: seeded
//! groups, direct and inherited roles, whether a project exists, its CI/CD variables, trigger
//! tokens, "minimum role to use pipeline variables", and a group's webhooks. Tests of `setup` start from
//! [`super::Seed::empty_instance`] and assert on these.

use anyhow::Context as _;

use super::FakeGitLab;
use super::clock::now;
use super::model::{CiVariable, Group, Hook, HookOwner, TriggerToken};
use super::seed::GroupSeed;

impl FakeGitLab {
    /// Adds a group (its parent, if any, must exist already); returns its id.
    pub fn add_group(&self, seed: GroupSeed) -> anyhow::Result<u64> {
        let mut state = self.shared.state();
        if let Some((parent, _)) = seed.path.rsplit_once('/') {
            anyhow::ensure!(
                state.group(parent).is_some(),
                "the group `{}` needs its parent `{parent}` first",
                seed.path
            );
        }
        let mut members = std::collections::BTreeMap::new();
        for (username, level) in &seed.members {
            let user = state.user_by_name(username).with_context(|| format!("unknown member `{username}`"))?;
            members.insert(user.id, *level);
        }
        let id = state.allocate("group");
        state.groups.push(Group {
            id,
            full_path: seed.path,
            members,
            webhooks_licensed: seed.webhooks_licensed,
            created_at: now(),
        });
        Ok(id)
    }

    /// Whether a project exists at `path`.
    pub fn has_project(&self, path: &str) -> bool {
        self.shared.state().project(path).is_some()
    }

    /// The user's direct role on a project or group (by full path), 0 when none.
    pub fn direct_access(&self, path: &str, username: &str) -> u32 {
        let user_id = self.user_id(username);
        let state = self.shared.state();
        match state.project(path) {
            Some(project) => project.access_of(user_id),
            None => state.group(path).map_or(0, |group| group.access_of(user_id)),
        }
    }

    /// The user's effective role on a project or group (by full path), inherited included.
    pub fn effective_access(&self, path: &str, username: &str) -> u32 {
        let user_id = self.user_id(username);
        let state = self.shared.state();
        match state.project(path) {
            Some(project) => state.effective_access(project, user_id),
            None => state.group(path).map_or(0, |group| state.group_access(group, user_id)),
        }
    }

    /// The project's CI/CD variables, hidden values included (the test sees everything).
    pub fn ci_variables(&self, project: &str) -> Vec<CiVariable> {
        let project_id = self.project_id(project);
        self.shared.state().variables.iter().filter(|v| v.project_id == project_id).cloned().collect()
    }

    /// The project's pipeline trigger tokens.
    pub fn trigger_tokens(&self, project: &str) -> Vec<TriggerToken> {
        self.project(project).trigger_tokens
    }

    /// Every webhook of a group, oldest first, with its secret token (the API never shows it).
    pub fn group_hooks(&self, group: &str) -> Vec<Hook> {
        let owner = HookOwner::Group(self.group_id(group));
        self.shared.state().hooks.iter().filter(|h| h.owner == owner).cloned().collect()
    }

    /// The project's "minimum role to use pipeline variables".
    pub fn pipeline_variables_role(&self, project: &str) -> String {
        self.project(project).pipeline_variables_minimum_role
    }
}
