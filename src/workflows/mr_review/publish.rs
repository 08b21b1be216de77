//! Posting a review's inline findings on GitLab: one discussion each, or with
//! `COPILOT_REVIEW_AS_DRAFT` one draft note each, published together in a single bulk publish so
//! people get one notification for the whole review.
//!
//! Either way a position GitLab refuses moves that finding to the summary instead of failing the
//! review. In draft mode the agent's pending drafts are read first: drafts a stopped job left
//! are kept and published, or deleted when this review does not post their finding inline
//! ([`crate::review::drafts`]), so a finding is never drafted twice.

use anyhow::Context as _;

use super::super::Job;
use crate::gitlab::Error;
use crate::prompts::message::UnplacedFinding;
use crate::report::Reporter;
use crate::review::drafts;
use crate::review::findings::Fingerprint;
use crate::review::post::{self, InlineComment, ReviewPlan};

/// Where the findings go.
pub(super) struct Target<'r, 'c> {
    pub reporter: &'r Reporter<'c>,
    pub project_id: u64,
    pub mr_iid: u64,
    /// Whether findings become inline discussions at all.
    pub inline: bool,
}

/// Posts every placeable new finding of `plan` inline (when enabled), directly or as drafts.
/// Returns how many are on the diff now and the findings that go to the summary instead. A
/// review asked for in an internal note posts no inline discussion (GitLab's diff discussions
/// cannot be internal): its findings go to the summary, which is internal like every reply to
/// that note.
pub(super) async fn post_inline(
    job: &Job,
    target: &Target<'_, '_>,
    plan: &ReviewPlan,
) -> anyhow::Result<(u32, Vec<UnplacedFinding>)> {
    if !target.inline {
        return Ok((0, plan.inline.iter().map(|comment| post::summary_finding(&comment.finding)).collect()));
    }
    if job.settings.review.as_draft {
        return post_drafts(job, target, &plan.inline).await;
    }
    post_discussions(job, target, plan.inline.iter()).await
}

/// Whether GitLab refused a note's position (the finding then goes to the summary).
fn refused(error: &Error) -> bool {
    matches!(error, Error::Status { code: 400 | 422, .. })
}

/// One discussion per finding.
async fn post_discussions<'a>(
    job: &Job,
    target: &Target<'_, '_>,
    comments: impl Iterator<Item = &'a InlineComment>,
) -> anyhow::Result<(u32, Vec<UnplacedFinding>)> {
    let client = target.reporter.client;
    let (mut posted, mut unplaced) = (0, Vec::new());
    for comment in comments {
        let body = comment.body(&job.prompts, job.language()).context("while rendering a finding")?;
        match client.create_diff_discussion(target.project_id, target.mr_iid, &body, &comment.position).await {
            Ok(_) => posted += 1,
            Err(error) if refused(&error) => {
                tracing::warn!(file = %comment.finding.file, line = comment.finding.line, %error, "GitLab refused the position; the finding goes to the summary");
                unplaced.push(post::summary_finding(&comment.finding));
            }
            Err(error) => return Err(anyhow::Error::new(error).context("while posting a review discussion")),
        }
    }
    Ok((posted, unplaced))
}

/// One draft per finding (reusing those a stopped job left), then one bulk publish.
async fn post_drafts(
    job: &Job,
    target: &Target<'_, '_>,
    inline: &[InlineComment],
) -> anyhow::Result<(u32, Vec<UnplacedFinding>)> {
    let client = target.reporter.client;
    let (project, mr) = (target.project_id, target.mr_iid);
    let pending = client.draft_notes(project, mr).await.context("while reading the agent's draft notes")?;
    let plan = drafts::reconcile(&pending, inline);
    if !plan.kept.is_empty() || !plan.stale.is_empty() {
        tracing::info!(kept = plan.kept.len(), stale = plan.stale.len(), "draft notes left by an earlier job");
    }
    for id in &plan.stale {
        client.delete_draft_note(project, mr, *id).await.context("while deleting a stale draft note")?;
    }
    let mut drafted = plan.kept.len();
    let mut unplaced = Vec::new();
    for comment in plan.to_create.iter().filter_map(|at| inline.get(*at)) {
        let body = comment.body(&job.prompts, job.language()).context("while rendering a finding")?;
        match client.create_draft_note(project, mr, &body, &comment.position).await {
            Ok(_) => drafted += 1,
            Err(error) if refused(&error) => {
                tracing::warn!(file = %comment.finding.file, line = comment.finding.line, %error, "GitLab refused the draft's position; the finding goes to the summary");
                unplaced.push(post::summary_finding(&comment.finding));
            }
            Err(error) => return Err(anyhow::Error::new(error).context("while creating a review draft note")),
        }
    }
    if drafted == 0 {
        return Ok((0, unplaced));
    }
    if plan.foreign > 0 {
        tracing::warn!(drafts = plan.foreign, "the agent user has other draft notes here; they are published too");
    }
    match client.bulk_publish_draft_notes(project, mr).await {
        Ok(()) => Ok((u32::try_from(drafted).unwrap_or(u32::MAX), unplaced)),
        Err(error) if refused(&error) => {
            // A draft GitLab will not publish holds back all of them: what is still a draft is
            // posted one by one instead, where a refused position only moves its own finding.
            tracing::warn!(%error, "GitLab refused to publish the drafts; posting them one by one");
            let left = undrafted(target, inline).await?;
            let published = u32::try_from(drafted.saturating_sub(left.len())).unwrap_or(u32::MAX);
            let (posted, mut refused) = post_discussions(job, target, left.into_iter()).await?;
            unplaced.append(&mut refused);
            Ok((published + posted, unplaced))
        }
        Err(error) => Err(anyhow::Error::new(error).context("while publishing the review's draft notes")),
    }
}

/// After a refused publish: deletes the review's remaining drafts and returns the findings of
/// `inline` they carried, still to post.
async fn undrafted<'a>(target: &Target<'_, '_>, inline: &'a [InlineComment]) -> anyhow::Result<Vec<&'a InlineComment>> {
    let client = target.reporter.client;
    let pending =
        client.draft_notes(target.project_id, target.mr_iid).await.context("while reading the agent's draft notes")?;
    let mut left = Vec::new();
    for draft in &pending {
        let Some(fingerprint) = Fingerprint::find_in(&draft.note) else { continue };
        client
            .delete_draft_note(target.project_id, target.mr_iid, draft.id)
            .await
            .context("while deleting an unpublished draft note")?;
        if let Some(comment) = inline.iter().find(|comment| comment.finding.fingerprint() == fingerprint) {
            left.push(comment);
        }
    }
    Ok(left)
}
