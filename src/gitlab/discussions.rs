//! Merge request discussions: inline review comments anchored in the diff, and replies.
//!
//! Retry rules: listing is retried on every transient failure. Starting a thread or replying
//! is sent again only when GitLab certainly did not act; after an ambiguous failure the client
//! looks for the hidden [`OpMarker`] this post carries (among the MR's threads, or the notes of
//! the thread replied to) and returns what it finds instead of posting twice.

use reqwest::Method;
use serde_json::json;

use super::client::{Client, ProjectId};
use super::error::Error;
use super::marker::OpMarker;
use super::retry::Replay;
use super::types::{Discussion, Note, Position};

impl Client {
    /// Every thread of the MR, oldest first (all pages).
    pub async fn merge_request_discussions(
        &self,
        project: impl Into<ProjectId>,
        mr_iid: u64,
    ) -> Result<Vec<Discussion>, Error> {
        let path = format!("/projects/{}/merge_requests/{mr_iid}/discussions", project.into().segment());
        self.get_all(&path, &[]).await
    }

    /// `GET …/discussions/:discussion_id`.
    pub async fn merge_request_discussion(
        &self,
        project: impl Into<ProjectId>,
        mr_iid: u64,
        discussion_id: &str,
    ) -> Result<Discussion, Error> {
        self.get(&discussion_path(&project.into(), mr_iid, discussion_id), &[]).await
    }

    /// Starts a thread on the diff at `position` (a `text` position: `new_line` for an added
    /// line, `old_line` for a removed one, both for context; `line_range` for several lines).
    pub async fn create_diff_discussion(
        &self,
        project: impl Into<ProjectId>,
        mr_iid: u64,
        body: &str,
        position: &Position,
    ) -> Result<Discussion, Error> {
        let project = project.into();
        let marker = OpMarker::new();
        let path = format!("/projects/{}/merge_requests/{mr_iid}/discussions", project.segment());
        let body = json!({ "body": marker.stamp(body), "position": position });
        let request = self.request(Method::POST, &path, &[], Some(body), Replay::OnlyUnsent)?;
        self.call_reconciled(&request, || async {
            let threads = self.merge_request_discussions(&project, mr_iid).await?;
            Ok(threads.into_iter().find(|thread| thread.notes.iter().any(|note| marker.is_in(&note.body))))
        })
        .await
    }

    /// Replies in a thread.
    pub async fn reply_to_discussion(
        &self,
        project: impl Into<ProjectId>,
        mr_iid: u64,
        discussion_id: &str,
        body: &str,
    ) -> Result<Note, Error> {
        let project = project.into();
        let marker = OpMarker::new();
        let path = format!("{}/notes", discussion_path(&project, mr_iid, discussion_id));
        let request =
            self.request(Method::POST, &path, &[], Some(json!({ "body": marker.stamp(body) })), Replay::OnlyUnsent)?;
        self.call_reconciled(&request, || async {
            let thread = self.merge_request_discussion(&project, mr_iid, discussion_id).await?;
            Ok(thread.notes.into_iter().find(|note| marker.is_in(&note.body)))
        })
        .await
    }

    /// `PUT …/discussions/:discussion_id?resolved=true`: resolves a thread. Resolving a resolved
    /// thread changes nothing, so it is retried like a read.
    pub async fn resolve_discussion(
        &self,
        project: impl Into<ProjectId>,
        mr_iid: u64,
        discussion_id: &str,
    ) -> Result<Discussion, Error> {
        let path = discussion_path(&project.into(), mr_iid, discussion_id);
        let request = self.request(Method::PUT, &path, &[("resolved", "true".to_owned())], None, Replay::Always)?;
        self.call(&request).await
    }
}

/// `/projects/:id/merge_requests/:iid/discussions/:discussion_id`.
fn discussion_path(project: &ProjectId, mr_iid: u64, discussion_id: &str) -> String {
    format!("/projects/{}/merge_requests/{mr_iid}/discussions/{discussion_id}", project.segment())
}
