//! The webhook service behind `copilot-runner serve`: GitLab delivers issue, note, merge request
//! and pipeline events; we verify them, decide whether the agent should act ([`route`], pure),
//! authorize the actor, drop duplicates, acknowledge with 👀 and trigger the agent project's
//! pipeline with identifier-only variables.

pub mod dedup;
pub mod mention;
pub mod metrics;
pub mod route;
pub mod verify;
