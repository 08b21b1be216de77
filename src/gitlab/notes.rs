//! Notes (comments) on issues and merge requests: reading the conversation, posting status and
//! result notes, and editing the status note in place.
//!
//! Retry rules: listing and editing (a `PUT` of the whole body) are retried on every transient
//! failure. Posting is sent again only when GitLab certainly did not act; after an ambiguous
//! failure the client reads the most recent notes and returns the one carrying this post's
//! [`OpMarker`] if the first attempt landed, so a note never appears twice.

use reqwest::Method;
use serde_json::json;

use super::client::{Client, ProjectId};
use super::error::Error;
use super::marker::OpMarker;
use super::retry::Replay;
use super::types::Note;

/// What a note is attached to, by iid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noteable {
    Issue(u64),
    MergeRequest(u64),
}

impl Noteable {
    /// The path of the noteable under its project: `issues/7`, `merge_requests/3`.
    pub(crate) fn path(self, project: &ProjectId) -> String {
        match self {
            Noteable::Issue(iid) => format!("/projects/{}/issues/{iid}", project.segment()),
            Noteable::MergeRequest(iid) => format!("/projects/{}/merge_requests/{iid}", project.segment()),
        }
    }
}

impl Client {
    /// Every note, oldest first (all pages; system notes included, filter on [`Note::system`]).
    pub async fn notes(&self, project: impl Into<ProjectId>, on: Noteable) -> Result<Vec<Note>, Error> {
        let path = format!("{}/notes", on.path(&project.into()));
        self.get_all(&path, &[("sort", "asc".into()), ("order_by", "created_at".into())]).await
    }

    /// `GET …/notes/:note_id`.
    pub async fn note(&self, project: impl Into<ProjectId>, on: Noteable, note_id: u64) -> Result<Note, Error> {
        self.get(&format!("{}/notes/{note_id}", on.path(&project.into())), &[]).await
    }

    /// Posts a note. The stored body is `body` followed by a hidden operation marker.
    pub async fn create_note(&self, project: impl Into<ProjectId>, on: Noteable, body: &str) -> Result<Note, Error> {
        self.create_note_visible(project, on, body, false).await
    }

    /// Posts a note, `internal` (seen only by project members with at least the Reporter role)
    /// or not. An internal note stays internal when edited: `PUT …/notes/:id` changes the body
    /// only.
    pub async fn create_note_visible(
        &self,
        project: impl Into<ProjectId>,
        on: Noteable,
        body: &str,
        internal: bool,
    ) -> Result<Note, Error> {
        let project = project.into();
        let marker = OpMarker::new();
        let path = format!("{}/notes", on.path(&project));
        let mut payload = json!({ "body": marker.stamp(body) });
        if internal {
            payload["internal"] = json!(true);
        }
        let request = self.request(Method::POST, &path, &[], Some(payload), Replay::OnlyUnsent)?;
        self.call_reconciled(&request, || self.recent_note_with(&project, on, &marker)).await
    }

    /// Replaces a note's body (`PUT …/notes/:note_id`).
    pub async fn edit_note(
        &self,
        project: impl Into<ProjectId>,
        on: Noteable,
        note_id: u64,
        body: &str,
    ) -> Result<Note, Error> {
        let path = format!("{}/notes/{note_id}", on.path(&project.into()));
        let request = self.request(Method::PUT, &path, &[], Some(json!({ "body": body })), Replay::Always)?;
        self.call(&request).await
    }

    /// The newest note carrying `marker`, among the 100 most recent.
    async fn recent_note_with(
        &self,
        project: &ProjectId,
        on: Noteable,
        marker: &OpMarker,
    ) -> Result<Option<Note>, Error> {
        let path = format!("{}/notes", on.path(project));
        let notes: Vec<Note> =
            self.get_first_page(&path, &[("sort", "desc".into()), ("order_by", "created_at".into())]).await?;
        Ok(notes.into_iter().find(|note| marker.is_in(&note.body)))
    }
}
