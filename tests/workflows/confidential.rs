//! Confidential issues: refused with a note naming `COPILOT_ALLOW_CONFIDENTIAL` unless it is on;
//! when it is, the merge request, its branch and its commit link the issue and carry none of its
//! text.

use copilot_runner_testkit::ci_job::text;

use super::rig::{PROJECT, Rig, greeting_script};

const TITLE: &str = "Rotate the payroll signing key";
const DESCRIPTION: &str = "The payroll signing key leaked in ticket 4711. Please add greeting.txt.";

/// A confidential issue by alice, assigned to the agent by her.
async fn confidential_assigned() -> (Rig, u64) {
    let mut rig = Rig::start(greeting_script).await;
    let iid = rig.confidential_issue("alice", TITLE, DESCRIPTION);
    rig.assign(iid, "alice");
    (rig, iid)
}

#[tokio::test]
async fn a_confidential_issue_is_refused_with_the_setting_named_and_nothing_done() {
    let (rig, iid) = confidential_assigned().await;

    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let notes = rig.agent_notes(rig.on_issue(iid));
    assert_eq!(notes.len(), 1, "only the refusal: {notes:#?}");
    assert!(notes[0].contains("@alice") && notes[0].contains("confidential"), "{}", notes[0]);
    assert!(notes[0].contains("`COPILOT_ALLOW_CONFIDENTIAL`"), "{}", notes[0]);
    assert!(rig.gitlab.merge_requests(PROJECT).is_empty());
    assert_eq!(rig.gitlab.branch_head(PROJECT, &format!("copilot/issue-{iid}")).await, None);
    assert!(rig.model.completions().is_empty(), "the agent ran on a confidential issue");
}

#[tokio::test]
async fn an_allowed_confidential_issue_gets_a_merge_request_that_only_links_it() {
    let (mut rig, iid) = confidential_assigned().await;
    rig.job.set("COPILOT_ALLOW_CONFIDENTIAL", "true");

    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    let branch = format!("copilot/issue-{iid}");
    let mrs = rig.gitlab.merge_requests(PROJECT);
    assert_eq!(mrs.len(), 1, "{mrs:?}\n{stderr}");
    assert!(mrs[0].title.ends_with(&format!("Resolve #{iid}")), "{}", mrs[0].title);
    assert!(!mrs[0].title.contains("payroll"), "{}", mrs[0].title);
    let description = &mrs[0].description;
    assert!(description.contains(&format!("Closes #{iid}")), "{description}");
    assert!(description.contains("confidential"), "{description}");
    // Neither the issue's words nor the analysis of them (the mock analysis summary).
    for secret in ["payroll", "4711", "Please add greeting.txt", "Add a greeting file."] {
        assert!(!description.contains(secret), "`{secret}` in the description: {description}");
    }
    let commit = rig.gitlab.commit(PROJECT, &branch).await.unwrap();
    assert_eq!(commit.title, format!("Resolve #{iid}"), "{}", commit.message);
    assert!(!commit.message.contains("payroll"), "{}", commit.message);
    assert_eq!(rig.gitlab.read_file(PROJECT, &branch, "greeting.txt").await.as_deref(), Some("hello\n"));
    // The agent worked from the issue's text all the same.
    assert!(rig.model.saw("payroll signing key leaked"));
}
