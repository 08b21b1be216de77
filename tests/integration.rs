//! The in-process integration tests: the library's parts against the fake GitLab, the mock model,
//! the real Copilot CLI, real stores and the shipping files, all in one test binary. A test that
//! runs the built `copilot-runner` itself as a process belongs in `e2e.rs` instead.
//!
//! Each module is a file or folder of its own under `tests/`; `layout` fails when a file there is
//! reached by neither binary.

mod agent_command;
mod agent_copilot;
mod agent_mcp;
mod ci_downstream;
#[path = "context_cache/main.rs"]
mod context_cache;
#[path = "fuzz/main.rs"]
mod fuzz;
mod git_workspace;
mod gitlab_client;
mod gitlab_fixtures;
mod gitlab_hooks;
mod layout;
mod review_positions;
mod ship_ci_templates;
mod ship_deploy_guide;
mod ship_dockerfile;
mod ship_k8s;
mod ship_pod_security;
