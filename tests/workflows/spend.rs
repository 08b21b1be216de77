//! What a job spends on the model: its notes show the premium requests and tokens per stage and
//! in total, added up from the usage records `summary.json` keeps, and a job at its
//! `COPILOT_MAX_PREMIUM_REQUESTS` starts no agent call, pushes nothing and says what remains.

use copilot_runner_testkit::ci_job::text;
use serde_json::Value;

use super::rig::{PROJECT, Rig, greeting_script, status_notes};

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
