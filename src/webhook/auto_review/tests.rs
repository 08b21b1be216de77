//! The opt-in rules on the real merge request fixtures: each occasion, each reason not to, and
//! the same event reviewed once the project opts in, so every "not" is the rule at work.

use serde_json::{Value, json};

use super::*;
use crate::config::AutoReview;
use crate::gitlab::events::Event;
use crate::webhook::route::{Agent, AwardTarget, Decision, Ignored, Lock, TriggerType, Work, route};

fn agent(mode: AutoReview, drafts: bool) -> Agent {
    Agent {
        username: "copilot-agent".into(),
        branch_prefix: "copilot/".into(),
        auto_review: AutoReviewSettings { mode, label: "copilot-review".into(), drafts },
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/data/gitlab/webhooks/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("fixture JSON")
}

fn decide(payload: &Value, agent: &Agent) -> Result<Work, Ignored> {
    let event = Event::parse(payload.to_string().as_bytes()).expect("parses");
    match route(&event, agent) {
        Decision::Trigger(work) => Ok(*work),
        Decision::Ignore(why) => Err(why),
    }
}

fn label(title: &str) -> Value {
    json!({"id": 1, "title": title, "color": "#fff", "project_id": 14, "type": "ProjectLabel"})
}

/// `merge_request.json` (opened) with the opt-in label.
fn opened_with_label() -> Value {
    let mut mr = fixture("merge_request.json");
    mr["labels"] = json!([label("API"), label("copilot-review")]);
    mr
}

/// `service_merge_request.json`: an update with `oldrev`, i.e. a push.
fn pushed() -> Value {
    fixture("service_merge_request.json")
}

#[test]
fn an_opened_merge_request_is_reviewed_with_the_label_and_not_without() {
    let labelled = opened_with_label();
    let work = decide(&labelled, &agent(AutoReview::Label, false)).expect("reviewed");
    assert_eq!(work.trigger_type(), TriggerType::MrReviewer);
    assert_eq!(work.award, Some(AwardTarget::MergeRequest { iid: 1 }));
    assert_eq!(work.actor.username, "user1", "the person who opened it is the one checked");
    assert_eq!(work.revision.as_deref(), Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"));
    assert!(matches!(work.lock(), Lock::Since(_)), "the 👀 on the merge request is the replicas' lock");

    let plain = fixture("merge_request.json");
    assert_eq!(decide(&plain, &agent(AutoReview::Label, false)).unwrap_err(), Ignored::AutoReviewNotOptedIn);
    assert!(decide(&plain, &agent(AutoReview::All, false)).is_ok(), "`all` needs no label");
    assert_eq!(decide(&labelled, &agent(AutoReview::Off, false)).unwrap_err(), Ignored::AutoReviewOff);
}

#[test]
fn a_push_is_reviewed_and_its_key_names_the_new_head() {
    let mut mr = pushed();
    let all = agent(AutoReview::All, false);
    let first = decide(&mr, &all).expect("a push is reviewed");
    assert!(first.object_key().ends_with("#0ab96a10266b95b4b533dcfd98738015fbe70889"), "{}", first.object_key());
    // The next push, even within the same second, is a request of its own; the same delivery is not.
    mr["object_attributes"]["last_commit"]["id"] = json!("1111111111111111111111111111111111111111");
    let second = decide(&mr, &all).expect("the next push is reviewed");
    assert_ne!(first.object_key(), second.object_key());
    assert_eq!(first.object_key(), decide(&pushed(), &all).unwrap().object_key());

    // An update without new commits (a title edit) is no occasion.
    mr["object_attributes"].as_object_mut().unwrap().remove("oldrev");
    assert_eq!(decide(&mr, &all).unwrap_err(), Ignored::NotNewlyReviewer);
}

#[test]
fn adding_the_label_starts_a_review_and_other_label_changes_do_not() {
    let mut mr = fixture("merge_request.json");
    mr["object_attributes"]["action"] = json!("update");
    // The fixture's own change: `API` → `Platform`.
    let by_label = agent(AutoReview::Label, false);
    assert_eq!(decide(&mr, &by_label).unwrap_err(), Ignored::NotNewlyReviewer);
    mr["changes"]["labels"] = json!({"previous": [label("API")], "current": [label("API"), label("Copilot-Review")]});
    mr["labels"] = json!([label("API"), label("Copilot-Review")]);
    assert_eq!(occasion(&decide_event(&mr), &by_label.auto_review), Some(Occasion::Labelled));
    assert!(decide(&mr, &by_label).is_ok(), "labels compare without case, as GitLab's do");
    // Already there before: this update is something else.
    mr["changes"]["labels"]["previous"] = json!([label("copilot-review")]);
    assert_eq!(decide(&mr, &by_label).unwrap_err(), Ignored::NotNewlyReviewer);
}

fn decide_event(payload: &Value) -> MergeRequestEvent {
    match Event::parse(payload.to_string().as_bytes()).expect("parses") {
        Event::MergeRequest(mr) => *mr,
        other => panic!("not a merge request event: {other:?}"),
    }
}

#[test]
fn drafts_wait_until_ready_unless_asked() {
    let mut mr = opened_with_label();
    mr["object_attributes"]["draft"] = json!(true);
    assert_eq!(decide(&mr, &agent(AutoReview::Label, false)).unwrap_err(), Ignored::AutoReviewDraft);
    assert!(decide(&mr, &agent(AutoReview::Label, true)).is_ok(), "COPILOT_AUTO_REVIEW_DRAFTS");
    // The older field says the same.
    mr["object_attributes"].as_object_mut().unwrap().remove("draft");
    mr["object_attributes"]["work_in_progress"] = json!(true);
    assert_eq!(decide(&mr, &agent(AutoReview::Label, false)).unwrap_err(), Ignored::AutoReviewDraft);

    // Marked ready: reviewed then.
    mr["object_attributes"]["action"] = json!("update");
    mr["object_attributes"]["work_in_progress"] = json!(false);
    mr["changes"] = json!({"draft": {"previous": true, "current": false}});
    assert!(decide(&mr, &agent(AutoReview::Label, false)).is_ok());
}

#[test]
fn the_agents_own_merge_requests_are_never_reviewed_automatically() {
    let all = agent(AutoReview::All, true);
    let mut mr = opened_with_label();
    mr["object_attributes"]["source_branch"] = json!("copilot/issue-7");
    assert_eq!(decide(&mr, &all).unwrap_err(), Ignored::AgentMergeRequest);
    // A person's push to the agent's branch neither.
    let mut push = pushed();
    push["object_attributes"]["source_branch"] = json!("copilot/issue-7");
    assert_eq!(decide(&push, &all).unwrap_err(), Ignored::AgentMergeRequest);
    // The same branch name in a fork is a person's.
    push["object_attributes"]["source_project_id"] = json!(99);
    assert!(decide(&push, &all).is_ok());
    // Opened by the agent (from any branch).
    mr["object_attributes"]["source_branch"] = json!("feature");
    mr["user"] = json!({"id": 77, "name": "Copilot", "username": "copilot-agent"});
    assert_eq!(decide(&mr, &all).unwrap_err(), Ignored::AgentMergeRequest);
}

#[test]
fn a_review_request_goes_first_and_carries_no_head() {
    let mut mr = opened_with_label();
    mr["reviewers"] = json!([{"id": 77, "name": "Copilot", "username": "copilot-agent"}]);
    let work = decide(&mr, &agent(AutoReview::Label, false)).expect("requested");
    assert_eq!(work.revision, None, "a person's request is keyed as before");
}

#[test]
fn closed_and_merged_merge_requests_are_not_reviewed() {
    let mut mr = pushed();
    mr["object_attributes"]["state"] = json!("merged");
    assert_eq!(decide(&mr, &agent(AutoReview::All, false)).unwrap_err(), Ignored::NotNewlyReviewer);
    for action in ["close", "merge", "approved"] {
        let mut other = opened_with_label();
        other["object_attributes"]["action"] = json!(action);
        assert_eq!(decide(&other, &agent(AutoReview::All, false)).unwrap_err(), Ignored::NotNewlyReviewer, "{action}");
    }
}

#[test]
fn the_setting_reads_its_three_values_and_names_them_when_wrong() {
    assert_eq!("off".parse::<AutoReview>(), Ok(AutoReview::Off));
    assert_eq!(" Label ".parse::<AutoReview>(), Ok(AutoReview::Label));
    assert_eq!("all".parse::<AutoReview>(), Ok(AutoReview::All));
    let error = "yes".parse::<AutoReview>().unwrap_err();
    assert!(error.contains("`off`") && error.contains("`label`") && error.contains("`all`"), "{error}");
}
