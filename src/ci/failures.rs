//! What failed in a pipeline and what to do about it.
//!
//! GitLab says why a job failed in `failure_reason`. A runner that died, a job stuck without a
//! runner, a scheduler or API hiccup say nothing about the code: such jobs are retried, never
//! "fixed" by changing code. A script failure is the code's (or the tests') and goes to the fix
//! stage. Some reasons neither a retry nor a code change can help (a CI quota, a blocked user, a
//! deployment rule): those go to a person. Jobs allowed to fail do not count.

use crate::gitlab::{self, Client, Job, Status};

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
        self.retry.is_empty() && self.fix.is_empty() && self.person.is_empty()
    }

    /// Every counted failed job.
    pub fn all(&self) -> impl Iterator<Item = &Job> {
        self.person.iter().chain(&self.fix).chain(&self.retry)
    }
}

/// Lists the failed jobs of pipeline `pipeline_id` that count, sorted by remedy.
pub async fn failures(client: &Client, project_id: u64, pipeline_id: u64) -> Result<Failures, gitlab::Error> {
    let jobs = client.pipeline_jobs(project_id, pipeline_id, &[Status::Failed], false).await?;
    Ok(Failures::sort(jobs))
}

/// Retries each job; returns the new jobs.
pub async fn retry(client: &Client, project_id: u64, jobs: &[Job]) -> Result<Vec<Job>, gitlab::Error> {
    let mut retried = Vec::with_capacity(jobs.len());
    for job in jobs {
        tracing::info!(job = job.id, name = %job.name, reason = ?job.failure_reason, "retrying an infrastructure failure");
        retried.push(client.retry_job(project_id, job.id).await?);
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
