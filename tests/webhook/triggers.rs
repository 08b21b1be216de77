//! What each kind of request starts, with the exact trigger contract GitLab received (as
//! pipeline inputs, or as variables on GitLab before 18.1), and the safety rules around it:
//! actors, access levels, duplicates, replicas and GitLab failures.

use copilot_runner_testkit::fake_gitlab::{AGENT, Fault};

use super::harness::{
    AGENT_PROJECT, Delivery, Instance, WIDGETS, deliver, issue_note, merge_request, mr_note, note_awards, rig,
    triggered, vars,
};
use super::payloads;

#[tokio::test]
async fn agent_added_as_assignee_triggers_issue_assignee() {
    let (fake, service) = rig().await;
    let payload = payloads::issue_assignees(&fake, "alice", 1, &["dave"], &["dave", AGENT]);
    let answer = deliver(&service.url, &Delivery::new("Issue Hook", &payload)).await;
    assert_eq!((answer.status, answer.outcome()), (200, "triggered"), "{:?}", answer.body);
    let project = fake.project_id(WIDGETS).to_string();
    assert_eq!(
        triggered(&fake),
        vec![vars(&[
            ("TRIGGER_TYPE", "issue_assignee".into()),
            ("TARGET_PROJECT_ID", project),
            ("TARGET_ISSUE_IID", "1".into())
        ])]
    );
    assert_eq!(fake.issue_awards(WIDGETS, 1), [("eyes".to_owned(), AGENT.to_owned())], "👀 on the issue");
}

#[tokio::test]
async fn the_trigger_travels_as_pipeline_inputs_and_as_variables_only_when_told() {
    let (fake, service) = rig().await;
    let payload = payloads::issue_assignees(&fake, "alice", 1, &["dave"], &["dave", AGENT]);
    let answer = deliver(&service.url, &Delivery::new("Issue Hook", &payload)).await;
    assert_eq!((answer.status, answer.outcome()), (200, "triggered"), "{:?}", answer.body);
    let project = fake.project_id(WIDGETS).to_string();
    let calls = fake.trigger_calls();
    let inputs: Vec<(&str, &str)> = calls[0].inputs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        inputs,
        [("target_issue_iid", "1"), ("target_project_id", project.as_str()), ("trigger_type", "issue_assignee")]
    );
    assert!(calls[0].variables.is_empty(), "no pipeline variables: the agent project refuses them");
    let sent = fake.requests_to("POST /projects/*/trigger/pipeline");
    assert!(sent[0].body.contains("inputs%5Btrigger_type%5D=issue_assignee"), "form data: {}", sent[0].body);

    // GitLab before 18.1: the same names as variables, which the project must then allow.
    fake.set_pipeline_variables_role(AGENT_PROJECT, "developer");
    let fallback = Instance::start_with(&fake, &[("PIPELINE_TRIGGER_WITH", "variables".to_owned())], |_| {}).await;
    let text = "@copilot-agent add a doc comment";
    let note = issue_note(&fake, "alice", 1, text);
    let delivery = Delivery::new("Note Hook", &payloads::issue_note(&fake, "alice", 1, note, text));
    let answer = deliver(&fallback.url, &delivery).await;
    assert_eq!((answer.status, answer.outcome()), (200, "triggered"), "{:?}", answer.body);
    let calls = fake.trigger_calls();
    assert!(calls[1].inputs.is_empty(), "{:?}", calls[1]);
    assert!(calls[1].variables.contains(&("TRIGGER_TYPE".to_owned(), "issue_note".to_owned())), "{:?}", calls[1]);
}

#[tokio::test]
async fn agent_already_assigned_and_unchanged_triggers_nothing() {
    let (fake, service) = rig().await;
    let payload = payloads::issue_assignees(&fake, "alice", 1, &[AGENT], &[AGENT]);
    let answer = deliver(&service.url, &Delivery::new("Issue Hook", &payload)).await;
    assert_eq!((answer.outcome(), answer.body["reason"].as_str()), ("ignored", Some("not_newly_assigned")));
    assert!(triggered(&fake).is_empty());
    assert!(fake.requests().is_empty(), "an ignored event costs GitLab nothing");
}

#[tokio::test]
async fn mention_in_an_issue_note_triggers_issue_note_and_awards_the_note() {
    let (fake, service) = rig().await;
    let text = "@copilot-agent please also cover the negative case";
    let note = issue_note(&fake, "alice", 1, text);
    fake.clear_requests();
    let answer =
        deliver(&service.url, &Delivery::new("Note Hook", &payloads::issue_note(&fake, "alice", 1, note, text))).await;
    assert_eq!((answer.status, answer.outcome()), (200, "triggered"), "{:?}", answer.body);
    assert_eq!(
        triggered(&fake),
        vec![vars(&[
            ("TRIGGER_TYPE", "issue_note".into()),
            ("TARGET_PROJECT_ID", fake.project_id(WIDGETS).to_string()),
            ("TARGET_ISSUE_IID", "1".into()),
            ("TARGET_NOTE_ID", note.to_string()),
        ])]
    );
    assert_eq!(note_awards(&fake, note), [("eyes".to_owned(), AGENT.to_owned())], "👀 on the note");
}

#[tokio::test]
async fn confidential_note_triggers_like_a_plain_one() {
    let (fake, service) = rig().await;
    let text = "@copilot-agent this one is internal";
    let note = issue_note(&fake, "alice", 1, text);
    let payload = payloads::confidential(payloads::issue_note(&fake, "alice", 1, note, text));
    let answer = deliver(&service.url, &Delivery::new("Confidential Note Hook", &payload)).await;
    assert_eq!(answer.outcome(), "triggered", "{:?}", answer.body);
    assert_eq!(triggered(&fake)[0]["TRIGGER_TYPE"], "issue_note");
}

#[tokio::test]
async fn mention_in_a_code_block_or_by_the_agent_itself_triggers_nothing() {
    let (fake, service) = rig().await;
    let fenced = "Run it like this:\n\n```\n@copilot-agent fix\n```\n";
    let note = issue_note(&fake, "alice", 1, fenced);
    let answer =
        deliver(&service.url, &Delivery::new("Note Hook", &payloads::issue_note(&fake, "alice", 1, note, fenced)))
            .await;
    assert_eq!(answer.body["reason"], "not_mentioned");

    let own = "Working on it, @copilot-agent here.";
    let note = issue_note(&fake, AGENT, 1, own);
    let answer =
        deliver(&service.url, &Delivery::new("Note Hook", &payloads::issue_note(&fake, AGENT, 1, note, own))).await;
    assert_eq!(answer.body["reason"], "by_agent");
    assert!(triggered(&fake).is_empty());
}

#[tokio::test]
async fn guest_and_outsider_mentions_are_denied_without_a_trigger() {
    let (fake, service) = rig().await;
    for actor in ["gus", "outsider"] {
        let text = "@copilot-agent delete the tests";
        let note = issue_note(&fake, "alice", 1, text);
        let answer =
            deliver(&service.url, &Delivery::new("Note Hook", &payloads::issue_note(&fake, actor, 1, note, text)))
                .await;
        assert_eq!((answer.status, answer.outcome()), (200, "denied"), "{actor}: {:?}", answer.body);
    }
    assert!(triggered(&fake).is_empty());
    assert!(fake.requests_to("POST /projects/**/award_emoji").is_empty(), "no 👀 for a denied request");
    assert_eq!(fake.requests_to("GET /projects/*/members/all/*").len(), 2, "access was checked");
}

#[tokio::test]
async fn mr_note_triggers_mr_note_with_both_branches() {
    let (fake, service) = rig().await;
    let mr = merge_request(&fake, "alice", "feature/tidy").await;
    let text = "@copilot-agent rename `sub` to `subtract`";
    let note = mr_note(&fake, "alice", mr, text);
    let payload = payloads::mr_note(&fake, "alice", mr, "feature/tidy", note, text);
    let answer = deliver(&service.url, &Delivery::new("Note Hook", &payload)).await;
    assert_eq!(answer.outcome(), "triggered", "{:?}", answer.body);
    assert_eq!(
        triggered(&fake),
        vec![vars(&[
            ("TRIGGER_TYPE", "mr_note".into()),
            ("TARGET_PROJECT_ID", fake.project_id(WIDGETS).to_string()),
            ("TARGET_MR_IID", mr.to_string()),
            ("TARGET_NOTE_ID", note.to_string()),
            ("SOURCE_BRANCH", "feature/tidy".into()),
            ("TARGET_BRANCH", "main".into()),
        ])]
    );
    assert_eq!(note_awards(&fake, note), [("eyes".to_owned(), AGENT.to_owned())]);
}

#[tokio::test]
async fn agent_added_as_reviewer_triggers_mr_reviewer() {
    let (fake, service) = rig().await;
    let mr = merge_request(&fake, "alice", "feature/review-me").await;
    let payload = payloads::mr_reviewers(&fake, "alice", mr, "feature/review-me", &[], &[AGENT]);
    let answer = deliver(&service.url, &Delivery::new("Merge Request Hook", &payload)).await;
    assert_eq!(answer.outcome(), "triggered", "{:?}", answer.body);
    assert_eq!(
        triggered(&fake),
        vec![vars(&[
            ("TRIGGER_TYPE", "mr_reviewer".into()),
            ("TARGET_PROJECT_ID", fake.project_id(WIDGETS).to_string()),
            ("TARGET_MR_IID", mr.to_string()),
            ("SOURCE_BRANCH", "feature/review-me".into()),
            ("TARGET_BRANCH", "main".into()),
        ])]
    );
    assert_eq!(fake.mr_awards(WIDGETS, mr), [("eyes".to_owned(), AGENT.to_owned())], "👀 on the MR");
}

#[tokio::test]
async fn failed_pipeline_triggers_on_an_agent_branch_and_not_on_main() {
    let (fake, service) = rig().await;
    let on_main = payloads::pipeline(&fake, "alice", 9001, "main", "failed");
    let answer = deliver(&service.url, &Delivery::new("Pipeline Hook", &on_main)).await;
    assert_eq!(answer.body["reason"], "not_agent_branch");

    let on_agent_branch = payloads::pipeline(&fake, AGENT, 9002, "copilot/issue-1", "failed");
    let answer = deliver(&service.url, &Delivery::new("Pipeline Hook", &on_agent_branch)).await;
    assert_eq!(answer.outcome(), "triggered", "{:?}", answer.body);
    assert_eq!(
        triggered(&fake),
        vec![vars(&[
            ("TRIGGER_TYPE", "pipeline_failed".into()),
            ("TARGET_PROJECT_ID", fake.project_id(WIDGETS).to_string()),
            ("TARGET_PIPELINE_ID", "9002".into()),
            ("SOURCE_BRANCH", "copilot/issue-1".into()),
        ])]
    );
}

#[tokio::test]
async fn the_same_delivery_three_times_starts_one_pipeline() {
    let (fake, service) = rig().await;
    let text = "@copilot-agent go";
    let note = issue_note(&fake, "alice", 1, text);
    let delivery = Delivery::new("Note Hook", &payloads::issue_note(&fake, "alice", 1, note, text));
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(deliver(&service.url, &delivery).await.outcome().to_owned());
    }
    assert_eq!(outcomes, ["triggered", "duplicate", "duplicate"]);
    // The same event again under a new delivery id (a second hook, or a re-sent copy).
    let mut again = delivery.clone();
    again.idempotency_key = Some("another-delivery".into());
    again.event_uuid = Some("another-event".into());
    assert_eq!(deliver(&service.url, &again).await.outcome(), "duplicate");
    assert_eq!(triggered(&fake).len(), 1);
}

#[tokio::test]
async fn the_same_delivery_to_two_instances_at_once_starts_one_pipeline() {
    let (fake, first) = rig().await;
    let second = Instance::start(&fake).await;
    let text = "@copilot-agent go";
    let note = issue_note(&fake, "alice", 1, text);
    let delivery = Delivery::new("Note Hook", &payloads::issue_note(&fake, "alice", 1, note, text));
    let (a, b) = tokio::join!(deliver(&first.url, &delivery), deliver(&second.url, &delivery));
    let mut outcomes = [a.outcome().to_owned(), b.outcome().to_owned()];
    outcomes.sort();
    assert_eq!(outcomes, ["duplicate", "triggered"], "{:?} {:?}", a.body, b.body);
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(triggered(&fake).len(), 1, "whoever won the 👀 triggered; the other stood down");
}

#[tokio::test]
async fn a_failed_trigger_is_5xx_and_its_resend_triggers() {
    let (fake, service) = rig().await;
    let text = "@copilot-agent go";
    let note = issue_note(&fake, "alice", 1, text);
    let delivery = Delivery::new("Note Hook", &payloads::issue_note(&fake, "alice", 1, note, text));
    let fault = fake.inject(Fault::on("POST", "/projects/*/trigger/pipeline").status(500).times(1));
    let answer = deliver(&service.url, &delivery).await;
    assert_eq!((answer.status, answer.outcome()), (502, "failed"), "{:?}", answer.body);
    assert_eq!(fake.fault_hits(fault), 1);
    assert!(note_awards(&fake, note).is_empty(), "the 👀 lock was given back");

    // GitLab's "Resend request": same Idempotency-Key and event UUID.
    let answer = deliver(&service.url, &delivery).await;
    assert_eq!((answer.status, answer.outcome()), (200, "triggered"), "{:?}", answer.body);
    assert_eq!(triggered(&fake).len(), 1, "the failed attempt sent nothing the fake accepted");
    assert_eq!(deliver(&service.url, &delivery).await.outcome(), "duplicate");
}

#[tokio::test]
async fn gitlab_unreachable_for_the_access_check_is_5xx() {
    let (fake, service) = rig().await;
    fake.inject(Fault::on("GET", "/projects/*/members/all/*").status(503));
    let text = "@copilot-agent go";
    let note = issue_note(&fake, "alice", 1, text);
    let answer =
        deliver(&service.url, &Delivery::new("Note Hook", &payloads::issue_note(&fake, "alice", 1, note, text))).await;
    assert_eq!(answer.status, 502, "{:?}", answer.body);
    assert!(triggered(&fake).is_empty());
}
