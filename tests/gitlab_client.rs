//! The GitLab client against the fake GitLab over real HTTP: retries for every fault kind, rate
//! limits, pagination, the retry budget, error variants, and writes that never land twice
//! after an ambiguous failure.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use copilot_runner::gitlab::{
    AwardOutcome, Awardable, Client, ClientOptions, Error, LinePoint, LineRange, NewMergeRequest, Noteable, Position,
    RetryPolicy, Status, TriggerParameters,
};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::{AGENT, Fault};
use secrecy::SecretString;
use tokio::io::AsyncReadExt;

const WIDGETS: &str = "acme/widgets";
const AGENT_PROJECT: &str = "acme/copilot-agent";
const AGENT_TRIGGER: &str = "glptt-fake-agent";
const ISSUE: u64 = 1;
const MAX_ATTEMPTS: u32 = 4;

fn options() -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_millis(700),
        retry: RetryPolicy {
            max_attempts: MAX_ATTEMPTS,
            total_budget: Duration::from_secs(20),
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(80),
        },
        ..ClientOptions::default()
    }
}

fn client_with_token(fake: &FakeGitLab, token: &str) -> Client {
    Client::with_options(&fake.api_url(), &SecretString::from(token.to_owned()), &options())
        .expect("client for the fake")
}

fn agent_client(fake: &FakeGitLab) -> Client {
    client_with_token(fake, &fake.agent_token())
}

fn unix_now() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(since_epoch.as_secs()).expect("a plausible time")
}

#[tokio::test]
async fn reads_are_retried_through_every_transient_fault_kind() {
    let fake = FakeGitLab::start().await.unwrap();
    let client = agent_client(&fake);
    let route = "/projects/*/issues/*";
    let faults = [
        ("500", Fault::on("GET", route).status(500)),
        ("502", Fault::on("GET", route).status(502)),
        ("503", Fault::on("GET", route).status(503)),
        ("504", Fault::on("GET", route).status(504)),
        ("connection reset", Fault::on("GET", route).reset()),
        ("delay beyond the request timeout", Fault::on("GET", route).delay(Duration::from_secs(3))),
    ];
    for (name, fault) in faults {
        fake.clear_faults();
        fake.clear_requests();
        let index = fake.inject(fault.times(2));
        let issue = client.issue(WIDGETS, ISSUE).await.unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(issue.title, "Add a greeting function", "{name}");
        assert_eq!(fake.fault_hits(index), 2, "{name}: both faults were met");
        assert!(fake.requests_to(&format!("GET {route}")).len() >= 3, "{name}: two failures, then the answer");
    }
}

#[tokio::test]
async fn every_page_of_a_long_list_is_read_in_order() {
    let fake = FakeGitLab::start().await.unwrap();
    for n in 0..230 {
        fake.add_issue_note(WIDGETS, ISSUE, "alice", &format!("comment {n}"));
    }
    fake.clear_requests();
    let notes = agent_client(&fake).notes(WIDGETS, Noteable::Issue(ISSUE)).await.unwrap();
    let ours: Vec<&str> =
        notes.iter().map(|note| note.body.as_str()).filter(|body| body.starts_with("comment ")).collect();
    let expected: Vec<String> = (0..230).map(|n| format!("comment {n}")).collect();
    assert_eq!(ours, expected);
    let pages = fake.requests_to("GET /projects/*/issues/*/notes");
    assert_eq!(pages.len(), 3, "100 a page");
    assert!(pages.iter().all(|page| page.query.as_deref().is_some_and(|query| query.contains("per_page=100"))));
}

#[tokio::test]
async fn a_429_with_retry_after_waits_as_long_as_asked() {
    let fake = FakeGitLab::start().await.unwrap();
    let index = fake.inject(Fault::on("GET", "/user").status(429).retry_after(1).times(1));
    let started = Instant::now();
    let user = agent_client(&fake).current_user().await.unwrap();
    assert_eq!(user.username, AGENT);
    assert_eq!(fake.fault_hits(index), 1);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited only {:?}", started.elapsed());
}

#[tokio::test]
async fn a_429_with_only_rate_limit_reset_waits_for_the_reset() {
    let fake = FakeGitLab::start().await.unwrap();
    let index = fake.inject(Fault::on("GET", "/user").status(429).rate_limit_reset(unix_now() + 2).times(1));
    let started = Instant::now();
    agent_client(&fake).current_user().await.unwrap();
    assert_eq!(fake.fault_hits(index), 1);
    // The reset is two whole seconds ahead, so at least one second remains however we round.
    assert!(started.elapsed() >= Duration::from_secs(1), "waited only {:?}", started.elapsed());
}

#[tokio::test]
async fn a_429_without_headers_backs_off_and_succeeds() {
    let fake = FakeGitLab::start().await.unwrap();
    let index = fake.inject(Fault::on("GET", "/user").status(429).times(2));
    agent_client(&fake).current_user().await.unwrap();
    assert_eq!(fake.fault_hits(index), 2);
    assert_eq!(fake.requests_to("GET /user").len(), 3);
}

#[tokio::test]
async fn the_retry_budget_ends_with_a_typed_error() {
    let fake = FakeGitLab::start().await.unwrap();
    let client = agent_client(&fake);

    fake.inject(Fault::on("GET", "/user").status(503));
    let error = client.current_user().await.unwrap_err();
    assert!(matches!(error, Error::Status { code: 503, attempts: MAX_ATTEMPTS, .. }), "{error}");
    assert_eq!(copilot_runner::cli::exit_code(&anyhow::Error::new(error)), copilot_runner::exit::Code::Unreachable);
    assert_eq!(fake.requests_to("GET /user").len(), MAX_ATTEMPTS as usize);

    fake.clear_faults();
    fake.inject(Fault::on("GET", "/user").status(429));
    let error = client.current_user().await.unwrap_err();
    assert!(matches!(error, Error::RateLimited { attempts: MAX_ATTEMPTS, .. }), "{error}");

    fake.clear_faults();
    fake.inject(Fault::on("GET", "/user").reset());
    let error = client.current_user().await.unwrap_err();
    assert!(matches!(error, Error::Transport { attempts: MAX_ATTEMPTS, .. }), "{error}");

    // A server asking for a wait longer than the whole budget ends the retries at once.
    fake.clear_faults();
    fake.clear_requests();
    fake.inject(Fault::on("GET", "/user").status(429).retry_after(3600));
    let error = client.current_user().await.unwrap_err();
    assert!(
        matches!(error, Error::RateLimited { attempts: 1, retry_after: Some(wait), .. } if wait == Duration::from_secs(3600)),
        "{error:?}"
    );
    assert_eq!(fake.requests_to("GET /user").len(), 1);
}

#[tokio::test]
async fn statuses_come_back_as_the_variants_callers_react_to() {
    let fake = FakeGitLab::start().await.unwrap();
    let client = agent_client(&fake);

    let error = client_with_token(&fake, "glpat-revoked-token").current_user().await.unwrap_err();
    assert!(matches!(error, Error::Unauthorized { .. }), "{error}");
    assert_eq!(copilot_runner::cli::exit_code(&anyhow::Error::new(error)), copilot_runner::exit::Code::Usage);

    fake.inject(Fault::on("GET", "/projects/*").status(403).times(1));
    let error = client.project(WIDGETS).await.unwrap_err();
    assert!(matches!(error, Error::Forbidden { .. }), "{error}");
    assert!(error.to_string().contains("`write_repository`"), "{error}");

    let error = client.issue(WIDGETS, 999).await.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    let error = client.project("acme/nothing-here").await.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error}");

    assert_eq!(client.member(WIDGETS, fake.user_id("outsider")).await.unwrap(), None);
    let maria = client.member(WIDGETS, fake.user_id("maria")).await.unwrap().unwrap();
    assert_eq!(maria.access_level, copilot_runner::gitlab::AccessLevel::MAINTAINER);
    assert_eq!(client.branch(WIDGETS, "no/such-branch").await.unwrap(), None);
}

#[tokio::test]
async fn the_token_travels_only_in_the_sensitive_header() {
    let fake = FakeGitLab::start().await.unwrap();
    let project = agent_client(&fake).project(WIDGETS).await.unwrap();
    assert_eq!(project.path_with_namespace, WIDGETS);
    let request = fake.requests_to("GET /projects/*").pop().unwrap();
    assert_eq!(request.path, "/api/v4/projects/acme%2Fwidgets");
    assert_eq!(request.header("private-token"), Some(fake.agent_token().as_str()));
    assert!(request.header("user-agent").is_some_and(|agent| agent.starts_with("copilot-runner/")));
}

#[tokio::test]
async fn a_note_is_never_posted_twice_after_an_ambiguous_failure() {
    let fake = FakeGitLab::start().await.unwrap();
    let client = agent_client(&fake);
    let route = "POST /projects/*/issues/*/notes";

    // The write lands, then the connection drops: the client finds its note instead of posting again.
    let index = fake.inject(Fault::on("POST", "/projects/*/issues/*/notes").apply_then_reset().times(1));
    let note = client.create_note(WIDGETS, Noteable::Issue(ISSUE), "Working on it.").await.unwrap();
    assert_eq!(fake.fault_hits(index), 1);
    let stored: Vec<_> =
        fake.issue_notes(WIDGETS, ISSUE).into_iter().filter(|n| n.body.starts_with("Working on it.")).collect();
    assert_eq!(stored.len(), 1, "one note, however many attempts");
    assert_eq!(stored[0].id, note.id);
    assert_eq!(fake.requests_to(route).len(), 1);
    assert!(copilot_runner::gitlab::marker::op_id_in(&note.body).is_some());

    // The write does not land: the client posts again, once.
    fake.clear_faults();
    fake.clear_requests();
    fake.inject(Fault::on("POST", "/projects/*/issues/*/notes").reset().times(1));
    let note = client.create_note(WIDGETS, Noteable::Issue(ISSUE), "Second note.").await.unwrap();
    let stored: Vec<_> =
        fake.issue_notes(WIDGETS, ISSUE).into_iter().filter(|n| n.body.starts_with("Second note.")).collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, note.id);
    assert_eq!(fake.requests_to(route).len(), 2);

    // A 502 after the write may have landed: the same check happens.
    fake.clear_faults();
    fake.clear_requests();
    fake.inject(Fault::on("POST", "/projects/*/issues/*/notes").status(502).times(1));
    client.create_note(WIDGETS, Noteable::Issue(ISSUE), "Third note.").await.unwrap();
    assert_eq!(fake.issue_notes(WIDGETS, ISSUE).iter().filter(|n| n.body.starts_with("Third note.")).count(), 1);

    // Editing is a PUT of the whole body and is simply retried.
    fake.inject(Fault::on("PUT", "/projects/*/issues/*/notes/*").reset().times(1));
    let edited = client.edit_note(WIDGETS, Noteable::Issue(ISSUE), note.id, "Second note, edited.").await.unwrap();
    assert_eq!(edited.body, "Second note, edited.");
    assert_eq!(fake.note(note.id).unwrap().body, "Second note, edited.");
}

#[tokio::test]
async fn an_award_that_landed_before_the_connection_dropped_counts_as_ours() {
    let fake = FakeGitLab::start().await.unwrap();
    let client = agent_client(&fake);
    fake.inject(Fault::on("POST", "/projects/*/issues/*/award_emoji").apply_then_reset().times(1));
    let outcome = client.award_emoji(WIDGETS, Awardable::Issue(ISSUE), "eyes").await.unwrap();
    assert_eq!(outcome, AwardOutcome::Awarded(None));
    assert_eq!(fake.issue_awards(WIDGETS, ISSUE), [("eyes".to_owned(), AGENT.to_owned())]);

    // A plain second award is the test-and-set saying someone was first.
    let outcome = client.award_emoji(WIDGETS, Awardable::Issue(ISSUE), "eyes").await.unwrap();
    assert_eq!(outcome, AwardOutcome::AlreadyAwarded);

    let note_id = fake.add_issue_note(WIDGETS, ISSUE, "alice", "@copilot-agent please look");
    let on_note = Awardable::Note { on: Noteable::Issue(ISSUE), note_id };
    let AwardOutcome::Awarded(Some(award)) = client.award_emoji(WIDGETS, on_note, "eyes").await.unwrap() else {
        panic!("expected a fresh award");
    };
    assert_eq!((award.name.as_str(), award.user.username.as_str()), ("eyes", AGENT));
    assert_eq!(fake.note_awards(note_id), [("eyes".to_owned(), AGENT.to_owned())]);
}

#[tokio::test]
async fn a_trigger_is_not_repeated_after_an_ambiguous_failure_and_its_token_stays_out_of_the_url() {
    let fake = FakeGitLab::start().await.unwrap();
    let client = agent_client(&fake);
    let token = SecretString::from(AGENT_TRIGGER.to_owned());
    let variables =
        TriggerParameters::Inputs(BTreeMap::from([("trigger_type".to_owned(), "issue_assignee".to_owned())]));
    let route = "POST /projects/*/trigger/pipeline";

    fake.inject(Fault::on("POST", "/projects/*/trigger/pipeline").status(502).times(1));
    let error = client.trigger_pipeline(AGENT_PROJECT, &token, "main", &variables).await.unwrap_err();
    assert!(matches!(error, Error::Status { code: 502, attempts: 1, .. }), "{error}");
    assert_eq!(fake.requests_to(route).len(), 1);

    // A 429 means GitLab did not act: that is retried.
    fake.clear_faults();
    fake.clear_requests();
    fake.inject(Fault::on("POST", "/projects/*/trigger/pipeline").status(429).times(1));
    let pipeline = client.trigger_pipeline(AGENT_PROJECT, &token, "main", &variables).await.unwrap();
    assert_eq!(pipeline.source.as_deref(), Some("trigger"));
    let sent = fake.requests_to(route);
    assert_eq!(sent.len(), 2);
    for request in &sent {
        assert!(!request.query.as_deref().unwrap_or("").contains(AGENT_TRIGGER), "token in the URL");
        assert!(!request.path.contains(AGENT_TRIGGER));
        assert!(request.body.contains(&format!("token={AGENT_TRIGGER}")), "{}", request.body);
    }
    let calls = fake.trigger_calls();
    assert_eq!(calls.len(), 1, "exactly one pipeline was started");
}

#[tokio::test]
async fn trigger_inputs_travel_as_form_fields_and_gitlab_refuses_what_the_project_does_not_allow() {
    let fake = FakeGitLab::start().await.unwrap();
    let client = agent_client(&fake);
    let token = SecretString::from(AGENT_TRIGGER.to_owned());
    let inputs = BTreeMap::from([
        ("trigger_type".to_owned(), "issue_note".to_owned()),
        ("target_note_id".to_owned(), "12".to_owned()),
    ]);
    let pipeline = client
        .trigger_pipeline(AGENT_PROJECT, &token, "main", &TriggerParameters::Inputs(inputs.clone()))
        .await
        .unwrap();
    let sent = fake.requests_to("POST /projects/*/trigger/pipeline");
    assert!(
        sent[0].body.contains("inputs%5Btrigger_type%5D=issue_note"),
        "form-encoded `inputs[name]`: {}",
        sent[0].body
    );
    let calls = fake.trigger_calls();
    assert_eq!(calls[0].pipeline_id, pipeline.id);
    assert_eq!(calls[0].inputs, inputs.into_iter().collect::<Vec<_>>());
    assert!(calls[0].variables.is_empty());
    assert!(client.pipeline_variables(AGENT_PROJECT, pipeline.id).await.unwrap().is_empty(), "inputs are no variables");

    // An input the project's `spec:inputs` does not declare.
    let unknown = TriggerParameters::Inputs(BTreeMap::from([("gitlab_api_base".to_owned(), "https://x".to_owned())]));
    let error = client.trigger_pipeline(AGENT_PROJECT, &token, "main", &unknown).await.unwrap_err();
    assert!(error.to_string().contains("unknown input arguments: gitlab_api_base"), "{error}");
    // Variables, which the agent project refuses (`no_one_allowed`); allowed for Developers, they pass.
    let variables = TriggerParameters::Variables(BTreeMap::from([("TRIGGER_TYPE".to_owned(), "mr_note".to_owned())]));
    let error = client.trigger_pipeline(AGENT_PROJECT, &token, "main", &variables).await.unwrap_err();
    assert!(error.to_string().contains("Insufficient permissions to set pipeline variables"), "{error}");
    fake.set_pipeline_variables_role(AGENT_PROJECT, "developer");
    let pipeline = client.trigger_pipeline(AGENT_PROJECT, &token, "main", &variables).await.unwrap();
    let listed = client.pipeline_variables(AGENT_PROJECT, pipeline.id).await.unwrap();
    assert_eq!((listed[0].key.as_str(), listed[0].value.as_str()), ("TRIGGER_TYPE", "mr_note"));
    assert_eq!(fake.trigger_calls().len(), 2, "the refused calls started nothing");
}

#[tokio::test]
async fn job_lists_filter_by_scope_and_a_large_trace_streams() {
    let fake = FakeGitLab::start().await.unwrap();
    let client = agent_client(&fake);
    let token = SecretString::from(AGENT_TRIGGER.to_owned());
    let pipeline = client.trigger_pipeline(AGENT_PROJECT, &token, "main", &issue_note_inputs()).await.unwrap();
    let jobs = client.pipeline_jobs(AGENT_PROJECT, pipeline.id, &[], false).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let line = "error[E0425]: cannot find value `x` in this scope\n";
    let trace = line.repeat(200_000); // about 10 MB
    fake.set_job(jobs[0].id, "failed", Some(&trace), Some("script_failure"));

    let failed = client.pipeline_jobs(AGENT_PROJECT, pipeline.id, &[Status::Failed], true).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].failure_reason.as_deref(), Some("script_failure"));
    assert!(client.pipeline_jobs(AGENT_PROJECT, pipeline.id, &[Status::Success], false).await.unwrap().is_empty());

    let mut reader = client.job_trace(AGENT_PROJECT, jobs[0].id).await.unwrap().into_async_read();
    let mut read = Vec::new();
    reader.read_to_end(&mut read).await.unwrap();
    assert_eq!(read.len(), trace.len());
    assert!(read == trace.as_bytes());

    let status = client.pipeline(AGENT_PROJECT, pipeline.id).await.unwrap().status;
    assert!(status.is_terminal(), "{status}");
}

#[tokio::test]
async fn a_merge_request_and_its_review_threads_are_created_once() {
    let fake = FakeGitLab::start().await.unwrap();
    let client = agent_client(&fake);
    let branch = "copilot/issue-1";
    fake.inject(Fault::on("POST", "/projects/*/repository/branches").apply_then_reset().times(1));
    let created = client.create_branch(WIDGETS, branch, "main").await.unwrap();
    assert_eq!(created.name, branch);
    assert_eq!(fake.requests_to("POST /projects/*/repository/branches").len(), 1, "found, not created again");
    assert_eq!(client.branch(WIDGETS, branch).await.unwrap().unwrap().commit.id, created.commit.id);
    fake.push_files(WIDGETS, branch, &[("src/greet.rs", Some("pub fn greet() {}\n"))], "Add greet", AGENT)
        .await
        .unwrap();

    fake.inject(Fault::on("POST", "/projects/*/merge_requests").apply_then_reset().times(1));
    let new = NewMergeRequest {
        source_branch: branch.to_owned(),
        target_branch: "main".to_owned(),
        title: "Add a greeting function".to_owned(),
        description: Some("Closes #1".to_owned()),
        draft: true,
        reviewer_ids: vec![fake.user_id("alice")],
        labels: vec!["copilot".to_owned()],
        ..NewMergeRequest::default()
    };
    let mr = client.create_merge_request(WIDGETS, &new).await.unwrap();
    assert_eq!(fake.merge_requests(WIDGETS).len(), 1, "one MR, however many attempts");
    assert_eq!(fake.requests_to("POST /projects/*/merge_requests").len(), 1);
    assert!(mr.is_draft() && mr.title.starts_with("Draft: "), "{}", mr.title);
    assert_eq!(mr.reviewers.iter().map(|user| user.username.as_str()).collect::<Vec<_>>(), ["alice"]);
    let found = client.merge_requests_by_source_branch(WIDGETS, branch, Some("opened")).await.unwrap();
    assert_eq!(found.iter().map(|found| found.iid).collect::<Vec<_>>(), [mr.iid]);

    let versions = client.merge_request_versions(WIDGETS, mr.iid).await.unwrap();
    let refs = versions[0].diff_refs();
    let diffs = client.merge_request_diffs(WIDGETS, mr.iid).await.unwrap();
    assert!(diffs.iter().any(|diff| diff.new_path == "src/greet.rs" && diff.new_file));

    let line_code = format!("{}_0_1", sha1_hex("src/greet.rs"));
    let point = LinePoint { line_code, line_type: Some("new".to_owned()), old_line: None, new_line: Some(1) };
    let position = Position {
        base_sha: refs.base_sha,
        start_sha: refs.start_sha,
        head_sha: refs.head_sha,
        position_type: "text".to_owned(),
        old_path: Some("src/greet.rs".to_owned()),
        new_path: Some("src/greet.rs".to_owned()),
        old_line: None,
        new_line: Some(1),
        line_range: Some(LineRange { start: point.clone(), end: point }),
    };
    fake.inject(Fault::on("POST", "/projects/*/merge_requests/*/discussions").apply_then_reset().times(1));
    let thread = client.create_diff_discussion(WIDGETS, mr.iid, "Add a doc comment.", &position).await.unwrap();
    let threads = fake.discussions(WIDGETS, mr.iid);
    // GitLab's own system notes (reviewers set, commits added) are threads too; count ours.
    let ours = threads.iter().filter(|(_, notes)| notes.iter().all(|note| !note.system)).count();
    assert_eq!(ours, 1, "one thread, however many attempts");
    assert_eq!(thread.notes[0].position.as_ref().and_then(|p| p.new_line), Some(1));

    fake.inject(Fault::on("POST", "/projects/*/merge_requests/*/discussions/*/notes").apply_then_reset().times(1));
    let reply = client.reply_to_discussion(WIDGETS, mr.iid, &thread.id, "Done.").await.unwrap();
    let threads = client.merge_request_discussions(WIDGETS, mr.iid).await.unwrap();
    let threads: Vec<_> = threads.into_iter().filter(|thread| thread.notes.iter().all(|note| !note.system)).collect();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].notes.iter().map(|note| note.id).collect::<Vec<_>>(), [thread.notes[0].id, reply.id]);

    // A draft whose answer was lost is found among the agent's drafts, not made again; a bulk
    // publish whose answer was lost is sent again and publishes nothing twice.
    fake.inject(Fault::on("POST", "/projects/*/merge_requests/*/draft_notes").apply_then_reset().times(1));
    let draft = client.create_draft_note(WIDGETS, mr.iid, "Name the greeting.", &position).await.unwrap();
    assert_eq!(fake.requests_to("POST /projects/*/merge_requests/*/draft_notes").len(), 1, "found, not made again");
    let drafts = client.draft_notes(WIDGETS, mr.iid).await.unwrap();
    assert_eq!(drafts.iter().map(|draft| draft.id).collect::<Vec<_>>(), [draft.id]);
    assert_eq!(draft.position.as_ref().and_then(|position| position.new_line), Some(1));
    let publish = Fault::on("POST", "/projects/*/merge_requests/*/draft_notes/bulk_publish");
    fake.inject(publish.apply_then_reset().times(1));
    client.bulk_publish_draft_notes(WIDGETS, mr.iid).await.unwrap();
    assert_eq!(fake.requests_to("POST /projects/*/merge_requests/*/draft_notes/bulk_publish").len(), 2);
    assert!(client.draft_notes(WIDGETS, mr.iid).await.unwrap().is_empty());
    let threads = fake.discussions(WIDGETS, mr.iid);
    let published: Vec<_> =
        threads.iter().filter(|(_, notes)| notes[0].body.starts_with("Name the greeting.")).collect();
    assert_eq!(published.len(), 1, "published once");
    // Deleting a draft that is already gone counts as deleted.
    client.delete_draft_note(WIDGETS, mr.iid, draft.id).await.unwrap();
}

fn sha1_hex(text: &str) -> String {
    use sha1::Digest as _;
    hex::encode(sha1::Sha1::digest(text.as_bytes()))
}

/// Captured log output for one test.
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn request_logs_name_method_path_status_and_attempt_but_never_a_token() {
    let fake = FakeGitLab::start().await.unwrap();
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = agent_client(&fake);
    fake.inject(Fault::on("GET", "/projects/*").status(502).times(1));
    client.project(WIDGETS).await.unwrap();
    let token = SecretString::from(AGENT_TRIGGER.to_owned());
    client.trigger_pipeline(AGENT_PROJECT, &token, "main", &issue_note_inputs()).await.unwrap();

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("method=GET") && text.contains("path=/api/v4/projects/acme%2Fwidgets"), "{text}");
    assert!(text.contains("status=502") && text.contains("attempt=2"), "{text}");
    assert!(!text.contains(&fake.agent_token()), "the GitLab token was logged:\n{text}");
    assert!(!text.contains(AGENT_TRIGGER), "the trigger token was logged:\n{text}");
}

/// A trigger the agent project's `workflow:rules` let through (they filter out one without a
/// `trigger_type`).
fn issue_note_inputs() -> TriggerParameters {
    TriggerParameters::Inputs(BTreeMap::from([("trigger_type".to_owned(), "issue_note".to_owned())]))
}
