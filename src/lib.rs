//! copilot-runner: a GitHub-Copilot-powered coding agent for GitLab.
//!
//! The binary is thin; every subcommand lives in `cli`, and the modules below it follow the
//! direction of imports in ARCHITECTURE.md: `cli` → workflows → adapters (`gitlab`, `agent`,
//! `git`, `prompts`) → `process` / `config` / `telemetry` / `redact`.

pub mod agent;
pub mod cli;
pub mod config;
pub mod context;
pub mod env_vars;
pub mod exit;
pub mod git;
pub mod gitlab;
pub mod pipeline;
pub mod planner;
pub mod process;
pub mod prompts;
pub mod redact;
pub mod report;
pub mod review;
pub mod sandbox;
pub mod stages;
pub mod telemetry;
pub mod trigger;
pub mod untrusted;
pub mod webhook;
pub mod workflows;
