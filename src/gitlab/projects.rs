//! Projects as `setup` manages them: finding one by path, creating the agent project in its
//! namespace, and its CI/CD setting "minimum role to use pipeline variables".
//!
//! Shapes: Projects API, <https://docs.gitlab.com/api/projects/> (`POST /projects` with `name`,
//! `path` and `namespace_id`; `PUT /projects/:id` with
//! `ci_pipeline_variables_minimum_override_role`).
//!
//! Retry rules: reads and the settings `PUT` (it sets a whole value) are retried on every
//! transient failure. Creating a project is sent again only when GitLab certainly did not act;
//! after an ambiguous failure the client looks the path up and returns the project if the first
//! attempt landed.

use reqwest::Method;
use serde_json::json;

use super::client::{Client, ProjectId};
use super::error::{Error, optional};
use super::retry::Replay;
use super::types::Project;

/// A project to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject<'a> {
    /// The namespace (group or user) it is created in.
    pub namespace_id: u64,
    /// The namespace's full path, to find the project again after an ambiguous failure.
    pub namespace_path: &'a str,
    /// The last segment of its path; also its name.
    pub path: &'a str,
}

impl Client {
    /// `GET /projects/:id`; `None` when GitLab answers 404 (no such project, or invisible to
    /// the token's user).
    pub async fn find_project(&self, project: impl Into<ProjectId>) -> Result<Option<Project>, Error> {
        optional(self.project(project).await)
    }

    /// `POST /projects`: a private project with an empty repository.
    pub async fn create_project(&self, new: &NewProject<'_>) -> Result<Project, Error> {
        let body = json!({
            "name": new.path,
            "path": new.path,
            "namespace_id": new.namespace_id,
            "visibility": "private",
        });
        let request = self.request(Method::POST, "/projects", &[], Some(body), Replay::OnlyUnsent)?;
        let full_path = format!("{}/{}", new.namespace_path, new.path);
        self.call_reconciled(&request, || self.find_project(full_path.as_str())).await
    }

    /// `PUT /projects/:id` with `ci_pipeline_variables_minimum_override_role`: the lowest role
    /// that may pass variables to the project's pipelines (`no_one_allowed`, `developer`,
    /// `maintainer`, `owner`).
    pub async fn set_pipeline_variables_role(
        &self,
        project: impl Into<ProjectId>,
        role: &str,
    ) -> Result<Project, Error> {
        let path = format!("/projects/{}", project.into().segment());
        let body = json!({ "ci_pipeline_variables_minimum_override_role": role });
        let request = self.request(Method::PUT, &path, &[], Some(body), Replay::Always)?;
        self.call(&request).await
    }
}
