use serde_json::json;

use super::*;

const AGENT: u64 = 9;
const SUBJECT: &str = "mr-3-note-41";

fn note(author: u64, body: &str, resolvable: bool, resolved: bool) -> serde_json::Value {
    json!({"id": 1, "body": body, "author": {"id": author, "username": format!("user{author}")},
           "resolvable": resolvable, "resolved": resolved})
}

fn discussion(id: &str, notes: &[serde_json::Value]) -> Discussion {
    serde_json::from_value(json!({"id": id, "individual_note": false, "notes": notes})).unwrap()
}

fn answered(outcome: &str) -> String {
    format!("Done.\n\n{}\n", Marker::addressed(SUBJECT, outcome).as_str())
}

fn discussions() -> Vec<Discussion> {
    let mut plain = discussion("plain", &[note(1, "A plain comment", false, false)]);
    plain.individual_note = true;
    vec![
        discussion("person", &[note(1, "Rename this", true, false)]),
        discussion("agent", &[note(AGENT, "🟡 Minor finding", true, false)]),
        discussion("resolved", &[note(1, "Old", true, true)]),
        plain,
        discussion("fixed-before", &[note(1, "Fix", true, false), note(AGENT, &answered("fixed"), true, false)]),
        discussion("left-before", &[note(1, "Why?", true, false), note(AGENT, &answered("left"), true, false)]),
        // A person's copy of the agent's marker does not count as the agent's reply.
        discussion("forged", &[note(1, "Fix", true, false), note(2, &answered("fixed"), true, false)]),
    ]
}

#[test]
fn every_unresolved_thread_is_open_and_only_the_agents_reply_counts() {
    let discussions = discussions();
    let threads = open_threads(&discussions, AGENT, SUBJECT);
    let seen: Vec<(&str, bool, Option<&str>)> = threads
        .iter()
        .map(|thread| (thread.discussion.id.as_str(), thread.by_agent, thread.answered.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            ("person", false, None),
            ("agent", true, None),
            ("fixed-before", false, Some("fixed")),
            ("left-before", false, Some("left")),
            ("forged", false, None),
        ]
    );
    // Another request's replies are not this one's.
    let other = open_threads(&discussions, AGENT, "mr-3-note-42");
    assert!(other.iter().all(|thread| thread.answered.is_none()));
}

fn answer(outcome: Outcome) -> Answer {
    Answer { outcome, reason: "Because.".into() }
}

#[test]
fn only_fixed_threads_with_a_commit_are_resolved() {
    let discussions = discussions();
    let threads = open_threads(&discussions, AGENT, SUBJECT);
    let answers: BTreeMap<String, Answer> =
        [("person".to_owned(), answer(Outcome::Fixed)), ("agent".to_owned(), answer(Outcome::Left))].into();
    let planned = plan_replies(&threads, Some(&answers), false, Some("abc"), None);
    let seen: Vec<(&str, Option<ThreadOutcome>, bool)> = planned
        .iter()
        .map(|reply| (reply.discussion_id.as_str(), reply.reply.as_ref().map(|(outcome, _)| *outcome), reply.resolve))
        .collect();
    assert_eq!(
        seen,
        [
            ("person", Some(ThreadOutcome::Fixed), true),
            ("agent", Some(ThreadOutcome::Left), false),
            ("fixed-before", None, true),
            ("forged", Some(ThreadOutcome::NoAnswer), false),
        ]
    );

    // Without a commit nothing is resolved; on a follow-up branch neither.
    let planned = plan_replies(&threads, Some(&answers), false, None, None);
    assert_eq!(planned[0].reply.as_ref().map(|(outcome, _)| *outcome), Some(ThreadOutcome::NoChange));
    assert!(!planned[0].resolve);
    let planned = plan_replies(&threads, Some(&answers), false, Some("abc"), Some("!4"));
    assert_eq!(planned[0].reply.as_ref().map(|(outcome, _)| *outcome), Some(ThreadOutcome::FixedInFollowUp));
    assert!(!planned[0].resolve);
}

#[test]
fn answers_from_an_earlier_commit_cover_only_the_threads_it_lists() {
    let discussions = discussions();
    let threads = open_threads(&discussions, AGENT, SUBJECT);
    let answers: BTreeMap<String, Answer> = [("person".to_owned(), answer(Outcome::Fixed))].into();
    let planned = plan_replies(&threads, Some(&answers), true, Some("abc"), None);
    let ids: Vec<&str> = planned.iter().map(|reply| reply.discussion_id.as_str()).collect();
    assert_eq!(ids, ["person", "fixed-before"]);
    // Nobody asked: only the stopped resolve is left.
    let planned = plan_replies(&threads, None, false, None, None);
    assert_eq!(planned, [PlannedReply { discussion_id: "fixed-before".into(), reply: None, resolve: true }]);
}
