//! Merge request draft notes: review comments only their author sees until they are published
//! together, so people get one notification for a whole review instead of one per comment.
//!
//! Retry rules: listing and publishing are retried on every transient failure (publishing again
//! publishes whatever drafts are left, which is nothing once the first attempt went through).
//! Creating a draft is sent again only when GitLab certainly did not store it; after an
//! ambiguous failure the client looks among the author's drafts for the hidden [`OpMarker`]
//! this one carries. Deleting a draft that is already gone counts as deleted.

use reqwest::Method;
use serde_json::json;

use super::client::{Client, ProjectId};
use super::error::Error;
use super::marker::OpMarker;
use super::retry::{Budget, Replay};
use super::types::{DraftNote, Position};

impl Client {
    /// `GET …/draft_notes`: the token's user's drafts on the MR (GitLab shows no one else's).
    pub async fn draft_notes(&self, project: impl Into<ProjectId>, mr_iid: u64) -> Result<Vec<DraftNote>, Error> {
        let path = format!("/projects/{}/merge_requests/{mr_iid}/draft_notes", project.into().segment());
        self.get_all(&path, &[]).await
    }

    /// `POST …/draft_notes` with `note` and a diff `position`.
    pub async fn create_draft_note(
        &self,
        project: impl Into<ProjectId>,
        mr_iid: u64,
        body: &str,
        position: &Position,
    ) -> Result<DraftNote, Error> {
        let project = project.into();
        let marker = OpMarker::new();
        let path = format!("/projects/{}/merge_requests/{mr_iid}/draft_notes", project.segment());
        let body = json!({ "note": marker.stamp(body), "position": position });
        let request = self.request(Method::POST, &path, &[], Some(body), Replay::OnlyUnsent)?;
        self.call_reconciled(&request, || async {
            let drafts = self.draft_notes(&project, mr_iid).await?;
            Ok(drafts.into_iter().find(|draft| marker.is_in(&draft.note)))
        })
        .await
    }

    /// `DELETE …/draft_notes/:draft_note_id`.
    pub async fn delete_draft_note(
        &self,
        project: impl Into<ProjectId>,
        mr_iid: u64,
        draft_note_id: u64,
    ) -> Result<(), Error> {
        let path =
            format!("/projects/{}/merge_requests/{mr_iid}/draft_notes/{draft_note_id}", project.into().segment());
        let request = self.request(Method::DELETE, &path, &[], None, Replay::Always)?;
        match self.execute(&request, &mut Budget::new(self.retry_policy())).await {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// `POST …/draft_notes/bulk_publish`: every draft of the token's user on the MR becomes a
    /// note or discussion at once.
    pub async fn bulk_publish_draft_notes(&self, project: impl Into<ProjectId>, mr_iid: u64) -> Result<(), Error> {
        let path = format!("/projects/{}/merge_requests/{mr_iid}/draft_notes/bulk_publish", project.into().segment());
        let request = self.request(Method::POST, &path, &[], None, Replay::Always)?;
        self.execute(&request, &mut Budget::new(self.retry_policy())).await.map(|_| ())
    }
}
