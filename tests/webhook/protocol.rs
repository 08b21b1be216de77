//! The HTTP contract with GitLab and with the cluster: token check, body limit, malformed and
//! uninteresting payloads, health, readiness, metrics, startup refusal and graceful shutdown.

use std::time::Duration;

use copilot_runner_testkit::fake_gitlab::{FakeGitLab, Fault};
use serde_json::json;

use super::harness::{DEADLINE, Delivery, Instance, deliver, http, rig, triggered};
use super::payloads::{self, every_fixture, fixture};

#[tokio::test]
async fn every_real_fixture_is_answered_200_and_starts_nothing() {
    let (fake, service) = rig().await;
    for (name, hook) in every_fixture() {
        let answer = deliver(&service.url, &Delivery::new(hook, &fixture(name))).await;
        assert_eq!(answer.status, 200, "{name}: {:?}", answer.body);
        assert_eq!(answer.outcome(), "ignored", "{name}: {:?}", answer.body);
    }
    let reasons: Vec<String> = every_fixture().iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(reasons.len(), 16);
    assert!(triggered(&fake).is_empty(), "no fixture as delivered asks the agent for anything");
    assert!(fake.requests_to("POST /projects/**/award_emoji").is_empty());
}

#[tokio::test]
async fn wrong_or_missing_token_is_401_and_touches_nothing() {
    let (fake, service) = rig().await;
    let payload = payloads::issue_note(&fake, "alice", 1, 1, "@copilot-agent go");
    for token in [None, Some(""), Some("whsec-test-0123456789abcdeX"), Some("whsec-test")] {
        let answer = deliver(&service.url, &Delivery::new("Note Hook", &payload).with_token(token)).await;
        assert_eq!(answer.status, 401, "{token:?}");
        assert_eq!(answer.outcome(), "rejected");
    }
    assert!(fake.requests().is_empty(), "a rejected delivery never reaches GitLab");
}

#[tokio::test]
async fn body_over_25_mb_is_413() {
    let (_fake, service) = rig().await;
    let mut body = br#"{"object_kind":"note","padding":""#.to_vec();
    body.resize(25 * 1024 * 1024 + 1, b'a');
    body.extend_from_slice(br#""}"#);
    let answer = deliver(&service.url, &Delivery::raw("Note Hook", body)).await;
    assert_eq!(answer.status, 413);
}

#[tokio::test]
async fn malformed_json_is_400_and_an_unknown_payload_is_ignored() {
    let (_fake, service) = rig().await;
    let answer = deliver(&service.url, &Delivery::raw("Note Hook", b"{\"object_kind\": \"note\",".to_vec())).await;
    assert_eq!((answer.status, answer.outcome()), (400, "invalid"));
    let answer =
        deliver(&service.url, &Delivery::raw("Note Hook", br#"{"object_kind":"note","user":{}}"#.to_vec())).await;
    assert_eq!((answer.status, answer.outcome()), (400, "invalid"), "a note without its fields");
    let answer = deliver(&service.url, &Delivery::new("Wiki Page Hook", &json!({"object_kind": "wiki_page"}))).await;
    assert_eq!((answer.status, answer.outcome()), (200, "ignored"));
    assert_eq!(answer.body["reason"], "uninteresting_kind");
}

#[tokio::test]
async fn healthz_readyz_and_metrics_answer() {
    let (fake, service) = rig().await;
    let client = http();
    let health = client.get(format!("{}/healthz", service.url)).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = client.get(format!("{}/readyz", service.url)).send().await.expect("readyz");
    assert_eq!(ready.status(), 200, "the agent token works against the fake");
    let ready_again = client.get(format!("{}/readyz", service.url)).send().await.expect("readyz");
    assert_eq!(ready_again.status(), 200);
    assert_eq!(fake.requests_to("GET /user").len(), 1, "readiness is cached");

    deliver(&service.url, &Delivery::new("Push Hook", &fixture("push.json"))).await;
    deliver(&service.url, &Delivery::new("Push Hook", &fixture("push.json")).with_token(Some("nope"))).await;
    let metrics = client.get(format!("{}/metrics", service.url)).send().await.expect("metrics");
    assert_eq!(metrics.status(), 200);
    assert!(metrics.headers()["content-type"].to_str().expect("type").starts_with("text/plain; version=0.0.4"));
    let text = metrics.text().await.expect("text");
    for line in [
        "copilot_webhook_events_total{kind=\"push\",decision=\"ignored\"} 1",
        "copilot_webhook_events_total{kind=\"none\",decision=\"rejected\"} 1",
        "copilot_webhook_ignored_total{reason=\"uninteresting_kind\"} 1",
        "copilot_webhook_request_duration_seconds_count 2",
    ] {
        assert!(text.lines().any(|candidate| candidate == line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn readyz_is_503_when_gitlab_refuses_the_token() {
    let (fake, service) = rig().await;
    fake.inject(Fault::on("GET", "/user").status(401));
    let ready = http().get(format!("{}/readyz", service.url)).send().await.expect("readyz");
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.expect("text").contains("401"), "the reason is shown");
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_trigger_finish() {
    let fake = FakeGitLab::start().await.expect("fake");
    // The same signal handler `serve` installs; nextest runs each test in its own process.
    let service = Instance::start_until(&fake, copilot_runner::webhook::server::shutdown_signal()).await;
    fake.inject(Fault::on("POST", "/projects/*/trigger/pipeline").delay(Duration::from_millis(700)));
    let note = super::harness::issue_note(&fake, "alice", 1, "@copilot-agent please start");
    let delivery =
        Delivery::new("Note Hook", &payloads::issue_note(&fake, "alice", 1, note, "@copilot-agent please start"));
    let url = service.url.clone();
    let in_flight = tokio::spawn(async move { deliver(&url, &delivery).await });
    fake.wait_for_request("POST /projects/*/trigger/pipeline", DEADLINE).await.expect("trigger under way");

    nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let answer = tokio::time::timeout(DEADLINE, in_flight).await.expect("answered in time").expect("task");
    assert_eq!((answer.status, answer.outcome()), (200, "triggered"), "{:?}", answer.body);
    service.join().await.expect("the server stops cleanly");
    assert_eq!(triggered(&fake).len(), 1);
}

#[test]
fn serve_refuses_to_start_without_the_webhook_secret() {
    let output = super::harness::serve_that_exits(&[
        ("GITLAB_TOKEN", "glpat-some-token-value"),
        ("PIPELINE_PROJECT_ID", "7"),
        ("PIPELINE_TRIGGER_TOKEN", "glptt-some-trigger"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`WEBHOOK_SECRET_TOKEN` is not set"), "{stderr}");
}
