//! The fake's draft notes behave like GitLab's: only their author sees them, a position is
//! validated like a discussion's, deleting one removes it, and publishing (one or all) turns
//! each into the thread a direct post would have started.

mod common;

use common::{as_user, status_json};
use copilot_runner_testkit::FakeGitLab;
use reqwest::Method;
use serde_json::{Value, json};

const WIDGETS: &str = "acme%2Fwidgets";

fn position(refs: &Value, new_line: usize) -> Value {
    json!({"position_type": "text", "base_sha": refs["base_sha"], "start_sha": refs["start_sha"],
           "head_sha": refs["head_sha"], "old_path": "src/lib.rs", "new_path": "src/lib.rs", "new_line": new_line})
}

#[tokio::test]
async fn drafts_are_private_validated_and_published_as_the_threads_a_direct_post_starts() {
    let fake = FakeGitLab::start().await.unwrap();
    let (mr, line) = common::merge_request_changing_one_line(&fake).await;
    let (iid, refs) = (mr["iid"].as_u64().unwrap(), &mr["diff_refs"]);
    let agent = as_user(&fake, "copilot-agent");
    let alice = as_user(&fake, "alice");
    let drafts = format!("/projects/{WIDGETS}/merge_requests/{iid}/draft_notes");

    // A position GitLab would refuse for a discussion is refused for a draft, the same way.
    let (status, refused) =
        status_json(agent.post_json(&drafts, json!({"note": "nowhere", "position": position(refs, 9999)})).await).await;
    let discussions = format!("/projects/{WIDGETS}/merge_requests/{iid}/discussions");
    let (direct_status, direct_refused) =
        status_json(alice.post_json(&discussions, json!({"body": "nowhere", "position": position(refs, 9999)})).await)
            .await;
    assert_eq!((status, &refused), (direct_status, &direct_refused));
    assert_eq!(status, 400);

    let (status, kept) = status_json(
        agent.post_json(&drafts, json!({"note": "Consider overflow", "position": position(refs, line)})).await,
    )
    .await;
    assert_eq!(status, 201, "{kept}");
    let (_, dropped) = status_json(agent.post_json(&drafts, json!({"note": "Never mind"})).await).await;
    assert_eq!(agent.get_json(&drafts).await.as_array().unwrap().len(), 2);
    assert_eq!(alice.get_json(&drafts).await, json!([]), "drafts are their author's alone");
    let (status, _) =
        status_json(alice.request(Method::GET, &format!("{drafts}/{}", kept["id"])).send().await.unwrap()).await;
    assert_eq!(status, 404);

    let delete = agent.request(Method::DELETE, &format!("{drafts}/{}", dropped["id"])).send().await.unwrap();
    assert_eq!(delete.status().as_u16(), 204);
    assert_eq!(agent.get_json(&drafts).await.as_array().unwrap().len(), 1);
    assert!(fake.discussions("acme/widgets", iid).is_empty(), "nothing is visible before publishing");

    let publish = agent.request(Method::POST, &format!("{drafts}/bulk_publish")).send().await.unwrap();
    assert_eq!(publish.status().as_u16(), 204);
    assert_eq!(agent.get_json(&drafts).await, json!([]));
    let threads = fake.discussions("acme/widgets", iid);
    assert_eq!(threads.len(), 1);
    let note = &threads[0].1[0];
    assert_eq!(note.body, "Consider overflow");
    assert_eq!(note.note_type.as_deref(), Some("DiffNote"));
    assert_eq!(note.author_id, fake.user_id("copilot-agent"));
    // The same position a direct post stores.
    let (_, direct) =
        status_json(alice.post_json(&discussions, json!({"body": "Agreed", "position": position(refs, line)})).await)
            .await;
    assert_eq!(note.position.as_ref(), Some(&direct["notes"][0]["position"]));

    // Publishing one draft publishes only that one.
    let (_, first) =
        status_json(agent.post_json(&drafts, json!({"note": "First", "position": position(refs, line)})).await).await;
    status_json(agent.post_json(&drafts, json!({"note": "Second"})).await).await;
    let one = agent.request(Method::PUT, &format!("{drafts}/{}/publish", first["id"])).send().await.unwrap();
    assert_eq!(one.status().as_u16(), 204);
    let left = agent.get_json(&drafts).await;
    assert_eq!(left.as_array().unwrap().iter().map(|d| d["note"].clone()).collect::<Vec<_>>(), [json!("Second")]);
    assert_eq!(fake.discussions("acme/widgets", iid).len(), 3);
}
