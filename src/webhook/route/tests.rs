//! Routing rules, one behaviour per test, on the real fixtures and variants built from them.

use serde_json::{Value, json};

use super::*;

fn agent() -> Agent {
    Agent {
        username: "copilot-agent".into(),
        branch_prefix: "copilot/".into(),
        auto_review: crate::config::AutoReviewSettings::default(),
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/data/gitlab/webhooks/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("fixture JSON")
}

fn decide(payload: &Value) -> Decision {
    let event = Event::parse(payload.to_string().as_bytes()).expect("parses");
    route(&event, &agent())
}

fn trigger(payload: &Value) -> Work {
    match decide(payload) {
        Decision::Trigger(trigger) => *trigger,
        Decision::Ignore(why) => panic!("ignored: {}", why.as_str()),
    }
}

fn ignored(payload: &Value) -> Ignored {
    match decide(payload) {
        Decision::Ignore(why) => why,
        Decision::Trigger(trigger) => panic!("triggered {trigger:?}"),
    }
}

fn agent_user() -> Value {
    json!({"id": 77, "name": "Copilot", "username": "copilot-agent", "avatar_url": "x", "email": "[REDACTED]"})
}

fn someone(id: u64) -> Value {
    json!({"id": id, "name": "Someone", "username": format!("user{id}"), "avatar_url": "x", "email": "[REDACTED]"})
}

fn variables(trigger: &Work) -> Vec<(&'static str, String)> {
    trigger.variables()
}

#[test]
fn fixtures_as_delivered_trigger_nothing() {
    let expected = [
        ("build.json", Ignored::UninterestingKind),
        ("deployment.json", Ignored::UninterestingKind),
        ("group_merge_request.json", Ignored::NotNewlyReviewer),
        ("issue.json", Ignored::NotNewlyAssigned),
        ("job.json", Ignored::UninterestingKind),
        ("member.json", Ignored::UninterestingKind),
        // Opened, and so a review when the project opts in: by default only with the label.
        ("merge_request.json", Ignored::AutoReviewNotOptedIn),
        ("note_commit.json", Ignored::NoteNotOnIssueOrMr),
        ("note_issue.json", Ignored::NotMentioned),
        ("note_merge_request.json", Ignored::NotMentioned),
        ("note_snippet.json", Ignored::NoteNotOnIssueOrMr),
        ("pipeline.json", Ignored::PipelineNotFailed),
        ("push.json", Ignored::UninterestingKind),
        ("release.json", Ignored::UninterestingKind),
        // Pushed to (`oldrev`): likewise.
        ("service_merge_request.json", Ignored::AutoReviewNotOptedIn),
        ("tag_push.json", Ignored::UninterestingKind),
    ];
    for (name, why) in expected {
        assert_eq!(ignored(&fixture(name)), why, "{name}");
    }
}

#[test]
fn agent_added_as_assignee_triggers_issue_assignee() {
    let mut issue = fixture("issue.json");
    issue["object_attributes"]["action"] = json!("update");
    issue["changes"]["assignees"] = json!({"previous": [someone(51)], "current": [someone(51), agent_user()]});
    let trigger = trigger(&issue);
    assert_eq!(
        variables(&trigger),
        vec![
            ("TRIGGER_TYPE", "issue_assignee".into()),
            ("TARGET_PROJECT_ID", "1".into()),
            ("TARGET_ISSUE_IID", "23".into())
        ]
    );
    assert_eq!(trigger.actor, Actor { id: 1, username: "root".into(), is_agent: false });
    assert_eq!(trigger.award, Some(AwardTarget::Issue { iid: 23 }));
    assert_eq!(trigger.lock(), Lock::Since(time("2013-12-03T17:15:43Z")));
}

#[test]
fn agent_already_assigned_and_unchanged_does_not_trigger() {
    let mut issue = fixture("issue.json");
    issue["object_attributes"]["action"] = json!("update");
    issue["assignees"] = json!([agent_user()]);
    assert_eq!(ignored(&issue), Ignored::NotNewlyAssigned, "labels changed, assignees did not");
    issue["changes"]["assignees"] = json!({"previous": [agent_user()], "current": [agent_user(), someone(5)]});
    assert_eq!(ignored(&issue), Ignored::NotNewlyAssigned, "someone else was added");
    issue["changes"]["assignees"] = json!({"previous": [agent_user()], "current": []});
    assert_eq!(ignored(&issue), Ignored::NotNewlyAssigned, "the agent was removed");
}

#[test]
fn issue_opened_with_the_agent_assigned_triggers() {
    let mut issue = fixture("issue.json");
    issue["assignees"] = json!([agent_user()]);
    assert_eq!(trigger(&issue).trigger_type(), TriggerType::IssueAssignee);
}

#[test]
fn confidential_issue_routes_like_a_plain_one() {
    let mut issue = fixture("issue.json");
    issue["event_type"] = json!("confidential_issue");
    issue["object_attributes"]["confidential"] = json!(true);
    issue["changes"]["assignees"] = json!({"previous": [], "current": [agent_user()]});
    assert_eq!(trigger(&issue).trigger_type(), TriggerType::IssueAssignee);
}

#[test]
fn the_agent_assigning_itself_is_ignored() {
    let mut issue = fixture("issue.json");
    issue["user"] = agent_user();
    issue["changes"]["assignees"] = json!({"previous": [], "current": [agent_user()]});
    assert_eq!(ignored(&issue), Ignored::ByAgent);
}

#[test]
fn issue_note_mentioning_the_agent_triggers_issue_note() {
    let mut note = fixture("note_issue.json");
    note["object_attributes"]["note"] = json!("@copilot-agent please add a retry");
    let trigger = trigger(&note);
    assert_eq!(
        variables(&trigger),
        vec![
            ("TRIGGER_TYPE", "issue_note".into()),
            ("TARGET_PROJECT_ID", "5".into()),
            ("TARGET_ISSUE_IID", "17".into()),
            ("TARGET_NOTE_ID", "1241".into())
        ]
    );
    assert_eq!(trigger.award, Some(AwardTarget::IssueNote { issue_iid: 17, note_id: 1241 }));
    assert_eq!(trigger.actor.id, 42);
}

#[test]
fn mr_note_mentioning_the_agent_triggers_mr_note_with_branches() {
    let mut note = fixture("note_merge_request.json");
    note["object_attributes"]["note"] = json!("Could you fix the lint, @copilot-agent?");
    let trigger = trigger(&note);
    assert_eq!(
        variables(&trigger),
        vec![
            ("TRIGGER_TYPE", "mr_note".into()),
            ("TARGET_PROJECT_ID", "5".into()),
            ("TARGET_MR_IID", "1".into()),
            ("TARGET_NOTE_ID", "1244".into()),
            ("SOURCE_BRANCH", "master".into()),
            ("TARGET_BRANCH", "markdown".into())
        ]
    );
    assert_eq!(trigger.lock(), Lock::Note);
}

#[test]
fn variables_never_carry_user_text() {
    let mut note = fixture("note_merge_request.json");
    note["object_attributes"]["note"] = json!("@copilot-agent $(rm -rf /) SECRET-WORDS");
    for (_, value) in variables(&trigger(&note)) {
        assert!(!value.contains("SECRET-WORDS") && !value.contains("rm -rf"), "{value}");
    }
}

#[test]
fn mentions_in_code_or_of_other_users_do_not_trigger() {
    let mut note = fixture("note_issue.json");
    for text in ["```\n@copilot-agent\n```", "`@copilot-agent`", "> @copilot-agent do it", "@copilot-agent-x do it"] {
        note["object_attributes"]["note"] = json!(text);
        assert_eq!(ignored(&note), Ignored::NotMentioned, "{text:?}");
    }
}

#[test]
fn edited_notes_do_not_retrigger() {
    let mut note = fixture("note_issue.json");
    note["object_attributes"]["note"] = json!("@copilot-agent go");
    note["object_attributes"]["action"] = json!("update");
    assert_eq!(ignored(&note), Ignored::NoteEdited);
}

#[test]
fn notes_without_action_from_older_gitlab_count_as_new() {
    let mut note = fixture("note_issue.json");
    note["object_attributes"]["note"] = json!("@copilot-agent go");
    note["object_attributes"].as_object_mut().expect("object").remove("action");
    assert_eq!(trigger(&note).trigger_type(), TriggerType::IssueNote);
}

#[test]
fn notes_by_the_agent_or_bots_or_the_system_are_ignored() {
    let mut note = fixture("note_issue.json");
    note["object_attributes"]["note"] = json!("@copilot-agent go");
    note["user"] = agent_user();
    assert_eq!(ignored(&note), Ignored::ByAgent);
    note["user"] = json!({"id": 9, "name": "Bot", "username": "project_5_bot_0a1b2c3d"});
    assert_eq!(ignored(&note), Ignored::ByBot);
    note["user"] = someone(42);
    note["object_attributes"]["system"] = json!(true);
    assert_eq!(ignored(&note), Ignored::SystemNote);
}

#[test]
fn confidential_notes_route_like_plain_ones() {
    let mut note = fixture("note_issue.json");
    note["event_type"] = json!("confidential_note");
    note["object_attributes"]["note"] = json!("@copilot-agent go");
    assert_eq!(trigger(&note).trigger_type(), TriggerType::IssueNote);
}

#[test]
fn agent_added_as_reviewer_triggers_mr_reviewer() {
    let mut mr = fixture("merge_request.json");
    mr["object_attributes"]["action"] = json!("update");
    mr["changes"]["reviewers"] = json!({"previous": [someone(1)], "current": [someone(1), agent_user()]});
    let trigger = trigger(&mr);
    assert_eq!(
        variables(&trigger),
        vec![
            ("TRIGGER_TYPE", "mr_reviewer".into()),
            ("TARGET_PROJECT_ID", "1".into()),
            ("TARGET_MR_IID", "1".into()),
            ("SOURCE_BRANCH", "ms-viewport".into()),
            ("TARGET_BRANCH", "master".into())
        ]
    );
    assert_eq!(trigger.award, Some(AwardTarget::MergeRequest { iid: 1 }));
    assert_eq!(trigger.lock(), Lock::Since(time("2013-12-03T17:23:34Z")));
}

#[test]
fn re_requested_review_triggers_and_an_unchanged_reviewer_does_not() {
    let mut mr = fixture("merge_request.json");
    mr["object_attributes"]["action"] = json!("update");
    mr["reviewers"] = json!([agent_user()]);
    assert_eq!(ignored(&mr), Ignored::NotNewlyReviewer);
    let mut again = agent_user();
    again["re_requested"] = json!(true);
    mr["changes"]["reviewers"] = json!({"previous": [agent_user()], "current": [again]});
    assert_eq!(trigger(&mr).trigger_type(), TriggerType::MrReviewer);
    mr["changes"]["reviewers"] = json!({"previous": [agent_user()], "current": [agent_user()]});
    assert_eq!(ignored(&mr), Ignored::NotNewlyReviewer);
}

#[test]
fn failed_pipeline_on_an_agent_branch_triggers_pipeline_failed() {
    let mut pipeline = fixture("pipeline.json");
    pipeline["object_attributes"]["status"] = json!("failed");
    pipeline["object_attributes"]["ref"] = json!("copilot/issue-17");
    pipeline["merge_request"] = Value::Null;
    let trigger = trigger(&pipeline);
    assert_eq!(
        variables(&trigger),
        vec![
            ("TRIGGER_TYPE", "pipeline_failed".into()),
            ("TARGET_PROJECT_ID", "1".into()),
            ("TARGET_PIPELINE_ID", "31".into()),
            ("SOURCE_BRANCH", "copilot/issue-17".into())
        ]
    );
    assert_eq!(trigger.award, Some(AwardTarget::PipelineMergeRequest { iid: None }));
    assert_eq!(trigger.award.map(AwardTarget::emoji), Some("wrench"));
    assert_eq!(trigger.lock(), Lock::Since(time("2016-08-12T15:26:29Z")));

    // Without a time to tell an earlier request's award from this one's, the award is no lock.
    pipeline["object_attributes"]["finished_at"] = Value::Null;
    assert_eq!(self::trigger(&pipeline).lock(), Lock::None);
}

fn time(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&chrono::Utc)
}

#[test]
fn event_times_come_in_both_of_gitlabs_forms() {
    let expected = Some(time("2021-09-27T05:01:21Z"));
    assert_eq!(event_time("2021-09-27T05:01:21Z"), expected);
    assert_eq!(event_time("2021-09-27 05:01:21 UTC"), expected);
    assert_eq!(event_time("2021-09-27 07:01:21 +0200"), expected);
    assert_eq!(event_time("2021-09-27T05:01:21.250Z"), Some(time("2021-09-27T05:01:21.250Z")));
    for junk in ["", "yesterday", "2021-09-27", "2021-13-27 05:01:21 UTC"] {
        assert_eq!(event_time(junk), None, "{junk}");
    }
}

#[test]
fn failed_merge_request_pipeline_takes_the_mr_branches() {
    let mut pipeline = fixture("pipeline.json");
    pipeline["object_attributes"]["status"] = json!("failed");
    pipeline["object_attributes"]["ref"] = json!("refs/merge-requests/1/head");
    pipeline["merge_request"]["source_branch"] = json!("copilot/issue-17");
    let trigger = trigger(&pipeline);
    let Trigger::PipelineFailed { mr_iid, branches, .. } = trigger.trigger else { panic!("{trigger:?}") };
    assert_eq!(mr_iid, Some(1));
    assert_eq!(trigger.award, Some(AwardTarget::PipelineMergeRequest { iid: Some(1) }));
    assert_eq!((branches.source.as_deref(), branches.target.as_deref()), (Some("copilot/issue-17"), Some("master")));
}

#[test]
fn failed_pipeline_on_main_or_a_tag_or_still_running_is_ignored() {
    let mut pipeline = fixture("pipeline.json");
    pipeline["merge_request"] = Value::Null;
    pipeline["object_attributes"]["status"] = json!("failed");
    pipeline["object_attributes"]["ref"] = json!("main");
    assert_eq!(ignored(&pipeline), Ignored::NotAgentBranch);
    pipeline["object_attributes"]["ref"] = json!("copilot/v1");
    pipeline["object_attributes"]["tag"] = json!(true);
    assert_eq!(ignored(&pipeline), Ignored::NotAgentBranch);
    pipeline["object_attributes"]["tag"] = json!(false);
    pipeline["object_attributes"]["status"] = json!("running");
    assert_eq!(ignored(&pipeline), Ignored::PipelineNotFailed);
}

#[test]
fn a_child_pipelines_own_failure_is_left_to_its_parents() {
    let mut pipeline = fixture("pipeline.json");
    pipeline["merge_request"] = Value::Null;
    pipeline["object_attributes"]["status"] = json!("failed");
    pipeline["object_attributes"]["ref"] = json!("copilot/issue-17");
    assert_eq!(pipeline["object_attributes"]["source"], json!("merge_request_event"), "not a child pipeline");
    assert_eq!(trigger(&pipeline).trigger_type(), TriggerType::PipelineFailed);
    pipeline["object_attributes"]["source"] = json!("parent_pipeline");
    assert_eq!(ignored(&pipeline), Ignored::ChildPipeline);
}

#[test]
fn the_agents_own_failed_pipeline_triggers_but_a_bots_does_not() {
    let mut pipeline = fixture("pipeline.json");
    pipeline["merge_request"] = Value::Null;
    pipeline["object_attributes"]["status"] = json!("failed");
    pipeline["object_attributes"]["ref"] = json!("copilot/issue-3");
    pipeline["user"] = agent_user();
    assert!(trigger(&pipeline).actor.is_agent);
    pipeline["user"] = json!({"id": 8, "username": "renovate-bot"});
    assert_eq!(ignored(&pipeline), Ignored::ByBot);
}

#[test]
fn object_keys_tell_events_apart() {
    let mut note = fixture("note_issue.json");
    note["object_attributes"]["note"] = json!("@copilot-agent go");
    assert_eq!(trigger(&note).object_key(), "issue_note/5/note:1241");
    note["object_attributes"]["id"] = json!(1242);
    assert_eq!(trigger(&note).object_key(), "issue_note/5/note:1242");

    // An issue is assigned again later: the same object, a new request.
    let mut issue = fixture("issue.json");
    issue["object_attributes"]["action"] = json!("update");
    issue["changes"]["assignees"] = json!({"previous": [], "current": [agent_user()]});
    let first = trigger(&issue).object_key();
    assert_eq!(first, format!("issue_assignee/1/issue:23@{}", time("2013-12-03T17:15:43Z").timestamp()));
    issue["object_attributes"]["updated_at"] = json!("2013-12-03T17:20:00Z");
    assert_ne!(trigger(&issue).object_key(), first);
}
