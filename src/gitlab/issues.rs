//! Issues: the task text of `issue_assignee` and `issue_note` work. Reads only.

use super::client::{Client, ProjectId};
use super::error::Error;
use super::types::Issue;

impl Client {
    /// `GET /projects/:id/issues/:issue_iid`.
    pub async fn issue(&self, project: impl Into<ProjectId>, issue_iid: u64) -> Result<Issue, Error> {
        self.get(&format!("/projects/{}/issues/{issue_iid}", project.into().segment()), &[]).await
    }
}
