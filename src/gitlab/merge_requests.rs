//! Merge requests: finding the agent's MR, opening it as a Draft, updating it, and reading the
//! versions and diffs a review works on.
//!
//! Retry rules: reads and updates (`PUT`, which sets values and is the same when repeated) are
//! retried on every transient failure. Creating is sent again only when GitLab certainly did
//! not act; after an ambiguous failure the client first lists the open MRs of the source branch
//! and returns the one into the same target branch if the first attempt landed. GitLab itself
//! refuses a second open MR for the same branches with 409 ([`Error::Conflict`]).

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::{Client, ProjectId};
use super::error::Error;
use super::retry::Replay;
use super::types::{FileDiff, MergeRequest, MergeRequestReviewer, MergeRequestVersion};

/// The title prefix that makes an MR a draft (the create API has no `draft` field).
const DRAFT_PREFIX: &str = "Draft: ";

/// A merge request to open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMergeRequest {
    pub source_branch: String,
    pub target_branch: String,
    pub title: String,
    pub description: Option<String>,
    /// Open as a draft: the title gets the `Draft: ` prefix.
    pub draft: bool,
    pub assignee_ids: Vec<u64>,
    pub reviewer_ids: Vec<u64>,
    pub labels: Vec<String>,
    pub remove_source_branch: bool,
}

impl NewMergeRequest {
    fn body(&self) -> Value {
        let title = if self.draft && !is_draft_title(&self.title) {
            format!("{DRAFT_PREFIX}{}", self.title)
        } else {
            self.title.clone()
        };
        let mut body = json!({
            "source_branch": self.source_branch,
            "target_branch": self.target_branch,
            "title": title,
            "remove_source_branch": self.remove_source_branch,
        });
        if let Some(description) = &self.description {
            body["description"] = json!(description);
        }
        if !self.assignee_ids.is_empty() {
            body["assignee_ids"] = json!(self.assignee_ids);
        }
        if !self.reviewer_ids.is_empty() {
            body["reviewer_ids"] = json!(self.reviewer_ids);
        }
        if !self.labels.is_empty() {
            body["labels"] = json!(self.labels.join(","));
        }
        body
    }
}

/// GitLab recognises `Draft:`, `[Draft]` and `(Draft)` at the start of a title, in any case.
fn is_draft_title(title: &str) -> bool {
    let lower = title.trim_start().to_ascii_lowercase();
    ["draft:", "[draft]", "(draft)"].iter().any(|prefix| lower.starts_with(prefix))
}

/// Changes to a merge request; `None` and empty lists leave a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeRequestUpdate {
    pub title: Option<String>,
    pub description: Option<String>,
    pub add_labels: Vec<String>,
    pub remove_labels: Vec<String>,
    /// Replaces the assignees (an empty list unassigns everyone).
    pub assignee_ids: Option<Vec<u64>>,
    /// Replaces the reviewers.
    pub reviewer_ids: Option<Vec<u64>>,
    /// `close` or `reopen`.
    pub state_event: Option<String>,
}

impl MergeRequestUpdate {
    fn body(&self) -> Value {
        let mut body = Map::new();
        let mut put = |key: &str, value: Value| {
            body.insert(key.to_owned(), value);
        };
        if let Some(title) = &self.title {
            put("title", json!(title));
        }
        if let Some(description) = &self.description {
            put("description", json!(description));
        }
        if !self.add_labels.is_empty() {
            put("add_labels", json!(self.add_labels.join(",")));
        }
        if !self.remove_labels.is_empty() {
            put("remove_labels", json!(self.remove_labels.join(",")));
        }
        if let Some(ids) = &self.assignee_ids {
            put("assignee_ids", json!(ids));
        }
        if let Some(ids) = &self.reviewer_ids {
            put("reviewer_ids", json!(ids));
        }
        if let Some(event) = &self.state_event {
            put("state_event", json!(event));
        }
        Value::Object(body)
    }
}

impl Client {
    /// `GET /projects/:id/merge_requests/:merge_request_iid`.
    pub async fn merge_request(&self, project: impl Into<ProjectId>, mr_iid: u64) -> Result<MergeRequest, Error> {
        self.get(&format!("/projects/{}/merge_requests/{mr_iid}", project.into().segment()), &[]).await
    }

    /// The MRs whose source is `source_branch`, newest first; `state` is `opened`, `closed`,
    /// `merged`, `locked` or `None` for all.
    pub async fn merge_requests_by_source_branch(
        &self,
        project: impl Into<ProjectId>,
        source_branch: &str,
        state: Option<&str>,
    ) -> Result<Vec<MergeRequest>, Error> {
        let path = format!("/projects/{}/merge_requests", project.into().segment());
        let mut query = vec![("source_branch", source_branch.to_owned())];
        query.push(("state", state.unwrap_or("all").to_owned()));
        query.push(("order_by", "created_at".to_owned()));
        query.push(("sort", "desc".to_owned()));
        self.get_all(&path, &query).await
    }

    /// `POST /projects/:id/merge_requests`.
    pub async fn create_merge_request(
        &self,
        project: impl Into<ProjectId>,
        new: &NewMergeRequest,
    ) -> Result<MergeRequest, Error> {
        let project = project.into();
        let path = format!("/projects/{}/merge_requests", project.segment());
        let request = self.request(Method::POST, &path, &[], Some(new.body()), Replay::OnlyUnsent)?;
        self.call_reconciled(&request, || async {
            let open = self.merge_requests_by_source_branch(&project, &new.source_branch, Some("opened")).await?;
            Ok(open.into_iter().find(|mr| mr.target_branch == new.target_branch))
        })
        .await
    }

    /// `PUT /projects/:id/merge_requests/:merge_request_iid`.
    pub async fn update_merge_request(
        &self,
        project: impl Into<ProjectId>,
        mr_iid: u64,
        update: &MergeRequestUpdate,
    ) -> Result<MergeRequest, Error> {
        let path = format!("/projects/{}/merge_requests/{mr_iid}", project.into().segment());
        let request = self.request(Method::PUT, &path, &[], Some(update.body()), Replay::Always)?;
        self.call(&request).await
    }

    /// The MR's diff versions, newest first; the first one's SHAs anchor new diff comments.
    pub async fn merge_request_versions(
        &self,
        project: impl Into<ProjectId>,
        mr_iid: u64,
    ) -> Result<Vec<MergeRequestVersion>, Error> {
        let path = format!("/projects/{}/merge_requests/{mr_iid}/versions", project.into().segment());
        self.get_all(&path, &[]).await
    }

    /// Every file of the MR's current diff (all pages).
    pub async fn merge_request_diffs(
        &self,
        project: impl Into<ProjectId>,
        mr_iid: u64,
    ) -> Result<Vec<FileDiff>, Error> {
        let path = format!("/projects/{}/merge_requests/{mr_iid}/diffs", project.into().segment());
        self.get_all(&path, &[]).await
    }

    /// The MR's reviewers with their review state.
    pub async fn merge_request_reviewers(
        &self,
        project: impl Into<ProjectId>,
        mr_iid: u64,
    ) -> Result<Vec<MergeRequestReviewer>, Error> {
        let path = format!("/projects/{}/merge_requests/{mr_iid}/reviewers", project.into().segment());
        self.get(&path, &[]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_gets_the_prefix_once_and_lists_are_encoded_as_gitlab_takes_them() {
        let new = NewMergeRequest {
            source_branch: "copilot/issue-7".into(),
            target_branch: "main".into(),
            title: "Fix the parser".into(),
            draft: true,
            reviewer_ids: vec![5, 6],
            labels: vec!["copilot".into(), "bug".into()],
            ..NewMergeRequest::default()
        };
        let body = new.body();
        assert_eq!(body["title"], "Draft: Fix the parser");
        assert_eq!(body["reviewer_ids"], json!([5, 6]));
        assert_eq!(body["labels"], "copilot,bug");
        assert!(body.get("assignee_ids").is_none() && body.get("description").is_none());
        let again = NewMergeRequest { title: "draft: already".into(), ..new };
        assert_eq!(again.body()["title"], "draft: already");
    }

    #[test]
    fn an_update_sends_only_what_changes() {
        let update = MergeRequestUpdate {
            add_labels: vec!["a".into()],
            reviewer_ids: Some(vec![]),
            ..MergeRequestUpdate::default()
        };
        assert_eq!(update.body(), json!({ "add_labels": "a", "reviewer_ids": [] }));
    }
}
