//! Who we are and who may ask us for work: the token's user, projects, and membership.
//!
//! All reads; retried freely.

use super::client::{Client, ProjectId};
use super::error::Error;
use super::members::MemberOf;
use super::types::{CurrentUser, Member, Project};

impl Client {
    /// `GET /user`: the user the token belongs to (the agent user).
    pub async fn current_user(&self) -> Result<CurrentUser, Error> {
        self.get("/user", &[]).await
    }

    /// `GET /projects/:id`.
    pub async fn project(&self, project: impl Into<ProjectId>) -> Result<Project, Error> {
        self.get(&format!("/projects/{}", project.into().segment()), &[]).await
    }

    /// `GET /projects/:id/members/all/:user_id`: the user's effective membership, inherited from
    /// groups included. `None` when GitLab answers 404 (not a member, or the project is
    /// invisible to the token's user).
    pub async fn member(&self, project: impl Into<ProjectId>, user_id: u64) -> Result<Option<Member>, Error> {
        self.effective_member(&MemberOf::Project(project.into()), user_id).await
    }
}
