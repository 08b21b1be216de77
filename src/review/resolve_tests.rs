use serde_json::json;

use super::*;

const AGENT: u64 = 7;
const PERSON: u64 = 42;
const HEAD_1: &str = "1111111111111111111111111111111111111111";
const HEAD_2: &str = "2222222222222222222222222222222222222222";
const FINGERPRINT_MARKER: &str = "<!-- copilot-runner:finding 0123456789abcdef -->";

/// A thread on new line `new_line` of `src/lib.rs` at [`HEAD_1`], started by `author`, with
/// `replies` as `(author, body)`.
fn thread(id: &str, author: u64, new_line: u32, resolved: bool, replies: &[(u64, &str)]) -> Discussion {
    let position = json!({"base_sha": "b", "start_sha": "b", "head_sha": HEAD_1, "position_type": "text",
        "old_path": "src/lib.rs", "new_path": "src/lib.rs", "new_line": new_line});
    let note = |id: u64, author: u64, body: &str| {
        json!({"id": id, "type": "DiffNote", "body": body,
            "author": {"id": author, "username": "u", "name": "U", "state": "active"},
            "system": false, "resolvable": true, "resolved": resolved, "position": position})
    };
    let mut notes = vec![note(1, author, &format!("🟡 Minor · style · **Rename it**\n\n{FINGERPRINT_MARKER}"))];
    notes.extend(replies.iter().enumerate().map(|(at, (author, body))| note(2 + at as u64, *author, body)));
    serde_json::from_value(json!({"id": id, "individual_note": false, "notes": notes})).expect("discussion")
}

fn lib_diff(hunks: &str) -> LineMap {
    LineMap::from_git_diff(&format!(
        "diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n{hunks}"
    ))
    .expect("diff")
}

/// The merge request adds line 5 at the first head.
const ADDS_LINE_5: &str = "@@ -4,0 +5,1 @@\n+    let x = 1;\n";

fn plan(discussions: &[Discussion], mr: &LineMap, since: LineMap, reported: &[Fingerprint]) -> Vec<Resolution> {
    let since = HashMap::from([(HEAD_1.to_owned(), since)]);
    let reported: HashSet<Fingerprint> = reported.iter().cloned().collect();
    let threads = open_threads(discussions, AGENT);
    plan_resolutions(&threads, &Changes { map: mr, since: &since, reported: &reported })
}

fn fingerprint() -> Fingerprint {
    Fingerprint::find_in(FINGERPRINT_MARKER).expect("marker")
}

#[test]
fn a_thread_whose_line_was_changed_is_resolved_as_fixed_with_a_reply() {
    let since = lib_diff("@@ -5,1 +5,1 @@\n-    let x = 1;\n+    let x = 2;\n");
    let mr = lib_diff("@@ -4,0 +5,1 @@\n+    let x = 2;\n");
    let resolved = plan(&[thread("t1", AGENT, 5, false, &[])], &mr, since, &[]);
    assert_eq!(resolved, [Resolution { discussion_id: "t1".into(), reason: ResolutionReason::Fixed, reply: true }]);
}

#[test]
fn a_changed_line_whose_finding_was_reported_again_stays_open() {
    let since = lib_diff("@@ -5,1 +5,1 @@\n-    let x = 1;\n+    let x = 2;\n");
    let mr = lib_diff("@@ -4,0 +5,1 @@\n+    let x = 2;\n");
    assert_eq!(plan(&[thread("t1", AGENT, 5, false, &[])], &mr, since, &[fingerprint()]), []);
}

#[test]
fn a_thread_whose_line_was_not_changed_stays_open() {
    // A later commit changed line 9 only; line 5 is still the merge request's.
    let since = lib_diff("@@ -9,1 +9,1 @@\n-a\n+b\n");
    let mr = lib_diff(&format!("{ADDS_LINE_5}@@ -8,1 +9,1 @@\n-a\n+b\n"));
    assert_eq!(plan(&[thread("t1", AGENT, 5, false, &[])], &mr, since, &[]), []);
}

#[test]
fn a_thread_whose_line_moved_down_unchanged_stays_open() {
    let since = lib_diff("@@ -0,0 +1,2 @@\n+//! a\n+//! b\n");
    let mr = lib_diff("@@ -0,0 +1,2 @@\n+//! a\n+//! b\n@@ -4,0 +7,1 @@\n+    let x = 1;\n");
    assert_eq!(plan(&[thread("t1", AGENT, 5, false, &[])], &mr, since, &[]), []);
}

#[test]
fn a_person_thread_on_a_changed_line_is_never_resolved() {
    let since = lib_diff("@@ -5,1 +5,1 @@\n-    let x = 1;\n+    let x = 2;\n");
    let mr = lib_diff("@@ -4,0 +5,1 @@\n+    let x = 2;\n");
    // Even with the agent's marker copied into it, and the agent's reply below it.
    let theirs = thread("t2", PERSON, 5, false, &[(AGENT, "Thanks.")]);
    assert_eq!(plan(&[theirs], &mr, since, &[]), []);
}

#[test]
fn a_reverted_change_no_longer_applies() {
    // The file is back as on the target branch: the merge request's diff no longer has it.
    let since = lib_diff("@@ -5,1 +4,0 @@\n-    let x = 1;\n");
    let mr = LineMap::default();
    let resolved = plan(&[thread("t1", AGENT, 5, false, &[])], &mr, since, &[]);
    assert_eq!(
        resolved,
        [Resolution { discussion_id: "t1".into(), reason: ResolutionReason::NoLongerApplies, reply: true }]
    );
}

#[test]
fn a_deleted_file_no_longer_applies() {
    let since = LineMap::from_git_diff(
        "diff --git a/src/lib.rs b/src/lib.rs\ndeleted file mode 100644\n--- a/src/lib.rs\n+++ /dev/null\n@@ -1,5 +0,0 @@\n-a\n-b\n-c\n-d\n-    let x = 1;\n",
    )
    .expect("diff");
    let resolved = plan(&[thread("t1", AGENT, 5, false, &[])], &lib_diff(ADDS_LINE_5), since, &[]);
    assert_eq!(resolved[0].reason, ResolutionReason::NoLongerApplies);
}

#[test]
fn a_thread_the_agent_already_answered_is_resolved_without_a_second_reply() {
    let since = lib_diff("@@ -5,1 +5,1 @@\n-    let x = 1;\n+    let x = 2;\n");
    let mr = lib_diff("@@ -4,0 +5,1 @@\n+    let x = 2;\n");
    let answered = format!("✅ Fixed in `{HEAD_2}`.\n\n{}", Marker::resolution().as_str());
    let someone_quoting = format!("> {}", Marker::resolution().as_str());
    let discussions = [
        thread("t1", AGENT, 5, false, &[(AGENT, &answered)]),
        thread("t3", AGENT, 5, false, &[(PERSON, &someone_quoting)]),
    ];
    let resolved = plan(&discussions, &mr, since, &[]);
    let replies: Vec<(&str, bool)> = resolved.iter().map(|r| (r.discussion_id.as_str(), r.reply)).collect();
    assert_eq!(replies, [("t1", false), ("t3", true)]);
}

#[test]
fn resolved_threads_and_threads_on_an_unknown_head_are_left_alone() {
    let since = lib_diff("@@ -5,1 +5,1 @@\n-    let x = 1;\n+    let x = 2;\n");
    let mr = lib_diff("@@ -4,0 +5,1 @@\n+    let x = 2;\n");
    assert_eq!(plan(&[thread("t1", AGENT, 5, true, &[])], &mr, since, &[]), []);
    let threads = open_threads(&[thread("t1", AGENT, 5, false, &[])], AGENT);
    let (no_diffs, reported) = (HashMap::new(), HashSet::new());
    assert_eq!(plan_resolutions(&threads, &Changes { map: &mr, since: &no_diffs, reported: &reported }), []);
}
