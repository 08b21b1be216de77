//! Signed webhooks (Standard Webhooks, as GitLab sends them with a signing token): with a
//! signing secret set, only deliveries signed with it, at most five minutes old, get through,
//! and the `X-Gitlab-Token` check still applies.

use super::harness::{Delivery, Instance, deliver, now, signing_secret};
use super::payloads::fixture;
use copilot_runner_testkit::fake_gitlab::FakeGitLab;

const SIGNING_KEY: &[u8] = b"the hook's signing key, 32 bytes";

async fn signed_instance(fake: &FakeGitLab) -> Instance {
    Instance::start_with(fake, &[("WEBHOOK_SIGNING_SECRET", signing_secret(SIGNING_KEY))], |_| {}).await
}

#[tokio::test]
async fn a_delivery_signed_with_the_signing_secret_is_accepted() {
    let fake = FakeGitLab::start().await.expect("fake");
    let service = signed_instance(&fake).await;
    let delivery = Delivery::new("Push Hook", &fixture("push.json")).signed(SIGNING_KEY, now());
    let answer = deliver(&service.url, &delivery).await;
    assert_eq!((answer.status, answer.outcome()), (200, "ignored"), "{:?}", answer.body);
}

#[tokio::test]
async fn unsigned_tampered_or_foreign_signatures_are_rejected() {
    let fake = FakeGitLab::start().await.expect("fake");
    let service = signed_instance(&fake).await;
    let push = fixture("push.json");

    let unsigned = Delivery::new("Push Hook", &push);
    let mut tampered = Delivery::new("Push Hook", &push).signed(SIGNING_KEY, now());
    tampered.body.extend_from_slice(b" ");
    let foreign = Delivery::new("Push Hook", &push).signed(b"somebody else's key", now());
    for (what, delivery, reason) in [
        ("unsigned", unsigned, "missing `webhook-id` header"),
        ("tampered", tampered, "no `v1` signature"),
        ("foreign key", foreign, "no `v1` signature"),
    ] {
        let answer = deliver(&service.url, &delivery).await;
        assert_eq!((answer.status, answer.outcome()), (401, "rejected"), "{what}: {:?}", answer.body);
        let shown = answer.body["reason"].as_str().unwrap_or_default();
        assert!(shown.contains(reason), "{what}: {shown}");
    }
    assert!(fake.requests().is_empty(), "a rejected delivery costs GitLab nothing");
}

#[tokio::test]
async fn a_signature_more_than_five_minutes_off_is_rejected_as_a_replay() {
    let fake = FakeGitLab::start().await.expect("fake");
    let service = signed_instance(&fake).await;
    let push = fixture("push.json");
    for timestamp in [now() - 400, now() + 400] {
        let answer = deliver(&service.url, &Delivery::new("Push Hook", &push).signed(SIGNING_KEY, timestamp)).await;
        assert_eq!((answer.status, answer.outcome()), (401, "rejected"), "{timestamp}: {:?}", answer.body);
        assert!(
            answer.body["reason"].as_str().unwrap_or_default().contains("away from our clock"),
            "{:?}",
            answer.body
        );
    }
    let recent = Delivery::new("Push Hook", &push).signed(SIGNING_KEY, now() - 200);
    assert_eq!(deliver(&service.url, &recent).await.status, 200, "within five minutes");
}

#[tokio::test]
async fn a_valid_signature_does_not_replace_the_secret_token() {
    let fake = FakeGitLab::start().await.expect("fake");
    let service = signed_instance(&fake).await;
    let delivery =
        Delivery::new("Push Hook", &fixture("push.json")).with_token(Some("wrong")).signed(SIGNING_KEY, now());
    let answer = deliver(&service.url, &delivery).await;
    assert_eq!((answer.status, answer.outcome()), (401, "rejected"), "{:?}", answer.body);
}

#[test]
fn serve_refuses_a_signing_secret_that_is_not_base64_after_whsec() {
    let output = super::harness::serve_that_exits(&[
        ("GITLAB_TOKEN", "glpat-some-token-value"),
        ("WEBHOOK_SECRET_TOKEN", "some-secret-token"),
        ("WEBHOOK_SIGNING_SECRET", "whsec_not*base64!"),
        ("PIPELINE_PROJECT_ID", "7"),
        ("PIPELINE_TRIGGER_TOKEN", "glptt-some-trigger"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`WEBHOOK_SIGNING_SECRET` cannot be used"), "{stderr}");
    assert!(!stderr.contains("not*base64"), "the secret is not shown: {stderr}");
}
