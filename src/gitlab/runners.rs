//! Runners: which runners a project may use, filtered by tags and status (GitLab's "Runners
//! API", https://docs.gitlab.com/api/runners/). Listing a project's runners needs the
//! Maintainer role on it; the list holds the project's own runners, its groups' and the
//! instance's. GitLab's list entity carries no tags: filtering by `tag_list` happens on GitLab's
//! side, and a runner matches when it has every tag asked for.
//!
//! All reads; retried freely.

use serde::Deserialize;

use super::client::{Client, ProjectId};
use super::error::Error;

/// A runner as GitLab lists it (`Ci::Runner` entity).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Runner {
    pub id: u64,
    #[serde(default)]
    pub description: Option<String>,
    /// `instance_type`, `group_type` or `project_type`.
    #[serde(default)]
    pub runner_type: Option<String>,
    #[serde(default)]
    pub paused: Option<bool>,
    /// Deprecated twin of `paused` (the opposite), still sent.
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub online: Option<bool>,
    /// `online`, `offline`, `stale`, `never_contacted` (and `paused` on older versions).
    #[serde(default)]
    pub status: Option<String>,
}

impl Runner {
    /// Whether it takes jobs: not paused (by either field).
    pub fn is_paused(&self) -> bool {
        self.paused.unwrap_or(false) || self.active == Some(false)
    }

    /// Whether it contacted GitLab recently.
    pub fn is_online(&self) -> bool {
        self.online.unwrap_or(self.status.as_deref() == Some("online"))
    }
}

/// Which runners to list; empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunnerFilter {
    /// The runner must carry every one of these tags.
    pub tags: Vec<String>,
    /// `online`, `offline`, `stale` or `never_contacted`.
    pub status: Option<String>,
    pub paused: Option<bool>,
}

impl RunnerFilter {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if !self.tags.is_empty() {
            query.push(("tag_list", self.tags.join(",")));
        }
        if let Some(status) = &self.status {
            query.push(("status", status.clone()));
        }
        if let Some(paused) = self.paused {
            query.push(("paused", paused.to_string()));
        }
        query
    }
}

impl Client {
    /// `GET /projects/:id/runners`: the runners the project may use that pass `filter`.
    pub async fn project_runners(
        &self,
        project: impl Into<ProjectId>,
        filter: &RunnerFilter,
    ) -> Result<Vec<Runner>, Error> {
        let path = format!("/projects/{}/runners", project.into().segment());
        self.get_all(&path, &filter.query()).await
    }

    /// `GET /runners`: the runners the token's user owns (project runners of projects they
    /// maintain, group runners of groups they own) that pass `filter`.
    pub async fn owned_runners(&self, filter: &RunnerFilter) -> Result<Vec<Runner>, Error> {
        self.get_all("/runners", &filter.query()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_becomes_gitlab_query_parameters() {
        let filter = RunnerFilter {
            tags: vec!["copilot-agent".to_owned(), "k8s".to_owned()],
            status: Some("online".to_owned()),
            paused: Some(false),
        };
        assert_eq!(
            filter.query(),
            [
                ("tag_list", "copilot-agent,k8s".to_owned()),
                ("status", "online".to_owned()),
                ("paused", "false".to_owned())
            ]
        );
        assert!(RunnerFilter::default().query().is_empty());
    }

    #[test]
    fn paused_and_online_read_from_either_field() {
        let runner: Runner = serde_json::from_str(r#"{"id":1,"active":false,"status":"online"}"#).unwrap();
        assert!(runner.is_paused() && runner.is_online());
        let runner: Runner =
            serde_json::from_str(r#"{"id":2,"paused":false,"online":false,"status":"offline"}"#).unwrap();
        assert!(!runner.is_paused() && !runner.is_online());
    }
}
