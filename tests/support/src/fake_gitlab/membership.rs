//! Roles as GitLab computes them: a project member's effective role is the highest of their
//! direct membership and their memberships of the groups above the project; a group member's,
//! the highest of the group's own and its ancestors'. `…/members/:user_id` shows the direct
//! membership only, `…/members/all/:user_id` the effective one
//! (<https://docs.gitlab.com/api/members/>).

use super::model::{Group, Project, State};

impl State {
    /// The groups at and above `namespace` (a group's full path or a project's namespace).
    pub fn groups_above(&self, namespace: &str) -> Vec<&Group> {
        self.groups
            .iter()
            .filter(|group| {
                namespace == group.full_path
                    || namespace.strip_prefix(group.full_path.as_str()).is_some_and(|rest| rest.starts_with('/'))
            })
            .collect()
    }

    /// The user's effective role on a group: its own membership or an ancestor's.
    pub fn group_access(&self, group: &Group, user_id: u64) -> u32 {
        self.groups_above(&group.full_path).iter().map(|g| g.access_of(user_id)).max().unwrap_or(0)
    }

    /// The user's effective role on a project: direct, or inherited from its groups.
    pub fn effective_access(&self, project: &Project, user_id: u64) -> u32 {
        let inherited = self.groups_above(project.namespace()).iter().map(|g| g.access_of(user_id)).max();
        project.access_of(user_id).max(inherited.unwrap_or(0))
    }
}
