//! Over three pushes the agent resolves its own threads that were fixed (with a "fixed in" reply
//! naming the new head) or that no longer apply (a reverted file), never posts a finding twice,
//! and leaves a person's thread on a changed line alone.

use copilot_runner::gitlab::types::Position;
use copilot_runner::gitlab::{Client, ClientOptions};
use copilot_runner_testkit::fake_gitlab::{AGENT, Note};
use copilot_runner_testkit::mock_model::{MockModel, Script};
use secrecy::SecretString;
use serde_json::json;

use super::{NEW_LIB_RS, PROJECT, Rig, finding, review_rule, run_ok};

const GREET_V1: &str = "pub fn greet() {}\n";
const GREET_V2: &str = "pub fn greet() -> &'static str {\n    \"hello\"\n}\n";
/// `src/lib.rs` as the target branch has it: pushing it back reverts the merge request's change.
const SEEDED_LIB_RS: &str = "//! Widgets.\n\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\npub fn sub(a: i32, b: i32) -> i32 {\n    a - b\n}\n\npub fn mul(a: i32, b: i32) -> i32 {\n    a * b\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(1, 2), 3);\n    }\n}\n";

const ON_LIB: &str = "The temporary is needless";
const ON_GREET: &str = "The greeting returns nothing";

/// The agent's thread whose first note contains `text`: its id and notes.
fn thread(rig: &Rig, mr_iid: u64, text: &str) -> (String, Vec<Note>) {
    let agent = rig.gitlab.user_id(AGENT);
    let mut found = rig
        .gitlab
        .discussions(PROJECT, mr_iid)
        .into_iter()
        .filter(|(_, notes)| notes[0].author_id == agent && notes[0].body.contains(text));
    let thread = found.next().unwrap_or_else(|| panic!("no thread about {text}"));
    assert!(found.next().is_none(), "two threads about {text}");
    thread
}

/// `alice` starts a thread on new line 1 of `src/greet.rs` at the merge request's latest version,
/// quoting `quoted` (the agent's finding there, hidden marker and all).
async fn person_thread(rig: &Rig, mr_iid: u64, quoted: &str) -> String {
    let token = SecretString::from(rig.gitlab.token("alice"));
    let client = Client::with_options(&rig.gitlab.api_url(), &token, &ClientOptions::default()).unwrap();
    let refs = client.merge_request_versions(PROJECT, mr_iid).await.unwrap()[0].diff_refs();
    let position: Position = serde_json::from_value(json!({
        "position_type": "text", "base_sha": refs.base_sha, "start_sha": refs.start_sha, "head_sha": refs.head_sha,
        "old_path": "src/greet.rs", "new_path": "src/greet.rs", "new_line": 1,
    }))
    .unwrap();
    let body = format!("Should this return the greeting? You said:\n\n{quoted}");
    client.create_diff_discussion(PROJECT, mr_iid, &body, &position).await.unwrap().id
}

#[tokio::test]
async fn fixed_and_reverted_findings_are_resolved_with_a_reply_and_a_person_thread_stays_open() {
    let rig = Rig::new().await;
    let mr_iid =
        rig.open_mr("feature/greet", &[("src/lib.rs", Some(NEW_LIB_RS)), ("src/greet.rs", Some(GREET_V1))]).await;
    let first = json!([finding("src/lib.rs", 8, ON_LIB), finding("src/greet.rs", 1, ON_GREET)]).to_string();
    // The second review finds nothing new in the reworked greeting.
    let path = rig.findings_path(1);
    let script = Script::new()
        .rule(review_rule("An earlier review covered the changes up to", &path, "[]"))
        .rule(review_rule("copilot-runner-stage: review", &path, &first));
    let model = MockModel::start(script).await.unwrap();
    let job = rig.job(&model, mr_iid).await;
    let agent = rig.gitlab.user_id(AGENT);
    let agent_replies = |notes: &[Note]| notes.iter().skip(1).filter(|note| note.author_id == agent).count();

    // Push 1: two findings, both inline; alice comments on the line the greeting finding is about.
    run_ok(&job).await;
    assert_eq!(rig.inline(mr_iid).len(), 2);
    let (_, greet) = thread(&rig, mr_iid, ON_GREET);
    let theirs = person_thread(&rig, mr_iid, &greet[0].body).await;

    // Push 2 rewrites the greeting: its finding is fixed, the one on `sub` is untouched.
    rig.gitlab
        .push_files(PROJECT, "feature/greet", &[("src/greet.rs", Some(GREET_V2))], "Greet with a word", "alice")
        .await
        .unwrap();
    let second_head = rig.head(mr_iid);
    run_ok(&job).await;
    let (_, greet) = thread(&rig, mr_iid, ON_GREET);
    assert!(greet.iter().all(|note| note.resolved), "{greet:#?}");
    assert_eq!(agent_replies(&greet), 1, "{greet:#?}");
    let reply = &greet[1].body;
    assert!(reply.contains(&format!("Fixed in `{second_head}`")), "{reply}");
    let (_, lib) = thread(&rig, mr_iid, ON_LIB);
    assert!(lib.iter().all(|note| !note.resolved) && lib.len() == 1, "line 8 did not change: {lib:#?}");
    let summary = rig.summaries(mr_iid).pop().unwrap();
    assert!(summary.contains("Threads resolved as fixed or no longer applying: 1."), "{summary}");

    // Push 3 puts `src/lib.rs` back as it was: that finding no longer applies.
    rig.gitlab
        .push_files(PROJECT, "feature/greet", &[("src/lib.rs", Some(SEEDED_LIB_RS))], "Keep sub as it was", "alice")
        .await
        .unwrap();
    run_ok(&job).await;
    let (_, lib) = thread(&rig, mr_iid, ON_LIB);
    assert!(lib.iter().all(|note| note.resolved), "{lib:#?}");
    assert_eq!(agent_replies(&lib), 1, "{lib:#?}");
    assert!(lib[1].body.contains("No longer applies"), "{}", lib[1].body);
    let (_, greet) = thread(&rig, mr_iid, ON_GREET);
    assert_eq!(agent_replies(&greet), 1, "a resolved thread gets no second reply: {greet:#?}");
    let summary = rig.summaries(mr_iid).pop().unwrap();
    assert!(summary.contains("Threads resolved as fixed or no longer applying: 1."), "{summary}");

    // No finding was posted twice, and alice's thread on the rewritten line is as she left it.
    assert_eq!(rig.inline(mr_iid).iter().filter(|note| note.author_id == agent).count(), 2);
    let (_, hers) = rig.gitlab.discussions(PROJECT, mr_iid).into_iter().find(|(id, _)| *id == theirs).unwrap();
    assert_eq!(hers.len(), 1, "{hers:#?}");
    assert!(!hers[0].resolved, "{hers:#?}");
    assert_eq!(rig.summaries(mr_iid).len(), 3);
}
