//! The webhook service behind `copilot-runner serve`: GitLab delivers issue, note, merge request
//! and pipeline events; we verify them ([`verify`]), decide whether the agent should act
//! ([`route`], pure), drop duplicates ([`dedup`]), authorize the actor, acknowledge with 👀 and
//! trigger the agent project's pipeline with identifier-only variables ([`act`]), all behind an
//! axum server with health, readiness and metrics ([`server`], [`metrics`]).

pub mod act;
pub mod dedup;
pub mod mention;
pub mod metrics;
pub mod route;
pub mod server;
pub mod verify;
