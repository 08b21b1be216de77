//! The fake's REST API behaves like GitLab's where copilot-runner depends on it: token auth,
//! notes with pagination, award emoji as a test-and-set, merge requests from real branches,
//! versions and diffs that follow pushes, and inline positions validated like GitLab does.

mod common;

use common::{As, anonymous, as_user, status_json};
use copilot_runner_testkit::FakeGitLab;
use serde_json::{Value, json};

const WIDGETS: &str = "acme%2Fwidgets";

#[tokio::test]
async fn requests_without_a_valid_token_get_401_and_the_current_user_is_the_token_owner() {
    let fake = FakeGitLab::start().await.unwrap();
    let (status, body) = status_json(anonymous(&fake).get("/user").await).await;
    assert_eq!((status, body), (401, json!({"message": "401 Unauthorized"})));

    let bearer = common::http_client();
    let response = bearer
        .get(format!("{}/user", fake.api_url()))
        .header("Authorization", format!("Bearer {}", fake.agent_token()))
        .send()
        .await
        .unwrap();
    let (status, user) = status_json(response).await;
    assert_eq!(status, 200);
    assert_eq!(user["username"], "copilot-agent");
    assert_eq!(user["bot"], false);

    let bot = as_user(&fake, "renovate-bot").get_json("/user").await;
    assert_eq!(bot["bot"], true);
}

#[tokio::test]
async fn projects_resolve_by_id_and_encoded_path_and_hide_from_non_members() {
    let fake = FakeGitLab::start().await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    let by_path = agent.get_json(&format!("/projects/{WIDGETS}")).await;
    let by_id = agent.get_json(&format!("/projects/{}", by_path["id"])).await;
    assert_eq!(by_path, by_id);
    assert_eq!(by_path["path_with_namespace"], "acme/widgets");

    let assigned =
        agent.get_json(&format!("/projects/{WIDGETS}/issues?state=opened&assignee_username=copilot-agent")).await;
    assert_eq!(assigned.as_array().unwrap().len(), 1);
    assert_eq!(agent.get_json(&format!("/projects/{WIDGETS}/issues?assignee_username=alice")).await, json!([]));

    let (status, body) = status_json(as_user(&fake, "outsider").get(&format!("/projects/{WIDGETS}")).await).await;
    assert_eq!((status, body), (404, json!({"message": "404 Project Not Found"})));

    let gus = fake.user_id("gus");
    let member = agent.get_json(&format!("/projects/{WIDGETS}/members/all/{gus}")).await;
    assert_eq!(member["access_level"], 10);
    let outsider = fake.user_id("outsider");
    let (status, _) = status_json(agent.get(&format!("/projects/{WIDGETS}/members/all/{outsider}")).await).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn notes_are_created_edited_and_listed_with_gitlab_pagination_headers() {
    let fake = FakeGitLab::start().await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    for n in 0..3 {
        fake.add_issue_note("acme/widgets", 1, "alice", &format!("comment {n}"));
    }
    let (status, note) = status_json(
        agent.post_form(&format!("/projects/{WIDGETS}/issues/1/notes"), &[("body", "working on it")]).await,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(note["author"]["username"], "copilot-agent");
    assert_eq!(note["noteable_type"], "Issue");

    let edited =
        agent.put_json(&format!("/projects/{WIDGETS}/issues/1/notes/{}", note["id"]), json!({"body": "done"})).await;
    assert_eq!(edited.status(), 200);
    assert_eq!(fake.note(note["id"].as_u64().unwrap()).unwrap().body, "done");

    let alice_note = fake.issue_notes("acme/widgets", 1)[0].id;
    let forbidden =
        agent.put_json(&format!("/projects/{WIDGETS}/issues/1/notes/{alice_note}"), json!({"body": "x"})).await;
    assert_eq!(forbidden.status(), 403);

    let page = agent.get(&format!("/projects/{WIDGETS}/issues/1/notes?per_page=3&sort=asc")).await;
    let headers = page.headers().clone();
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(header("x-total"), "4");
    assert_eq!(header("x-total-pages"), "2");
    assert_eq!(header("x-page"), "1");
    assert_eq!(header("x-next-page"), "2");
    assert!(header("link").contains("rel=\"next\""), "{}", header("link"));
    let first: serde_json::Value = page.json().await.unwrap();
    assert_eq!(first[0]["body"], "comment 0");
    let last = agent.get(&format!("/projects/{WIDGETS}/issues/1/notes?per_page=3&sort=asc&page=2")).await;
    assert_eq!(last.headers().get("x-next-page").unwrap(), "");
    let last: serde_json::Value = last.json().await.unwrap();
    assert_eq!(last[0]["body"], "done");

    let (status, body) = status_json(anonymous(&fake).get(&format!("/projects/{WIDGETS}/issues/1/notes")).await).await;
    assert_eq!((status, body["message"].as_str()), (401, Some("401 Unauthorized")));
}

#[tokio::test]
async fn a_second_identical_award_is_refused_like_gitlab_so_it_works_as_a_test_and_set() {
    let fake = FakeGitLab::start().await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    let note = fake.add_issue_note("acme/widgets", 1, "alice", "@copilot-agent please");
    let path = format!("/projects/{WIDGETS}/issues/1/notes/{note}/award_emoji");
    let (status, award) = status_json(agent.post_form(&path, &[("name", "eyes")]).await).await;
    assert_eq!(status, 201);
    assert_eq!((award["name"].as_str(), award["awardable_type"].as_str()), (Some("eyes"), Some("Note")));

    let (status, body) = status_json(agent.post_form(&path, &[("name", "eyes")]).await).await;
    assert_eq!((status, body), (404, json!({"message": "404 Award Emoji Name has already been taken Not Found"})));
    let (status, body) = status_json(agent.post_form(&path, &[("name", "not-an-emoji")]).await).await;
    assert_eq!((status, body), (404, json!({"message": "404 Award Emoji Name is not a valid emoji name Not Found"})));

    // Another user may award the same name; the issue and the MR take awards too.
    assert_eq!(as_user(&fake, "alice").post_form(&path, &[("name", "eyes")]).await.status(), 201);
    let on_issue =
        agent.post_json(&format!("/projects/{WIDGETS}/issues/1/award_emoji"), json!({"name": "rocket"})).await;
    assert_eq!(on_issue.status(), 201);
    assert_eq!(fake.note_awards(note), vec![("eyes".into(), "copilot-agent".into()), ("eyes".into(), "alice".into())]);
    assert_eq!(fake.issue_awards("acme/widgets", 1), vec![("rocket".into(), "copilot-agent".into())]);
}

/// Pushes the `feature` branch and opens its merge request into `main` as `by`; returns it.
async fn open_feature_merge_request(fake: &FakeGitLab, by: &As<'_>) -> Value {
    push_feature_branch(fake).await;
    let body = json!({"source_branch": "feature", "target_branch": "main", "title": "t"});
    let (_, mr) = status_json(by.post_json(&format!("/projects/{WIDGETS}/merge_requests"), body).await).await;
    mr
}

/// Line 8 of `src/lib.rs` changes and two lines are added after line 13.
async fn push_feature_branch(fake: &FakeGitLab) -> String {
    let original = fake.read_file("acme/widgets", "main", "src/lib.rs").await.unwrap();
    let mut lines: Vec<&str> = original.lines().collect();
    lines[7] = "    a.wrapping_sub(b)";
    lines.insert(13, "");
    lines.insert(14, "pub fn neg(a: i32) -> i32 {\n    -a\n}");
    let changed = lines.join("\n") + "\n";
    fake.push_files("acme/widgets", "feature", &[("src/lib.rs", Some(&changed))], "Wrap and negate", "alice")
        .await
        .unwrap()
}

#[tokio::test]
async fn merge_requests_come_from_real_branches_and_track_pushes_as_versions() {
    let fake = FakeGitLab::start().await.unwrap();
    let first_head = push_feature_branch(&fake).await;
    let agent = as_user(&fake, "copilot-agent");
    let alice = fake.user_id("alice").to_string();
    let form = [
        ("source_branch", "feature"),
        ("target_branch", "main"),
        ("title", "Draft: wrap and negate"),
        ("reviewer_ids[]", alice.as_str()),
        ("labels", "copilot,bot"),
    ];
    let (status, mr) = status_json(agent.post_form(&format!("/projects/{WIDGETS}/merge_requests"), &form).await).await;
    assert_eq!(status, 201, "{mr}");
    assert_eq!(mr["draft"], true);
    assert_eq!(mr["reviewers"][0]["username"], "alice");
    assert_eq!(mr["labels"], json!(["copilot", "bot"]));
    assert_eq!(mr["diff_refs"]["head_sha"], first_head.as_str());

    let (status, conflict) =
        status_json(agent.post_form(&format!("/projects/{WIDGETS}/merge_requests"), &form).await).await;
    assert_eq!(status, 409);
    assert_eq!(conflict["message"][0], "Another open merge request already exists for this source branch: !1");

    let found = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests?source_branch=feature&state=opened")).await;
    assert_eq!(found.as_array().unwrap().len(), 1);

    let second_head = fake
        .push_files("acme/widgets", "feature", &[("NOTES.md", Some("notes\n"))], "Add notes", "alice")
        .await
        .unwrap();
    let versions = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1/versions")).await;
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[0]["head_commit_sha"], second_head.as_str());
    assert_eq!(versions[1]["head_commit_sha"], first_head.as_str());
    let main_head = fake.branch_head("acme/widgets", "main").await.unwrap();
    assert_eq!(versions[0]["base_commit_sha"], main_head.as_str());
    assert_eq!(versions[0]["start_commit_sha"], main_head.as_str());

    let system: Vec<String> =
        fake.mr_notes("acme/widgets", 1).into_iter().filter(|n| n.system).map(|n| n.body).collect();
    assert_eq!(system.len(), 2, "{system:?}");
    assert_eq!(system[0], "requested review from @alice");
    assert!(system[1].starts_with("added 1 commit\n\n<ul><li>"), "{}", system[1]);
    let reviewers = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1/reviewers")).await;
    assert_eq!(
        (reviewers[0]["user"]["username"].as_str(), reviewers[0]["state"].as_str()),
        (Some("alice"), Some("unreviewed"))
    );
    let commits = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1/commits")).await;
    assert_eq!(commits[0]["id"], second_head.as_str());
    assert_eq!(commits.as_array().unwrap().len(), 2);

    let diffs = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1/diffs")).await;
    let paths: Vec<&str> = diffs.as_array().unwrap().iter().map(|d| d["new_path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["NOTES.md", "src/lib.rs"]);
    assert_eq!(diffs[0]["new_file"], true);
    assert!(diffs[1]["diff"].as_str().unwrap().contains("+    a.wrapping_sub(b)"));
    let one_per_page = agent.get(&format!("/projects/{WIDGETS}/merge_requests/1/diffs?per_page=1")).await;
    assert_eq!(one_per_page.headers().get("x-total-pages").unwrap(), "2");

    let updated = agent
        .put_json(
            &format!("/projects/{WIDGETS}/merge_requests/1"),
            json!({"title": "Wrap and negate", "add_labels": "ready"}),
        )
        .await;
    let (_, updated) = status_json(updated).await;
    assert_eq!(updated["draft"], false);
    assert_eq!(updated["labels"], json!(["copilot", "bot", "ready"]));
    let last = fake.mr_notes("acme/widgets", 1).into_iter().filter(|n| n.system).map(|n| n.body).collect::<Vec<_>>();
    assert!(last.contains(&"marked this merge request as **ready**".to_owned()), "{last:?}");
}

#[tokio::test]
async fn inline_positions_are_validated_like_gitlab_line_codes() {
    let fake = FakeGitLab::start().await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    let mr = open_feature_merge_request(&fake, &agent).await;
    let refs = &mr["diff_refs"];
    let position = |old_line: Option<u64>, new_line: Option<u64>| {
        json!({
            "body": "finding",
            "position": {
                "position_type": "text",
                "base_sha": refs["base_sha"], "start_sha": refs["start_sha"], "head_sha": refs["head_sha"],
                "old_path": "src/lib.rs", "new_path": "src/lib.rs",
                "old_line": old_line, "new_line": new_line,
            }
        })
    };
    let path = format!("/projects/{WIDGETS}/merge_requests/1/discussions");
    let accepted = [
        (Some(8), None),      // removed line
        (None, Some(8)),      // added line
        (Some(7), Some(7)),   // context line inside the hunk
        (Some(1), Some(1)),   // unchanged, before the hunk
        (Some(22), Some(26)), // unchanged, after the hunk (four lines added)
    ];
    for (old_line, new_line) in accepted {
        let (status, body) = status_json(agent.post_json(&path, position(old_line, new_line)).await).await;
        assert_eq!(status, 201, "{old_line:?}/{new_line:?}: {body}");
        assert_eq!(body["notes"][0]["type"], "DiffNote");
        assert_eq!(body["notes"][0]["position"]["new_line"], json!(new_line));
    }
    let line_code =
        json!({"message": "400 Bad request - Note {:line_code=>[\"can't be blank\", \"must be a valid line code\"]}"});
    let refused = [
        (Some(100), Some(104)), // past the end of the file
        (None, Some(7)),        // context line given as added
        (Some(8), Some(8)),     // removed line given as context
        (Some(22), Some(22)),   // inconsistent with the offset after the hunk
    ];
    for (old_line, new_line) in refused {
        let (status, body) = status_json(agent.post_json(&path, position(old_line, new_line)).await).await;
        assert_eq!((status, &body), (400, &line_code), "{old_line:?}/{new_line:?}");
    }
    let mut stale = position(None, Some(8));
    stale["position"]["head_sha"] = json!("0123456789012345678901234567890123456789");
    assert_eq!(agent.post_json(&path, stale).await.status(), 400);

    let threads = agent.get_json(&path).await;
    assert_eq!(threads.as_array().unwrap().len(), accepted.len());
    let discussion_id = threads[0]["id"].as_str().unwrap();
    let reply = agent.post_form(&format!("{path}/{discussion_id}/notes"), &[("body", "fixed")]).await;
    assert_eq!(reply.status(), 201);
    assert_eq!(fake.discussions("acme/widgets", 1)[0].1.len(), 2);
}

#[tokio::test]
async fn concurrent_identical_awards_let_exactly_one_through() {
    let fake = FakeGitLab::start().await.unwrap();
    let note = fake.add_issue_note("acme/widgets", 1, "alice", "@copilot-agent do it");
    let path = format!("/projects/{WIDGETS}/issues/1/notes/{note}/award_emoji");
    let replicas: Vec<_> = (0..8)
        .map(|_| {
            let agent = as_user(&fake, "copilot-agent");
            let path = path.clone();
            async move { agent.post_form(&path, &[("name", "eyes")]).await.status().as_u16() }
        })
        .collect();
    let mut statuses = futures_util::future::join_all(replicas).await;
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 404, 404, 404, 404, 404, 404, 404]);
    assert_eq!(fake.note_awards(note).len(), 1);
}

#[tokio::test]
async fn pagination_can_leave_out_totals_like_gitlab_does_for_large_collections() {
    let fake = FakeGitLab::start().await.unwrap();
    for n in 0..3 {
        fake.add_issue_note("acme/widgets", 1, "alice", &format!("n{n}"));
    }
    fake.omit_pagination_totals(true);
    let agent = as_user(&fake, "copilot-agent");
    let page = agent.get(&format!("/projects/{WIDGETS}/issues/1/notes?per_page=2")).await;
    assert!(page.headers().get("x-total").is_none() && page.headers().get("x-total-pages").is_none());
    assert_eq!(page.headers().get("x-next-page").unwrap(), "2");
    let link = page.headers().get("link").unwrap().to_str().unwrap();
    assert!(link.contains("rel=\"next\"") && !link.contains("rel=\"last\""), "{link}");
}

#[tokio::test]
async fn positions_need_paths_and_known_shas_and_issue_threads_take_none() {
    let fake = FakeGitLab::start().await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    let mr = open_feature_merge_request(&fake, &agent).await;
    let refs = &mr["diff_refs"];
    let path = format!("/projects/{WIDGETS}/merge_requests/1/discussions");
    let no_paths = json!({"body": "b", "position": {"position_type": "text", "base_sha": refs["base_sha"],
        "start_sha": refs["start_sha"], "head_sha": refs["head_sha"], "new_line": 8}});
    let (status, body) = status_json(agent.post_json(&path, no_paths).await).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains(":position=>[\"is incomplete\"]"), "{body}");
    // Form-encoded bracket keys work like JSON; a missing SHA is Grape's parameter error.
    let base = refs["base_sha"].as_str().unwrap();
    let form = [("body", "b"), ("position[position_type]", "text"), ("position[base_sha]", base)];
    let (status, body) = status_json(agent.post_form(&path, &form).await).await;
    assert_eq!((status, body), (400, json!({"error": "position[start_sha] is missing"})));
    let issue_thread = agent.post_form(&format!("/projects/{WIDGETS}/issues/1/discussions"), &[("body", "q")]).await;
    assert_eq!(issue_thread.status(), 201);
}

#[tokio::test]
async fn confidential_issues_internal_notes_and_description_edits_are_served_like_gitlab() {
    let fake = FakeGitLab::start().await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    assert_eq!(agent.get_json(&format!("/projects/{WIDGETS}/issues/1")).await["confidential"], false);
    let seed = copilot_runner_testkit::fake_gitlab::IssueSeed {
        title: "Secret".to_owned(),
        description: String::new(),
        author: "alice".to_owned(),
        assignees: Vec::new(),
        labels: Vec::new(),
        confidential: true,
    };
    let iid = fake.add_issue("acme/widgets", seed);
    assert_eq!(agent.get_json(&format!("/projects/{WIDGETS}/issues/{iid}")).await["confidential"], true);

    // An internal note stays internal when its body is edited.
    let notes = format!("/projects/{WIDGETS}/issues/{iid}/notes");
    let (status, note) = status_json(agent.post_json(&notes, json!({"body": "hi", "internal": true})).await).await;
    assert_eq!((status, &note["internal"]), (201, &json!(true)), "{note}");
    let edited = agent.put_json(&format!("{notes}/{}", note["id"]), json!({"body": "hello"})).await;
    let (_, edited) = status_json(edited).await;
    assert_eq!((&edited["body"], &edited["internal"]), (&json!("hello"), &json!(true)), "{edited}");
    let (_, public) = status_json(agent.post_json(&notes, json!({"body": "hi"})).await).await;
    assert_eq!(public["internal"], false);

    // A changed description is a system note by the editor.
    let mr = open_feature_merge_request(&fake, &agent).await;
    let path = format!("/projects/{WIDGETS}/merge_requests/{}", mr["iid"]);
    agent.put_json(&path, json!({"description": "new words"})).await;
    let system: Vec<_> = fake.mr_notes("acme/widgets", 1).into_iter().filter(|note| note.system).collect();
    let edit = system.iter().find(|note| note.body == "changed the description").expect("a description note");
    assert_eq!(edit.author_id, fake.user_id("copilot-agent"));
}
