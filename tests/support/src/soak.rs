//! Many issue runs against a GitLab that misbehaves, or jobs killed at a random moment, and what
//! must hold after each: one branch, one merge request, one status note and one final note per
//! issue, nothing duplicated and no person's commit lost, whatever happened on the way.
//!
//! [`fault_soak`] runs each job with a share of every API and git call failing (500, 502, 503,
//! 429 with `Retry-After`, connection resets, 2 s delays), picked by a seeded stream; a run that
//! fails must say so in a failure note, and a run again without faults must converge.
//! [`kill_soak`] kills each job with `SIGKILL` (the job's whole process tree, as a cancelled CI
//! job's pod goes) at a seeded random moment, then runs it again to the end. The test suite runs
//! both in a short form; `examples/fault_soak.rs` runs the long form for `BENCHMARKS.md`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};

use crate::FakeGitLab;
use crate::ci_job::{CiJob, add_one_file_script};
use crate::fake_gitlab::{AGENT, Fault, FaultKind};
use crate::mock_model::MockModel;

const PROJECT: &str = "acme/widgets";
/// A person's commit on the default branch before each run: it must survive every run.
const PERSON: &str = "alice";

/// How a soak runs.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// The built `copilot-runner`.
    pub program: PathBuf,
    /// Where the Copilot CLI's warmed HOME is shared (the tests' `CARGO_TARGET_TMPDIR`).
    pub tmp: PathBuf,
    pub runs: usize,
    pub seed: u64,
    /// The share of API and git calls that fail ([`fault_soak`]).
    pub fault_share: f64,
}

/// What one run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub issue_iid: u64,
    /// The first job's exit code (`None`: killed).
    pub first_exit: Option<i32>,
    /// Calls the fake faulted during the first job ([`fault_soak`]).
    pub faults: usize,
    /// When the first job was killed, after its start ([`kill_soak`]).
    pub killed_after: Option<Duration>,
    /// Jobs it took to converge (1: the first one did).
    pub jobs: u32,
    pub elapsed: Duration,
}

/// Runs [`SoakOptions::runs`] issue runs with faults; `Err` names the first run that broke an
/// invariant and how.
pub async fn fault_soak(options: &SoakOptions) -> anyhow::Result<Vec<RunReport>> {
    let world = World::start().await?;
    let mut reports = Vec::new();
    for run in 0..options.runs {
        let started = Instant::now();
        let Run { job, iid, person, _dir, _model } = world.run(options, run).await?;
        let before = world.gitlab.requests().len();
        world.gitlab.inject(chaos(options.fault_share, options.seed.wrapping_add(run as u64)));
        let out = job.run().await;
        world.gitlab.clear_faults();
        let faults = world.gitlab.requests()[before..].iter().filter(|entry| entry.fault.is_some()).count();
        let first_exit = out.status.code();
        let mut jobs = 1;
        if first_exit != Some(0) {
            let notes = world.agent_notes(iid);
            ensure!(
                notes.iter().any(|body| body.contains("The work failed")),
                "run {run} (issue #{iid}) failed without a failure note ({faults} faults): {notes:#?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let again = job.run().await;
            jobs += 1;
            ensure!(
                again.status.code() == Some(0),
                "run {run} (issue #{iid}) did not converge on a re-run without faults:\n{}",
                String::from_utf8_lossy(&again.stderr)
            );
        }
        world.check(run, iid, &person).await?;
        reports.push(RunReport {
            issue_iid: iid,
            first_exit,
            faults,
            killed_after: None,
            jobs,
            elapsed: started.elapsed(),
        });
    }
    Ok(reports)
}

/// Runs [`SoakOptions::runs`] issue runs, each killed at a seeded moment within `window` of its
/// start and then run again to the end.
pub async fn kill_soak(options: &SoakOptions, window: Duration) -> anyhow::Result<Vec<RunReport>> {
    let world = World::start().await?;
    let mut reports = Vec::new();
    for run in 0..options.runs {
        let started = Instant::now();
        let Run { job, iid, person, _dir, _model } = world.run(options, run).await?;
        let at = window.mul_f64(unit(options.seed.wrapping_add(run as u64)));
        let first_exit = run_killed(&job, at).await?;
        let out = job.run().await;
        ensure!(
            out.status.code() == Some(0),
            "run {run} (issue #{iid}, killed after {at:?}) did not converge:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        world.check(run, iid, &person).await?;
        let killed_after = first_exit.is_none().then_some(at);
        reports.push(RunReport {
            issue_iid: iid,
            first_exit,
            faults: 0,
            killed_after,
            jobs: 2,
            elapsed: started.elapsed(),
        });
    }
    Ok(reports)
}

/// Every kind of failure the soak injects, on every route (API and git).
fn chaos(share: f64, seed: u64) -> Fault {
    let status = |code: u16| FaultKind::Status { code, headers: Vec::new(), body: None };
    let rate_limited =
        FaultKind::Status { code: 429, headers: vec![("Retry-After".to_owned(), "1".to_owned())], body: None };
    Fault::on("*", "/**").seeded(share, seed).one_of(vec![
        status(500),
        status(502),
        status(503),
        rate_limited,
        FaultKind::Reset,
        FaultKind::Delay(Duration::from_secs(2)),
    ])
}

/// One run's job and what it needs while it runs.
struct Run {
    job: CiJob,
    iid: u64,
    /// The person's commit on the default branch, pushed just before.
    person: String,
    _dir: tempfile::TempDir,
    _model: MockModel,
}

/// The fake GitLab every run of a soak shares.
struct World {
    gitlab: FakeGitLab,
}

impl World {
    async fn start() -> anyhow::Result<Self> {
        Ok(Self { gitlab: FakeGitLab::start().await? })
    }

    /// A person pushes to the default branch, opens an issue and assigns it to the agent; the
    /// job for it, with a mock model of its own, in a fresh folder.
    async fn run(&self, options: &SoakOptions, run: usize) -> anyhow::Result<Run> {
        let file = format!("notes/run-{run}.md");
        self.gitlab
            .push_files(PROJECT, "main", &[(file.as_str(), Some("A person's work.\n"))], "Notes", PERSON)
            .await?;
        let person = self.gitlab.branch_head(PROJECT, "main").await.context("main has a head")?;
        let dir = tempfile::tempdir()?;
        let project_id = self.gitlab.project_id(PROJECT);
        let work = dir.path().join("work");
        let greeting = format!("greeting-{run}.txt");
        let model = MockModel::start(add_one_file_script(&work, project_id, &greeting, "hello\n")).await?;
        let mut job = CiJob::new(&options.program, dir.path(), &options.tmp, &self.gitlab, &model).await;
        let iid = job.assign_new_issue(&self.gitlab, PROJECT, PERSON, &format!("Add greeting {run}"));
        job.set("TOTAL_TIMEOUT", "600");
        Ok(Run { job, iid, person, _dir: dir, _model: model })
    }

    fn agent_notes(&self, iid: u64) -> Vec<String> {
        let agent = self.gitlab.user_id(AGENT);
        self.gitlab
            .issue_notes(PROJECT, iid)
            .into_iter()
            .filter(|note| note.author_id == agent && !note.system)
            .map(|note| note.body)
            .collect()
    }

    /// The invariants after run `run` on issue `iid` converged.
    async fn check(&self, run: usize, iid: u64, person: &str) -> anyhow::Result<()> {
        let prefix = format!("copilot/issue-{iid}");
        let branches: Vec<String> = self
            .gitlab
            .branches(PROJECT)
            .await?
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| *name == prefix || name.starts_with(&format!("{prefix}-")))
            .collect();
        ensure!(branches.len() == 1, "run {run}: branches {branches:?}");
        let mrs: Vec<_> =
            self.gitlab.merge_requests(PROJECT).into_iter().filter(|mr| mr.source_branch == branches[0]).collect();
        ensure!(mrs.len() == 1, "run {run}: {} merge requests from {}", mrs.len(), branches[0]);
        let notes = self.agent_notes(iid);
        let status_marker = format!("copilot-runner:status issue-{iid} -->");
        let status = notes.iter().filter(|body| body.contains(&status_marker)).count();
        let finals = notes.iter().filter(|body| body.contains("### ✅ Done")).count();
        ensure!(status == 1 && finals == 1, "run {run}: {status} status and {finals} final notes: {notes:#?}");
        let mut bodies = notes.clone();
        bodies.sort();
        bodies.dedup();
        ensure!(bodies.len() == notes.len(), "run {run}: a note was posted twice: {notes:#?}");
        for rev in ["main", branches[0].as_str()] {
            ensure!(
                self.gitlab.is_ancestor(PROJECT, person, rev).await,
                "run {run}: the person's commit is lost from {rev}"
            );
        }
        Ok(())
    }
}

/// Runs `job` and kills it with everything it started after `at`, unless it ended before;
/// returns its exit code then (`None`: killed).
pub async fn run_killed(job: &CiJob, at: Duration) -> anyhow::Result<Option<i32>> {
    let mut child = job.spawn();
    let pid = child.id().context("the job has a pid")?;
    tokio::select! {
        status = child.wait() => Ok(status?.code()),
        () = tokio::time::sleep(at) => {
            kill_tree(pid);
            let _ = child.wait().await;
            Ok(None)
        }
    }
}

/// Runs `job` and kills it with everything it started as soon as `ready` holds (looked at every
/// 20 ms), unless the job ended before; returns its exit code then (`None`: killed). A job still
/// running without `ready` after `within` is an error.
pub async fn run_killed_when(job: &CiJob, within: Duration, ready: impl Fn() -> bool) -> anyhow::Result<Option<i32>> {
    let mut child = job.spawn();
    let pid = child.id().context("the job has a pid")?;
    let deadline = Instant::now() + within;
    let condition = async {
        while !ready() {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    };
    tokio::select! {
        status = child.wait() => Ok(status?.code()),
        met = condition => {
            kill_tree(pid);
            let _ = child.wait().await;
            ensure!(met, "the job neither ended nor reached the moment to kill it within {within:?}");
            Ok(None)
        }
    }
}

/// Kills `pid` and every process it started (also those in sessions of their own) with SIGKILL:
/// the tree is stopped first, so nothing in it starts another process meanwhile.
fn kill_tree(pid: u32) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let signal = |signal: Signal| {
        for victim in tree(i64::from(pid)) {
            if let Ok(raw) = i32::try_from(victim) {
                // Gone already is fine: it is what the kill is for.
                let _ = kill(Pid::from_raw(raw), signal);
            }
        }
    };
    signal(Signal::SIGSTOP);
    signal(Signal::SIGKILL);
}

/// `pid` and its descendants.
fn tree(pid: i64) -> Vec<i64> {
    let mut victims = vec![pid];
    let mut index = 0;
    while index < victims.len() {
        victims.extend(crate::processes::children(victims[index]));
        index += 1;
    }
    victims
}

/// A number in `[0, 1)` from `seed`, from the fake's seeded stream: where in its window a
/// seeded kill lands.
pub fn unit(seed: u64) -> f64 {
    crate::fake_gitlab::faults::unit(crate::fake_gitlab::faults::mix(seed, 1))
}
