//! The client's webhook and runner calls against the fake GitLab: a hook added with our
//! triggers and a write-only token, edited, tested (delivered, refused by the receiver,
//! unreachable) with the receiver's status in the delivery log, group hooks refused on GitLab
//! Free, a hook add that is not repeated after an ambiguous failure, and runners found by tag
//! and status.

use copilot_runner::gitlab::{Client, Error, HookEvents, HookParent, HookSpec, ProjectId, RunnerFilter, TestDelivery};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::{Fault, HookSeed, RunnerSeed, access};
use secrecy::SecretString;

const WIDGETS: &str = "acme/widgets";
const AGENT_PROJECT: &str = "acme/copilot-agent";

fn client_as(fake: &FakeGitLab, username: &str) -> Client {
    Client::new(&fake.api_url(), &SecretString::from(fake.token(username))).expect("a client")
}

fn widgets() -> HookParent {
    HookParent::Project(ProjectId::from(WIDGETS))
}

/// A receiver that answers 200 to `secret` in `X-Gitlab-Token` and 401 otherwise.
async fn receiver(secret: &'static str) -> String {
    let app = axum::Router::new().route(
        "/webhook",
        axum::routing::post(move |headers: axum::http::HeaderMap| async move {
            if headers.get("x-gitlab-token").is_some_and(|token| token == secret) {
                (axum::http::StatusCode::OK, r#"{"status":"ignored","reason":"push"}"#)
            } else {
                (axum::http::StatusCode::UNAUTHORIZED, r#"{"status":"rejected","reason":"invalid X-Gitlab-Token"}"#)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/webhook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    url
}

#[tokio::test]
async fn a_hook_is_added_tested_and_its_delivery_log_shows_the_receivers_status() {
    let fake = FakeGitLab::start().await.unwrap();
    let url = receiver("right-secret").await;
    let maria = client_as(&fake, "maria");
    let spec = HookSpec {
        url: url.clone(),
        token: Some(SecretString::from("right-secret")),
        events: HookEvents::copilot_runner(),
        enable_ssl_verification: true,
    };
    let hook = maria.create_hook(&widgets(), &spec).await.unwrap();
    assert_eq!((hook.url.as_str(), hook.events.clone()), (url.as_str(), HookEvents::copilot_runner()));
    assert_eq!(fake.hook(hook.id).unwrap().token.as_deref(), Some("right-secret"), "the token was set");
    assert_eq!(maria.hooks(&widgets()).await.unwrap(), vec![hook.clone()]);

    let delivered = maria.test_hook(&widgets(), hook.id, "push_events").await.unwrap();
    assert_eq!(delivered, TestDelivery::Delivered);

    fake.set_hook_token(hook.id, Some("stale-secret"));
    let refused = maria.test_hook(&widgets(), hook.id, "push_events").await.unwrap();
    let TestDelivery::Failed { message } = refused else { panic!("the receiver refused the token") };
    assert!(message.contains("invalid X-Gitlab-Token"), "{message}");
    let log = maria.hook_events(&widgets(), hook.id).await.unwrap();
    assert_eq!(log.iter().map(|e| e.response_status.as_str()).collect::<Vec<_>>(), ["401", "200"]);

    // Editing puts the token right again.
    let edited = maria.update_hook(&widgets(), hook.id, &spec).await.unwrap();
    assert_eq!(edited.id, hook.id);
    assert_eq!(maria.test_hook(&widgets(), hook.id, "push_events").await.unwrap(), TestDelivery::Delivered);

    maria.delete_hook(&widgets(), hook.id).await.unwrap();
    maria.delete_hook(&widgets(), hook.id).await.unwrap();
    assert!(maria.hooks(&widgets()).await.unwrap().is_empty());
    let error = client_as(&fake, "alice").hooks(&widgets()).await.unwrap_err();
    assert!(matches!(error, Error::Forbidden { .. }), "a Developer cannot read hooks: {error}");
}

#[tokio::test]
async fn adding_a_hook_is_not_repeated_after_an_ambiguous_failure() {
    let fake = FakeGitLab::start().await.unwrap();
    let maria = client_as(&fake, "maria");
    let spec = HookSpec {
        url: "https://runner.example/webhook".to_owned(),
        token: None,
        events: HookEvents::copilot_runner(),
        enable_ssl_verification: true,
    };
    fake.inject(Fault::on("POST", "/projects/*/hooks").apply_then_reset().times(1));
    let hook = maria.create_hook(&widgets(), &spec).await.unwrap();
    assert_eq!(fake.project_hooks(WIDGETS).len(), 1, "exactly one hook");
    assert_eq!(fake.project_hooks(WIDGETS)[0].id, hook.id);
}

#[tokio::test]
async fn group_hooks_are_read_by_owners_and_refused_on_gitlab_free() {
    let fake = FakeGitLab::start().await.unwrap();
    fake.set_group_access("acme", "maria", access::OWNER);
    fake.add_group_hook("acme", HookSeed::copilot_runner("https://runner.example/webhook", "s"));
    let maria = client_as(&fake, "maria");
    let project = maria.project(WIDGETS).await.unwrap();
    let namespace = project.namespace.expect("a namespace");
    assert_eq!((namespace.kind.as_str(), namespace.full_path.as_str()), ("group", "acme"));
    let group = HookParent::Group(ProjectId::from(namespace.id));
    let hooks = maria.hooks(&group).await.unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].group_id, Some(namespace.id));
    assert!(hooks[0].events.missing(&HookEvents::copilot_runner()).is_empty());

    fake.set_group_webhooks_licensed("acme", false);
    let error = maria.hooks(&group).await.unwrap_err();
    assert!(matches!(error, Error::Forbidden { .. }), "{error}");
}

#[tokio::test]
async fn runners_are_found_by_tag_and_status() {
    let fake = FakeGitLab::start().await.unwrap();
    let runner = fake.add_runner(RunnerSeed::project(AGENT_PROJECT, &["copilot-agent"]));
    fake.add_runner(RunnerSeed::instance(&[]));
    let agent = client_as(&fake, "copilot-agent");
    let online =
        RunnerFilter { tags: vec!["copilot-agent".to_owned()], status: Some("online".to_owned()), paused: Some(false) };
    let found = agent.project_runners(AGENT_PROJECT, &online).await.unwrap();
    assert_eq!(found.iter().map(|r| r.id).collect::<Vec<_>>(), [runner]);
    assert!(found[0].is_online() && !found[0].is_paused());

    fake.set_runner_online(runner, false);
    assert!(agent.project_runners(AGENT_PROJECT, &online).await.unwrap().is_empty());
    let tagged = RunnerFilter { tags: vec!["copilot-agent".to_owned()], ..RunnerFilter::default() };
    let offline = agent.project_runners(AGENT_PROJECT, &tagged).await.unwrap();
    assert!(!offline[0].is_online());
    assert_eq!(agent.project_runners(AGENT_PROJECT, &RunnerFilter::default()).await.unwrap().len(), 2);
    assert_eq!(agent.owned_runners(&RunnerFilter::default()).await.unwrap().len(), 1);
}
