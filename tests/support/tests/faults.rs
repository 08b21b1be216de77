//! Fault injection per route works for each kind — error status with GitLab's headers and body,
//! delay, reset without a response, and a write applied before the connection drops — and the
//! request log shows what the client sent.

mod common;

use std::time::{Duration, Instant};

use common::{as_user, status_json};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::Fault;

const NOTES: &str = "/projects/acme%2Fwidgets/issues/1/notes";

#[tokio::test]
async fn a_429_fault_carries_retry_after_and_gitlabs_plain_body_for_the_first_calls_only() {
    let fake = FakeGitLab::start().await.unwrap();
    let rule = fake.inject(Fault::on("POST", "/projects/*/issues/*/notes").status(429).retry_after(7).times(2));
    let agent = as_user(&fake, "copilot-agent");
    for _ in 0..2 {
        let response = agent.post_form(NOTES, &[("body", "hi")]).await;
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers().get("retry-after").unwrap(), "7");
        assert_eq!(response.text().await.unwrap(), "Retry later\n");
    }
    assert_eq!(agent.post_form(NOTES, &[("body", "hi")]).await.status(), 201);
    // Other routes and methods are untouched.
    assert_eq!(agent.get(NOTES).await.status(), 200);
    assert_eq!(fake.fault_hits(rule), 2);
    assert_eq!(fake.issue_notes("acme/widgets", 1).len(), 1);

    let log = fake.requests_to("POST /projects/*/issues/*/notes");
    assert_eq!(log.len(), 3);
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [Some(429), Some(429), Some(201)]);
    assert_eq!(log[0].fault.as_deref(), Some("status 429"));
    assert_eq!(log[0].header("private-token"), Some(fake.agent_token().as_str()));
    assert_eq!(log[0].body, "body=hi");
}

#[tokio::test]
async fn server_errors_use_gitlab_json_bodies_and_rate_limit_headers() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.inject(Fault::on("GET", "/user").status(503).rate_limit_reset(1_900_000_000).times(1));
    let agent = as_user(&fake, "copilot-agent");
    let response = agent.get("/user").await;
    assert_eq!(response.headers().get("ratelimit-reset").unwrap(), "1900000000");
    let (status, body) = status_json(response).await;
    assert_eq!((status, body), (503, serde_json::json!({"message": "503 Service Unavailable"})));
    assert_eq!(agent.get("/user").await.status(), 200);
}

#[tokio::test]
async fn a_delay_fault_holds_the_answer_back() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.inject(Fault::on("GET", "/user").delay(Duration::from_millis(300)).times(1));
    let agent = as_user(&fake, "copilot-agent");
    let started = Instant::now();
    assert_eq!(agent.get("/user").await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_reset_drops_the_connection_and_applies_nothing() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.inject(Fault::on("POST", "/projects/*/issues/*/notes").reset().times(1));
    let agent = as_user(&fake, "copilot-agent");
    let error = agent.request(reqwest::Method::POST, NOTES).form(&[("body", "hi")]).send().await.unwrap_err();
    assert!(error.status().is_none(), "no HTTP status for a dropped connection: {error}");
    assert!(fake.issue_notes("acme/widgets", 1).is_empty());
    assert_eq!(fake.requests_to("POST /projects/*/issues/*/notes")[0].status, None);
}

#[tokio::test]
async fn apply_then_reset_performs_the_write_but_the_client_never_hears_of_it() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.inject(Fault::on("POST", "/projects/*/issues/*/notes").apply_then_reset().times(1));
    let agent = as_user(&fake, "copilot-agent");
    let outcome = agent.request(reqwest::Method::POST, NOTES).form(&[("body", "ambiguous")]).send().await;
    assert!(outcome.is_err(), "the client sees a failure");
    let notes = fake.issue_notes("acme/widgets", 1);
    assert_eq!(notes.len(), 1, "the note was created anyway");
    assert_eq!(notes[0].body, "ambiguous");
}

#[tokio::test]
async fn a_fractional_fault_hits_an_even_deterministic_share_of_calls() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.inject(Fault::on("*", "/user").status(502).fraction(0.5));
    let agent = as_user(&fake, "copilot-agent");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(agent.get("/user").await.status().as_u16());
    }
    assert_eq!(statuses, [200, 502, 200, 502]);
    fake.clear_faults();
    assert_eq!(agent.get("/user").await.status(), 200);
}
