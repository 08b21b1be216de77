//! Memberships of projects and groups: reading a user's role (direct, or inherited from the
//! groups above), adding a member and changing a member's role.
//!
//! Shapes: Group and project members API, <https://docs.gitlab.com/api/members/>. Adding a user
//! who is already a direct member is refused with 409; an inherited membership is not a direct
//! one, so a user may be added to a project with a higher role than the group gives them.
//!
//! Retry rules: reads and role changes (a `PUT` of the whole value) are retried on every
//! transient failure. Adding is sent again only when GitLab certainly did not act; after an
//! ambiguous failure the client reads the direct membership and returns it if the first attempt
//! landed.

use reqwest::Method;
use serde_json::json;

use super::client::{Client, ProjectId};
use super::error::{Error, optional};
use super::retry::Replay;
use super::types::{AccessLevel, Member};

/// What a membership is of. A group's `:id` is its id or URL-encoded full path, as a project's is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOf {
    Project(ProjectId),
    Group(ProjectId),
}

impl MemberOf {
    /// `/projects/:id/members` or `/groups/:id/members`.
    fn members_path(&self) -> String {
        match self {
            MemberOf::Project(id) => format!("/projects/{}/members", id.segment()),
            MemberOf::Group(id) => format!("/groups/{}/members", id.segment()),
        }
    }
}

impl Client {
    /// `GET …/members/:user_id`: the user's direct membership; `None` when GitLab answers 404.
    pub async fn direct_member(&self, of: &MemberOf, user_id: u64) -> Result<Option<Member>, Error> {
        optional(self.get(&format!("{}/{user_id}", of.members_path()), &[]).await)
    }

    /// `GET …/members/all/:user_id`: the user's effective membership, inherited ones included;
    /// `None` when GitLab answers 404.
    pub async fn effective_member(&self, of: &MemberOf, user_id: u64) -> Result<Option<Member>, Error> {
        optional(self.get(&format!("{}/all/{user_id}", of.members_path()), &[]).await)
    }

    /// `POST …/members`: adds the user with `level`.
    pub async fn add_member(&self, of: &MemberOf, user_id: u64, level: AccessLevel) -> Result<Member, Error> {
        let body = json!({ "user_id": user_id, "access_level": level.0 });
        let request = self.request(Method::POST, &of.members_path(), &[], Some(body), Replay::OnlyUnsent)?;
        self.call_reconciled(&request, || self.direct_member(of, user_id)).await
    }

    /// `PUT …/members/:user_id`: changes a direct member's role to `level`.
    pub async fn set_member_level(&self, of: &MemberOf, user_id: u64, level: AccessLevel) -> Result<Member, Error> {
        let path = format!("{}/{user_id}", of.members_path());
        let body = json!({ "access_level": level.0 });
        let request = self.request(Method::PUT, &path, &[], Some(body), Replay::Always)?;
        self.call(&request).await
    }
}
