//! Plans people approve: `@agent plan` (or every request, with `COPILOT_REQUIRE_PLAN_APPROVAL`)
//! posts the plan of an issue's work and pushes nothing; `@agent proceed` runs exactly that plan.
//!
//! The plan note stores the plan itself ([`Marker::plan_data`]) with the SHA-256 of what it
//! stores ([`Marker::plan`]), and the stored record holds the hash of the issue's title and
//! description when it was planned. Only the agent's own notes are read for it. `proceed` runs the
//! newest stored plan when its hash checks and the issue is unchanged; otherwise it says so and
//! plans again.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::gitlab::{Issue, Note};
use crate::planner::Plan;
use crate::prompts::markers::{self, Marker};
use crate::prompts::message::{PlanNote, Step};
use crate::stages::outputs::Analysis;
use crate::untrusted::{MarkdownCodeSpan, MarkdownText, Username};

/// What a plan note stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPlan {
    pub plan: Plan,
    /// The note whose request the plan is for; `None`: the issue itself.
    pub request_note: Option<u64>,
    /// SHA-256 of the issue's title and description when it was planned.
    pub issue: String,
}

/// Why a stored plan is not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// No plan note on the issue.
    Missing,
    /// The issue changed since the plan, or the note's plan does not match its hash.
    Changed,
}

/// SHA-256 (hex) of an issue's title and description.
pub fn issue_hash(issue: &Issue) -> String {
    sha256(format!("{}\n{}", issue.title, issue.description.as_deref().unwrap_or_default()).as_bytes())
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

impl StoredPlan {
    /// The markers a plan note carries: the hash, and the record.
    pub fn markers(&self) -> (Marker, Marker) {
        let json = serde_json::to_vec(self).unwrap_or_default();
        (Marker::plan(&sha256(&json)), Marker::plan_data(&URL_SAFE_NO_PAD.encode(&json)))
    }

    /// The plan note about this plan, whose analysis (when it ran) is `analysis`.
    pub fn note(&self, actor: Option<&str>, analysis: Option<&Analysis>) -> PlanNote {
        let (marker, data) = self.markers();
        let files = match analysis {
            Some(analysis) if !analysis.relevant_files.is_empty() => &analysis.relevant_files,
            _ => &self.plan.mentioned_paths,
        };
        let criteria = match analysis {
            Some(analysis) if !analysis.acceptance_criteria.is_empty() => &analysis.acceptance_criteria,
            _ => &self.plan.acceptance_criteria,
        };
        PlanNote {
            actor: actor.map(Username::new),
            complexity: self.plan.complexity,
            stages: self.plan.stages.iter().map(|planned| Step::Stage(planned.stage)).collect(),
            files: files.iter().map(|path| MarkdownCodeSpan::new(path)).collect(),
            acceptance_criteria: criteria.iter().map(|item| MarkdownText::new(item)).collect(),
            summary: analysis.map(|analysis| MarkdownText::new(&analysis.summary)),
            marker,
            data,
        }
    }
}

/// The newest plan among the agent's notes (`agent_user_id`'s) on `issue`, if it may run.
pub fn stored(notes: &[Note], agent_user_id: u64, issue: &Issue) -> Result<StoredPlan, Unusable> {
    let (hash, data) = notes
        .iter()
        .rev()
        .filter(|note| !note.system && note.author.as_ref().is_some_and(|author| author.id == agent_user_id))
        .find_map(|note| markers::plan(&note.body))
        .ok_or(Unusable::Missing)?;
    let json = URL_SAFE_NO_PAD.decode(data).map_err(|_| Unusable::Changed)?;
    if sha256(&json) != hash {
        tracing::warn!("the stored plan does not match its hash; planning again");
        return Err(Unusable::Changed);
    }
    let stored: StoredPlan = serde_json::from_slice(&json).map_err(|_| Unusable::Changed)?;
    if stored.issue != issue_hash(issue) {
        tracing::info!("the issue changed since its plan; planning again");
        return Err(Unusable::Changed);
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::{PlanOptions, ProjectTraits};

    fn an_issue(description: &str) -> Issue {
        serde_json::from_value(serde_json::json!({
            "id": 1, "iid": 4, "project_id": 7, "title": "Add a greeting", "description": description,
            "state": "opened", "web_url": "https://gitlab.example.com/acme/widgets/-/issues/4"
        }))
        .unwrap()
    }

    fn note(author: u64, body: &str) -> Note {
        serde_json::from_value(serde_json::json!({"id": 9, "body": body, "author": {"id": author, "username": "a"}}))
            .unwrap()
    }

    #[test]
    fn a_plan_is_read_back_only_unchanged_and_from_the_agent() {
        let issue = an_issue("Please add greeting.txt.");
        let plan = crate::planner::plan("Add greeting.txt", &ProjectTraits::default(), &PlanOptions::issue(true));
        let stored = StoredPlan { plan, request_note: Some(3), issue: issue_hash(&issue) };
        let (marker, data) = stored.markers();
        let body = format!("plan\n{}\n{}\n", marker.as_str(), data.as_str());

        assert_eq!(super::stored(&[note(1, &body)], 1, &issue), Ok(stored.clone()));
        // Another user's note carrying the same markers is not the agent's plan.
        assert_eq!(super::stored(&[note(2, &body)], 1, &issue), Err(Unusable::Missing));
        // The issue changed since.
        assert_eq!(super::stored(&[note(1, &body)], 1, &an_issue("Also a farewell.")), Err(Unusable::Changed));
        // The data no longer matches its hash.
        let (_, other) = StoredPlan { request_note: None, ..stored }.markers();
        let tampered = format!("plan\n{}\n{}\n", marker.as_str(), other.as_str());
        assert_eq!(super::stored(&[note(1, &tampered)], 1, &issue), Err(Unusable::Changed));
    }
}
