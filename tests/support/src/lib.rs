//! The test rig every copilot-runner test stands on: a stateful fake GitLab (REST and git smart
//! HTTP) and a scripted OpenAI-compatible mock model that lets the real Copilot CLI run offline.
#![recursion_limit = "256"]

pub mod ci_job;
pub mod copilot_cli;
pub mod fake_gitlab;
pub mod machine;
pub mod mock_model;
pub mod offline;
pub mod poisoned_git;
pub mod processes;
pub mod soak;
pub mod standalone;
pub mod tls_front;
pub mod webhook;

pub use fake_gitlab::FakeGitLab;
