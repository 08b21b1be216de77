//! Replying in merge request threads and resolving them: the one place that does both, for the
//! review (its own threads a later commit fixed) and for a request to address the threads.
//!
//! The reply goes first and carries a hidden marker of the caller's: a job stopped between the
//! two leaves a thread whose marker the next run reads, so it resolves without replying again.
//! A failed reply or resolve is logged and skipped; the thread stays open and the next run tries
//! again.

use super::Job;

/// What to do in one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ThreadReply {
    pub discussion_id: String,
    /// The reply's body (with its marker); `None` when the reply is already there.
    pub body: Option<String>,
    /// Whether to resolve the thread after the reply.
    pub resolve: bool,
}

/// Replies in each thread of `replies`, then resolves those marked so (not one whose reply
/// failed). Returns how many were resolved.
pub(super) async fn reply_then_resolve(job: &Job, (project_id, mr_iid): (u64, u64), replies: &[ThreadReply]) -> u32 {
    let mut resolved = 0;
    for reply in replies {
        let id = reply.discussion_id.as_str();
        if let Some(body) = &reply.body
            && let Err(error) = job.client.reply_to_discussion(project_id, mr_iid, id, body).await
        {
            tracing::warn!(discussion = id, %error, "could not reply in a thread; it stays open");
            continue;
        }
        if !reply.resolve {
            continue;
        }
        match job.client.resolve_discussion(project_id, mr_iid, id).await {
            Ok(_) => {
                resolved += 1;
                tracing::info!(discussion = id, "resolved a thread");
            }
            Err(error) => tracing::warn!(discussion = id, %error, "could not resolve a thread"),
        }
    }
    resolved
}
