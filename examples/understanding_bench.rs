//! The context cache inside real jobs, with the understanding stage on, run by hand (see
//! BENCHMARKS.md, "Context cache", "In a job"): the built binary runs four jobs against the fake
//! GitLab, the real Copilot CLI and the scripted mock model (answering at once), and this program
//! prints the `context` record of each job's `summary.json` as the table the benchmark reports.
//!
//! `cargo run --release --example understanding_bench -- target/release/copilot-runner [ROUNDS]`
//! (the Copilot CLI from `scripts/test`'s tools folder; default 3 rounds, medians reported).
#![expect(clippy::print_stdout, reason = "a benchmark prints its report")]

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::ci_job::{CiJob, add_one_file_script};
use copilot_runner_testkit::mock_model::{MockModel, Reply, Rule};
use serde_json::Value;

const PROJECT: &str = "acme/widgets";
const UNDERSTANDING: &str = "# Widgets\nPurpose: the widgets service.\n";

/// The four jobs of one round, as the table names them.
const JOBS: [&str; 4] = [
    "first on the issue branch",
    "second, branch moved one commit",
    "third, branch unchanged",
    "another issue's new branch",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let program = PathBuf::from(args.next().context("usage: understanding_bench BINARY [ROUNDS]")?);
    let rounds: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(3);
    let mut records: Vec<Vec<Value>> = vec![Vec::new(); JOBS.len()];
    for round in 0..rounds {
        for (job, record) in one_round(&program).await?.into_iter().enumerate() {
            println!("round {} job {}: {record}", round + 1, job + 1);
            records[job].push(record);
        }
    }
    println!("\n| job | level | lookup | analysis | understanding stage |\n|---|---|---|---|---|");
    for (name, records) in JOBS.iter().zip(&records) {
        let first = &records[0];
        let level = format!("{} {}", first["level_number"], first["level"].as_str().unwrap_or_default());
        let changed = first["changed_files"].as_u64().map(|n| format!(", {n} changed")).unwrap_or_default();
        println!(
            "| {name} | {level}{changed} | {} ms | {} ms | {} ms ({}) |",
            median(records, "lookup_ms"),
            median(records, "analysis_ms"),
            median(records, "understanding_ms"),
            first["understanding_stage"].as_str().unwrap_or_default(),
        );
    }
    Ok(())
}

/// One fake GitLab and mock model, four jobs; the `context` record of each.
async fn one_round(program: &Path) -> anyhow::Result<Vec<Value>> {
    let gitlab = FakeGitLab::start().await?;
    let project_id = gitlab.project_id(PROJECT);
    let dir = tempfile::tempdir()?;
    let work = dir.path().join("work");
    let output = work.join("understanding/scratch/project_context.md").display().to_string();
    let script = add_one_file_script(&work, project_id, "greeting.txt", "hello\n")
        .rule(
            Rule::when("## Update the earlier understanding")
                .then(Reply::create(&output, UNDERSTANDING))
                .then(Reply::text("Updated.")),
        )
        .rule(
            Rule::when("copilot-runner-stage: understanding")
                .then(Reply::create(&output, UNDERSTANDING))
                .then(Reply::text("Written.")),
        );
    let model = MockModel::start(script).await?;
    let mut job = CiJob::new(program, dir.path(), &std::env::temp_dir(), &gitlab, &model).await;
    job.set("ENABLE_PROJECT_UNDERSTANDING", "true");
    let mut records = Vec::new();
    let first = job.assign_new_issue(&gitlab, PROJECT, "alice", "Add a greeting file");
    for _ in 0..3 {
        records.push(run(&job).await.with_context(|| format!("issue #{first}"))?);
    }
    let other = job.assign_new_issue(&gitlab, PROJECT, "alice", "Add another greeting");
    records.push(run(&job).await.with_context(|| format!("issue #{other}"))?);
    Ok(records)
}

/// Runs the job to a successful end; its `summary.json`'s `context`.
async fn run(job: &CiJob) -> anyhow::Result<Value> {
    let out = job.run().await;
    anyhow::ensure!(out.status.success(), "the job failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&std::fs::read(job.artifacts_dir().join("summary.json"))?)?;
    Ok(summary["context"].clone())
}

fn median(records: &[Value], field: &str) -> u64 {
    let mut values: Vec<u64> = records.iter().filter_map(|record| record[field].as_u64()).collect();
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}
