//! The pinned Copilot CLI that `scripts/test` installs, and a HOME its tests share.
//!
//! The CLI unpacks its runtime (~235 MB) into `~/.cache` on first use: that must happen once per
//! test binary run, not once per test, and never twice at once.
#![expect(clippy::disallowed_methods, reason = "the rig runs the real CLI once to warm its cache")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The pinned version.
pub const CLI_VERSION: &str = "1.0.102";

/// The CLI installed under the repository's `.tools/npm`; panics with the fix when missing.
pub fn cli_path() -> PathBuf {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/npm/node_modules/.bin/copilot"));
    assert!(
        path.exists(),
        "run scripts/test to install the Copilot CLI (@github/copilot {CLI_VERSION}) into .tools/npm"
    );
    path.to_owned()
}

/// A HOME under `tmp` (a test's `CARGO_TARGET_TMPDIR`) in which the CLI has run once.
pub fn shared_home(tmp: &Path, cli: &Path, path_var: &str) -> PathBuf {
    let home = tmp.join("copilot-home");
    let warmed = home.join(format!(".warmed-{CLI_VERSION}"));
    if warmed.exists() {
        return home;
    }
    std::fs::create_dir_all(&home).expect("warming the Copilot CLI");
    let lock = home.join(".warming");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        match std::fs::create_dir(&lock) {
            Ok(()) => break,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                if warmed.exists() {
                    return home;
                }
                assert!(Instant::now() < deadline, "another test holds {} too long (stale? remove it)", lock.display());
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => panic!("cannot create {}: {error}", lock.display()),
        }
    }
    if !warmed.exists() {
        let output = std::process::Command::new(cli)
            .arg("--version")
            .env_clear()
            .env("PATH", path_var)
            .env("HOME", &home)
            .output()
            .expect("warming the Copilot CLI");
        assert!(output.status.success(), "copilot --version failed: {}", String::from_utf8_lossy(&output.stderr));
        std::fs::write(&warmed, "").expect("warming the Copilot CLI");
    }
    std::fs::remove_dir(&lock).expect("warming the Copilot CLI");
    home
}
