//! A person's stop request, as the running job learns it: the job watches its own pipeline and,
//! once GitLab says it was cancelled, no agent call starts and the one running ends, nothing more
//! is pushed and the status note is left to the stop request.

use std::time::Duration;

use tokio::sync::watch;

use crate::gitlab::{Client, Status};

/// Whether the job was asked to stop. Shared by the watcher that sets it and everything that
/// checks it.
#[derive(Debug)]
pub struct Stop(watch::Sender<bool>);

impl Default for Stop {
    fn default() -> Self {
        Self(watch::channel(false).0)
    }
}

impl Stop {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once the job is asked to stop (at once if it was already).
    pub async fn stopped(&self) {
        let mut asked = self.0.subscribe();
        // The sender lives as long as `self`, so the wait cannot end with it gone.
        let _ = asked.wait_for(|stopped| *stopped).await;
    }

    /// Polls the job's own pipeline (`project_id`, `pipeline_id`) every `interval` and stops the
    /// job once GitLab says it is cancelled or being cancelled. A failed poll is logged and the
    /// next one tried: only GitLab's own word stops the work.
    pub async fn watch(&self, client: &Client, project_id: u64, pipeline_id: u64, interval: Duration) {
        let mut failures = 0_u32;
        loop {
            tokio::time::sleep(interval).await;
            match client.pipeline(project_id, pipeline_id).await {
                Ok(pipeline) if matches!(pipeline.status, Status::Canceled | Status::Canceling) => {
                    tracing::warn!(pipeline = pipeline_id, "the job's pipeline was cancelled: stopping the work");
                    self.stop();
                    return;
                }
                Ok(_) => failures = 0,
                Err(error) => {
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!(%error, "cannot read the job's own pipeline; a stop request is noticed once it can");
                    }
                }
            }
        }
    }
}

/// The error that ends work a person stopped.
#[derive(Debug, thiserror::Error)]
#[error("a person stopped the work: the job's pipeline was cancelled")]
pub struct Stopped;

/// Whether `error` is, or was caused by, a stop request.
pub fn was_stopped(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.is::<Stopped>() || matches!(cause.downcast_ref(), Some(super::StageError::Stopped { .. })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_wakes_every_waiter_and_stays() {
        let stop = Stop::default();
        assert!(!stop.is_stopped());
        let waiting = async { stop.stopped().await };
        let (_, ()) = tokio::join!(async { stop.stop() }, waiting);
        assert!(stop.is_stopped());
        tokio::time::timeout(Duration::from_secs(1), stop.stopped()).await.expect("already stopped");
        let error = anyhow::Error::new(Stopped).context("while running the plan");
        assert!(was_stopped(&error));
        assert!(!was_stopped(&anyhow::anyhow!("other")));
    }
}
