//! Single files of a repository, read and committed through the API: `setup` writes the agent
//! project's `.gitlab-ci.yml` this way, without a clone.
//!
//! Shapes: Repository files API, <https://docs.gitlab.com/api/repository_files/>
//! (`GET /projects/:id/repository/files/:file_path/raw?ref=` answers the file as it is;
//! `POST` creates and `PUT` updates `:file_path` on `branch` with `content` and
//! `commit_message`, answering `{"file_path", "branch"}`; creating an existing file, or updating
//! a missing one, is a 400).
//!
//! Retry rules: reading is retried on every transient failure. A commit is sent again only when
//! GitLab certainly did not act; after an ambiguous failure the client reads the file back and
//! counts the commit as landed when the branch already holds `content`.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::{Client, ProjectId, encode_segment};
use super::error::{Error, optional};
use super::retry::{Budget, Replay};

/// One file to commit on a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCommit<'a> {
    pub path: &'a str,
    pub branch: &'a str,
    pub content: &'a str,
    pub message: &'a str,
}

/// GitLab's answer to a file commit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CommittedFile {
    pub file_path: String,
    pub branch: String,
}

impl Client {
    /// The file at `path` on `git_ref`, as text; `None` when GitLab answers 404 (no such file,
    /// branch or project, or an empty repository).
    pub async fn raw_file(
        &self,
        project: impl Into<ProjectId>,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<String>, Error> {
        let url = format!("/projects/{}/repository/files/{}/raw", project.into().segment(), encode_segment(path));
        let request = self.request(Method::GET, &url, &[("ref", git_ref.to_owned())], None, Replay::Always)?;
        let read = self.execute(&request, &mut Budget::new(self.retry_policy())).await;
        Ok(optional(read)?.map(|(_, body)| String::from_utf8_lossy(&body).into_owned()))
    }

    /// `POST …/repository/files/:file_path`: commits a new file.
    pub async fn create_file(&self, project: impl Into<ProjectId>, file: &FileCommit<'_>) -> Result<(), Error> {
        self.commit_file(project.into(), file, Method::POST).await
    }

    /// `PUT …/repository/files/:file_path`: commits a new content of an existing file.
    pub async fn update_file(&self, project: impl Into<ProjectId>, file: &FileCommit<'_>) -> Result<(), Error> {
        self.commit_file(project.into(), file, Method::PUT).await
    }

    async fn commit_file(&self, project: ProjectId, file: &FileCommit<'_>, method: Method) -> Result<(), Error> {
        let url = format!("/projects/{}/repository/files/{}", project.segment(), encode_segment(file.path));
        let body = json!({ "branch": file.branch, "content": file.content, "commit_message": file.message });
        let request = self.request(method, &url, &[], Some(body), Replay::OnlyUnsent)?;
        let landed = || async {
            let current = self.raw_file(&project, file.path, file.branch).await?;
            Ok(current
                .filter(|text| text == file.content)
                .map(|_| CommittedFile { file_path: file.path.to_owned(), branch: file.branch.to_owned() }))
        };
        let _: CommittedFile = self.call_reconciled(&request, landed).await?;
        Ok(())
    }
}
