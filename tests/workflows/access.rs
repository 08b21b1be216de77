//! The workflows' access check counts what GitLab's `members` API says beyond the role: a
//! locked user and a membership past its `expires_at` get the refusal and start nothing; the
//! same person with a running membership is served.

use copilot_runner_testkit::ci_job::text;

use super::rig::{PROJECT, Rig, greeting_script};

const REFUSAL: &str = "I cannot start work for you";

#[tokio::test]
async fn a_locked_or_expired_member_is_refused_and_served_once_active() {
    let mut rig = Rig::start(greeting_script).await;
    let iid = rig.issue("alice", "Greetings", "The widgets should greet people.");
    let refusals = |rig: &Rig| rig.agent_notes(rig.on_issue(iid)).iter().filter(|body| body.contains(REFUSAL)).count();

    rig.gitlab.set_user_state("dave", "locked");
    rig.comment_on_issue(iid, "dave", "@copilot-agent add a greeting file");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(refusals(&rig), 1, "a locked user was served");

    rig.gitlab.set_user_state("dave", "active");
    rig.gitlab.set_membership_expiry(PROJECT, "dave", Some("2020-01-31"));
    rig.comment_on_issue(iid, "dave", "@copilot-agent add a greeting file");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(refusals(&rig), 2, "an expired membership was served");
    assert!(rig.gitlab.merge_requests(PROJECT).is_empty());
    assert!(rig.model.completions().is_empty(), "the agent ran");

    rig.gitlab.set_membership_expiry(PROJECT, "dave", Some("2999-12-31"));
    rig.comment_on_issue(iid, "dave", "@copilot-agent add a greeting file");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(refusals(&rig), 2);
    assert_eq!(rig.gitlab.merge_requests(PROJECT).len(), 1, "{}", text(&out.stderr));
}
