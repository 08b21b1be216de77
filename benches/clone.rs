//! Clone benchmark: `Workspace::clone` (gix, depth 1) against `git clone --depth 1` of the same
//! 10k-file repository from the same fake GitLab (real `git http-backend` over smart HTTP),
//! alternating, in the same run, with the same token sent as an `Authorization` header.
//!
//! Run with `cargo bench --bench clone`; the result goes to BENCHMARKS.md under "Clone". The
//! numbers are medians: the machines are shared and noisy.
#![expect(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark runs real git, reads its environment and prints its result"
)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use copilot_runner::config::Env;
use copilot_runner::git::{GitCommand, Identity, Remote, Workspace};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::{AGENT, ProjectSeed, Seed, UserSeed, access};

const PROJECT: &str = "bench/large";
const FILES: usize = 10_000;
const ROUNDS: usize = 7;

#[tokio::main]
async fn main() {
    // `cargo nextest run --all-targets` asks every target for its tests; a benchmark has none.
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let project = ProjectSeed {
        members: [(AGENT.to_owned(), access::MAINTAINER)].into_iter().collect(),
        ..ProjectSeed::new(PROJECT)
    };
    let fake =
        FakeGitLab::start_with(Seed { users: vec![UserSeed::new(AGENT)], groups: Vec::new(), projects: vec![project] })
            .await
            .unwrap();
    let url = fake.git_url(PROJECT);
    let token = fake.agent_token();
    let header =
        format!("Authorization: Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("oauth2:{token}")));
    seed(&url, &header);
    let scratch = tempfile::tempdir().unwrap();

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for round in 0..=ROUNDS {
        let dest = scratch.path().join(format!("ours-{round}"));
        let started = Instant::now();
        let remote = Remote::new(&url, Some(token.clone().into())).unwrap();
        let identity = Identity { name: "bench".into(), email: "bench@example.com".into() };
        Workspace::clone(GitCommand::new(&Env::capture(), &dest, identity), remote, &dest, Some(1), None)
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert!(dest.join("src/module_099/file_9999.rs").exists());

        let baseline_dest = scratch.path().join(format!("git-{round}"));
        let started = Instant::now();
        let dest_arg = baseline_dest.to_str().unwrap();
        git(scratch.path(), &["clone", "-q", "--depth", "1", &url, dest_arg], &header);
        let baseline = started.elapsed();
        // Round 0 warms the server's and the file system's caches for both.
        if round > 0 {
            ours.push(elapsed);
            theirs.push(baseline);
        }
        std::fs::remove_dir_all(&dest).unwrap();
        std::fs::remove_dir_all(&baseline_dest).unwrap();
    }
    let (ours, theirs) = (median(&mut ours), median(&mut theirs));
    println!("files: {FILES}, rounds: {ROUNDS} after one warm-up, alternating");
    println!("Workspace::clone (gix, depth 1): median {:.0} ms", ours.as_secs_f64() * 1000.0);
    println!("git clone --depth 1:             median {:.0} ms", theirs.as_secs_f64() * 1000.0);
    println!("ratio: {:.2}x", ours.as_secs_f64() / theirs.as_secs_f64());
}

/// Pushes 10k source-like files in 100 directories in one commit, plus a second commit on top
/// so that depth 1 has history to cut.
fn seed(url: &str, header: &str) {
    let work = tempfile::tempdir().unwrap();
    git(work.path(), &["clone", "-q", url, "."], header);
    for index in 0..FILES {
        let dir = work.path().join(format!("src/module_{:03}", index % 100));
        std::fs::create_dir_all(&dir).unwrap();
        let body: String = (0..(10 + index % 40))
            .map(|line| format!("pub fn function_{index}_{line}(value: u64) -> u64 {{ value * {line} + {index} }}\n"))
            .collect();
        std::fs::write(dir.join(format!("file_{index}.rs")), body).unwrap();
    }
    git(work.path(), &["add", "--all"], header);
    git(work.path(), &["commit", "-q", "-m", "10k files"], header);
    std::fs::write(work.path().join("README.md"), "bench, second commit\n").unwrap();
    git(work.path(), &["commit", "-q", "-am", "second"], header);
    git(work.path(), &["push", "-q", "origin", "HEAD:refs/heads/main"], header);
}

fn git(dir: &Path, args: &[&str], header: &str) {
    let status = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "http.extraHeader")
        .env("GIT_CONFIG_VALUE_0", header)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?} failed");
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
