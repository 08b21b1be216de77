//! `copilot-runner serve`, a built binary (the test build or the release one a benchmark
//! measures), as a child process on a free loopback port, and what `/proc` says of its memory.
#![expect(clippy::disallowed_methods, reason = "the rig runs the built binary as a child process")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};

use super::{Directory, standard_env};
use crate::offline;

/// How long `serve` may take to listen.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// The `copilot-runner` binary of the build a benchmark example belongs to: examples are built
/// into `target/<profile>/examples/`, the binary into `target/<profile>/`.
pub fn binary_for_example() -> anyhow::Result<PathBuf> {
    let binary = std::env::current_exe()?
        .parent()
        .and_then(|examples| examples.parent())
        .map(|dir| dir.join("copilot-runner"))
        .ok_or_else(|| anyhow::anyhow!("locating the binary"))?;
    anyhow::ensure!(binary.exists(), "build it first: cargo build --release --bin copilot-runner");
    Ok(binary)
}

/// `binary serve` with the standard settings for `fake` and `extra` ones; killed when dropped.
#[derive(Debug)]
pub struct ServeProcess {
    child: tokio::process::Child,
    pub url: String,
    _home: tempfile::TempDir,
}

impl ServeProcess {
    pub async fn start(binary: &Path, fake: &impl Directory, extra: &[(&str, String)]) -> Self {
        let home = tempfile::tempdir().expect("home");
        let mut child = tokio::process::Command::new(binary)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home.path())
            .envs(offline::loopback_only([]))
            .envs(standard_env(fake))
            .envs(extra.iter().map(|(name, value)| (*name, value)))
            .current_dir(home.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start copilot-runner serve");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let listening = async {
            while let Some(line) = lines.next_line().await.expect("read the log") {
                if line.contains("serving GitLab webhooks") {
                    let address = line.split_whitespace().find_map(|word| word.strip_prefix("listen="));
                    return address.expect("the log names the address").trim_matches('"').to_owned();
                }
            }
            panic!("serve ended before listening");
        };
        let address = tokio::time::timeout(START_DEADLINE, listening).await.expect("serve listens in time");
        // Keep draining the log so that the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, url: format!("http://{address}"), _home: home }
    }

    /// The child's resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The child's peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let pid = self.child.id().expect("serve is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{field}` in /proc/{pid}/status"))
    }

    pub async fn kill(mut self) {
        self.child.kill().await.expect("SIGKILL serve");
    }
}
