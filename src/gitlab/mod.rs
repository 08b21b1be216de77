//! GitLab: the REST client, its resource types, one file per group of endpoints, and the webhook
//! payloads GitLab sends us (`events`).
//!
//! [`Client`] is the only way copilot-runner talks to GitLab's REST API. It retries what is safe
//! to retry, pages through lists, and makes every write we post safe to repeat (see
//! [`marker`]). Each resource file documents, per endpoint, what happens when an attempt fails
//! after the request may have reached GitLab.

pub mod access;
mod award_emoji;
mod branches;
pub mod client;
mod discussions;
pub mod error;
pub mod events;
mod hooks;
mod issues;
mod jobs;
pub mod marker;
mod merge_requests;
mod notes;
mod pagination;
mod pipelines;
pub mod retry;
mod runners;
pub mod types;
mod users;

pub use crate::http::USER_AGENT;
pub use award_emoji::{AwardOutcome, Awardable};
pub use client::{Client, ClientOptions, ProjectId, encode_segment};
pub use error::Error;
pub use hooks::{Hook, HookEvent, HookEvents, HookParent, HookSpec, TestDelivery};
pub use jobs::JobTrace;
pub use marker::OpMarker;
pub use merge_requests::{MergeRequestUpdate, NewMergeRequest};
pub use notes::Noteable;
pub use pipelines::TriggerParameters;
pub use retry::RetryPolicy;
pub use runners::{Runner, RunnerFilter};
pub use types::*;
