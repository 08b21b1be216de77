//! Every recorded GitLab API answer in `tests/data/gitlab/api/` decodes into our type for it.
//!
//! The table below maps each fixture file to the type we read it as; a fixture added without
//! an entry fails the test, so new real-world shapes are checked as soon as they arrive. Some
//! files wrap the answer: nock recordings (`danger-js/`) are lists of `{method, path, status,
//! response, rawHeaders}`, and every recording's `response` is decoded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use copilot_runner::gitlab::{
    AwardEmoji, Branch, Bridge, Commit, CurrentUser, Discussion, FileDiff, Issue, Job, Member, MergeRequest,
    MergeRequestReviewer, MergeRequestVersion, Note, Pipeline, Status,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

const API_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/gitlab/api");

/// How a fixture is read.
enum Shape {
    /// The file is the answer.
    Plain(fn(&Value) -> Result<(), String>),
    /// The file is a list of nock recordings; each `response` is the answer.
    Recorded(fn(&Value) -> Result<(), String>),
    /// An endpoint copilot-runner does not call; the file must still be JSON.
    NotCalled(&'static str),
}

fn decodes<T: DeserializeOwned>(value: &Value) -> Result<(), String> {
    serde_path_to_error::deserialize::<_, T>(value.clone())
        .map(drop)
        .map_err(|error| format!("at `{}`: {}", error.path(), error.inner()))
}

fn table() -> BTreeMap<&'static str, Shape> {
    use Shape::{NotCalled, Plain, Recorded};
    BTreeMap::from([
        ("create_draft_note.json", NotCalled("draft notes: reviews post discussions directly")),
        ("danger-js/getMergeRequestApprovals.json", NotCalled("MR approvals")),
        ("danger-js/getMergeRequestCommits.json", Recorded(decodes::<Vec<Commit>>)),
        ("danger-js/getMergeRequestDiffs.json", Recorded(decodes::<Vec<FileDiff>>)),
        ("danger-js/getMergeRequestDiscussions.json", Recorded(decodes::<Vec<Discussion>>)),
        ("danger-js/getMergeRequestInfo.json", Recorded(decodes::<MergeRequest>)),
        ("danger-js/getMergeRequestNotes.json", Recorded(decodes::<Vec<Note>>)),
        ("danger-js/getUser.json", Recorded(decodes::<CurrentUser>)),
        ("danger-js/updateMergeRequestInfo.json", Recorded(decodes::<MergeRequest>)),
        ("get_branch.json", Plain(decodes::<Branch>)),
        ("get_commit.json", Plain(decodes::<Commit>)),
        ("get_merge_request.json", Plain(decodes::<MergeRequest>)),
        ("get_merge_requests.json", Plain(decodes::<Vec<MergeRequest>>)),
        ("get_user.json", Plain(decodes::<CurrentUser>)),
        ("gitlab-docs/issue_notes_list.docs.json", Plain(decodes::<Vec<Note>>)),
        ("gitlab-docs/mr_diff_discussion_with_position.docs.json", Plain(decodes::<Vec<Discussion>>)),
        ("gitlab-docs/mr_versions.docs.json", Plain(decodes::<Vec<MergeRequestVersion>>)),
        ("gitlab-docs/trigger_pipeline_response.docs.json", Plain(decodes::<Pipeline>)),
        ("go-gitlab-inline/create_merge_request_discussion.json", Plain(decodes::<Discussion>)),
        ("go-gitlab-inline/create_mr_note_award_emoji.json", Plain(decodes::<AwardEmoji>)),
        ("go-gitlab-inline/get_inherited_project_member.json", Plain(decodes::<Member>)),
        ("go-gitlab-inline/get_merge_request_note.json", Plain(decodes::<Note>)),
        ("go-gitlab-inline/list_merge_request_discussions.json", Plain(decodes::<Vec<Discussion>>)),
        ("issue_move.json", Plain(decodes::<Issue>)),
        ("list_branches.json", Plain(decodes::<Vec<Branch>>)),
        ("list_draft_notes.json", NotCalled("draft notes: reviews post discussions directly")),
        ("list_merge_request_diff.json", Plain(decodes::<Vec<FileDiff>>)),
        ("list_todos.json", NotCalled("to-do items")),
        ("python-gitlab/bridges_content.json", Plain(decodes::<Vec<Bridge>>)),
        ("python-gitlab/failed_job_content.json", Plain(decodes::<Job>)),
        ("python-gitlab/mr_reviewers_content.json", Plain(decodes::<Vec<MergeRequestReviewer>>)),
        ("python-gitlab/pipeline_content.json", Plain(decodes::<Pipeline>)),
    ])
}

fn json_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).expect("fixture folder").map(|entry| entry.expect("fixture entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            json_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            found.push(path);
        }
    }
}

fn read(relative: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(API_FIXTURES).join(relative)).expect("fixture file");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{relative} is not JSON: {error}"))
}

fn decode<T: DeserializeOwned>(relative: &str) -> T {
    serde_json::from_value(read(relative)).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

#[test]
fn every_recorded_api_answer_decodes_into_our_type() {
    let mut files = Vec::new();
    json_files(Path::new(API_FIXTURES), &mut files);
    assert!(files.len() >= 30, "expected the recorded fixtures at {API_FIXTURES}, found {} files", files.len());
    let table = table();
    let mut failures = Vec::new();
    let mut seen = Vec::new();
    for path in &files {
        let relative = path.strip_prefix(API_FIXTURES).unwrap().to_string_lossy().replace('\\', "/");
        let value = read(&relative);
        let Some(shape) = table.get(relative.as_str()) else {
            failures.push(format!("{relative}: no entry in the table; map it to the type we read it as"));
            continue;
        };
        seen.push(relative.clone());
        match shape {
            Shape::Plain(check) => {
                if let Err(error) = check(&value) {
                    failures.push(format!("{relative}: {error}"));
                }
            }
            Shape::Recorded(check) => {
                let recordings =
                    value.as_array().unwrap_or_else(|| panic!("{relative}: expected a list of recordings"));
                assert!(!recordings.is_empty(), "{relative}: no recordings");
                for (index, recording) in recordings.iter().enumerate() {
                    if let Err(error) = check(&recording["response"]) {
                        failures.push(format!("{relative} recording {index}: {error}"));
                    }
                }
            }
            Shape::NotCalled(reason) => assert!(!reason.is_empty(), "{relative}: say why it is not called"),
        }
    }
    let stale: Vec<_> = table.keys().filter(|name| !seen.iter().any(|seen| seen == *name)).collect();
    assert!(stale.is_empty(), "table entries without a fixture file: {stale:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_fields_the_workflows_rely_on_are_read() {
    let mr: MergeRequest = decode("get_merge_request.json");
    assert_eq!(mr.diff_refs.as_ref().unwrap().head_sha, "8e0b45049b6253b8984cde9241830d2851168142");
    assert!(mr.is_draft());
    assert_eq!(mr.reviewers.len(), 1);
    assert_eq!(mr.head_pipeline.as_ref().unwrap().status, Status::Success);

    let threads: Vec<Discussion> = decode("gitlab-docs/mr_diff_discussion_with_position.docs.json");
    let position = threads[0].notes[0].position.as_ref().unwrap();
    assert_eq!(position.position_type, "text");
    let range = position.line_range.as_ref().unwrap();
    assert_eq!((range.start.new_line, range.end.old_line), (Some(10), Some(11)));

    let pipeline: Pipeline = decode("gitlab-docs/trigger_pipeline_response.docs.json");
    assert_eq!((pipeline.status, pipeline.source.as_deref()), (Status::Created, Some("trigger")));

    let job: Job = decode("python-gitlab/failed_job_content.json");
    assert_eq!(job.status, Status::Failed);
    assert_eq!(job.pipeline.unwrap().id, 1);

    let bridges: Vec<Bridge> = decode("python-gitlab/bridges_content.json");
    let downstream = bridges[0].downstream_pipeline.as_ref().unwrap();
    assert_eq!((downstream.id, downstream.status.clone()), (5, Status::Pending));

    let versions: Vec<MergeRequestVersion> = decode("gitlab-docs/mr_versions.docs.json");
    assert_eq!(versions[0].diff_refs().head_sha, "33e2ee8579fda5bc36accc9c6fbd0b4fefda9e30");

    let member: Member = decode("go-gitlab-inline/get_inherited_project_member.json");
    assert_eq!(member.access_level, copilot_runner::gitlab::AccessLevel::DEVELOPER);

    let notes: Vec<Note> = decode("gitlab-docs/issue_notes_list.docs.json");
    assert!(notes.iter().all(|note| note.system && note.author_id() == Some(1)));
}
