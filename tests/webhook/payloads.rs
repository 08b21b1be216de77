//! Webhook payloads built from GitLab's real fixtures, retargeted at the fake's world; they live
//! in the testkit, which the webhook benchmarks share.

pub(crate) use copilot_runner_testkit::webhook::payloads::*;
