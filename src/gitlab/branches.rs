//! Branches and commits: finding the agent's branch again, creating it, and reading a commit's
//! parents (a merged-results pipeline runs on a merge commit whose second parent is the branch).
//!
//! Retry rule: creating a branch is sent again only after GitLab certainly did not act; after an
//! ambiguous failure the client first reads the branch and returns it if it exists.

use reqwest::Method;
use serde_json::json;

use super::client::{Client, ProjectId, encode_segment};
use super::error::{Error, optional};
use super::retry::Replay;
use super::types::{Branch, Commit};

impl Client {
    /// `GET /projects/:id/repository/branches/:branch`; `None` when GitLab answers 404.
    pub async fn branch(&self, project: impl Into<ProjectId>, name: &str) -> Result<Option<Branch>, Error> {
        let path = format!("/projects/{}/repository/branches/{}", project.into().segment(), encode_segment(name));
        optional(self.get(&path, &[]).await)
    }

    /// `POST /projects/:id/repository/branches` from `from_ref` (a branch, tag or SHA).
    pub async fn create_branch(
        &self,
        project: impl Into<ProjectId>,
        name: &str,
        from_ref: &str,
    ) -> Result<Branch, Error> {
        let project = project.into();
        let body = json!({ "branch": name, "ref": from_ref });
        let path = format!("/projects/{}/repository/branches", project.segment());
        let request = self.request(Method::POST, &path, &[], Some(body), Replay::OnlyUnsent)?;
        self.call_reconciled(&request, || self.branch(&project, name)).await
    }

    /// `GET /projects/:id/repository/commits/:sha`.
    pub async fn commit(&self, project: impl Into<ProjectId>, sha: &str) -> Result<Commit, Error> {
        let path = format!("/projects/{}/repository/commits/{}", project.into().segment(), encode_segment(sha));
        self.get(&path, &[]).await
    }
}
