//! The webhook service behind `copilot-runner serve`: GitLab delivers issue, note, merge request
//! and pipeline events; we verify them ([`verify`]), decide whether the agent should act
//! ([`route`], pure), drop duplicates ([`dedup`]), authorize the actor, acknowledge with 👀 and
//! trigger the agent project's pipeline with identifier-only variables ([`act`]), all behind an
//! axum server with health, readiness and metrics ([`server`], [`metrics`]).

pub mod act;
pub mod auto_review;
pub mod dedup;
pub mod metrics;
pub mod route;
pub mod server;
pub mod verify;

use std::time::Duration;

use act::PipelineTarget;
use dedup::Dedup;
use route::Agent;
use verify::{SigningSecret, WebhookSecret};

/// Everything the service needs besides its listener.
#[derive(Debug, Clone)]
pub struct Config {
    pub secret: WebhookSecret,
    /// When set, every delivery must also carry a valid Standard Webhooks signature.
    pub signing: Option<SigningSecret>,
    pub agent: Agent,
    pub min_access_level: u32,
    pub pipeline: PipelineTarget,
    /// Our share of GitLab's 10 s delivery timeout: for the body to arrive (else 408) and for
    /// acting on it (else 504, and GitLab may resend).
    pub action_budget: Duration,
    /// How long a 👀 lock on a note is held before a resend may take it over.
    pub award_lease: Duration,
    /// How long a `/readyz` answer is reused, so probes do not hammer GitLab.
    pub readiness_ttl: Duration,
    pub dedup_window: Duration,
    pub dedup_capacity: usize,
    /// Deliveries worked on at once; more are answered 503.
    pub max_in_flight: usize,
}

impl Config {
    pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

    /// The defaults for everything that is not a setting.
    pub fn new(secret: WebhookSecret, agent: Agent, min_access_level: u32, pipeline: PipelineTarget) -> Self {
        Self {
            secret,
            signing: None,
            agent,
            min_access_level,
            pipeline,
            action_budget: Duration::from_secs(8),
            award_lease: act::AWARD_LEASE,
            readiness_ttl: Duration::from_secs(10),
            dedup_window: Dedup::DEFAULT_WINDOW,
            dedup_capacity: Dedup::DEFAULT_CAPACITY,
            max_in_flight: Self::DEFAULT_MAX_IN_FLIGHT,
        }
    }
}
