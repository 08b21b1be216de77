//! Acting on a trigger decision, against GitLab: authorize the actor, acknowledge with an award,
//! and trigger the agent project's pipeline with the identifier-only inputs (or, on GitLab before
//! 18.1, variables).
//!
//! Replicas share no store: the agent's award doubles as a lock. GitLab refuses a second award
//! of the same emoji by the same user ("has already been taken"), so exactly one replica wins it
//! and triggers; the others stand down. When the trigger then fails, the winner removes its award
//! again, so GitLab's resend of the failed delivery can win it anew. The award goes on the note
//! that mentions the agent (👀), on the assigned issue or the MR asked for review (👀), or on the
//! open MR of a failed pipeline's branch (🔧).
//!
//! A note is new, so any award on it is this request's. An issue or MR keeps its award from
//! earlier requests: one made before this request's change (the payload's `updated_at`, or the
//! pipeline's `finished_at`) is an earlier request's, and is removed by id and awarded afresh;
//! only one replica's new award can succeed.
//!
//! The lock is a lease, so that a replica that dies between the award and the trigger (or cannot
//! remove its award) does not swallow the request: an award older than the lease whose holder
//! started no pipeline — none of the agent project's triggered pipelines since the award carries
//! this request's variables — is removed by id and awarded afresh. Only one retaker's new award
//! can succeed, so the request still starts exactly once. GitLab's API does not show a
//! pipeline's inputs, so a triggered pipeline started without variables (with inputs) in the
//! lease window may be the holder's: the retaker stands down rather than risk a second run.
//!
//! Every call runs against the delivery's deadline: GitLab gives up after 10 s.

use std::time::Duration;

use axum::http::StatusCode;
use secrecy::SecretString;
use tokio::time::Instant;

use super::Config;
use super::metrics::{FailureStage, Metrics};
use super::route::{AwardTarget, Lock, Trigger, Work};
use crate::gitlab::{self, AwardEmoji, AwardOutcome, Awardable, Client, Noteable};
use crate::trigger::TriggerWith;

/// How long an award's lock is held. Its holder is done within our 8 s action budget, so an
/// older award either guards a pipeline that was started or was left by a replica that died; the
/// margin covers GitLab's and our clocks disagreeing by up to 50 s.
pub const AWARD_LEASE: Duration = Duration::from_secs(60);

/// The agent project whose pipeline runs the work.
#[derive(Clone)]
pub struct PipelineTarget {
    pub project_id: u64,
    pub git_ref: String,
    pub trigger_token: SecretString,
    /// Inputs, or variables for GitLab before 18.1.
    pub with: TriggerWith,
}

impl std::fmt::Debug for PipelineTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineTarget")
            .field("project_id", &self.project_id)
            .field("git_ref", &self.git_ref)
            .field("with", &self.with)
            .finish()
    }
}

/// How acting on a trigger ended.
#[derive(Debug)]
pub enum Acted {
    Triggered {
        pipeline_id: u64,
    },
    /// The actor's access level is below the minimum (0 when not a member).
    Denied {
        access_level: u32,
    },
    /// Another replica won the award for this request and triggers it.
    TakenElsewhere,
    /// GitLab failed us; the answer's status tells GitLab to show the delivery as failed.
    Failed {
        status: StatusCode,
        reason: String,
    },
}

/// Runs `call` within what is left until `deadline`.
async fn within<T>(
    deadline: Instant,
    call: impl Future<Output = Result<T, gitlab::Error>>,
) -> Result<Result<T, gitlab::Error>, tokio::time::error::Elapsed> {
    tokio::time::timeout_at(deadline, call).await
}

fn timed_out(metrics: &Metrics, what: &str) -> Acted {
    metrics.failure(FailureStage::Timeout);
    Acted::Failed { status: StatusCode::GATEWAY_TIMEOUT, reason: format!("gitlab did not answer in time while {what}") }
}

fn failed(metrics: &Metrics, stage: FailureStage, what: &str, error: &gitlab::Error) -> Acted {
    metrics.failure(stage);
    Acted::Failed { status: StatusCode::BAD_GATEWAY, reason: format!("while {what}: {error}") }
}

/// Authorizes, acknowledges and triggers.
pub async fn act(gitlab: &Client, config: &Config, work: &Work, deadline: Instant, metrics: &Metrics) -> Acted {
    let project_id = work.trigger.project_id();
    if !work.actor.is_agent {
        let member = match within(deadline, gitlab.member(project_id, work.actor.id)).await {
            Err(_) => return timed_out(metrics, "checking the actor's access"),
            Ok(Ok(member)) => member,
            Ok(Err(error)) => return failed(metrics, FailureStage::Member, "checking the actor's access", &error),
        };
        // Blocked or locked users and expired or pending memberships count as none.
        let level = member.map_or(0, |member| member.effective_level(crate::gitlab::access::today()).0);
        if level < config.min_access_level {
            return Acted::Denied { access_level: level };
        }
    }

    let mut lock = None;
    if let Some(target) = work.award {
        match within(deadline, hold(gitlab, config, work, target)).await {
            Err(_) => return timed_out(metrics, "awarding the acknowledgement"),
            Ok(Ok(Lease::Held)) => return Acted::TakenElsewhere,
            Ok(Ok(Lease::Ours(held))) => lock = held,
            Ok(Err(error)) if work.lock() != Lock::None => {
                return failed(metrics, FailureStage::Award, "awarding the acknowledgement", &error);
            }
            Ok(Err(error)) => {
                // Without a lock the acknowledgement is a courtesy; the work still starts.
                metrics.failure(FailureStage::Award);
                tracing::warn!("cannot award the acknowledgement (continuing): {error}");
            }
        }
    }

    let pipeline = &config.pipeline;
    let parameters = work.trigger.parameters(pipeline.with);
    let result = within(
        deadline,
        gitlab.trigger_pipeline(pipeline.project_id, &pipeline.trigger_token, &pipeline.git_ref, &parameters),
    )
    .await;
    let failure = match result {
        Ok(Ok(pipeline)) => return Acted::Triggered { pipeline_id: pipeline.id },
        Err(_) => timed_out(metrics, "triggering the agent pipeline"),
        Ok(Err(error)) => failed(metrics, FailureStage::Trigger, "triggering the agent pipeline", &error),
    };
    if let Some(Held { on, award_id: Some(award_id) }) = lock {
        // Give the lock back so a resend (here or on another replica) can take it.
        let cleanup = gitlab.remove_award_emoji(project_id, on, award_id);
        match tokio::time::timeout(Duration::from_secs(1), cleanup).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!("cannot remove the award after the failed trigger: {error}"),
            Err(_) => tracing::warn!("cannot remove the award after the failed trigger: gitlab did not answer in time"),
        }
    }
    failure
}

/// The award we made and now hold as the request's lock.
#[derive(Debug, Clone, Copy)]
struct Held {
    on: Awardable,
    /// `None` when GitLab did not tell it.
    award_id: Option<u64>,
}

/// Who holds the lock on a request.
#[derive(Debug)]
enum Lease {
    /// Another replica holds it, or its holder started the pipeline: stand down.
    Held,
    /// We may start the work: with the award we hold as its lock, if any.
    Ours(Option<Held>),
}

/// Awards the acknowledgement, and where it is the request's lock, finds out whether we hold it.
async fn hold(gitlab: &Client, config: &Config, work: &Work, target: AwardTarget) -> Result<Lease, gitlab::Error> {
    let project_id = work.trigger.project_id();
    let Some(on) = awardable(gitlab, work, target).await? else {
        // A failed pipeline on a branch without an open MR: nothing to award.
        return Ok(Lease::Ours(None));
    };
    let emoji = target.emoji();
    let lock = work.lock();
    match gitlab.award_emoji(project_id, on, emoji).await? {
        AwardOutcome::Awarded(award) => Ok(Lease::Ours(Some(Held { on, award_id: award.map(|award| award.id) }))),
        // An issue or MR may keep the award from an earlier request, which proves nothing.
        AwardOutcome::AlreadyAwarded if lock == Lock::None => Ok(Lease::Ours(None)),
        AwardOutcome::AlreadyAwarded => retake(gitlab, config, work, on, emoji).await,
    }
}

/// After our award was refused: retakes an award left by an earlier request (on an issue or MR,
/// one made before this request's change), or an expired lease whose holder started no pipeline
/// for this request.
async fn retake(
    gitlab: &Client,
    config: &Config,
    work: &Work,
    on: Awardable,
    emoji: &str,
) -> Result<Lease, gitlab::Error> {
    let project_id = work.trigger.project_id();
    let agent = &config.agent.username;
    let awards = gitlab.award_emojis(project_id, on).await?;
    let held = awards.into_iter().find(|award| award.name == emoji && award.user.username.eq_ignore_ascii_case(agent));
    let Some(held) = held else {
        // Given back since our attempt (its trigger failed): one more try.
        return award_anew(gitlab, project_id, on, emoji).await;
    };
    let Some(awarded_at) = awarded_at(&held) else {
        tracing::warn!(award_id = held.id, "an award without a readable `created_at`; leaving it to its holder");
        return Ok(Lease::Held);
    };
    if let Lock::Since(event_at) = work.lock() {
        // GitLab's payloads tell the time to the second: an award within the event's second
        // counts as this request's, so a repeated request within that second is not started.
        if awarded_at < event_at {
            tracing::debug!(award_id = held.id, "the award is an earlier request's; replacing it");
            gitlab.remove_award_emoji(project_id, on, held.id).await?;
            return award_anew(gitlab, project_id, on, emoji).await;
        }
    }
    let lease = chrono::Duration::from_std(config.award_lease).unwrap_or(chrono::Duration::MAX);
    if chrono::Utc::now() - awarded_at < lease {
        return Ok(Lease::Held);
    }
    if pipeline_started(gitlab, config, work, awarded_at, lease).await? {
        return Ok(Lease::Held);
    }
    tracing::warn!(award_id = held.id, "an award left without a pipeline (its replica died?); taking the request over");
    gitlab.remove_award_emoji(project_id, on, held.id).await?;
    award_anew(gitlab, project_id, on, emoji).await
}

/// Awards again after an award was taken back: only one replica's new award can succeed.
async fn award_anew(gitlab: &Client, project_id: u64, on: Awardable, emoji: &str) -> Result<Lease, gitlab::Error> {
    Ok(match gitlab.award_emoji(project_id, on, emoji).await? {
        AwardOutcome::Awarded(award) => Lease::Ours(Some(Held { on, award_id: award.map(|award| award.id) })),
        // Another retaker's award came first.
        AwardOutcome::AlreadyAwarded => Lease::Held,
    })
}

fn awarded_at(award: &AwardEmoji) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = award.created_at.as_deref()?;
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|at| at.with_timezone(&chrono::Utc))
}

/// Whether the agent project has a triggered pipeline with this request's variables, created
/// while the award at `awarded_at` could have guarded it (within a lease either side).
async fn pipeline_started(
    gitlab: &Client,
    config: &Config,
    work: &Work,
    awarded_at: chrono::DateTime<chrono::Utc>,
    lease: chrono::Duration,
) -> Result<bool, gitlab::Error> {
    let pipeline = &config.pipeline;
    let since = (awarded_at - lease).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let until = awarded_at + lease;
    let wanted = work.variables();
    // Inputs are not shown by the API, but the pipeline's name spells them (the template's
    // `workflow:name`): with inputs, only a pipeline of this request's name can be the holder's.
    let name = (pipeline.with == TriggerWith::Inputs).then(|| work.trigger.pipeline_name());
    let candidates =
        gitlab.triggered_pipelines_since(pipeline.project_id, &pipeline.git_ref, &since, name.as_deref()).await?;
    for candidate in candidates {
        let created = candidate.created_at.as_deref().and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok());
        if created.is_some_and(|created| created > until) {
            // Oldest first: every later one is too young to be the holder's.
            break;
        }
        if name.is_some() {
            return Ok(true);
        }
        let variables = gitlab.pipeline_variables(pipeline.project_id, candidate.id).await?;
        let carries = |(name, value): &(&str, String)| {
            variables.iter().any(|variable| variable.key == *name && variable.value == *value)
        };
        if wanted.iter().all(carries) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What the award goes on; `None` for a failed pipeline whose branch has no open MR.
async fn awardable(gitlab: &Client, work: &Work, target: AwardTarget) -> Result<Option<Awardable>, gitlab::Error> {
    Ok(Some(match target {
        AwardTarget::Issue { iid } => Awardable::Issue(iid),
        AwardTarget::MergeRequest { iid } | AwardTarget::PipelineMergeRequest { iid: Some(iid) } => {
            Awardable::MergeRequest(iid)
        }
        AwardTarget::IssueNote { issue_iid, note_id } => Awardable::Note { on: Noteable::Issue(issue_iid), note_id },
        AwardTarget::MergeRequestNote { mr_iid, note_id } => {
            Awardable::Note { on: Noteable::MergeRequest(mr_iid), note_id }
        }
        AwardTarget::PipelineMergeRequest { iid: None } => {
            let Trigger::PipelineFailed { project_id, branches, .. } = &work.trigger else { return Ok(None) };
            let Some(branch) = branches.source.as_deref() else { return Ok(None) };
            let open = gitlab.merge_requests_by_source_branch(*project_id, branch, Some("opened")).await?;
            match open.first() {
                Some(mr) => Awardable::MergeRequest(mr.iid),
                None => return Ok(None),
            }
        }
    }))
}

/// Whether GitLab is reachable and our token is the agent user's.
pub async fn check_ready(gitlab: &Client, agent_username: &str) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(5), gitlab.current_user()).await {
        Err(_) => Err("gitlab did not answer `GET /user` within 5 s".to_owned()),
        Ok(Err(error)) => Err(error.to_string()),
        Ok(Ok(user)) if user.username.eq_ignore_ascii_case(agent_username) => Ok(()),
        Ok(Ok(user)) => Err(format!(
            "the GitLab token belongs to `{}`, not to the agent user `{agent_username}` (`COPILOT_AGENT_USERNAME`)",
            user.username
        )),
    }
}
