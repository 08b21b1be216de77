//! A GitLab and a model endpoint behind a private certificate authority: with
//! `COPILOT_CA_BUNDLE` naming that CA, every connection of the job trusts it (the REST client,
//! gix's clone, the `git` CLI's push, the Copilot CLI's model calls) and the assignment opens its
//! Draft MR; without it, the same job stops at the first connection and says why.

use std::path::Path;

use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::tls_front::TlsFront;

use super::rig::{PROJECT, Rig, greeting_script};

#[tokio::test]
async fn a_private_ca_bundle_is_trusted_by_the_api_git_and_the_copilot_cli() {
    let mut rig = Rig::start(greeting_script).await;
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    let gitlab_front = TlsFront::start(&tls, rig.gitlab.addr()).await.unwrap();
    let model_front = TlsFront::start(&tls, rig.model.addr()).await.unwrap();
    // The fake renders its links and clone URLs with the front's address, as GitLab does behind a
    // proxy that terminates TLS: the clone and the push go through the front too.
    rig.gitlab.set_external_url(&gitlab_front.url());
    rig.job
        .set("GITLAB_API_BASE", gitlab_front.url())
        .set("CI_SERVER_URL", gitlab_front.url())
        .set("COPILOT_PROVIDER_BASE_URL", format!("{}/v1", model_front.url()));
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.\n");
    rig.assign(iid, "alice");

    // Without the bundle: the certificate is not trusted, and the job says so.
    let refused = rig.run().await;
    let stderr = text(&refused.stderr);
    assert_ne!(refused.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("invalid peer certificate"), "the error names the certificate: {stderr}");
    assert!(stderr.contains("set `COPILOT_CA_BUNDLE`"), "and the fix: {stderr}");
    assert!(stderr.contains("after 1 attempt(s)"), "an untrusted certificate is not retried: {stderr}");
    assert!(rig.gitlab.merge_requests(PROJECT).is_empty());
    assert!(rig.model.requests().is_empty(), "no model call without a trusted GitLab");

    // With it: the whole job runs through both fronts.
    rig.job.set("COPILOT_CA_BUNDLE", tls.join("ca.pem").display().to_string());
    let out = rig.run().await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let branch = format!("copilot/issue-{iid}");
    let mrs = rig.gitlab.merge_requests(PROJECT);
    assert_eq!(mrs.len(), 1, "{mrs:?}\n{stderr}");
    assert_eq!(mrs[0].source_branch, branch);
    // Pushed by the `git` CLI through the front, written by the Copilot CLI after its model calls
    // through the other front.
    assert_eq!(rig.gitlab.read_file(PROJECT, &branch, "greeting.txt").await.as_deref(), Some("hello\n"));
    assert!(!rig.model.requests().is_empty());
}
