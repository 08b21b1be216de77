//! Watching a pipeline until it ends.
//!
//! GitLab has no push for pipeline status that a CI job can wait on, so we poll, starting at
//! `RETRY_INTERVAL_TIME` and doubling up to eight times that. Three ways out besides a terminal
//! status keep the wait bounded: `manual` and `scheduled` mean the pipeline waits for a person or
//! a time (blocked, not running); a pipeline still `created`/`pending` after the queue limit has
//! no runner taking it; and the job's own deadline. Statuses we do not know count as running.

use std::time::Duration;

use tokio::time::Instant;

use super::merged;
use crate::gitlab::{self, Client, Pipeline, PipelineInfo, Status};

/// How long and how often to watch.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// The first poll interval; later ones double up to [`WatchOptions::max_interval`].
    pub interval: Duration,
    pub max_interval: Duration,
    /// How long a pipeline may wait for a runner (`created`, `pending`, …) before it is reported.
    pub queue_limit: Duration,
    /// When watching gives up, whatever the pipeline does.
    pub deadline: Instant,
}

impl WatchOptions {
    /// The options the settings give: backoff up to 8 intervals, a queue limit of 20 intervals.
    pub fn from_interval(interval: Duration, deadline: Instant) -> Self {
        Self { interval, max_interval: interval.saturating_mul(8), queue_limit: interval.saturating_mul(20), deadline }
    }
}

/// Where a status puts a pipeline, for the watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `success`, `failed`, `canceled`, `skipped`: it will not change by itself.
    Ended,
    /// `manual`, `scheduled`: waits for a person or a time.
    Blocked,
    /// Waits for a runner: `created`, `pending`, `waiting_for_resource`, `preparing`.
    Queued,
    /// `running`, `canceling` and any status we do not know.
    Running,
}

/// The phase of a status (pure).
pub fn phase(status: &Status) -> Phase {
    if status.is_terminal() {
        Phase::Ended
    } else if status.is_blocked() {
        Phase::Blocked
    } else if matches!(status, Status::Created | Status::Pending | Status::WaitingForResource | Status::Preparing) {
        Phase::Queued
    } else {
        Phase::Running
    }
}

/// The next poll interval after `current` (pure): double, capped at `max`.
pub fn next_interval(current: Duration, max: Duration) -> Duration {
    current.saturating_mul(2).min(max).max(current.min(max))
}

/// How watching ended.
#[derive(Debug, Clone)]
pub enum Watched {
    /// A terminal status.
    Ended(Pipeline),
    /// `manual` or `scheduled`.
    Blocked(Pipeline),
    /// Still waiting for a runner after the queue limit.
    NotPickedUp(Pipeline),
    /// The deadline passed first.
    OutOfTime(Pipeline),
}

impl Watched {
    pub fn pipeline(&self) -> &Pipeline {
        match self {
            Self::Ended(pipeline)
            | Self::Blocked(pipeline)
            | Self::NotPickedUp(pipeline)
            | Self::OutOfTime(pipeline) => pipeline,
        }
    }
}

/// Polls pipeline `pipeline_id` until it ends, blocks, sits in the queue too long, or the
/// deadline passes.
pub async fn watch(
    client: &Client,
    project_id: u64,
    pipeline_id: u64,
    options: &WatchOptions,
) -> Result<Watched, gitlab::Error> {
    let started = Instant::now();
    let mut interval = options.interval;
    loop {
        let pipeline = client.pipeline(project_id, pipeline_id).await?;
        let phase = phase(&pipeline.status);
        tracing::debug!(pipeline = pipeline_id, status = pipeline.status.as_str(), ?phase, "pipeline polled");
        match phase {
            Phase::Ended => return Ok(Watched::Ended(pipeline)),
            Phase::Blocked => return Ok(Watched::Blocked(pipeline)),
            Phase::Queued if started.elapsed() >= options.queue_limit => return Ok(Watched::NotPickedUp(pipeline)),
            Phase::Queued | Phase::Running => {}
        }
        let now = Instant::now();
        if now >= options.deadline {
            return Ok(Watched::OutOfTime(pipeline));
        }
        tokio::time::sleep(interval.min(options.deadline - now)).await;
        interval = next_interval(interval, options.max_interval);
    }
}

/// The newest of `pipelines` that is not a child pipeline. GitLab lists child pipelines (source
/// `parent_pipeline`) with their parent's ref and sha; their parent stands for them.
pub fn newest(pipelines: impl IntoIterator<Item = PipelineInfo>) -> Option<PipelineInfo> {
    pipelines.into_iter().filter(|pipeline| !is_child(pipeline)).max_by_key(|pipeline| pipeline.id)
}

fn is_child(pipeline: &PipelineInfo) -> bool {
    pipeline.source.as_deref() == Some("parent_pipeline")
}

/// Waits for the pipeline GitLab creates for `sha` on `branch` after a push: a branch pipeline,
/// or, for merge request `mr_iid`, a merged-results pipeline whose merge commit has `sha` as its
/// second parent. `None` when none appeared within the queue limit (the project may have no CI
/// for that commit).
pub async fn pipeline_for_push(
    client: &Client,
    project_id: u64,
    branch: &str,
    mr_iid: Option<u64>,
    sha: &str,
    options: &WatchOptions,
) -> Result<Option<PipelineInfo>, gitlab::Error> {
    let started = Instant::now();
    let mut interval = options.interval;
    loop {
        let mut found = client.pipelines_for_commit(project_id, branch, sha).await?;
        if let Some(iid) = mr_iid {
            found.extend(merge_request_pipeline_for(client, project_id, iid, sha).await?);
        }
        if let Some(newest) = newest(found) {
            return Ok(Some(newest));
        }
        let now = Instant::now();
        if started.elapsed() >= options.queue_limit || now >= options.deadline {
            return Ok(None);
        }
        tokio::time::sleep(interval.min(options.deadline - now)).await;
        interval = next_interval(interval, options.max_interval);
    }
}

/// How many of a merge request's newest pipelines are searched for the one of a push.
const RECENT_MR_PIPELINES: usize = 10;

/// The newest pipeline of merge request `mr_iid` that tested the branch commit `sha`.
async fn merge_request_pipeline_for(
    client: &Client,
    project_id: u64,
    mr_iid: u64,
    sha: &str,
) -> Result<Option<PipelineInfo>, gitlab::Error> {
    let mut pipelines = client.merge_request_pipelines(project_id, mr_iid).await?;
    pipelines.retain(|pipeline| !is_child(pipeline));
    pipelines.sort_by_key(|pipeline| std::cmp::Reverse(pipeline.id));
    // The push's pipeline is among the newest; each older merged-results one costs a commit read.
    for pipeline in pipelines.into_iter().take(RECENT_MR_PIPELINES) {
        if merged::is_current(client, project_id, &pipeline.git_ref, &pipeline.sha, sha).await? {
            return Ok(Some(pipeline));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fall_into_phases_and_unknown_ones_are_running() {
        let phase_of = |text: &str| phase(&Status::from(text));
        assert_eq!(phase_of("failed"), Phase::Ended);
        assert_eq!(phase_of("skipped"), Phase::Ended);
        assert_eq!(phase_of("manual"), Phase::Blocked);
        assert_eq!(phase_of("scheduled"), Phase::Blocked);
        assert_eq!(phase_of("pending"), Phase::Queued);
        assert_eq!(phase_of("created"), Phase::Queued);
        assert_eq!(phase_of("waiting_for_resource"), Phase::Queued);
        assert_eq!(phase_of("running"), Phase::Running);
        assert_eq!(phase_of("canceling"), Phase::Running);
        assert_eq!(phase_of("waiting_for_callback"), Phase::Running);
    }

    #[test]
    fn the_newest_pipeline_is_never_a_child_pipeline() {
        let pipeline = |id: u64, source: &str| -> PipelineInfo {
            serde_json::from_value(serde_json::json!({
                "id": id, "sha": "a", "ref": "copilot/x", "status": "failed", "source": source,
            }))
            .expect("a valid pipeline")
        };
        let newest = newest([pipeline(1, "push"), pipeline(3, "parent_pipeline"), pipeline(2, "merge_request_event")]);
        assert_eq!(newest.map(|pipeline| pipeline.id), Some(2));
        assert!(super::newest([pipeline(4, "parent_pipeline")]).is_none());
    }

    #[test]
    fn polling_backs_off_to_the_cap() {
        let max = Duration::from_secs(240);
        let mut interval = Duration::from_secs(30);
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(interval.as_secs());
            interval = next_interval(interval, max);
        }
        assert_eq!(seen, [30, 60, 120, 240, 240, 240]);
        let options = WatchOptions::from_interval(Duration::from_millis(50), Instant::now());
        assert_eq!(options.queue_limit, Duration::from_secs(1));
        assert_eq!(options.max_interval, Duration::from_millis(400));
    }
}
