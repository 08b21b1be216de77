//! `copilot-runner run` for every workflow, as CI runs it: the built binary with trigger
//! variables in its environment, against the fake GitLab (real git over smart HTTP), with the
//! real Copilot CLI and the scripted mock model.
#![expect(clippy::unwrap_used, reason = "test fixtures panic on a broken setup")]

mod access;
mod admin_stages;
mod artifacts;
mod commands;
mod confidential;
mod context_cache;
mod deadline;
mod edited_text;
mod failures;
mod git_isolation;
mod instructions;
mod internal_notes;
mod issue_assignee;
mod issue_branch;
mod issue_note;
mod languages;
mod mcp;
mod mr_note;
mod mr_note_push;
mod mr_note_refusals;
mod plans;
mod private_ca;
mod project_rules;
mod repo_config;
mod rig;
mod sandbox;
mod secrets;
mod spend;
