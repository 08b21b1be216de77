//! The end-to-end tests: the built `copilot-runner` run as a process, the way CI, the webhook's
//! host and people run it, against the fake GitLab and the scripted mock model (in process, or as
//! the standalone `fake-gitlab` and `mock-model` servers), all in one test binary.
//!
//! Each module is a file or folder of its own under `tests/`; a new folder's `main.rs` names its
//! files with `mod`, and they refer to each other through `super::`. A single file is named by
//! `mod` alone (the crate root owns `tests/`); a folder needs `#[path]` to its `main.rs`.

mod cli;
mod doctor;
mod doctor_chain;
mod local_e2e;
#[path = "pipeline_fix_e2e/main.rs"]
mod pipeline_fix_e2e;
mod readme;
#[path = "review_e2e/main.rs"]
mod review_e2e;
mod setup;
mod ship_ci_local;
mod ship_image;
mod soak;
#[path = "webhook/main.rs"]
mod webhook;
#[path = "workflows/main.rs"]
mod workflows;
