//! Namespaces and groups: where `setup` creates the agent project, and which projects a target
//! group holds when its webhook has to go on each project instead.
//!
//! Shapes: Namespaces API, <https://docs.gitlab.com/api/namespaces/> (`GET /namespaces/:id`
//! takes the id or the URL-encoded full path; `kind` is `group` or `user`; `plan` only on
//! GitLab.com), and Groups API, <https://docs.gitlab.com/api/groups/> (`GET /groups/:id`,
//! `GET /groups/:id/projects` with `include_subgroups`).
//!
//! All reads; retried freely.

use serde::Deserialize;

use super::client::{Client, ProjectId};
use super::error::{Error, optional};
use super::types::Project;

/// `GET /namespaces/:id`: a group's or a user's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Namespace {
    pub id: u64,
    pub full_path: String,
    /// `group` or `user`.
    pub kind: String,
    /// The subscription plan (`free`, `premium`, `ultimate`, …); GitLab.com only.
    #[serde(default)]
    pub plan: Option<String>,
}

/// `GET /groups/:id`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Group {
    pub id: u64,
    pub full_path: String,
    #[serde(default)]
    pub web_url: Option<String>,
}

impl Client {
    /// The namespace at `path` (a group's full path or a username); `None` when GitLab answers
    /// 404.
    pub async fn namespace(&self, path: &str) -> Result<Option<Namespace>, Error> {
        optional(self.get(&format!("/namespaces/{}", ProjectId::from(path).segment()), &[]).await)
    }

    /// The group at `path`; `None` when GitLab answers 404 (no such group, or invisible).
    pub async fn group(&self, path: &str) -> Result<Option<Group>, Error> {
        optional(self.get(&format!("/groups/{}", ProjectId::from(path).segment()), &[]).await)
    }

    /// Every project of the group and its subgroups, archived ones left out.
    pub async fn group_projects(&self, group_id: u64) -> Result<Vec<Project>, Error> {
        let query = [("include_subgroups", "true".to_owned()), ("archived", "false".to_owned())];
        self.get_all(&format!("/groups/{group_id}/projects"), &query).await
    }
}
