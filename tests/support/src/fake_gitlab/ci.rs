//! The fake's CI: which jobs a new pipeline gets and how they end, scripted per project.
//!
//! A push to a branch, a trigger call or a retry creates jobs from the project's [`CiScript`];
//! a [`CiRule`] matching the ref decides the outcome (succeed, fail with a trace, fail the first
//! N runs then pass, wait on a manual job, or stay pending for the test to drive). `reads_until_done` makes a pipeline
//! report `running` for that many reads first, so pollers are exercised without any clock.
//! A pipeline's status is derived from its jobs, as GitLab's composite status is.
//!
//! [`Outcome::Child`] gives a pipeline a bridge (a `trigger:` job) and a downstream pipeline
//! whose jobs end as the inner outcome says; the bridge's status follows the downstream's (as
//! `trigger: strategy: depend` makes it), and through it the parent's. With
//! [`CiScript::merged_results`], a push to the source branch of an open merge request runs the
//! merge request's pipeline on `refs/merge-requests/<iid>/merge` instead of a branch pipeline
//! (see `push.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::clock::now;
use super::model::{Job, Pipeline, State};

/// A job every new pipeline of the project gets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobSpec {
    pub name: String,
    pub stage: String,
    #[serde(default)]
    pub allow_failure: bool,
}

impl JobSpec {
    pub fn new(name: &str, stage: &str) -> Self {
        Self { name: name.to_owned(), stage: stage.to_owned(), allow_failure: false }
    }
}

/// How a pipeline's jobs end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Outcome {
    /// Jobs stay `pending` until the test sets their status.
    Pending,
    /// Every job succeeds.
    Succeed,
    /// `job` fails with `trace` and `failure_reason` (e.g. `script_failure`,
    /// `runner_system_failure`, `job_execution_timeout`); later stages are skipped.
    Fail { job: String, trace: String, failure_reason: String },
    /// The first `runs` runs on the ref fail as [`Outcome::Fail`] would, later ones succeed.
    FailFirst { runs: u32, job: String, trace: String, failure_reason: String },
    /// `job` waits for a person to start it (`manual`, a blocking manual job); the others succeed.
    Manual { job: String },
    /// Run `n` on the ref (pipelines created plus retries, from 0) ends as entry `n`, runs past
    /// the end as the last entry: a failure that changes from one fix attempt to the next. The
    /// entries are plain outcomes (not `FailFirst` or `Each`).
    Each(Vec<Outcome>),
    /// The project's jobs succeed, and the bridge `bridge` (a `trigger:` job in a last stage of
    /// its own) starts a downstream pipeline whose jobs end as `outcome`: a child pipeline of
    /// the same project (`project: None`; source `parent_pipeline`, the same ref and sha) or a
    /// pipeline of project `project` (source `pipeline`, on its default branch; its sha is the
    /// parent's, not read from its repository). The downstream gets its project's jobs.
    Child { bridge: String, outcome: Box<Outcome>, project: Option<String> },
}

impl Outcome {
    /// This outcome on run `run` of its rule: `FailFirst` becomes `Fail` or `Succeed`, also
    /// inside a `Child`.
    fn on_run(&self, run: u32) -> Self {
        match self {
            Self::FailFirst { runs, job, trace, failure_reason } if run < *runs => {
                Self::Fail { job: job.clone(), trace: trace.clone(), failure_reason: failure_reason.clone() }
            }
            Self::FailFirst { .. } => Self::Succeed,
            Self::Each(outcomes) => {
                outcomes.get(run as usize).or(outcomes.last()).map_or(Self::Succeed, |outcome| outcome.on_run(run))
            }
            Self::Child { bridge, outcome, project } => {
                Self::Child { bridge: bridge.clone(), outcome: Box::new(outcome.on_run(run)), project: project.clone() }
            }
            other => other.clone(),
        }
    }

    /// What the pipeline's own jobs do: a `Child`'s parent jobs succeed.
    fn own(self) -> Self {
        match self {
            Self::Child { .. } => Self::Succeed,
            other => other,
        }
    }
}

/// Where a downstream pipeline's runs are scripted: the rule of `git_ref` in project
/// `project_id`, `depth` [`Outcome::Child`] levels down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptOrigin {
    pub project_id: u64,
    pub git_ref: String,
    pub depth: u32,
}

/// An outcome for pipelines whose ref matches `ref_pattern` (exact, or a prefix ending in `*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CiRule {
    pub ref_pattern: String,
    pub outcome: Outcome,
    /// Reads of the pipeline that still report `running` before the outcome shows.
    #[serde(default)]
    pub reads_until_done: u32,
}

impl CiRule {
    fn matches(&self, git_ref: &str) -> bool {
        match self.ref_pattern.strip_suffix('*') {
            Some(prefix) => git_ref.starts_with(prefix),
            None => self.ref_pattern == git_ref,
        }
    }
}

/// A project's CI configuration in the fake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CiScript {
    /// `false`: pushes create no pipelines (a project without `.gitlab-ci.yml`).
    pub enabled: bool,
    pub jobs: Vec<JobSpec>,
    /// First match wins; no match means [`Outcome::Succeed`].
    pub rules: Vec<CiRule>,
    /// The inputs the configuration declares in its `spec:inputs` header (`None`: no header,
    /// so the configuration takes no inputs).
    #[serde(default)]
    pub inputs: Option<Vec<String>>,
    /// The configuration's `workflow:name`, with `$NAME` variables expanded from the pipeline's
    /// variables and from its inputs under their upper-case names (as the agent project's
    /// template maps them); `None`: pipelines have no name.
    #[serde(default)]
    pub workflow_name: Option<String>,
    /// `workflow:rules` that run a triggered or API pipeline only when this variable (from the
    /// pipeline's variables, or its inputs under their upper-case names) is not empty, as the
    /// agent project's template does with `TRIGGER_TYPE`; any other such pipeline is "filtered
    /// out by workflow rules" and not created. `None`: no such rule.
    #[serde(default)]
    pub workflow_requires: Option<String>,
    /// Merged-results pipelines: a push to the source branch of an open merge request runs its
    /// pipeline on the merge of the branch into the target (`refs/merge-requests/<iid>/merge`,
    /// source `merge_request_event`) instead of a branch pipeline.
    #[serde(default)]
    pub merged_results: bool,
    /// Runs so far per ref (pipelines created plus retries), for [`Outcome::FailFirst`] and
    /// [`Outcome::Each`].
    #[serde(skip)]
    pub runs: BTreeMap<String, u32>,
}

impl Default for CiScript {
    fn default() -> Self {
        Self {
            enabled: true,
            jobs: vec![JobSpec::new("build", "build"), JobSpec::new("test", "test")],
            rules: Vec::new(),
            inputs: None,
            workflow_name: None,
            workflow_requires: None,
            merged_results: false,
            runs: BTreeMap::new(),
        }
    }
}

impl CiScript {
    /// Whether `workflow_requires` filters out a pipeline started with these parameters.
    pub fn filters_out(&self, variables: &[(String, String)], inputs: &[(String, String)]) -> bool {
        let Some(name) = &self.workflow_requires else { return false };
        let value = variables
            .iter()
            .cloned()
            .chain(inputs.iter().map(|(k, v)| (k.to_uppercase(), v.clone())))
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value)
            .next_back();
        value.is_none_or(|value| value.is_empty())
    }

    /// Counts one run on `git_ref` and returns the concrete outcome (never `FailFirst`) with the
    /// reads it stays running for.
    fn next_run(&mut self, git_ref: &str) -> (Outcome, u32) {
        let run = self.runs.entry(git_ref.to_owned()).or_insert(0);
        let this_run = *run;
        *run += 1;
        let Some(rule) = self.rules.iter().find(|rule| rule.matches(git_ref)) else {
            return (Outcome::Succeed, 0);
        };
        (rule.outcome.on_run(this_run), rule.reads_until_done)
    }
}

/// What starts a pipeline.
#[derive(Debug, Clone)]
pub struct PipelineStart {
    pub project_id: u64,
    pub git_ref: String,
    pub sha: String,
    pub before_sha: String,
    pub source: String,
    pub user_id: u64,
    pub variables: Vec<(String, String)>,
    pub inputs: Vec<(String, String)>,
}

/// `template` with every `$NAME` replaced by its value in `values` (an unknown one by nothing),
/// longest names first so `$TARGET_MR_IID` is not read as `$TARGET_MR` and more.
fn expand(template: &str, values: &[(String, String)]) -> String {
    let mut names: Vec<&(String, String)> = values.iter().collect();
    names.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let length = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        let name = &after[..length];
        out.push_str(names.iter().find(|(known, _)| known == name).map_or("", |(_, value)| value.as_str()));
        rest = &after[length..];
    }
    out.push_str(rest);
    out
}

/// Creates a pipeline with the project's jobs and schedules its scripted outcome.
/// Returns `None` when the project has CI disabled (and the source is a push).
pub fn create_pipeline(state: &mut State, start: PipelineStart) -> Option<u64> {
    let project = state.project_mut(start.project_id)?;
    if !project.ci.enabled && start.source == "push" {
        return None;
    }
    let (outcome, reads) = project.ci.next_run(&start.git_ref);
    let origin = ScriptOrigin { project_id: start.project_id, git_ref: start.git_ref.clone(), depth: 0 };
    create_run(state, start, outcome, reads, origin)
}

/// Creates a pipeline whose jobs end as `outcome`, with its downstream pipeline when `outcome`
/// is an [`Outcome::Child`].
fn create_run(
    state: &mut State,
    start: PipelineStart,
    outcome: Outcome,
    reads: u32,
    origin: ScriptOrigin,
) -> Option<u64> {
    let project = state.project_by_id(start.project_id)?;
    let specs = project.ci.jobs.clone();
    let name = project.ci.workflow_name.as_deref().map(|template| {
        let values =
            start.variables.iter().cloned().chain(start.inputs.iter().map(|(k, v)| (k.to_uppercase(), v.clone())));
        expand(template, &values.collect::<Vec<_>>())
    });
    let id = state.allocate("pipeline");
    let created = now();
    let project = state.project_mut(start.project_id)?;
    let iid = project.next_pipeline_iid;
    project.next_pipeline_iid += 1;
    let downstream = match &outcome {
        Outcome::Child { bridge, outcome, project } => Some((bridge.clone(), (**outcome).clone(), project.clone())),
        _ => None,
    };
    state.pipelines.push(Pipeline {
        id,
        iid,
        project_id: start.project_id,
        git_ref: start.git_ref.clone(),
        sha: start.sha.clone(),
        before_sha: start.before_sha,
        source: start.source,
        user_id: start.user_id,
        forced_status: None,
        name,
        variables: start.variables,
        inputs: start.inputs,
        reads_until_done: reads,
        pending_outcome: Some(outcome.own()),
        script_origin: (origin.depth > 0).then(|| origin.clone()),
        created_at: created.clone(),
        updated_at: created,
        started_at: None,
        finished_at: None,
    });
    for spec in specs {
        let job_id = state.allocate("job");
        state.jobs.push(new_job(
            job_id,
            id,
            start.project_id,
            &spec.name,
            &spec.stage,
            spec.allow_failure,
            start.user_id,
        ));
    }
    if let Some((bridge, inner, other_project)) = downstream {
        let (project_id, git_ref, source) = match other_project.map(|path| state.project(&path).cloned()) {
            None => (start.project_id, start.git_ref, "parent_pipeline"),
            Some(Some(other)) => (other.id, other.default_branch, "pipeline"),
            // No such project: a test mistake, shown as a pipeline without its bridge.
            Some(None) => {
                settle(state, id);
                return Some(id);
            }
        };
        let child_start = PipelineStart {
            project_id,
            git_ref,
            sha: start.sha,
            before_sha: "0".repeat(40),
            source: source.to_owned(),
            user_id: start.user_id,
            variables: Vec::new(),
            inputs: Vec::new(),
        };
        let child_origin = ScriptOrigin { depth: origin.depth + 1, ..origin };
        let child = create_run(state, child_start, inner, reads, child_origin);
        let bridge_id = state.allocate("job");
        let mut job = new_job(bridge_id, id, start.project_id, &bridge, "downstream", false, start.user_id);
        job.downstream = child;
        state.jobs.push(job);
    }
    settle(state, id);
    Some(id)
}

fn new_job(
    id: u64,
    pipeline_id: u64,
    project_id: u64,
    name: &str,
    stage: &str,
    allow_failure: bool,
    user_id: u64,
) -> Job {
    Job {
        id,
        pipeline_id,
        project_id,
        name: name.to_owned(),
        stage: stage.to_owned(),
        status: "pending".to_owned(),
        allow_failure,
        failure_reason: None,
        trace: String::new(),
        retried: false,
        downstream: None,
        user_id,
        created_at: now(),
        started_at: None,
        finished_at: None,
    }
}

/// Makes `pipeline_id` the pipeline of a job that is running now, as the agent's own job's
/// pipeline is while the job runs: one `copilot` job, `running`, with no outcome scheduled, so it
/// runs until cancelled.
pub fn hold_running(state: &mut State, pipeline_id: u64) {
    let Some(pipeline) = state.pipeline_mut(pipeline_id) else { return };
    pipeline.pending_outcome = None;
    pipeline.reads_until_done = 0;
    let (project_id, user_id) = (pipeline.project_id, pipeline.user_id);
    if !state.jobs.iter().any(|job| is_active_own(job, pipeline_id)) {
        let job_id = state.allocate("job");
        state.jobs.push(new_job(job_id, pipeline_id, project_id, "copilot", "test", false, user_id));
    }
    let started = now();
    for job in state.jobs.iter_mut().filter(|job| is_active_own(job, pipeline_id)) {
        job.status = "running".to_owned();
        job.started_at.get_or_insert_with(|| started.clone());
    }
}

/// Applies the pipeline's scheduled outcome once no reads remain; while reads remain its
/// active jobs report `running`.
fn settle(state: &mut State, pipeline_id: u64) {
    let Some(pipeline) = state.pipeline_mut(pipeline_id) else { return };
    if pipeline.reads_until_done > 0 {
        let started = now();
        for job in state.jobs.iter_mut().filter(|j| is_active_own(j, pipeline_id)) {
            job.status = "running".to_owned();
            job.started_at.get_or_insert_with(|| started.clone());
        }
        return;
    }
    let Some(outcome) = pipeline.pending_outcome.take() else { return };
    apply_outcome(state, pipeline_id, &outcome);
}

/// A job of the pipeline's latest run that runs on a runner (not a bridge) and has not ended.
fn is_active_own(job: &Job, pipeline_id: u64) -> bool {
    job.pipeline_id == pipeline_id && !job.retried && job.downstream.is_none() && !job.is_terminal()
}

/// Counts one read of a pipeline's status (get, list, jobs) and settles it when due; its
/// downstream pipelines are read with it, as their status makes its own.
pub fn observe(state: &mut State, pipeline_id: u64) {
    if let Some(pipeline) = state.pipeline_mut(pipeline_id)
        && pipeline.pending_outcome.is_some()
        && pipeline.reads_until_done > 0
    {
        pipeline.reads_until_done -= 1;
    }
    settle(state, pipeline_id);
    let downstream: Vec<u64> =
        state.jobs.iter().filter(|j| j.pipeline_id == pipeline_id && !j.retried).filter_map(|j| j.downstream).collect();
    for child in downstream {
        observe(state, child);
    }
}

/// A job's status; a bridge's is its downstream pipeline's.
pub fn job_status(state: &State, job: &Job) -> String {
    match job.downstream.and_then(|id| state.pipeline(id)) {
        Some(downstream) => pipeline_status(state, downstream),
        None if job.downstream.is_some() => "created".to_owned(),
        None => job.status.clone(),
    }
}

/// Finishes the active jobs of a pipeline as `outcome` says.
pub fn apply_outcome(state: &mut State, pipeline_id: u64, outcome: &Outcome) {
    let (failing, trace, reason) = match outcome {
        Outcome::Pending => return,
        Outcome::Manual { job } => {
            for stored in state.jobs.iter_mut().filter(|j| is_active_own(j, pipeline_id)) {
                stored.status = if &stored.name == job { "manual" } else { "success" }.to_owned();
            }
            return;
        }
        Outcome::Succeed | Outcome::FailFirst { .. } | Outcome::Each(_) | Outcome::Child { .. } => {
            (None, String::new(), String::new())
        }
        Outcome::Fail { job, trace, failure_reason } => (Some(job.clone()), trace.clone(), failure_reason.clone()),
    };
    let stages = stage_order(state, pipeline_id);
    let failed_stage = failing.as_ref().and_then(|name| {
        state
            .jobs
            .iter()
            .find(|j| j.pipeline_id == pipeline_id && !j.retried && &j.name == name)
            .map(|j| j.stage.clone())
    });
    let failed_stage_index = failed_stage.as_ref().and_then(|s| stages.iter().position(|x| x == s));
    let stamp = now();
    for job in state.jobs.iter_mut().filter(|j| is_active_own(j, pipeline_id)) {
        let stage_index = stages.iter().position(|s| *s == job.stage);
        let after_failure = matches!((failed_stage_index, stage_index), (Some(f), Some(s)) if s > f);
        if after_failure {
            job.status = "skipped".to_owned();
            continue;
        }
        job.started_at.get_or_insert_with(|| stamp.clone());
        job.finished_at = Some(stamp.clone());
        if failing.as_deref() == Some(job.name.as_str()) {
            job.status = "failed".to_owned();
            job.failure_reason = Some(reason.clone());
            job.trace = trace.clone();
        } else {
            job.status = "success".to_owned();
            if job.trace.is_empty() {
                job.trace = format!("Running job {}\n$ make {}\nJob succeeded\n", job.name, job.name);
            }
        }
    }
    if let Some(pipeline) = state.pipeline_mut(pipeline_id) {
        pipeline.updated_at = stamp;
    }
}

fn stage_order(state: &State, pipeline_id: u64) -> Vec<String> {
    let mut stages: Vec<String> = Vec::new();
    for job in state.jobs.iter().filter(|j| j.pipeline_id == pipeline_id) {
        if !stages.contains(&job.stage) {
            stages.push(job.stage.clone());
        }
    }
    stages
}

/// The latest (non-retried) jobs of a pipeline.
pub fn latest_jobs(state: &State, pipeline_id: u64) -> Vec<&Job> {
    state.jobs.iter().filter(|j| j.pipeline_id == pipeline_id && !j.retried).collect()
}

/// GitLab's composite status over the latest jobs, bridges included (or the status a test
/// forced).
pub fn pipeline_status(state: &State, pipeline: &Pipeline) -> String {
    if let Some(status) = &pipeline.forced_status {
        return status.clone();
    }
    let jobs: Vec<(String, bool)> =
        latest_jobs(state, pipeline.id).iter().map(|j| (job_status(state, j), j.allow_failure)).collect();
    if jobs.is_empty() {
        return "created".to_owned();
    }
    let has = |status: &str| jobs.iter().any(|(s, _)| s == status);
    let terminal = |status: &str| matches!(status, "success" | "failed" | "canceled" | "skipped");
    if has("running") || (has("pending") && jobs.iter().any(|(s, _)| terminal(s))) {
        return "running".to_owned();
    }
    for status in ["pending", "created", "waiting_for_resource", "preparing", "manual", "scheduled"] {
        if has(status) {
            return status.to_owned();
        }
    }
    if jobs.iter().any(|(s, allow_failure)| s == "failed" && !allow_failure) {
        return "failed".to_owned();
    }
    if has("canceled") {
        return "canceled".to_owned();
    }
    if jobs.iter().all(|(s, _)| s == "skipped") {
        return "skipped".to_owned();
    }
    if jobs.iter().all(|(s, allow_failure)| s == "success" || s == "skipped" || (s == "failed" && *allow_failure)) {
        return "success".to_owned();
    }
    "running".to_owned()
}

/// Earliest job start and, when the pipeline is terminal, latest job finish.
pub fn pipeline_times(state: &State, pipeline: &Pipeline, status: &str) -> (Option<String>, Option<String>) {
    let jobs = latest_jobs(state, pipeline.id);
    let started = jobs.iter().filter_map(|j| j.started_at.clone()).min();
    let terminal = matches!(status, "success" | "failed" | "canceled" | "skipped");
    let finished = if terminal {
        pipeline.finished_at.clone().or_else(|| jobs.iter().filter_map(|j| j.finished_at.clone()).max())
    } else {
        None
    };
    (pipeline.started_at.clone().or(started), finished)
}

/// Retries a job: the old one is marked retried, a fresh one is queued and scripted as a new
/// run on the ref. Returns the new job's id.
pub fn retry_job(state: &mut State, job_id: u64, user_id: u64) -> Option<u64> {
    let old = state.job(job_id)?.clone();
    let pipeline = state.pipeline(old.pipeline_id)?.clone();
    let new_id = state.allocate("job");
    if let Some(job) = state.job_mut(job_id) {
        job.retried = true;
    }
    state.jobs.push(new_job(
        new_id,
        old.pipeline_id,
        old.project_id,
        &old.name,
        &old.stage,
        old.allow_failure,
        user_id,
    ));
    rerun(state, &pipeline);
    Some(new_id)
}

/// Retries every failed or canceled latest job of a pipeline.
pub fn retry_pipeline(state: &mut State, pipeline_id: u64, user_id: u64) {
    let to_retry: Vec<u64> = latest_jobs(state, pipeline_id)
        .iter()
        .filter(|j| j.downstream.is_none() && matches!(j.status.as_str(), "failed" | "canceled" | "skipped"))
        .map(|j| j.id)
        .collect();
    let Some(pipeline) = state.pipeline(pipeline_id).cloned() else { return };
    for job_id in to_retry {
        let Some(old) = state.job(job_id).cloned() else { continue };
        let new_id = state.allocate("job");
        if let Some(job) = state.job_mut(job_id) {
            job.retried = true;
        }
        state.jobs.push(new_job(
            new_id,
            pipeline_id,
            old.project_id,
            &old.name,
            &old.stage,
            old.allow_failure,
            user_id,
        ));
    }
    if let Some(p) = state.pipeline_mut(pipeline_id) {
        p.forced_status = None;
        p.finished_at = None;
    }
    rerun(state, &pipeline);
}

/// Schedules the outcome of a new run on the pipeline's ref for its pending jobs; a downstream
/// pipeline's run is a new run of the rule that scripted it.
fn rerun(state: &mut State, pipeline: &Pipeline) {
    let origin = pipeline.script_origin.clone().unwrap_or_else(|| ScriptOrigin {
        project_id: pipeline.project_id,
        git_ref: pipeline.git_ref.clone(),
        depth: 0,
    });
    let Some(project) = state.project_mut(origin.project_id) else { return };
    let (mut outcome, reads) = project.ci.next_run(&origin.git_ref);
    for _ in 0..origin.depth {
        outcome = match outcome {
            Outcome::Child { outcome, .. } => *outcome,
            other => other,
        };
    }
    if let Some(p) = state.pipeline_mut(pipeline.id) {
        p.pending_outcome = Some(outcome.own());
        p.reads_until_done = reads;
    }
    settle(state, pipeline.id);
}

/// Cancels every active job of a pipeline.
pub fn cancel_pipeline(state: &mut State, pipeline_id: u64) {
    let stamp = now();
    for job in state.jobs.iter_mut().filter(|j| is_active_own(j, pipeline_id)) {
        job.status = "canceled".to_owned();
        job.finished_at = Some(stamp.clone());
    }
    if let Some(p) = state.pipeline_mut(pipeline_id) {
        p.pending_outcome = None;
        p.reads_until_done = 0;
        p.updated_at = stamp;
    }
}
