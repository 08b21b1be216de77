//! Every REST response the fake serves validates against GitLab's own response schemas (the
//! RSpec fixtures under `tests/data/schemas/gitlab-api/`), with formats checked; where GitLab
//! publishes no schema, the response carries at least the keys of a recorded real payload
//! (`tests/data/gitlab/api/`), and for draft notes exactly those keys with the same JSON types.
//!
//! Two documented adaptations, both narrowing nothing the fake could get wrong silently:
//! - DiffNotes carry `position` and `commit_id`, which GitLab's `Entities::Note` exposes only for
//!   DiffNotes and which the fixture `notes.json` (written for plain notes) does not list.
//! - `entities/discussion.json` is GitLab's web-UI serializer; its top level (`id`,
//!   `individual_note`, `notes`) is the REST shape, but its note items are the UI's (string ids,
//!   `path` on authors), so REST note items are checked against `notes.json` instead.

mod common;

use std::path::{Path, PathBuf};

use common::{as_user, status_json};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::{CiRule, Outcome};
use jsonschema::{Retrieve, Uri};
use serde_json::{Value, json};

const WIDGETS: &str = "acme%2Fwidgets";

/// The repository's test data; this crate's manifest sits in `tests/support/`.
fn data_dir() -> PathBuf {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../data"));
    dir.canonicalize().expect("the test data folder is tests/data")
}

fn schema_dir() -> PathBuf {
    data_dir().join("schemas/gitlab-api")
}

/// Resolves the schemas' relative `$ref`s (`file://` URIs under the schema folder) from disk.
struct SchemaFiles;

impl Retrieve for SchemaFiles {
    fn retrieve(&self, uri: &Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let path = uri.path().as_str();
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read schema {path}: {e}"))?;
        Ok(serde_json::from_str(&text)?)
    }
}

fn load(relative: &str) -> Value {
    let path = schema_dir().join(relative);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Validates `instance` against `schema` as if it were the file `relative`.
fn check_with(schema: &Value, relative: &str, instance: &Value) {
    let base = format!("file://{}", schema_dir().join(relative).display());
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .with_base_uri(base)
        .with_retriever(SchemaFiles)
        .build(schema)
        .unwrap_or_else(|e| panic!("schema {relative} builds: {e}"));
    let errors: Vec<String> =
        validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{relative}: {errors:#?}\n{instance:#}");
}

/// The validator is not vacuous: `instance` is rejected.
fn rejects(relative: &str, instance: &Value) {
    let base = format!("file://{}", schema_dir().join(relative).display());
    let schema = load(relative);
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .with_base_uri(base)
        .with_retriever(SchemaFiles)
        .build(&schema)
        .unwrap();
    assert!(!validator.is_valid(instance), "{relative} should reject {instance}");
}

fn check(relative: &str, instance: &Value) {
    check_with(&load(relative), relative, instance);
}

/// `notes.json` with the DiffNote-only fields GitLab exposes added.
fn notes_schema() -> Value {
    let mut schema = load("public_api/v4/notes.json");
    let properties = schema["items"]["properties"].as_object_mut().unwrap();
    properties.insert("position".into(), json!({"type": "object"}));
    properties.insert("commit_id".into(), json!({"type": ["string", "null"]}));
    schema
}

/// The fixture's keys all appear in `actual`.
fn has_fixture_keys(fixture: &str, actual: &Value) {
    let text = std::fs::read_to_string(data_dir().join("gitlab/api").join(fixture)).unwrap();
    let recorded: Value = serde_json::from_str(&text).unwrap();
    let recorded = if recorded.is_array() { recorded[0].clone() } else { recorded };
    let missing: Vec<&String> =
        recorded.as_object().unwrap().keys().filter(|k| actual.get(k.as_str()).is_none()).collect();
    assert!(missing.is_empty(), "{fixture}: missing {missing:?} in {actual:#}");
}

#[tokio::test]
async fn users_projects_members_issues_and_branches_match_gitlab_schemas() {
    let fake = FakeGitLab::start().await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    check("public_api/v4/user/basic.json", &agent.get_json("/user").await);
    check("public_api/v4/project/identity.json", &agent.get_json(&format!("/projects/{WIDGETS}")).await);
    let member = agent.get_json(&format!("/projects/{WIDGETS}/members/all/{}", fake.user_id("alice"))).await;
    check("public_api/v4/members.json", &json!([member]));
    has_fixture_keys("go-gitlab-inline/get_inherited_project_member.json", &{
        let mut m = member.clone();
        // Admin-only fields GitLab shows to administrators.
        m["email"] = json!(null);
        m["group_saml_identity"] = json!(null);
        m
    });
    let issue = agent.get_json(&format!("/projects/{WIDGETS}/issues/1")).await;
    check("public_api/v4/issue.json", &issue);
    check("public_api/v4/issues.json", &json!([issue]));

    let branch = agent.get_json(&format!("/projects/{WIDGETS}/repository/branches/main")).await;
    check("public_api/v4/branch.json", &branch);
    has_fixture_keys("get_branch.json", &branch);
    let (status, created) = status_json(
        agent
            .post_form(&format!("/projects/{WIDGETS}/repository/branches"), &[("branch", "topic"), ("ref", "main")])
            .await,
    )
    .await;
    assert_eq!(status, 201);
    check("public_api/v4/branch.json", &created);
    check("public_api/v4/branches.json", &agent.get_json(&format!("/projects/{WIDGETS}/repository/branches")).await);
    check("public_api/v4/commit/basic.json", &branch["commit"]);

    // The validators bite: a missing field, a bad date and a $ref'd sub-schema are caught.
    let mut broken = issue.clone();
    broken.as_object_mut().unwrap().remove("web_url");
    rejects("public_api/v4/issue.json", &broken);
    let mut broken = branch.clone();
    broken["commit"]["created_at"] = json!("yesterday");
    rejects("public_api/v4/branch.json", &broken);
}

#[tokio::test]
async fn notes_awards_merge_requests_versions_diffs_and_discussions_match_gitlab() {
    let fake = FakeGitLab::start().await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    fake.add_issue_note("acme/widgets", 1, "alice", "@copilot-agent go");
    let (_, note) =
        status_json(agent.post_form(&format!("/projects/{WIDGETS}/issues/1/notes"), &[("body", "on it")]).await).await;
    check_with(&notes_schema(), "public_api/v4/notes.json", &json!([note]));
    let notes = agent.get_json(&format!("/projects/{WIDGETS}/issues/1/notes")).await;
    check_with(&notes_schema(), "public_api/v4/notes.json", &notes);
    let (_, award) = status_json(
        agent
            .post_form(&format!("/projects/{WIDGETS}/issues/1/notes/{}/award_emoji", note["id"]), &[("name", "eyes")])
            .await,
    )
    .await;
    has_fixture_keys("go-gitlab-inline/create_mr_note_award_emoji.json", &award);

    let lib = fake.read_file("acme/widgets", "main", "src/lib.rs").await.unwrap();
    let changed = lib.replace("a * b", "a.wrapping_mul(b)");
    fake.push_files("acme/widgets", "feature", &[("src/lib.rs", Some(&changed))], "Wrap", "alice").await.unwrap();
    let (status, mr) = status_json(
        agent
            .post_json(
                &format!("/projects/{WIDGETS}/merge_requests"),
                json!({"source_branch": "feature", "target_branch": "main", "title": "Draft: wrap",
                       "assignee_ids": [fake.user_id("copilot-agent")], "reviewer_ids": [fake.user_id("alice")]}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 201);
    check("public_api/v4/merge_request.json", &mr);
    check("public_api/v4/merge_request_simple.json", &mr);
    let single = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1")).await;
    check("public_api/v4/merge_request.json", &single);
    check("public_api/v4/pipeline/detail.json", &single["head_pipeline"]);
    has_fixture_keys("get_merge_request.json", &single);
    for mr in agent.get_json(&format!("/projects/{WIDGETS}/merge_requests")).await.as_array().unwrap() {
        check("public_api/v4/merge_request.json", mr);
    }

    let versions = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1/versions")).await;
    has_fixture_keys("gitlab-docs/mr_versions.docs.json", &versions[0]);
    let version = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1/versions/{}", versions[0]["id"])).await;
    for commit in version["commits"].as_array().unwrap() {
        check("public_api/v4/commit/basic.json", commit);
    }
    let diffs = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1/diffs")).await;
    has_fixture_keys("list_merge_request_diff.json", &diffs[0]);

    let refs = &mr["diff_refs"];
    let line = lib.lines().position(|l| l.contains("a * b")).unwrap() + 1;
    let (status, discussion) = status_json(
        agent
            .post_json(
                &format!("/projects/{WIDGETS}/merge_requests/1/discussions"),
                json!({"body": "consider overflow", "position": {
                    "position_type": "text", "base_sha": refs["base_sha"], "start_sha": refs["start_sha"],
                    "head_sha": refs["head_sha"], "old_path": "src/lib.rs", "new_path": "src/lib.rs", "new_line": line}}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 201, "{discussion}");
    let mut discussion_schema = load("entities/discussion.json");
    discussion_schema["properties"]["notes"]["items"] = notes_schema()["items"].clone();
    check_with(&discussion_schema, "entities/discussion.json", &discussion);
    has_fixture_keys("go-gitlab-inline/create_merge_request_discussion.json", &discussion);
    // People award the thread's first note (👍/👎 on a review finding); the review lists them.
    let first = &discussion["notes"][0]["id"];
    let awards = format!("/projects/{WIDGETS}/merge_requests/1/notes/{first}/award_emoji");
    let (status, award) =
        status_json(as_user(&fake, "alice").post_form(&awards, &[("name", "thumbsdown")]).await).await;
    assert_eq!(status, 201, "{award}");
    has_fixture_keys("go-gitlab-inline/create_mr_note_award_emoji.json", &award);
    let listed = agent.get_json(&awards).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    has_fixture_keys("go-gitlab-inline/create_mr_note_award_emoji.json", &listed[0]);
    check("public_api/v4/user/basic.json", &listed[0]["user"]);
    assert_eq!((listed[0]["name"].as_str(), listed[0]["awardable_type"].as_str()), (Some("thumbsdown"), Some("Note")));
    assert!(listed[0]["created_at"].is_string(), "{listed}");
    // A reply in the thread is a note; resolving it answers the whole thread, every note resolved.
    let thread = format!("/projects/{WIDGETS}/merge_requests/1/discussions/{}", discussion["id"].as_str().unwrap());
    let (status, reply) = status_json(agent.post_form(&format!("{thread}/notes"), &[("body", "fixed")]).await).await;
    assert_eq!(status, 201, "{reply}");
    check_with(&notes_schema(), "public_api/v4/notes.json", &json!([reply]));
    has_fixture_keys("go-gitlab-inline/get_merge_request_note.json", &reply);
    let (status, resolved) =
        status_json(agent.request(reqwest::Method::PUT, &format!("{thread}?resolved=true")).send().await.unwrap())
            .await;
    assert_eq!(status, 200, "{resolved}");
    check_with(&discussion_schema, "entities/discussion.json", &resolved);
    has_fixture_keys("go-gitlab-inline/create_merge_request_discussion.json", &resolved);
    let notes = resolved["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{resolved}");
    assert!(notes.iter().all(|note| note["resolved"] == json!(true)), "{resolved}");
    assert!(notes.iter().all(|note| note["resolved_at"].is_string()), "GitLab says when: {resolved}");
    // A thread started without a position (not on a line) is resolvable too, like GitLab's.
    let general = fake.add_mr_thread("acme/widgets", 1, "alice", "Should this be documented?");
    let all = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1/discussions")).await;
    let started = all.as_array().unwrap().iter().find(|found| found["id"] == json!(general)).unwrap();
    assert_eq!(started["individual_note"], json!(false), "{started}");
    assert_eq!(started["notes"][0]["type"], json!("DiscussionNote"), "{started}");
    assert_eq!(started["notes"][0]["resolvable"], json!(true), "{started}");
    agent.post_form(&format!("/projects/{WIDGETS}/merge_requests/1/notes"), &[("body", "summary")]).await;
    let all = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1/discussions")).await;
    let mut list_schema = load("entities/discussions.json");
    list_schema["items"] = discussion_schema.clone();
    check_with(&list_schema, "entities/discussions.json", &all);
    check_with(
        &notes_schema(),
        "public_api/v4/notes.json",
        &agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/1/notes")).await,
    );
}

#[tokio::test]
async fn pipelines_jobs_and_trigger_responses_match_gitlab_schemas() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.add_ci_rule(
        "acme/widgets",
        CiRule {
            ref_pattern: "broken".into(),
            outcome: Outcome::Fail {
                job: "test".into(),
                trace: "error[E0308]\n".into(),
                failure_reason: "script_failure".into(),
            },
            reads_until_done: 0,
        },
    );
    fake.push_files("acme/widgets", "broken", &[("x.txt", Some("x\n"))], "x", "alice").await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    let pipelines = agent.get_json(&format!("/projects/{WIDGETS}/pipelines?ref=broken")).await;
    check("public_api/v4/pipelines.json", &pipelines);
    let id = &pipelines[0]["id"];
    let detail = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{id}")).await;
    check("public_api/v4/pipeline/detail.json", &detail);
    has_fixture_keys("python-gitlab/pipeline_content.json", &detail);
    assert_eq!(detail["status"], "failed");

    let jobs = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{id}/jobs?include_retried=true")).await;
    for job in jobs.as_array().unwrap() {
        if job["status"] == "failed" {
            // GitLab exposes `failure_reason` only on failed jobs; the fixture schema is for others.
            assert_eq!(job["failure_reason"], "script_failure");
            let mut without = job.clone();
            without.as_object_mut().unwrap().remove("failure_reason");
            check("public_api/v4/job.json", &without);
            has_fixture_keys("python-gitlab/failed_job_content.json", job);
        } else {
            check("public_api/v4/job.json", job);
        }
    }

    // The variables fallback (GitLab before 18.1) needs pipeline variables allowed.
    fake.set_pipeline_variables_role("acme/copilot-agent", "developer");
    let form = [("token", "glptt-fake-agent"), ("ref", "main"), ("variables[TRIGGER_TYPE]", "issue_assignee")];
    let response =
        reqwest_form(&format!("{}/projects/acme%2Fcopilot-agent/trigger/pipeline", fake.api_url()), &form).await;
    let (status, triggered) = status_json(response).await;
    assert_eq!(status, 201);
    check("public_api/v4/pipeline/detail.json", &triggered);
    has_fixture_keys("gitlab-docs/trigger_pipeline_response.docs.json", &triggered);
}

#[tokio::test]
async fn bridges_child_pipelines_and_commits_match_gitlab_shapes() {
    let fake = FakeGitLab::start().await.unwrap();
    let failing =
        Outcome::Fail { job: "test".into(), trace: "error\n".into(), failure_reason: "script_failure".into() };
    let outcome = Outcome::Child { bridge: "child".into(), outcome: Box::new(failing), project: None };
    fake.add_ci_rule("acme/widgets", CiRule { ref_pattern: "nested".into(), outcome, reads_until_done: 0 });
    let sha = fake.push_files("acme/widgets", "nested", &[("x.txt", Some("x\n"))], "x", "alice").await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    let pipelines = agent.get_json(&format!("/projects/{WIDGETS}/pipelines?ref=nested")).await;
    check("public_api/v4/pipelines.json", &pipelines);
    let parent = pipelines.as_array().unwrap().iter().find(|p| p["source"] == "push").unwrap()["id"].clone();

    // GitLab publishes no bridge schema: a bridge carries a recorded bridge's keys, and its
    // downstream pipeline is a `PipelineBasic`.
    let bridges = agent.get_json(&format!("/projects/{WIDGETS}/pipelines/{parent}/bridges")).await;
    let bridge = &bridges[0];
    has_fixture_keys("python-gitlab/bridges_content.json", bridge);
    check("public_api/v4/pipeline/basic.json", &bridge["downstream_pipeline"]);
    assert_eq!(bridge["downstream_pipeline"]["source"], "parent_pipeline");
    check("public_api/v4/commit/basic.json", &bridge["commit"]);

    let commit = agent.get_json(&format!("/projects/{WIDGETS}/repository/commits/{sha}")).await;
    check("public_api/v4/commit/detail.json", &commit);
    // The schema bites: stats with a field GitLab does not send are refused.
    let mut broken = commit.clone();
    broken["stats"]["files"] = json!(1);
    rejects("public_api/v4/commit/detail.json", &broken);
}

#[tokio::test]
async fn project_hooks_match_gitlab_schema() {
    let fake = FakeGitLab::start().await.unwrap();
    let maria = as_user(&fake, "maria");
    let form = [("url", "https://runner.example/webhook"), ("token", "secret"), ("issues_events", "true")];
    let (status, hook) = status_json(maria.post_form(&format!("/projects/{WIDGETS}/hooks"), &form).await).await;
    assert_eq!(status, 201);
    check("public_api/v4/project_hook.json", &hook);
    check("public_api/v4/project_hook.json", &maria.get_json(&format!("/projects/{WIDGETS}/hooks")).await[0]);
    // The schema is not vacuous: a hook that shows its token is refused.
    let mut leaking = hook.clone();
    leaking["token"] = json!("secret");
    rejects("public_api/v4/project_hook.json", &leaking);
}

#[expect(clippy::disallowed_methods, reason = "an unauthenticated client for the trigger API")]
async fn reqwest_form(url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new().post(url).form(form).send().await.unwrap()
}

#[tokio::test]
async fn created_projects_group_projects_and_members_match_gitlab_schemas() {
    use copilot_runner_testkit::fake_gitlab::{AGENT, SETUP_USER, Seed};

    let fake = FakeGitLab::start_with(Seed::empty_instance()).await.unwrap();
    let owner = as_user(&fake, SETUP_USER);
    let namespace_id = owner.get_json("/namespaces/acme").await["id"].clone();
    let (status, project) =
        status_json(owner.post_json("/projects", json!({"path": "agent", "namespace_id": namespace_id})).await).await;
    assert_eq!(status, 201);
    check("public_api/v4/project/identity.json", &project);
    for listed in owner.get_json("/groups/acme/projects").await.as_array().unwrap() {
        check("public_api/v4/project/identity.json", listed);
    }
    let agent_id = fake.user_id(AGENT);
    let (status, member) =
        status_json(owner.post_json("/groups/acme/members", json!({"user_id": agent_id, "access_level": 30})).await)
            .await;
    assert_eq!(status, 201);
    check("public_api/v4/members.json", &json!([member]));
    let inherited = owner.get_json(&format!("/projects/acme%2Fagent/members/all/{agent_id}")).await;
    let direct = owner.get_json(&format!("/groups/acme/members/{agent_id}")).await;
    check("public_api/v4/members.json", &json!([inherited, direct]));
}

#[tokio::test]
async fn forks_and_merge_requests_from_forks_match_gitlab_schemas() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.fork_project("acme/widgets", "olga/widgets", "outsider").await.unwrap();
    fake.push_files("olga/widgets", "idea", &[("IDEA.md", Some("idea\n"))], "Idea", "outsider").await.unwrap();
    let iid = fake.open_fork_merge_request("acme/widgets", "olga/widgets", "idea", "outsider", "Idea").await.unwrap();

    // The fork is a project, and so is the upstream it names (`BasicProjectDetails`).
    let outsider = as_user(&fake, "outsider");
    let fork = outsider.get_json("/projects/olga%2Fwidgets").await;
    check("public_api/v4/project/identity.json", &fork);
    check("public_api/v4/project/identity.json", &fork["forked_from_project"]);
    assert_eq!(fork["forked_from_project"]["id"], json!(fake.project_id("acme/widgets")));
    let upstream = as_user(&fake, "copilot-agent").get_json(&format!("/projects/{WIDGETS}")).await;
    assert!(upstream.get("forked_from_project").is_none(), "only a fork names an upstream: {upstream:#}");

    // The merge request lives in the target, its source in the fork.
    let agent = as_user(&fake, "copilot-agent");
    let mr = agent.get_json(&format!("/projects/{WIDGETS}/merge_requests/{iid}")).await;
    check("public_api/v4/merge_request.json", &mr);
    assert_eq!(mr["source_project_id"], fork["id"]);
    assert_eq!(mr["target_project_id"], json!(fake.project_id("acme/widgets")));
    let mut broken = fork["forked_from_project"].clone();
    broken["id"] = json!("seven");
    rejects("public_api/v4/project/identity.json", &broken);
}

/// The JSON type of a value, as the draft note comparison names it.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `actual` has exactly the keys of the recorded draft notes in `fixture` (one object or a
/// list), and each value has a type the key takes in one of the recordings.
fn same_keys_and_types(fixture: &str, actual: &Value) {
    let text = std::fs::read_to_string(data_dir().join("gitlab/api").join(fixture)).unwrap();
    let recorded: Value = serde_json::from_str(&text).unwrap();
    let recordings: Vec<&Value> = match &recorded {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    let mut recorded_keys: Vec<&String> = recordings[0].as_object().unwrap().keys().collect();
    recorded_keys.sort();
    let mut actual_keys: Vec<&String> = actual.as_object().unwrap().keys().collect();
    actual_keys.sort();
    assert_eq!(actual_keys, recorded_keys, "{fixture}: {actual:#}");
    for key in recorded_keys {
        let types: Vec<&str> = recordings.iter().map(|item| json_type(&item[key.as_str()])).collect();
        let actual_type = json_type(&actual[key.as_str()]);
        assert!(types.contains(&actual_type), "{fixture}: `{key}` is {actual_type}, recorded as {types:?}");
    }
    if let Some(position) = actual.get("position").filter(|p| p.is_object()) {
        let with_position = recordings.iter().find(|item| item["position"].is_object()).unwrap();
        for (key, value) in with_position["position"].as_object().unwrap() {
            let actual_type = json_type(&position[key.as_str()]);
            assert!(
                actual_type == json_type(value) || actual_type == "null" || value.is_null(),
                "{fixture}: `position.{key}` is {actual_type}, recorded as {}",
                json_type(value)
            );
        }
    }
}

#[tokio::test]
async fn draft_notes_have_the_keys_and_types_of_recorded_gitlab_answers() {
    let fake = FakeGitLab::start().await.unwrap();
    let agent = as_user(&fake, "copilot-agent");
    let (mr, line) = common::merge_request_changing_one_line(&fake).await;
    let drafts = format!("/projects/{WIDGETS}/merge_requests/{}/draft_notes", mr["iid"]);
    let (status, plain) = status_json(agent.post_json(&drafts, json!({"note": "Some new draft note"})).await).await;
    assert_eq!(status, 201, "{plain}");
    same_keys_and_types("create_draft_note.json", &plain);

    let refs = &mr["diff_refs"];
    let (status, positioned) = status_json(
        agent
            .post_json(
                &drafts,
                json!({"note": "Consider overflow", "position": {
                    "position_type": "text", "base_sha": refs["base_sha"], "start_sha": refs["start_sha"],
                    "head_sha": refs["head_sha"], "old_path": "src/lib.rs", "new_path": "src/lib.rs", "new_line": line}}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 201, "{positioned}");
    // The recorded create answer has no position; the recorded list has one with a position, and
    // GitLab renders both with the same entity.
    same_keys_and_types("list_draft_notes.json", &positioned);
    assert!(positioned["position"].is_object(), "{positioned}");

    let listed = agent.get_json(&drafts).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed:#}");
    for draft in listed.as_array().unwrap() {
        same_keys_and_types("list_draft_notes.json", draft);
    }
    // The comparison is not vacuous: a draft shaped like a note is refused.
    let note_shaped = json!({"id": 1, "body": "x", "author": {}, "position": null});
    assert!(std::panic::catch_unwind(|| same_keys_and_types("list_draft_notes.json", &note_shaped)).is_err());
}
