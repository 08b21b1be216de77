//! Resolving the agent's own threads a re-review finds fixed or no longer applying: the diff from
//! each open thread's head to the reviewed head (read from the checkout), then, for each thread
//! [`crate::review::resolve`] picks, a reply and the resolve.
//!
//! The reply carries [`Marker::resolution`] and goes first, through the shared
//! [`super::super::thread_replies`]: a job stopped between the two leaves a thread the next
//! review resolves without replying again.

use std::collections::{HashMap, HashSet};

use anyhow::Context as _;

use super::super::Job;
use super::super::thread_replies::{ThreadReply, reply_then_resolve};
use crate::git::Workspace;
use crate::prompts::markers::Marker;
use crate::prompts::message::ReviewResolution;
use crate::review::diff::LineMap;
use crate::review::findings::Fingerprint;
use crate::review::resolve::{OpenThread, Resolution};

/// The diff from each open thread's head to `head_sha`: empty for `head_sha` itself, `known`
/// (the diff since the previous review) for its head, read from the checkout for older ones. A
/// head the checkout no longer has (force-pushed away) gets none.
pub(super) async fn diffs_since(
    workspace: &Workspace,
    threads: &[OpenThread],
    head_sha: &str,
    known: Option<(&str, &LineMap)>,
) -> anyhow::Result<HashMap<String, LineMap>> {
    let mut diffs = HashMap::new();
    for thread in threads {
        let from = thread.head_sha.as_str();
        if diffs.contains_key(from) {
            continue;
        }
        let diff = if from == head_sha {
            LineMap::default()
        } else if let Some((_, map)) = known.filter(|(sha, _)| *sha == from) {
            map.clone()
        } else if workspace.has_commit(from).await.unwrap_or(false) {
            let text = workspace.diff_text(from, head_sha).await.context("while diffing since a thread's head")?;
            LineMap::from_git_diff(&text).context("while reading the diff since a thread's head")?
        } else {
            tracing::warn!(head = %from, "a review thread's head is gone; its thread stays open");
            continue;
        };
        diffs.insert(from.to_owned(), diff);
    }
    Ok(diffs)
}

/// Replies in and resolves each thread of `resolutions`. Returns how many were resolved.
pub(super) async fn resolve_threads(
    job: &Job,
    (project_id, mr_iid): (u64, u64),
    resolutions: &[Resolution],
    head_sha: &str,
) -> anyhow::Result<u32> {
    let mut replies = Vec::new();
    for resolution in resolutions {
        let body = if resolution.reply {
            let reply = ReviewResolution {
                reason: resolution.reason,
                head_sha: head_sha.to_owned(),
                marker: Marker::resolution(),
            };
            let body = job
                .prompts
                .render_message(job.language(), &reply)
                .context("while rendering a resolved thread's reply")?;
            Some(body)
        } else {
            None
        };
        replies.push(ThreadReply { discussion_id: resolution.discussion_id.clone(), body, resolve: true });
    }
    Ok(reply_then_resolve(job, (project_id, mr_iid), &replies).await)
}

/// The fingerprints of every finding a review reported.
pub(super) fn reported(findings: &[crate::review::findings::Finding]) -> HashSet<Fingerprint> {
    findings.iter().map(crate::review::findings::Finding::fingerprint).collect()
}
