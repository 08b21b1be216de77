//! The pipeline-fix loop end to end: `copilot-runner run` as CI runs it (`pipeline_failed`, or an
//! MR note asking for it), against the fake GitLab with scripted pipelines and real git over
//! smart HTTP, with the real Copilot CLI talking to the mock model. Each test checks the number
//! of attempts, commits and notes, and that the loop ends within its bounds.
#![expect(clippy::unwrap_used, reason = "test fixtures panic on a broken setup")]

mod authorization;
mod auto;
mod endings;
mod evidence;
mod fixes;
mod follow_up;
mod killed;
mod pipelines;
mod rig;
mod rules;
