//! The repository's `.gitlab/copilot-agent.yml` in issue work: stages it turns off do not run,
//! the prompts name its test command, and a cap above the admin's is refused with a note naming
//! its line while the work goes on under the admin's cap. `plan_approval` makes an assignment
//! wait for `proceed`, `language` speaks the notes in it, and a `monthly_premium_requests` below
//! the admin's refuses new work once the month's spending reaches it; each only from the file on
//! the default branch, and each beside the same job without it.

use copilot_runner_testkit::ci_job::text;
use serde_json::Value;

use super::rig::{
    API_ASK, IMPLEMENTATION_STAGE, PROJECT, Rig, designed_greeting_script, greeting_script, status_notes,
};
use super::spend::{earlier_job, month_records, run_refused};

/// Where the rules sit in the target repository.
const FILE: &str = ".gitlab/copilot-agent.yml";

#[tokio::test]
async fn stages_turned_off_do_not_run_and_a_higher_cap_is_refused_with_a_note() {
    let mut rig = Rig::start(designed_greeting_script).await;
    let rules = "# Rules of acme/widgets\nstages: {architecture: false, docs: false}\nmax_premium_requests: 90\n\
                 test_command: \"make check-widgets\"\n";
    rig.gitlab
        .push_files(PROJECT, "main", &[(".gitlab/copilot-agent.yml", Some(rules))], "Agent rules", "alice")
        .await
        .unwrap();
    rig.job.set("COPILOT_MAX_PREMIUM_REQUESTS", "50");
    let iid = rig.issue("alice", "Greetings", "The widgets should greet people.");
    rig.comment_on_issue(iid, "dave", &format!("@copilot-agent {API_ASK}"));

    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let stages = rig.paths.stage_dirs();
    assert!(stages.iter().all(|dir| !dir.ends_with("-architecture") && !dir.ends_with("-docs")), "{stages:?}");
    assert_eq!(stages[..2], ["1-analysis", "2-implementation"], "{stages:?}");
    let prompt = rig.paths.stage_prompt(2, "implementation");
    assert!(prompt.contains("make check-widgets"), "{prompt}");

    let notes = rig.agent_notes(rig.on_issue(iid));
    let noted: Vec<&String> = notes.iter().filter(|note| note.contains("copilot-runner:repo-config")).collect();
    assert_eq!(noted.len(), 1, "{notes:#?}");
    assert!(noted[0].contains("line 3, `max_premium_requests`: allowed is 50 or less"), "{}", noted[0]);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(rig.paths.artifacts.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary.pointer("/spend/cap").and_then(Value::as_f64), Some(50.0), "the admin's cap holds");
    assert!(notes.iter().any(|note| note.contains("### ✅ Done")), "the work went on: {notes:#?}");
}

/// A new greeting issue assigned to the agent, with `rules` as the repository's file on `branch`
/// (`None`: no file anywhere) and the admin's `settings`; returns the rig and the issue.
async fn assigned(rules: Option<(&str, &str)>, settings: &[(&str, &str)]) -> (Rig, u64) {
    let mut rig = Rig::start(|paths| greeting_script(paths).usage(1_200, 34)).await;
    if let Some((branch, rules)) = rules {
        rig.gitlab.push_files(PROJECT, branch, &[(FILE, Some(rules))], "Agent rules", "alice").await.unwrap();
        assert_eq!(rig.gitlab.read_file(PROJECT, branch, FILE).await.as_deref(), Some(rules));
    }
    for (name, value) in settings {
        rig.job.set(name, *value);
    }
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");
    (rig, iid)
}

/// [`assigned`], and the job run to a successful end.
async fn assignment(rules: Option<(&str, &str)>) -> (Rig, u64) {
    let (rig, iid) = assigned(rules, &[]).await;
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    (rig, iid)
}

/// Checks that the assignment delivered without waiting for a plan's approval: its branch holds
/// the greeting, one merge request is open and no plan was posted. Returns the agent's notes.
async fn assert_delivered(rig: &Rig, iid: u64) -> Vec<String> {
    let notes = rig.agent_notes(rig.on_issue(iid));
    let branch = format!("copilot/issue-{iid}");
    let greeting = rig.gitlab.read_file(PROJECT, &branch, "greeting.txt").await;
    assert_eq!(greeting.as_deref(), Some("hello\n"), "{notes:#?}");
    assert_eq!(rig.gitlab.merge_requests(PROJECT).len(), 1, "{notes:#?}");
    assert!(!notes.iter().any(|note| note.contains("Here is my plan")), "{notes:#?}");
    notes
}

#[tokio::test]
async fn plan_approval_in_the_file_on_the_default_branch_makes_an_assignment_wait_for_proceed() {
    let (rig, iid) = assignment(Some(("main", "plan_approval: true\n"))).await;

    let notes = rig.agent_notes(rig.on_issue(iid));
    assert!(notes.iter().any(|note| note.contains("Here is my plan")), "the plan note: {notes:#?}");
    assert_eq!(rig.gitlab.branch_head(PROJECT, &format!("copilot/issue-{iid}")).await, None, "pushed before approval");
    assert!(rig.gitlab.merge_requests(PROJECT).is_empty());
    assert!(!rig.model.saw(IMPLEMENTATION_STAGE), "the plan was carried out");

    // Control: the same assignment without the file opens the merge request.
    let (rig, iid) = assignment(None).await;
    assert_delivered(&rig, iid).await;
}

#[tokio::test]
async fn plan_approval_in_the_file_on_a_feature_branch_changes_nothing() {
    let (rig, iid) = assignment(Some(("feature/rules", "plan_approval: true\n"))).await;

    assert_eq!(rig.gitlab.read_file(PROJECT, "main", FILE).await, None, "the default branch has no file");
    assert_delivered(&rig, iid).await;
}

#[tokio::test]
async fn the_files_language_is_the_language_of_the_status_and_final_notes() {
    let (rig, iid) = assignment(Some(("main", "language: zh\n"))).await;

    let notes = assert_delivered(&rig, iid).await;
    let status = status_notes(&notes);
    assert_eq!(status.len(), 1, "{notes:#?}");
    assert!(status[0].starts_with("### 🤖 Copilot 正在处理"), "{}", status[0]);
    assert!(status[0].contains("请求人：@alice"), "{}", status[0]);
    assert!(!status[0].contains("Requested by"), "{}", status[0]);
    let done = notes.iter().find(|note| note.starts_with("### ✅ 已完成")).unwrap_or_else(|| panic!("{notes:#?}"));
    assert!(done.contains("草稿合并请求") && !done.contains("draft merge request"), "{done}");

    // Control: without the file, English.
    let (rig, iid) = assignment(None).await;
    let notes = assert_delivered(&rig, iid).await;
    assert!(status_notes(&notes)[0].starts_with("### 🤖 Copilot is working on this"), "{notes:#?}");
    assert!(notes.iter().any(|note| note.starts_with("### ✅ Done")), "{notes:#?}");
    assert!(!notes.iter().any(|note| note.contains("已完成")), "{notes:#?}");
}

#[tokio::test]
async fn a_monthly_cap_in_the_file_below_the_admins_refuses_work_the_admins_would_allow() {
    // Earlier this month the project spent 5 premium requests: under the admin's 10, at or over
    // the repository's 3.
    let admin = [("COPILOT_MONTHLY_PREMIUM_REQUESTS", "10")];
    let (rig, iid) = assigned(Some(("main", "monthly_premium_requests: 3\n")), &admin).await;
    earlier_job(&rig, 5.0);

    let notes = run_refused(&rig, iid).await;

    let refusal = notes
        .iter()
        .find(|note| note.contains("used 5 premium requests"))
        .unwrap_or_else(|| panic!("the monthly-cap note: {notes:#?}"));
    assert!(refusal.contains("cap is 3 (`monthly_premium_requests` in the project's"), "names the file: {refusal}");
    assert!(!notes.iter().any(|note| note.contains("### ✅ Done")), "{notes:#?}");
    assert_eq!(month_records(&rig).len(), 1, "a refused job records nothing");

    // Control: the admin's cap alone lets the same work run.
    let (rig, iid) = assigned(None, &admin).await;
    earlier_job(&rig, 5.0);
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_delivered(&rig, iid).await;
    assert_eq!(month_records(&rig).len(), 2, "the job added its record: {:?}", month_records(&rig));
}
