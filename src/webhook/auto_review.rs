//! Automatic reviews: which merge request events ask for a review nobody requested. A project
//! opts in with `COPILOT_AUTO_REVIEW` (`all`, or `label`: the merge requests that carry
//! `COPILOT_AUTO_REVIEW_LABEL`); then a merge request that is opened or reopened, pushed to,
//! given the label, or marked ready is reviewed, incrementally after the first review (the job
//! covers only what changed since the head its last summary names).
//!
//! Never reviewed automatically: drafts (unless `COPILOT_AUTO_REVIEW_DRAFTS`), and the agent's own
//! merge requests (from a branch of `COPILOT_BRANCH_PREFIX` in the project itself, or opened by the
//! agent). Whether a merge request is opted in is [`opted_in`] alone, so that another switch (a
//! file in the repository, say) has one place to join.
//!
//! Pure, like the rest of routing.

use crate::config::{AutoReview, AutoReviewSettings};
use crate::gitlab::events::{Label, MergeRequestEvent};

/// What about a merge request event may ask for an automatic review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// Opened or reopened.
    Opened,
    /// Commits were pushed to its source branch (`oldrev` is present).
    Pushed,
    /// The opt-in label was added.
    Labelled,
    /// A draft was marked ready.
    Ready,
}

/// Why a merge request event starts no automatic review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotWanted {
    /// Not an event an automatic review answers (closed, merged, approved, a title edit, …).
    NoOccasion,
    /// `COPILOT_AUTO_REVIEW=off`.
    Off,
    /// Not opted in (no label).
    NotOptedIn,
    /// A draft, and drafts are not reviewed automatically.
    Draft,
    /// The agent's own merge request.
    AgentMergeRequest,
}

/// Who the agent is, as far as automatic reviews care.
#[derive(Debug, Clone, Copy)]
pub struct AgentIdentity<'a> {
    pub username: &'a str,
    /// Prefix of the agent's branches.
    pub branch_prefix: &'a str,
}

/// Whether the project asks for automatic reviews of a merge request with these labels: the one
/// place the opt-in is decided.
pub fn opted_in(settings: &AutoReviewSettings, labels: &[&str]) -> bool {
    match settings.mode {
        AutoReview::Off => false,
        AutoReview::All => true,
        AutoReview::Label => labels.iter().any(|label| label.eq_ignore_ascii_case(&settings.label)),
    }
}

fn titles(labels: Option<&Vec<Label>>) -> Vec<&str> {
    labels.map(|labels| labels.iter().map(|label| label.title.as_str()).collect()).unwrap_or_default()
}

/// What in `mr` may call for an automatic review, if anything: the event kinds alone, before any
/// setting is looked at.
pub fn occasion(mr: &MergeRequestEvent, settings: &AutoReviewSettings) -> Option<Occasion> {
    let attributes = &mr.object_attributes;
    match attributes.action.as_deref() {
        Some("open" | "reopen") => Some(Occasion::Opened),
        Some("update") if attributes.oldrev.as_deref().is_some_and(|oldrev| !oldrev.is_empty()) => {
            Some(Occasion::Pushed)
        }
        Some("update") => {
            let changes = &mr.changes;
            let labelled = changes.labels.as_ref().is_some_and(|change| {
                let had = opted_in(settings, &titles(change.previous.as_ref()));
                !had && opted_in(settings, &titles(change.current.as_ref()))
            });
            let ready = changes
                .draft
                .as_ref()
                .is_some_and(|change| change.previous == Some(true) && change.current == Some(false));
            if labelled && settings.mode == AutoReview::Label {
                Some(Occasion::Labelled)
            } else if ready && !settings.drafts {
                Some(Occasion::Ready)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Whether `mr`'s event asks for an automatic review under `settings`: `Ok` with the occasion, or
/// why not. The caller has already found that nobody asked the agent to review.
pub fn wanted(
    mr: &MergeRequestEvent,
    settings: &AutoReviewSettings,
    agent: AgentIdentity<'_>,
) -> Result<Occasion, NotWanted> {
    let Some(occasion) = occasion(mr, settings) else {
        return Err(NotWanted::NoOccasion);
    };
    if settings.mode == AutoReview::Off {
        return Err(NotWanted::Off);
    }
    let attributes = &mr.object_attributes;
    let own_branch = attributes.source_branch.as_deref().is_some_and(|branch| branch.starts_with(agent.branch_prefix))
        && attributes.source_project_id == attributes.target_project_id.or(mr.project.id);
    if own_branch || (occasion == Occasion::Opened && mr.user.username.eq_ignore_ascii_case(agent.username)) {
        return Err(NotWanted::AgentMergeRequest);
    }
    if !opted_in(settings, &titles(mr.labels.as_ref())) {
        return Err(NotWanted::NotOptedIn);
    }
    if attributes.is_draft() && !settings.drafts {
        return Err(NotWanted::Draft);
    }
    if attributes.state.as_deref().is_some_and(|state| state != "opened") {
        return Err(NotWanted::NoOccasion);
    }
    Ok(occasion)
}

#[cfg(test)]
mod tests;
