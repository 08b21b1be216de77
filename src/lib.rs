//! copilot-runner: a GitHub-Copilot-powered coding agent for GitLab.
//!
//! The binary is thin; every subcommand lives in `cli`. Modules sit in layers, and imports point
//! only down (or sideways within a layer, without cycles); `layer_rule` checks this against the
//! source on every test run:
//! - **entry points**: `cli` (one file per subcommand) and `webhook` (the `serve` service);
//! - **workflows**: `workflows`, one story per trigger, and `setup`, the story of an installation;
//! - **core**: `stages` (the agent-call runner), `context` (project understanding and its cache),
//!   `report` (progress on GitLab), `ci` (watching pipelines, failed jobs, trace excerpts);
//! - **adapters**: `gitlab`, `git`, `agent`, `sandbox`, `prompts`, `trigger` (the trigger
//!   contract, and the guard that asks GitLab who set the job's variables); they import no core
//!   module, workflow or entry point;
//! - **pure**: `planner`, `review`, `request`; no IO, and from the adapters only GitLab's data
//!   types and the prompt templates;
//! - **ground**: `config`, `env_vars`, `exit`, `http`, `process`, `redact`, `telemetry`,
//!   `tls`, `untrusted`; they import nothing above them.
//!
//! `docs/architecture.md` says what each module owns.

pub mod agent;
pub mod ci;
pub mod cli;
pub mod config;
pub mod context;
pub mod env_vars;
pub mod exit;
pub mod git;
pub mod gitlab;
pub mod http;
pub mod planner;
pub mod process;
pub mod prompts;
pub mod redact;
pub mod report;
pub mod request;
pub mod review;
pub mod sandbox;
pub mod setup;
pub mod stages;
pub mod telemetry;
pub mod tls;
pub mod trigger;
pub mod untrusted;
pub mod webhook;
pub mod workflows;

#[cfg(test)]
mod layer_rule;
