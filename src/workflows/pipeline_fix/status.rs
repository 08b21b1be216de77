//! The loop's status note and end note: what they say and how the status note, which carries
//! the ledger and the lease, is posted once and then edited in place.

use anyhow::Context as _;

use super::{Fixer, lease_ttl, unix_now};
use crate::gitlab::Noteable;
use crate::prompts::markers::Marker;
use crate::prompts::message::{FlakyJob, HiddenDownstream, PipelineFixNote, PipelineFixOutcome, StopReason};
use crate::untrusted::{MarkdownCode, MarkdownCodeSpan};

impl Fixer<'_> {
    /// Posts or edits the status note, which carries the ledger; while the loop holds the lease,
    /// every edit renews it.
    pub(super) async fn publish(
        &mut self,
        outcome: PipelineFixOutcome,
        reason: Option<StopReason>,
    ) -> anyhow::Result<()> {
        if self.ledger.lease_until != 0 {
            self.ledger.lease_until = unix_now() + lease_ttl(self.job).as_secs();
        }
        let mut note = self.note(outcome, reason, None, Some(self.ledger.marker(&self.subject)));
        note.marker = Marker::pipeline_fix(&self.subject);
        let body = self.reporter.render(&note)?;
        let on = Noteable::MergeRequest(self.mr.iid);
        match self.note_id {
            Some(id) => {
                self.job.client.edit_note(self.project_id, on, id, &body).await.context("while editing the status")?;
            }
            None => {
                let internal = self.reporter.target.internal;
                let posted = self.job.client.create_note_visible(self.project_id, on, &body, internal).await;
                self.note_id = Some(posted.context("while posting the status")?.id);
            }
        }
        Ok(())
    }

    pub(super) fn note(
        &self,
        outcome: PipelineFixOutcome,
        reason: Option<StopReason>,
        last_excerpt: Option<MarkdownCode>,
        state: Option<Marker>,
    ) -> PipelineFixNote {
        PipelineFixNote {
            marker: Marker::status(&format!("pipeline-fix-end-{}-{}", self.subject, self.ledger.acted)),
            outcome,
            reason,
            attempts: self.ledger.attempts(|id| self.pipeline_url(id)),
            fix_attempts: self.ledger.fixes,
            max_attempts: self.job.settings.pipeline_fix.debug_max,
            last_excerpt,
            signature: self
                .came_back
                .as_deref()
                .filter(|_| reason == Some(StopReason::SameFailureTwice))
                .map(MarkdownCodeSpan::new),
            rejected_lines: match reason {
                Some(StopReason::WeakenedTests) => {
                    self.rejected_lines.iter().map(|line| MarkdownCodeSpan::new(line)).collect()
                }
                _ => Vec::new(),
            },
            flaky_jobs: self
                .flaky_jobs
                .iter()
                .map(|(failed, passed)| FlakyJob {
                    name: MarkdownCodeSpan::new(&failed.name),
                    failed_id: failed.id,
                    failed_url: failed.web_url.clone(),
                    passed_id: passed.id,
                    passed_url: passed.web_url.clone(),
                })
                .collect(),
            hidden_downstreams: self
                .hidden
                .iter()
                .map(|hidden| HiddenDownstream {
                    bridge: MarkdownCodeSpan::new(&hidden.bridge),
                    project_id: hidden.project_id,
                    pipeline_id: hidden.pipeline_id,
                })
                .collect(),
            job_url: self.job.job_url.clone(),
            state,
            usage: Some(self.job.spend.table()),
        }
    }

    /// The web address of pipeline `id` of the merge request's project.
    pub(super) fn pipeline_url(&self, id: u64) -> String {
        let project_url = self.mr.web_url.split("/-/merge_requests").next().unwrap_or(&self.mr.web_url);
        format!("{project_url}/-/pipelines/{id}")
    }
}
