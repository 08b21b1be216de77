//! The agent sandbox: every agent process tree runs confined, and nothing of it outlives its stage.
//!
//! The runner holds secrets (the GitLab token above all) and the agent runs code a model wrote,
//! so the two never share a view of the machine. Each agent call is started through
//! `copilot-runner sandbox-exec`, a small re-exec of this binary that supervises the call from
//! outside and applies a Landlock ruleset to itself before it execs the agent (the caller is
//! multi-threaded, so no sandboxing code may run between its fork and exec).

use std::path::PathBuf;

/// A fresh folder for one job's clones and stage folders when `COPILOT_WORK_DIR` is not set:
/// outside the artifacts and the agent project's checkout, unique to this process.
pub fn fresh_work_dir() -> PathBuf {
    std::env::temp_dir().join(format!("copilot-runner-{}", std::process::id()))
}
