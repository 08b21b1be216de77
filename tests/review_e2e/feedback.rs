//! Reviews learn from feedback: a 👎 or a "false positive" reply (in any prompt language) on one
//! of the agent's findings holds findings of that kind back in every later review of the project,
//! the summary counts them, `summary.json` counts 👍 and 👎 per category, and "@agent forget
//! suppressions" lets them through again. Each case runs beside its control: the same reviews
//! without the feedback post the finding.

use copilot_runner::gitlab::{Awardable, Client, ClientOptions, Noteable};
use copilot_runner_testkit::fake_gitlab::{AGENT, Note};
use copilot_runner_testkit::mock_model::{MockModel, Script};
use secrecy::SecretString;
use serde_json::json;

use super::{NEW_LIB_RS, PROJECT, Rig, finding, review_rule, run_ok};

const GREET_RS: &str = "pub fn greet() {}\n";
const MORE_RS: &str = "pub fn more() {}\n";
const OTHER_RS: &str = "pub fn other_helper() {}\n";
/// The summary's line for findings held back by suppressions (one of them).
const HELD_BACK: &str = "Held back because findings of their kind were marked wrong (👎 or \"false positive\"): 1.";

/// What a person does to the agent's first finding after the first review.
#[derive(Debug, Clone, Copy)]
enum Feedback<'a> {
    Nothing,
    ThumbsDown,
    Reply(&'a str),
}

/// The mock model's findings: on `src/lib.rs` at the first review (a maintainability finding and
/// a correctness one), then one of the same kind as the first on each file later reviews see.
fn script(rig: &Rig) -> Script {
    let path = rig.findings_path(1);
    let first = json!([
        finding("src/lib.rs", 8, "Unused variable `d`"),
        {"file": "src/lib.rs", "line": 9, "side": "new", "severity": "major", "category": "correctness",
         "title": "The sign is wrong", "body": "Explained."},
    ]);
    Script::new()
        .rule(review_rule("fn more()", &path, &json!([finding("src/more.rs", 1, "Unused variable `m`")]).to_string()))
        .rule(review_rule("fn greet()", &path, &json!([finding("src/greet.rs", 1, "unused variable `g`")]).to_string()))
        .rule(review_rule(
            "fn other_helper()",
            &path,
            &json!([finding("src/other.rs", 1, "Unused variable `o`")]).to_string(),
        ))
        .rule(review_rule("copilot-runner-stage: review", &path, &first.to_string()))
}

/// A client acting as `user`.
fn client(rig: &Rig, user: &str) -> Client {
    let token = SecretString::from(rig.gitlab.token(user));
    Client::with_options(&rig.gitlab.api_url(), &token, &ClientOptions::default()).unwrap()
}

/// `title` as a discussion body shows it (backticks escaped).
fn shown(title: &str) -> String {
    title.replace('`', "\\`")
}

/// The agent's thread whose first note contains `text`: its id and notes.
fn thread(rig: &Rig, mr_iid: u64, text: &str) -> (String, Vec<Note>) {
    let agent = rig.gitlab.user_id(AGENT);
    let text = shown(text);
    rig.gitlab
        .discussions(PROJECT, mr_iid)
        .into_iter()
        .find(|(_, notes)| notes[0].author_id == agent && notes[0].body.contains(&text))
        .unwrap_or_else(|| panic!("no thread about {text}"))
}

/// `user` gives `feedback` on the agent's thread about `text`.
async fn give(rig: &Rig, mr_iid: u64, text: &str, user: &str, feedback: Feedback<'_>) {
    let (discussion, notes) = thread(rig, mr_iid, text);
    let client = client(rig, user);
    match feedback {
        Feedback::Nothing => {}
        Feedback::ThumbsDown => {
            let on = Awardable::Note { on: Noteable::MergeRequest(mr_iid), note_id: notes[0].id };
            client.award_emoji(PROJECT, on, "thumbsdown").await.unwrap();
        }
        Feedback::Reply(body) => {
            client.reply_to_discussion(PROJECT, mr_iid, &discussion, body).await.unwrap();
        }
    }
}

/// `user` gives 👍 to the agent's thread about `text`.
async fn thumbs_up(rig: &Rig, mr_iid: u64, text: &str, user: &str) {
    let (_, notes) = thread(rig, mr_iid, text);
    let on = Awardable::Note { on: Noteable::MergeRequest(mr_iid), note_id: notes[0].id };
    client(rig, user).award_emoji(PROJECT, on, "thumbsup").await.unwrap();
}

/// Whether the agent posted a thread about `text` on the merge request.
fn posted(rig: &Rig, mr_iid: u64, text: &str) -> bool {
    rig.inline(mr_iid).iter().any(|note| note.body.contains(&shown(text)))
}

/// `review_feedback` of the last job's `summary.json`.
fn feedback_report(rig: &Rig) -> serde_json::Value {
    let text = std::fs::read_to_string(rig.artifacts().join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    summary["review_feedback"].clone()
}

/// Reviews `feature/one`, lets alice give `feedback` on the unused-variable finding, then pushes
/// `src/greet.rs` and reviews again. Returns the rig, the model and the merge request.
async fn first_mr_with(feedback: Feedback<'_>) -> (Rig, MockModel, u64) {
    let rig = Rig::new().await;
    let mr_iid = rig.open_mr("feature/one", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    let model = MockModel::start(script(&rig)).await.unwrap();
    run_ok(&rig.job(&model, mr_iid).await).await;
    assert!(posted(&rig, mr_iid, "Unused variable `d`"), "{:#?}", rig.inline(mr_iid));
    give(&rig, mr_iid, "Unused variable `d`", "alice", feedback).await;

    rig.gitlab.push_files(PROJECT, "feature/one", &[("src/greet.rs", Some(GREET_RS))], "Greet", "alice").await.unwrap();
    run_ok(&rig.job(&model, mr_iid).await).await;
    (rig, model, mr_iid)
}

#[tokio::test]
async fn a_thumbs_down_holds_the_kind_back_in_the_next_reviews_of_the_project_and_its_control_posts_it() {
    for feedback in [Feedback::ThumbsDown, Feedback::Nothing] {
        let suppressed = matches!(feedback, Feedback::ThumbsDown);
        let (rig, model, mr_iid) = first_mr_with(feedback).await;
        // The same merge request after a push.
        assert_eq!(posted(&rig, mr_iid, "unused variable `g`"), !suppressed, "{feedback:?}: {:#?}", rig.inline(mr_iid));
        let summary = rig.summaries(mr_iid).pop().unwrap();
        assert_eq!(summary.contains(HELD_BACK), suppressed, "{feedback:?}:\n{summary}");
        let report = feedback_report(&rig);
        assert_eq!(report["findings_suppressed"], json!(u32::from(suppressed)), "{feedback:?}: {report:#}");
        assert_eq!(report["acceptance"]["maintainability"]["thumbs_down"], json!(u32::from(suppressed)));

        // Another merge request of the project.
        let other = rig.open_mr("feature/two", &[("src/other.rs", Some(OTHER_RS))]).await;
        run_ok(&rig.job(&model, other).await).await;
        assert_eq!(posted(&rig, other, "Unused variable `o`"), !suppressed, "{feedback:?}: {:#?}", rig.inline(other));
        let summary = rig.summaries(other).pop().unwrap();
        assert_eq!(summary.contains(HELD_BACK), suppressed, "{feedback:?}:\n{summary}");
    }
}

#[tokio::test]
async fn a_false_positive_reply_in_any_language_holds_the_kind_back_and_a_discussion_does_not() {
    for (reply, suppressed) in [
        ("False positive: `d` is read by the test macro.", true),
        ("误报，这个变量在宏里用到了。", true),
        ("Is this a false positive? I need to check the macro first.", false),
    ] {
        let (rig, _model, mr_iid) = first_mr_with(Feedback::Reply(reply)).await;
        assert_eq!(posted(&rig, mr_iid, "unused variable `g`"), !suppressed, "{reply}: {:#?}", rig.inline(mr_iid));
        let summary = rig.summaries(mr_iid).pop().unwrap();
        assert_eq!(summary.contains(HELD_BACK), suppressed, "{reply}:\n{summary}");
        let report = feedback_report(&rig);
        let replies = &report["acceptance"]["maintainability"]["false_positive_replies"];
        assert_eq!(replies, &json!(u32::from(suppressed)), "{reply}: {report:#}");
        assert_eq!(report["suppressions_active"], json!(u32::from(suppressed)), "{reply}: {report:#}");
    }
}

#[tokio::test]
async fn forgetting_suppressions_lets_the_finding_through_again() {
    let (rig, model, mr_iid) = first_mr_with(Feedback::ThumbsDown).await;
    assert!(!posted(&rig, mr_iid, "unused variable `g`"), "the 👎 holds it back first");

    let note_id = rig.gitlab.add_mr_note(PROJECT, mr_iid, "alice", "@copilot-agent forget suppressions");
    let forget = rig.note_job(&model, mr_iid, note_id).await;
    run_ok(&forget).await;
    let agent = rig.gitlab.user_id(AGENT);
    let answers: Vec<String> = rig
        .agent_notes(mr_iid)
        .into_iter()
        .map(|note| note.body)
        .filter(|body| body.contains("I forgot this project's 1 suppression."))
        .collect();
    assert_eq!(answers.len(), 1, "{:#?}", rig.agent_notes(mr_iid));
    assert!(answers[0].starts_with("@alice "), "{}", answers[0]);
    // A re-run of the same request edits its answer instead of posting a second one.
    run_ok(&forget).await;
    let again = rig.agent_notes(mr_iid).into_iter().filter(|note| note.body.contains("I forgot this project")).count();
    assert_eq!(again, 1);
    assert!(rig.gitlab.note_awards(note_id).contains(&("eyes".to_owned(), AGENT.to_owned())));

    // The next review reads the old 👎 again, and it no longer counts: the finding is posted.
    rig.gitlab.push_files(PROJECT, "feature/one", &[("src/more.rs", Some(MORE_RS))], "More", "alice").await.unwrap();
    run_ok(&rig.job(&model, mr_iid).await).await;
    assert!(posted(&rig, mr_iid, "Unused variable `m`"), "{:#?}", rig.inline(mr_iid));
    let summary = rig.summaries(mr_iid).pop().unwrap();
    assert!(!summary.contains("Held back because"), "{summary}");
    let report = feedback_report(&rig);
    assert_eq!(
        (&report["suppressions_active"], &report["suppressions_recorded"]),
        (&json!(0), &json!(0)),
        "{report:#}"
    );
    // The 👎 read by two reviews is one record in the store, and the request to forget is another.
    let project = rig.gitlab.project_id(PROJECT);
    let store = rig.dir.path().join(format!("agent-project/.copilot-cache/suppressions/{project}"));
    let count = |folder: &str| std::fs::read_dir(store.join(folder)).map_or(0, Iterator::count);
    assert_eq!((count("feedback"), count("cleared")), (1, 1));
    assert!(rig.inline(mr_iid).iter().all(|note| note.author_id == agent));
}

#[tokio::test]
async fn thumbs_up_and_thumbs_down_are_counted_per_category_in_the_summary_json() {
    let rig = Rig::new().await;
    let mr_iid = rig.open_mr("feature/one", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    let model = MockModel::start(script(&rig)).await.unwrap();
    run_ok(&rig.job(&model, mr_iid).await).await;
    give(&rig, mr_iid, "Unused variable `d`", "alice", Feedback::ThumbsDown).await;
    thumbs_up(&rig, mr_iid, "The sign is wrong", "alice").await;
    thumbs_up(&rig, mr_iid, "The sign is wrong", "dave").await;
    // The agent's own award is not feedback.
    let (_, notes) = thread(&rig, mr_iid, "The sign is wrong");
    let on = Awardable::Note { on: Noteable::MergeRequest(mr_iid), note_id: notes[0].id };
    client(&rig, AGENT).award_emoji(PROJECT, on, "thumbsup").await.unwrap();

    rig.gitlab.push_files(PROJECT, "feature/one", &[("src/greet.rs", Some(GREET_RS))], "Greet", "alice").await.unwrap();
    run_ok(&rig.job(&model, mr_iid).await).await;
    let report = feedback_report(&rig);
    assert_eq!(
        report["acceptance"],
        json!({
            "correctness": {"threads": 1, "thumbs_up": 2, "thumbs_down": 0, "false_positive_replies": 0},
            "maintainability": {"threads": 1, "thumbs_up": 0, "thumbs_down": 1, "false_positive_replies": 0},
        }),
        "{report:#}"
    );
    assert_eq!((report["suppressions_recorded"].clone(), report["suppressions_active"].clone()), (json!(1), json!(1)));
}
