//! The review reads changed files without following symbolic links and within a size cap: a
//! link to `/dev/zero` or to a file outside the checkout is reviewed as a link (its target text
//! is its one line), and a file over the cap is skipped and named in the summary.

use serde_json::json;

use super::{NEW_LIB_RS, PROJECT, Rig, finding, review_prompts, run_ok};
use copilot_runner_testkit::mock_model::MockModel;

#[tokio::test]
async fn links_are_reviewed_as_links_and_files_over_the_cap_are_named_as_not_reviewed() {
    let rig = Rig::new().await;
    let outside = rig.dir.path().join("outside.txt");
    let secret: String = (1..=500).map(|n| format!("secret line {n}\n")).collect();
    std::fs::write(&outside, &secret).unwrap();
    let limit = copilot_runner::review::chunks::MAX_REVIEWED_FILE_BYTES;
    let row = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
    let big: String = row.repeat(usize::try_from(limit).unwrap() / row.len() + 10);
    rig.gitlab.push_files(PROJECT, "main", &[("data/big.txt", Some(&big))], "Add data", "alice").await.unwrap();
    let outside_target = outside.display().to_string();
    rig.gitlab
        .push_symlinks(
            PROJECT,
            "feature/links",
            &[("zero", "/dev/zero"), ("outside.txt", &outside_target)],
            "Link things",
            "alice",
        )
        .await
        .unwrap();
    let big_changed = format!("changed\n{}", &big[row.len()..]);
    let mr_iid =
        rig.open_mr("feature/links", &[("src/lib.rs", Some(NEW_LIB_RS)), ("data/big.txt", Some(&big_changed))]).await;
    let findings = json!([
        finding("src/lib.rs", 8, "The temporary is needless"),
        finding("zero", 1, "A link to a device"),
        finding("outside.txt", 300, "Beyond the link's one line"),
    ])
    .to_string();
    let model = MockModel::start(rig.script(&findings)).await.unwrap();
    run_ok(&rig.job(&model, mr_iid).await).await;

    let prompt = review_prompts(&rig.artifacts()).remove(0);
    assert!(prompt.contains("+/dev/zero") && prompt.contains(&format!("+{outside_target}")), "{prompt}");
    assert!(!prompt.contains("secret line"), "nothing is read through a link:\n{prompt}");
    assert!(!prompt.contains("data/big.txt ("), "the file over the cap is not in the prompt:\n{prompt}");
    let summary = rig.summaries(mr_iid).pop().unwrap();
    let named = format!("- `data/big.txt`: file of {} bytes, over the limit of {limit}", big_changed.len());
    assert!(summary.contains(&named), "{summary}");
    // The link is one line, its target: a finding on line 300 is not placed on the diff.
    let posted = rig.gitlab.requests_to("POST /projects/*/merge_requests/*/discussions");
    assert!(posted.iter().all(|request| !request.body.contains("outside.txt")), "{posted:#?}");
    assert!(summary.contains("**Beyond the link's one line**"), "{summary}");
    let inline: Vec<String> = rig.inline(mr_iid).into_iter().map(|note| note.body).collect();
    assert_eq!(inline.len(), 2, "{inline:#?}\n{prompt}");
    assert!(inline.iter().any(|body| body.contains("A link to a device")), "{inline:#?}");
}
