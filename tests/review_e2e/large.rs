//! A 300-file merge request is reviewed whole: split by file into prompts that each fit the
//! byte budget, every changed file in exactly one prompt, every prompt's findings used, and the
//! files left out (generated, over the size limit) named in the summary with the reason.

use std::collections::HashMap;

use serde_json::json;

use super::{Rig, review_prompts, review_rule, run_ok, valid_quality_report};
use copilot_runner_testkit::mock_model::{MockModel, Script};

const FILES: usize = 300;
const BUDGET: usize = 9_000;
/// More rules than the review can need: one per possible prompt.
const MAX_PROMPTS: usize = 80;

fn module_path(at: usize) -> String {
    format!("src/module_{at:03}/file.rs")
}

#[tokio::test]
async fn a_300_file_merge_request_is_fully_reviewed_within_the_prompt_budget() {
    let rig = Rig::new().await;
    let contents: Vec<(String, String)> = (0..FILES)
        .map(|at| (module_path(at), format!("pub fn f{at}() -> u32 {{\n    {at}\n}}\n")))
        .chain([
            ("Cargo.lock".to_owned(), "# generated\nversion = 3\n".to_owned()),
            ("data/huge.txt".to_owned(), "a line of a very large data file\n".repeat(400)),
        ])
        .collect();
    let files: Vec<(&str, Option<&str>)> =
        contents.iter().map(|(path, text)| (path.as_str(), Some(text.as_str()))).collect();
    let mr_iid = rig.open_mr("feature/modules", &files).await;

    // Prompt n reports one finding on module n, whatever files it holds: the number of
    // discussions shows every prompt's findings were used.
    let mut script = Script::new();
    for n in 1..=MAX_PROMPTS {
        let finding = json!([{"file": module_path(n), "line": 1, "side": "new", "severity": "minor",
            "category": "style", "title": format!("Prompt {n} was read"), "body": "Seen."}]);
        let path = rig.findings_path(n);
        script = script.rule(review_rule(&path, &path, &finding.to_string()));
    }
    let model = MockModel::start(script).await.unwrap();
    let mut job = rig.job(&model, mr_iid).await;
    job.set("COPILOT_REVIEW_PROMPT_BYTES", BUDGET.to_string());
    run_ok(&job).await;

    let prompts = review_prompts(&rig.artifacts());
    assert!(prompts.len() > 5 && prompts.len() < MAX_PROMPTS, "{} prompts", prompts.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for prompt in &prompts {
        let diff = prompt.split("\n## Diff\n").nth(1).and_then(|rest| rest.split("\n## What to do").next()).unwrap();
        // The diff is fenced as data: a few bytes of fence around the budgeted diff text.
        assert!(diff.len() <= BUDGET + 200, "a prompt carries {} bytes of diff", diff.len());
        for at in 0..FILES {
            if prompt.contains(&format!("diff --git a/{0} b/{0}\n", module_path(at))) {
                *seen.entry(module_path(at)).or_default() += 1;
            }
        }
        assert!(!prompt.contains("a line of a very large data file"), "the oversized file was sent");
    }
    assert_eq!(seen.len(), FILES, "every changed file is reviewed");
    assert!(seen.values().all(|count| *count == 1), "no file is reviewed twice");

    assert_eq!(rig.inline(mr_iid).len(), prompts.len(), "one finding per prompt");
    let summary = rig.summaries(mr_iid).pop().unwrap();
    assert!(summary.contains("#### Not reviewed"), "{summary}");
    assert!(summary.contains("- `Cargo.lock`: generated file"), "{summary}");
    assert!(summary.contains("- `data/huge.txt`: diff of "), "{summary}");
    assert!(summary.contains(&format!("over the limit of {}", BUDGET / 3 * 2)), "{summary}");
    assert!(!summary.contains("src/module_"), "no module file is listed as skipped:\n{summary}");
    assert_eq!(valid_quality_report(&rig.artifacts()).as_array().unwrap().len(), prompts.len());
}
