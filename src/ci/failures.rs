//! What failed in a pipeline and what to do about it.
//!
//! GitLab says why a job failed in `failure_reason`. A runner that died, a job stuck without a
//! runner, a scheduler or API hiccup say nothing about the code: such jobs are retried, never
//! "fixed" by changing code. A script failure is the code's (or the tests') and goes to the fix
//! stage. Some reasons neither a retry nor a code change can help (a CI quota, a blocked user, a
//! deployment rule): those go to a person. Jobs allowed to fail do not count.
//!
//! A failed bridge (a `trigger:` job, which `/jobs` leaves out) failed because its downstream
//! pipeline did: a child pipeline of the same project, or a pipeline of another project. Its
//! failed jobs are followed, a few levels deep, and sorted like the pipeline's own; each keeps
//! its own project, through which it is retried and its log read. A downstream pipeline the
//! agent may not read (another project it is no member of) is [`Hidden`]: reported, never
//! guessed at.

use crate::gitlab::{self, Client, Job, JobPipeline, Status};

/// How many levels of downstream pipelines are followed below the pipeline itself.
pub const DOWNSTREAM_DEPTH: u32 = 3;

/// What a failure reason calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Retry the job; the failure is the infrastructure's.
    Retry,
    /// Change the code: a script (build, test, lint) failed.
    Fix,
    /// Neither helps: a quota, a permission, a deployment or configuration rule.
    Person,
}

/// Reasons that are the infrastructure's: the same job may pass when run again.
const INFRASTRUCTURE: &[&str] = &[
    "runner_system_failure",
    "stuck_or_timeout_failure",
    "scheduler_failure",
    "api_failure",
    "data_integrity_failure",
    "job_execution_timeout",
    "unmet_prerequisites",
    "runner_unsupported",
];

/// Reasons no retry and no code change can fix.
const FOR_A_PERSON: &[&str] = &[
    "ci_quota_exceeded",
    "no_matching_runner",
    "user_blocked",
    "project_deleted",
    "builds_disabled",
    "archived_failure",
    "stale_schedule",
    "missing_dependency_failure",
    "protected_environment_failure",
    "deployment_rejected",
    "forward_deployment_failure",
    "failed_outdated_deployment_job",
    "insufficient_bridge_permissions",
    "secrets_provider_not_found",
    "ip_restriction_failure",
    "pipeline_loop_detected",
    "trace_size_exceeded",
];

/// What `failure_reason` calls for (pure). A missing or unknown reason is treated as a script
/// failure: the log decides.
pub fn remedy(failure_reason: Option<&str>) -> Remedy {
    let Some(reason) = failure_reason.map(str::trim) else { return Remedy::Fix };
    if INFRASTRUCTURE.contains(&reason) {
        Remedy::Retry
    } else if FOR_A_PERSON.contains(&reason) {
        Remedy::Person
    } else {
        Remedy::Fix
    }
}

/// The failed jobs of a pipeline that count (not allowed to fail, latest run), by remedy.
#[derive(Debug, Clone, Default)]
pub struct Failures {
    pub retry: Vec<Job>,
    pub fix: Vec<Job>,
    pub person: Vec<Job>,
    /// Failed downstream pipelines the agent cannot read.
    pub hidden: Vec<Hidden>,
}

/// A failed downstream pipeline the agent cannot see (GitLab answered 403 or 404 for its jobs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hidden {
    /// The bridge that started it.
    pub bridge: String,
    pub project_id: u64,
    pub pipeline_id: u64,
}

impl Failures {
    /// Sorts failed jobs by what they call for; jobs that are allowed to fail or were retried
    /// already (a newer run exists) are left out (pure).
    pub fn sort(jobs: Vec<Job>) -> Self {
        let mut failures = Self::default();
        for job in jobs {
            if job.status != Status::Failed || job.allow_failure || job.retried == Some(true) {
                continue;
            }
            match remedy(job.failure_reason.as_deref()) {
                Remedy::Retry => failures.retry.push(job),
                Remedy::Fix => failures.fix.push(job),
                Remedy::Person => failures.person.push(job),
            }
        }
        failures
    }

    pub fn is_empty(&self) -> bool {
        self.retry.is_empty() && self.fix.is_empty() && self.person.is_empty() && self.hidden.is_empty()
    }

    fn extend(&mut self, other: Self) {
        self.retry.extend(other.retry);
        self.fix.extend(other.fix);
        self.person.extend(other.person);
        self.hidden.extend(other.hidden);
    }

    /// Every counted failed job.
    pub fn all(&self) -> impl Iterator<Item = &Job> {
        self.person.iter().chain(&self.fix).chain(&self.retry)
    }
}

/// Lists the failed jobs of pipeline `pipeline_id` that count, sorted by remedy, with those of
/// its failed downstream pipelines (up to [`DOWNSTREAM_DEPTH`] levels below).
pub async fn failures(client: &Client, project_id: u64, pipeline_id: u64) -> Result<Failures, gitlab::Error> {
    let mut found = Failures::default();
    // (project, pipeline, level, the bridge that started it); a queue keeps this iterative.
    let mut queue = vec![(project_id, pipeline_id, 0, None::<String>)];
    while let Some((project, pipeline, level, bridge)) = queue.pop() {
        let jobs = match client.pipeline_jobs(project, pipeline, &[Status::Failed], false).await {
            Ok(jobs) => jobs,
            Err(gitlab::Error::NotFound { .. } | gitlab::Error::Forbidden { .. }) if bridge.is_some() => {
                let bridge = bridge.unwrap_or_default();
                tracing::info!(project, pipeline, %bridge, "a failed downstream pipeline the agent cannot read");
                found.hidden.push(Hidden { bridge, project_id: project, pipeline_id: pipeline });
                continue;
            }
            Err(error) => return Err(error),
        };
        found.extend(Failures::sort(jobs.into_iter().map(|job| with_project(job, project, pipeline)).collect()));
        let bridges = client.pipeline_bridges(project, pipeline, &[Status::Failed]).await?;
        for bridge in
            bridges.into_iter().filter(|bridge| bridge.job.status == Status::Failed && !bridge.job.allow_failure)
        {
            match &bridge.downstream_pipeline {
                Some(downstream) if level < DOWNSTREAM_DEPTH => {
                    let downstream_project = downstream.project_id.unwrap_or(project);
                    queue.push((downstream_project, downstream.id, level + 1, Some(bridge.job.name.clone())));
                }
                // No downstream pipeline (it could not be created), or one too deep to follow.
                _ => found.person.push(with_project(bridge.job, project, pipeline)),
            }
        }
    }
    Ok(found)
}

/// The project a (possibly downstream) failed job belongs to; `default` when GitLab did not say.
pub fn project_of(job: &Job, default: u64) -> u64 {
    job.pipeline.as_ref().and_then(|pipeline| pipeline.project_id).unwrap_or(default)
}

/// `job` with its pipeline's project filled in, so it is retried and read through its own project.
fn with_project(mut job: Job, project_id: u64, pipeline_id: u64) -> Job {
    let pipeline = job.pipeline.get_or_insert(JobPipeline { id: pipeline_id, project_id: None, status: None });
    pipeline.project_id.get_or_insert(project_id);
    job
}

/// Retries each job through its own project (a downstream pipeline's may be another); returns
/// the new jobs.
pub async fn retry(client: &Client, project_id: u64, jobs: &[Job]) -> Result<Vec<Job>, gitlab::Error> {
    let mut retried = Vec::with_capacity(jobs.len());
    for job in jobs {
        tracing::info!(job = job.id, name = %job.name, reason = ?job.failure_reason, "retrying an infrastructure failure");
        retried.push(client.retry_job(project_of(job, project_id), job.id).await?);
    }
    Ok(retried)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, reason: Option<&str>, allow_failure: bool) -> Job {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": format!("job-{id}"), "stage": "test", "status": "failed", "ref": "copilot/x",
            "allow_failure": allow_failure, "failure_reason": reason,
        }))
        .expect("a valid job")
    }

    #[test]
    fn infrastructure_failures_are_retried_script_failures_fixed() {
        assert_eq!(remedy(Some("runner_system_failure")), Remedy::Retry);
        assert_eq!(remedy(Some("stuck_or_timeout_failure")), Remedy::Retry);
        assert_eq!(remedy(Some("scheduler_failure")), Remedy::Retry);
        assert_eq!(remedy(Some("api_failure")), Remedy::Retry);
        assert_eq!(remedy(Some("script_failure")), Remedy::Fix);
        assert_eq!(remedy(Some("unknown_failure")), Remedy::Fix);
        assert_eq!(remedy(Some("a_reason_from_the_future")), Remedy::Fix);
        assert_eq!(remedy(None), Remedy::Fix);
        assert_eq!(remedy(Some("ci_quota_exceeded")), Remedy::Person);
    }

    #[test]
    fn jobs_allowed_to_fail_do_not_count() {
        let sorted = Failures::sort(vec![
            job(1, Some("script_failure"), false),
            job(2, Some("script_failure"), true),
            job(3, Some("runner_system_failure"), false),
            job(4, Some("user_blocked"), false),
        ]);
        let ids = |jobs: &[Job]| jobs.iter().map(|job| job.id).collect::<Vec<_>>();
        assert_eq!(ids(&sorted.fix), [1]);
        assert_eq!(ids(&sorted.retry), [3]);
        assert_eq!(ids(&sorted.person), [4]);
        assert!(!sorted.is_empty() && Failures::sort(Vec::new()).is_empty());
    }
}
