//! A second review after a new commit reads only what changed since the head the first one
//! covered (named by the first summary's marker) and never posts a finding twice.

use serde_json::json;

use super::{NEW_LIB_RS, Rig, finding, review_prompts, run_ok};
use copilot_runner_testkit::mock_model::MockModel;

const GREET_V1: &str = "pub fn greet() {}\n";
const GREET_V2: &str = "pub fn greet() -> &'static str {\n    \"hello\"\n}\n";

#[tokio::test]
async fn a_re_review_covers_only_the_new_commit_and_repeats_nothing() {
    let rig = Rig::new().await;
    let mr_iid =
        rig.open_mr("feature/greet", &[("src/lib.rs", Some(NEW_LIB_RS)), ("src/greet.rs", Some(GREET_V1))]).await;
    let first = json!([finding("src/lib.rs", 8, "The temporary is needless")]).to_string();
    // The second review reports the first finding again (models do) and one about the new code.
    let second = json!([
        finding("src/lib.rs", 8, "The temporary is needless"),
        finding("src/greet.rs", 2, "The greeting is hard-coded"),
    ])
    .to_string();
    let model = MockModel::start(rig.script_and_follow_up(&first, &second)).await.unwrap();
    let job = rig.job(&model, mr_iid).await;

    run_ok(&job).await;
    let first_head = rig.head(mr_iid);
    assert_eq!(rig.inline(mr_iid).len(), 1);
    let first_prompt = review_prompts(&rig.artifacts()).remove(0);
    assert!(first_prompt.contains("let d = a - b;") && first_prompt.contains("pub fn greet() {}"), "{first_prompt}");

    rig.gitlab
        .push_files(super::PROJECT, "feature/greet", &[("src/greet.rs", Some(GREET_V2))], "Greet with a word", "alice")
        .await
        .unwrap();
    let second_head = rig.head(mr_iid);
    assert_ne!(first_head, second_head);
    run_ok(&job).await;

    // Only the new commit's file was in the prompt, marked as a follow-up of the first review.
    let prompt = review_prompts(&rig.artifacts()).remove(0);
    assert!(prompt.contains(&format!("An earlier review covered the changes up to `{first_head}`")), "{prompt}");
    assert!(prompt.contains("\"hello\""), "{prompt}");
    assert!(!prompt.contains("let d = a - b;"), "lib.rs did not change since the first review:\n{prompt}");
    assert!(prompt.contains("The temporary is needless"), "the known finding is listed:\n{prompt}");

    // One new discussion, none repeated; the second summary covers first head → second head.
    let inline = rig.inline(mr_iid);
    let titles: Vec<&str> = inline.iter().map(|note| note.body.lines().next().unwrap_or_default()).collect();
    assert_eq!(inline.len(), 2, "{titles:#?}");
    assert_eq!(inline.iter().filter(|note| note.body.contains("The temporary is needless")).count(), 1);
    let greet = inline.iter().find(|note| note.body.contains("The greeting is hard-coded")).unwrap();
    assert_eq!(greet.position.as_ref().unwrap()["new_line"], json!(2));
    let summaries = rig.summaries(mr_iid);
    assert_eq!(summaries.len(), 2, "{summaries:#?}");
    let summary = &summaries[1];
    assert!(
        summary.contains(&format!("Reviewed the changes from `{}` to `{}`", &first_head[..8], &second_head[..8])),
        "{summary}"
    );
    assert!(summary.contains(&format!("<!-- copilot-runner:review head={second_head} -->")), "{summary}");
    assert!(summary.contains("Findings posted as discussions on the diff: 1."), "{summary}");

    // The second report lists both findings, the repeated one where the first report had it.
    let second_report = super::valid_quality_report(&rig.artifacts());
    let fingerprints = |report: &serde_json::Value| -> Vec<String> {
        let mut all: Vec<String> =
            report.as_array().unwrap().iter().map(|issue| issue["fingerprint"].as_str().unwrap().to_owned()).collect();
        all.sort();
        all
    };
    assert_eq!(fingerprints(&second_report).len(), 2, "{second_report:#}");
    std::fs::remove_file(rig.artifacts().join("gl-code-quality-report.json")).unwrap();

    // Asked again with nothing new: no third summary, no agent call, a short note instead; the
    // report still lists the open findings, so the widget does not call them fixed.
    let calls = model.completions().len();
    run_ok(&job).await;
    assert_eq!(rig.summaries(mr_iid).len(), 2, "{:#?}", rig.summaries(mr_iid));
    assert_eq!(rig.inline(mr_iid).len(), 2);
    assert_eq!(model.completions().len(), calls, "the agent is not asked to review the same head again");
    let last = rig.agent_notes(mr_iid).pop().unwrap().body;
    assert!(last.contains("current head was already reviewed"), "{last}");
    let third_report = super::valid_quality_report(&rig.artifacts());
    assert_eq!(fingerprints(&third_report), fingerprints(&second_report), "{third_report:#}");
}
