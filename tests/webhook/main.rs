//! The webhook service end to end: real `serve` instances on loopback, deliveries shaped like
//! GitLab's (from its real fixtures), and the fake GitLab recording what the service did.
#![expect(
    clippy::disallowed_methods,
    reason = "tests build their own HTTP client to play GitLab, and run the built binary as a child"
)]

mod access;
mod auto_review;
mod burst;
pub(crate) mod harness;
mod lease;
mod load;
pub(crate) mod payloads;
mod protocol;
mod replicas;
mod signatures;
mod triggers;
