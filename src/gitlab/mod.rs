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
mod draft_notes;
pub mod error;
pub mod events;
mod hooks;
mod issues;
mod jobs;
pub mod marker;
mod members;
mod merge_requests;
mod namespaces;
mod notes;
mod pagination;
mod pipelines;
mod projects;
mod repository_files;
pub mod retry;
mod runners;
mod triggers;
pub mod types;
mod users;
mod variables;

pub use crate::http::USER_AGENT;
pub use award_emoji::{AwardOutcome, Awardable};
pub use client::{Client, ClientOptions, ProjectId, encode_segment};
pub use error::Error;
pub use hooks::{Hook, HookEvent, HookEvents, HookParent, HookSpec, TestDelivery};
pub use jobs::JobTrace;
pub use marker::OpMarker;
pub use members::MemberOf;
pub use merge_requests::{MergeRequestUpdate, NewMergeRequest};
pub use namespaces::{Group, Namespace};
pub use notes::Noteable;
pub use pipelines::TriggerParameters;
pub use projects::NewProject;
pub use repository_files::{CommittedFile, FileCommit};
pub use retry::RetryPolicy;
pub use runners::{Runner, RunnerFilter};
pub use triggers::TriggerToken;
pub use types::*;
pub use variables::{SecretVariable, Variable};
