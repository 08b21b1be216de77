//! Acting on a trigger decision, against GitLab: authorize the actor, acknowledge with 👀, and
//! trigger the agent project's pipeline with the identifier-only inputs (or, on GitLab before
//! 18.1, variables).
//!
//! Replicas share no store. For a note, the 👀 award doubles as a lock: GitLab refuses a second
//! award of the same emoji by the same user ("has already been taken"), so exactly one replica
//! wins it and triggers; the others stand down. When the trigger then fails, the winner removes
//! its award again, so GitLab's resend of the failed delivery can win it anew.
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
use super::route::{AwardTarget, Work};
use crate::gitlab::{self, AwardEmoji, AwardOutcome, Awardable, Client, Noteable};
use crate::trigger::TriggerWith;

/// The emoji that says "seen, on it".
pub const ACK_EMOJI: &str = "eyes";

/// How long a 👀 lock on a note is held. Its holder is done within our 8 s action budget, so an
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
    /// Another replica won the 👀 award for this note and triggers it.
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

    let mut our_award = None;
    if let Some(target) = work.award {
        match within(deadline, gitlab.award_emoji(project_id, awardable(target), ACK_EMOJI)).await {
            Err(_) => return timed_out(metrics, "awarding 👀"),
            Ok(Ok(AwardOutcome::Awarded(award))) => our_award = award.map(|award| award.id),
            // Another replica took this note; an issue or MR may keep 👀 from an earlier request.
            Ok(Ok(AwardOutcome::AlreadyAwarded)) if target.is_exclusive() => {
                match within(deadline, retake(gitlab, config, work, awardable(target))).await {
                    Err(_) => return timed_out(metrics, "checking an earlier 👀 on the note"),
                    Ok(Ok(Lease::Retaken(award))) => our_award = award,
                    Ok(Ok(Lease::Held)) => return Acted::TakenElsewhere,
                    Ok(Err(error)) => {
                        return failed(metrics, FailureStage::Award, "checking an earlier 👀 on the note", &error);
                    }
                }
            }
            Ok(Ok(AwardOutcome::AlreadyAwarded)) => {}
            Ok(Err(error)) if target.is_exclusive() => {
                return failed(metrics, FailureStage::Award, "awarding 👀 on the note", &error);
            }
            Ok(Err(error)) => {
                // The acknowledgement is a courtesy on issues and MRs; the work still starts.
                metrics.failure(FailureStage::Award);
                tracing::warn!("cannot award 👀 (continuing): {error}");
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
    if let (Some(target), Some(award_id)) = (work.award.filter(|target| target.is_exclusive()), our_award) {
        // Give the lock back so a resend (here or on another replica) can take it.
        let cleanup = gitlab.remove_award_emoji(project_id, awardable(target), award_id);
        match tokio::time::timeout(Duration::from_secs(1), cleanup).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!("cannot remove 👀 after the failed trigger: {error}"),
            Err(_) => tracing::warn!("cannot remove 👀 after the failed trigger: gitlab did not answer in time"),
        }
    }
    failure
}

/// Who holds the 👀 lock on a note after our award was refused.
#[derive(Debug)]
enum Lease {
    /// Another replica holds it, or its holder started the pipeline: stand down.
    Held,
    /// Its holder left it without starting a pipeline and we took it over (with our award's id
    /// when GitLab told us).
    Retaken(Option<u64>),
}

/// Retakes an expired 👀 lease whose holder started no pipeline for this request.
async fn retake(gitlab: &Client, config: &Config, work: &Work, on: Awardable) -> Result<Lease, gitlab::Error> {
    let project_id = work.trigger.project_id();
    let agent = &config.agent.username;
    let awards = gitlab.award_emojis(project_id, on).await?;
    let held =
        awards.into_iter().find(|award| award.name == ACK_EMOJI && award.user.username.eq_ignore_ascii_case(agent));
    let Some(held) = held else {
        // Given back since our attempt (its trigger failed): one more try.
        return Ok(match gitlab.award_emoji(project_id, on, ACK_EMOJI).await? {
            AwardOutcome::Awarded(award) => Lease::Retaken(award.map(|award| award.id)),
            AwardOutcome::AlreadyAwarded => Lease::Held,
        });
    };
    let Some(awarded_at) = awarded_at(&held) else {
        tracing::warn!(award_id = held.id, "👀 without a readable `created_at`; leaving it to its holder");
        return Ok(Lease::Held);
    };
    let lease = chrono::Duration::from_std(config.award_lease).unwrap_or(chrono::Duration::MAX);
    if chrono::Utc::now() - awarded_at < lease {
        return Ok(Lease::Held);
    }
    if pipeline_started(gitlab, config, work, awarded_at, lease).await? {
        return Ok(Lease::Held);
    }
    tracing::warn!(award_id = held.id, "👀 left without a pipeline (its replica died?); taking the request over");
    gitlab.remove_award_emoji(project_id, on, held.id).await?;
    Ok(match gitlab.award_emoji(project_id, on, ACK_EMOJI).await? {
        AwardOutcome::Awarded(award) => Lease::Retaken(award.map(|award| award.id)),
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

fn awardable(target: AwardTarget) -> Awardable {
    match target {
        AwardTarget::Issue { iid } => Awardable::Issue(iid),
        AwardTarget::MergeRequest { iid } => Awardable::MergeRequest(iid),
        AwardTarget::IssueNote { issue_iid, note_id } => Awardable::Note { on: Noteable::Issue(issue_iid), note_id },
        AwardTarget::MergeRequestNote { mr_iid, note_id } => {
            Awardable::Note { on: Noteable::MergeRequest(mr_iid), note_id }
        }
    }
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
