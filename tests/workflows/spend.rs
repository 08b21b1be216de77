//! What a job spends on the model: its notes show the premium requests and tokens per stage and
//! in total, added up from the usage records `summary.json` keeps, and a job at its
//! `COPILOT_MAX_PREMIUM_REQUESTS` starts no agent call, pushes nothing and says what remains.
//! Each job leaves its record in the context cache's store, written again after each agent call
//! so a job killed mid-way still counts, and a project past its `COPILOT_MONTHLY_PREMIUM_REQUESTS`
//! gets a note instead of work. `summary.json`'s top-level figures are the spend records' total.

use std::path::PathBuf;

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::mock_model::{Reply, Rule, Script};
use copilot_runner_testkit::soak;
use serde_json::{Value, json};

use super::rig::{ANALYSIS, ANALYSIS_STAGE, IMPLEMENTATION_STAGE, PROJECT, Rig, WAIT, greeting_script, status_notes};

async fn assigned_job(cap: &str) -> (Rig, u64) {
    let mut rig = Rig::start(|paths| greeting_script(paths).usage(1_200, 34)).await;
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");
    rig.job.set("COPILOT_MAX_PREMIUM_REQUESTS", cap);
    (rig, iid)
}

fn summary(rig: &Rig) -> Value {
    let path = rig.paths.artifacts.join("summary.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The sum of one figure over every usage record of `summary.json`.
fn sum_of_records(summary: &Value, figure: &str) -> f64 {
    let calls = summary.pointer("/spend/calls").and_then(Value::as_array).unwrap();
    calls.iter().map(|call| call[figure].as_f64().unwrap()).sum()
}

/// The figures of a note's total line (`| **Total** | **p** | **in** | **out** |`).
fn total_line(note: &str) -> Vec<f64> {
    let line = note.lines().find(|line| line.starts_with("| **Total** |")).unwrap_or_else(|| panic!("{note}"));
    line.split('|').skip(2).filter_map(|cell| cell.trim().trim_matches('*').parse().ok()).collect()
}

#[tokio::test]
async fn a_jobs_notes_show_each_stage_and_a_total_that_is_the_sum_of_its_usage_records() {
    let (rig, iid) = assigned_job("50").await;

    let out = rig.run().await;

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary = summary(&rig);
    let calls = summary.pointer("/spend/calls").and_then(Value::as_array).unwrap();
    assert!(calls.len() >= 2, "one record per agent call: {summary:#}");
    assert_eq!(summary.pointer("/spend/cap").and_then(Value::as_f64), Some(50.0));
    assert_eq!(summary.pointer("/spend/cap_reached").and_then(Value::as_bool), Some(false));
    let records = [
        sum_of_records(&summary, "premium_requests"),
        sum_of_records(&summary, "input_tokens"),
        sum_of_records(&summary, "output_tokens"),
    ];
    assert!(records[1] >= 2_400.0, "the mock model's tokens are counted: {records:?}");
    let notes = rig.agent_notes(rig.on_issue(iid));
    let final_note = notes.iter().find(|note| note.contains("### ✅ Done")).unwrap_or_else(|| panic!("{notes:#?}"));
    assert_eq!(total_line(final_note), records, "{final_note}");
    assert!(final_note.contains("| Analysis | 0 |") && final_note.contains("| Implementation | 0 |"), "{final_note}");
    let status = status_notes(&notes);
    assert_eq!(total_line(status[0]), records, "the status note ends with the same figures: {}", status[0]);
}

#[tokio::test]
async fn a_job_at_its_premium_request_cap_starts_no_call_pushes_nothing_and_says_what_remains() {
    // A self-hosted model costs no premium requests, so a cap of 0 is the one this model reaches.
    let (rig, iid) = assigned_job("0").await;
    let refs_before = rig.gitlab.refs(PROJECT).await.unwrap();

    let out = rig.run().await;

    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(rig.model.requests().is_empty(), "no agent call starts at the cap");
    assert!(rig.gitlab.merge_requests(PROJECT).is_empty());
    assert_eq!(rig.gitlab.refs(PROJECT).await.unwrap(), refs_before, "nothing is pushed");
    let notes = rig.agent_notes(rig.on_issue(iid));
    let cap_note = notes
        .iter()
        .find(|note| note.contains("`COPILOT_MAX_PREMIUM_REQUESTS`"))
        .unwrap_or_else(|| panic!("the note says the cap was reached: {notes:#?}"));
    assert!(cap_note.contains("Not done: Analysis, Implementation"), "{cap_note}");
    assert!(cap_note.contains("nothing was committed or pushed"), "{cap_note}");
    let status = status_notes(&notes);
    assert!(status[0].contains("❌ Analysis"), "the stage it stopped before is marked: {}", status[0]);
    let summary = summary(&rig);
    assert_eq!(summary.pointer("/spend/cap_reached").and_then(Value::as_bool), Some(true), "{summary:#}");
    assert_eq!(sum_of_records(&summary, "premium_requests"), 0.0);
}

/// This month's folder of the project's spending records in the job's default cache store.
fn month_dir(rig: &Rig) -> PathBuf {
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    rig.paths.job_dir.join(format!("agent-project/.copilot-cache/usage/{}/{month}", rig.project_id))
}

/// The records of this month, as `(job, premium requests, input tokens)`.
pub(super) fn month_records(rig: &Rig) -> Vec<(String, f64, u64)> {
    let Ok(entries) = std::fs::read_dir(month_dir(rig)) else { return Vec::new() };
    let mut records: Vec<(String, f64, u64)> = entries
        .map(|entry| {
            let record: Value = serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
            let job = record["job"].as_str().unwrap().to_owned();
            (job, record["premium_requests"].as_f64().unwrap(), record["input_tokens"].as_u64().unwrap())
        })
        .collect();
    records.sort_by(|a, b| a.0.cmp(&b.0));
    records
}

/// What an earlier job of this month left: `premium_requests` spent.
pub(super) fn earlier_job(rig: &Rig, premium_requests: f64) {
    let dir = month_dir(rig);
    std::fs::create_dir_all(&dir).unwrap();
    let record = json!({
        "project": rig.project_id.to_string(),
        "month": chrono::Utc::now().format("%Y-%m").to_string(),
        "job": "earlier",
        "premium_requests": premium_requests,
        "input_tokens": 90_000,
        "output_tokens": 4_000,
        "agent_calls": 6,
        "recorded_at": chrono::Utc::now().to_rfc3339(),
    });
    std::fs::write(dir.join("earlier.json"), record.to_string()).unwrap();
}

#[tokio::test]
async fn a_job_under_the_monthly_cap_works_and_adds_its_own_record() {
    let (mut rig, _) = assigned_job("50").await;
    earlier_job(&rig, 3.0);
    rig.job.set("COPILOT_MONTHLY_PREMIUM_REQUESTS", "3.5");

    let out = rig.run().await;

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(rig.gitlab.merge_requests(PROJECT).len(), 1);
    let records = month_records(&rig);
    assert_eq!(records.len(), 2, "the earlier job's record stays beside this job's: {records:?}");
    let summary = summary(&rig);
    let ours = records.iter().find(|(job, ..)| job != "earlier").unwrap();
    assert_eq!(ours.1, sum_of_records(&summary, "premium_requests"));
    assert_eq!(ours.2 as f64, sum_of_records(&summary, "input_tokens"), "{records:?}");

    // `usage` adds the two records up, from the same store.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let out = usage(&rig, &["--project", &rig.project_id.to_string(), "--month", &month, "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["monthly_cap"], 3.5);
    let months = printed["months"].as_array().unwrap();
    assert_eq!(months.len(), 1, "{printed:#}");
    assert_eq!(months[0]["jobs"], 2);
    assert_eq!(months[0]["premium_requests"].as_f64(), Some(3.0 + ours.1));
    assert_eq!(months[0]["input_tokens"].as_u64(), Some(90_000 + ours.2));
    let out = usage(&rig, &["--month", "December"]).await;
    assert_eq!(out.status.code(), Some(2), "a bad month is a usage error");
    assert!(text(&out.stderr).contains("`--month December` is not a month"), "{}", text(&out.stderr));
}

/// `copilot-runner usage ARGS` with the job's environment (and so its cache store).
#[expect(clippy::disallowed_methods, reason = "the test runs the built binary as a child process")]
async fn usage(rig: &Rig, args: &[&str]) -> std::process::Output {
    let vars = rig.job.vars().iter().map(|(name, value)| (name, value));
    tokio::process::Command::new(env!("CARGO_BIN_EXE_copilot-runner"))
        .arg("usage")
        .args(args)
        .env_clear()
        .envs(vars)
        .output()
        .await
        .unwrap()
}

/// Runs the job, which must refuse before any work: it exits 0, calls no agent, opens no merge
/// request and pushes nothing. Returns the agent's notes on issue `iid`.
pub(super) async fn run_refused(rig: &Rig, iid: u64) -> Vec<String> {
    let refs_before = rig.gitlab.refs(PROJECT).await.unwrap();
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "a refusal is not a failure: {}", text(&out.stderr));
    assert!(rig.model.requests().is_empty(), "an agent call ran");
    assert!(rig.gitlab.merge_requests(PROJECT).is_empty());
    assert_eq!(rig.gitlab.refs(PROJECT).await.unwrap(), refs_before, "something was pushed");
    rig.agent_notes(rig.on_issue(iid))
}

#[tokio::test]
async fn a_project_past_its_monthly_cap_gets_a_note_and_no_work() {
    let (mut rig, iid) = assigned_job("50").await;
    earlier_job(&rig, 3.0);
    rig.job.set("COPILOT_MONTHLY_PREMIUM_REQUESTS", "3");

    let notes = run_refused(&rig, iid).await;

    assert_eq!(notes.len(), 1, "one note and no status note: {notes:#?}");
    assert!(notes[0].contains("`COPILOT_MONTHLY_PREMIUM_REQUESTS`") && notes[0].contains("@alice"), "{}", notes[0]);
    assert!(notes[0].contains("used 3 premium requests") && notes[0].contains("cap is 3 "), "{}", notes[0]);
    assert_eq!(month_records(&rig).len(), 1, "a refused job records nothing");
}

#[tokio::test]
async fn a_job_killed_in_its_second_call_has_recorded_its_first() {
    // Analysis answers; implementation never does, so only a kill ends the job.
    let mut rig = Rig::start(|paths| {
        Script::new()
            .rule(
                Rule::when(ANALYSIS_STAGE)
                    .then(Reply::create(&paths.analysis_output(), ANALYSIS))
                    .then(Reply::text("Written.")),
            )
            .rule(Rule::when(IMPLEMENTATION_STAGE).then(Reply::Hang))
            .fallback(Reply::text("Nothing to do."))
            .usage(1_200, 34)
    })
    .await;
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");
    rig.job.set("COPILOT_MONTHLY_PREMIUM_REQUESTS", "100");

    // SIGKILL of the whole process tree, as a cancelled job's pod goes, once the second call runs.
    let ended = soak::run_killed_when(&rig.job, WAIT, || rig.model.saw(IMPLEMENTATION_STAGE)).await.unwrap();

    assert_eq!(ended, None, "the job was killed, it did not end");
    let records = month_records(&rig);
    assert_eq!(records.len(), 1, "the killed job left its record: {records:?}");
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let out = usage(&rig, &["--project", &rig.project_id.to_string(), "--month", &month, "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let months = printed["months"].as_array().unwrap();
    assert_eq!(months.len(), 1, "{printed:#}");
    assert_eq!((months[0]["jobs"].as_u64(), months[0]["agent_calls"].as_u64()), (Some(1), Some(1)), "{printed:#}");
    // The analysis call: its two model turns, 1 200 tokens in each; the mock model (as any
    // self-hosted one) costs no premium requests, and the record says so rather than nothing.
    assert_eq!(months[0]["input_tokens"].as_u64(), Some(2_400), "{printed:#}");
    assert_eq!(months[0]["premium_requests"].as_f64(), Some(0.0), "{printed:#}");
}

#[tokio::test]
async fn the_summarys_top_level_figures_are_its_spend_total_also_with_calls_outside_the_stages() {
    // The project understanding is an agent call before the plan's stages.
    let (mut rig, _) = assigned_job("50").await;
    rig.job.set("ENABLE_PROJECT_UNDERSTANDING", "true");

    let out = rig.run().await;

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary = summary(&rig);
    let calls = summary.pointer("/spend/calls").and_then(Value::as_array).unwrap();
    assert!(calls.iter().any(|call| call["call"] == "understanding"), "{summary:#}");
    for figure in ["premium_requests", "input_tokens", "output_tokens"] {
        let total = summary.pointer(&format!("/spend/total/{figure}")).and_then(Value::as_f64);
        assert_eq!(summary[figure].as_f64(), total, "{figure}: {summary:#}");
        assert_eq!(total, Some(sum_of_records(&summary, figure)), "{figure}: {summary:#}");
    }
}

#[tokio::test]
async fn a_store_that_refuses_the_record_is_logged_and_the_work_goes_on() {
    let (rig, iid) = assigned_job("50").await;
    // A file where the records' folder would be: every write of the record fails.
    let usage = month_dir(&rig).ancestors().nth(2).unwrap().to_owned();
    std::fs::create_dir_all(usage.parent().unwrap()).unwrap();
    std::fs::write(&usage, "not a folder").unwrap();

    let out = rig.run().await;

    let log = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert_eq!(rig.gitlab.merge_requests(PROJECT).len(), 1, "the work was delivered");
    assert!(log.contains("cannot record this job's spending; the monthly total misses it"), "{log}");
    let notes = rig.agent_notes(rig.on_issue(iid));
    assert!(notes.iter().any(|note| note.contains("### ✅ Done")), "{notes:#?}");
    assert!(month_records(&rig).is_empty());
}
