//! The test rig every copilot-runner test stands on: a stateful fake GitLab (REST and git smart
//! HTTP) and a scripted OpenAI-compatible mock model that lets the real Copilot CLI run offline.
pub mod mock_model;
