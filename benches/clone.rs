//! Clone benchmark: `Workspace::clone` (`git clone` through the hardened command, shallow, one
//! branch, no tags, the git dir beside the work tree) against plain `git clone --depth 1` of the
//! same repository from the same fake GitLab (real `git http-backend` over smart HTTP), with the
//! same token sent as an `Authorization` header, interleaved in the same run. Ours runs at depth 1
//! (what the workflows clone) and at the depth the context cache's level 2 looks at (the tip and
//! its 32 ancestors, which a job fetches afterwards only when the cache can use them), on a
//! repository of 10,000 and one of 100,000 files, each with 40 small commits of history on top.
//!
//! Run with `cargo bench --bench clone [-- FILES... [--rounds N]]`; the result goes to
//! BENCHMARKS.md under "Clone". The numbers are medians: the machines are shared and noisy.
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
use copilot_runner::git::{GitCommand, Identity, Remote, Workspace, history};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::fake_gitlab::{AGENT, ProjectSeed, Seed, UserSeed, access};

/// Commits on top of the big one, each changing a few files: history for a deeper clone to cut.
const HISTORY: usize = 40;
const DEFAULT_ROUNDS: usize = 5;

/// What one round clones.
#[derive(Debug, Clone, Copy)]
enum Contender {
    /// `Workspace::clone` at depth 1, as the workflows clone.
    OursDepth1,
    /// `Workspace::clone` with the ancestors the context cache looks at.
    OursCacheDepth,
    /// `git clone --depth 1`, the baseline.
    Git,
}

const CONTENDERS: [Contender; 3] = [Contender::OursDepth1, Contender::OursCacheDepth, Contender::Git];

#[tokio::main]
async fn main() {
    // `cargo nextest run --all-targets` asks every target for its tests; a benchmark has none.
    let args: Vec<String> = std::env::args().skip(1).filter(|arg| arg != "--bench").collect();
    if args.iter().any(|arg| arg == "--list") {
        return;
    }
    let rounds = args
        .iter()
        .position(|arg| arg == "--rounds")
        .and_then(|at| args.get(at + 1))
        .map_or(DEFAULT_ROUNDS, |rounds| rounds.parse().unwrap());
    let mut sizes: Vec<usize> = args.iter().map_while(|arg| arg.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![10_000, 100_000];
    }
    let cache_depth = u32::try_from(history::MAX_ANCESTORS).unwrap() + 1;
    let projects: Vec<ProjectSeed> = sizes
        .iter()
        .map(|files| ProjectSeed {
            members: [(AGENT.to_owned(), access::MAINTAINER)].into_iter().collect(),
            ..ProjectSeed::new(&format!("bench/files-{files}"))
        })
        .collect();
    let fake =
        FakeGitLab::start_with(Seed { users: vec![UserSeed::new(AGENT)], groups: Vec::new(), projects }).await.unwrap();
    let token = fake.agent_token();
    let header =
        format!("Authorization: Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("oauth2:{token}")));
    println!("load average before: {}", load_average());
    for files in sizes {
        let url = fake.git_url(&format!("bench/files-{files}"));
        let seeding = Instant::now();
        let last_file = seed(&url, &header, files);
        println!("\n{files} files + {HISTORY} commits seeded in {:.1} s", seeding.elapsed().as_secs_f64());
        let scratch = tempfile::tempdir().unwrap();
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); CONTENDERS.len()];
        for round in 0..=rounds {
            // The order rotates each round, so that neither side always follows the other.
            for turn in 0..CONTENDERS.len() {
                let index = (turn + round) % CONTENDERS.len();
                let dest = scratch.path().join(format!("{index}-{round}"));
                let started = Instant::now();
                match CONTENDERS[index] {
                    Contender::OursDepth1 => ours(&url, &token, &dest, 1).await,
                    Contender::OursCacheDepth => ours(&url, &token, &dest, cache_depth).await,
                    Contender::Git => {
                        git(scratch.path(), &["clone", "-q", "--depth", "1", &url, dest.to_str().unwrap()], &header);
                    }
                }
                let elapsed = started.elapsed();
                assert!(dest.join(&last_file).exists());
                // Round 0 warms the server's and the file system's caches for all.
                if round > 0 {
                    times[index].push(elapsed);
                }
                std::fs::remove_dir_all(&dest).unwrap();
                let git_dir = Workspace::git_dir_beside(&dest).unwrap();
                if git_dir.exists() {
                    std::fs::remove_dir_all(git_dir).unwrap();
                }
            }
        }
        let baseline = median(&mut times[2].clone());
        println!("{files} files, {rounds} rounds after one warm-up, interleaved; load average now {}", load_average());
        for (index, label) in [
            (0, "Workspace::clone, depth 1 (workflows)".to_owned()),
            (1, format!("Workspace::clone, depth {cache_depth} (cache ancestors)")),
            (2, "git clone --depth 1".to_owned()),
        ] {
            let ours = median(&mut times[index]);
            println!(
                "{label:<44} median {:>8.0} ms  ratio {:.2}x",
                ours.as_secs_f64() * 1000.0,
                ours.as_secs_f64() / baseline.as_secs_f64()
            );
        }
    }
}

async fn ours(url: &str, token: &str, dest: &Path, depth: u32) {
    let remote = Remote::new(url, Some(token.to_owned().into())).unwrap();
    let identity = Identity { name: "bench".into(), email: "bench@example.com".into() };
    Workspace::clone(GitCommand::new(&Env::capture(), dest, identity), remote, dest, Some(depth), None).await.unwrap();
}

/// Pushes `files` source-like files, 100 to a folder, in one commit, then [`HISTORY`] commits
/// that each change three files and the README. Returns the path of the last file.
fn seed(url: &str, header: &str, files: usize) -> String {
    let work = tempfile::tempdir().unwrap();
    git(work.path(), &["clone", "-q", url, "."], header);
    let path = |index: usize| format!("src/module_{:04}/file_{index}.rs", index / 100);
    for index in 0..files {
        let file = work.path().join(path(index));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let body: String = (0..(10 + index % 40))
            .map(|line| format!("pub fn function_{index}_{line}(value: u64) -> u64 {{ value * {line} + {index} }}\n"))
            .collect();
        std::fs::write(file, body).unwrap();
    }
    git(work.path(), &["add", "--all"], header);
    git(work.path(), &["commit", "-q", "-m", "the tree"], header);
    for commit in 0..HISTORY {
        for changed in 0..3 {
            let index = (commit * 7919 + changed * 104_729) % files;
            let mut file = std::fs::OpenOptions::new().append(true).open(work.path().join(path(index))).unwrap();
            std::io::Write::write_all(&mut file, format!("// change {commit}\n").as_bytes()).unwrap();
        }
        std::fs::write(work.path().join("README.md"), format!("bench, commit {commit}\n")).unwrap();
        git(work.path(), &["add", "--all"], header);
        git(work.path(), &["commit", "-q", "-m", &format!("change {commit}")], header);
    }
    git(work.path(), &["push", "-q", "origin", "HEAD:refs/heads/main"], header);
    path(files - 1)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
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
