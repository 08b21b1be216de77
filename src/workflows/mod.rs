//! The workflows `copilot-runner run` starts, one file each, each reading top to bottom as the
//! story of that workflow. This module holds what they share: the job's context (settings,
//! GitLab client, agent, prompts, links to the pipeline) and the actor checks every workflow
//! makes before it touches anything.

mod commands;
pub mod issue;
pub mod local;
pub mod mr_note;
pub mod mr_review;
pub mod pipeline_fix;
pub mod plan;
pub mod repo_config;
mod spend;
mod thread_replies;
mod work;

use std::path::PathBuf;

use anyhow::Context as _;
use secrecy::SecretString;

use crate::agent::ConfiguredAgent;
use crate::config::{Env, Settings};
use crate::env_vars;
use crate::exit::{self, Code};
use crate::gitlab::{self, Client, CurrentUser, UserBasic};
use crate::prompts::Prompts;
use crate::prompts::markers::Marker;
use crate::prompts::message::{EditedText, FailureNote};
use crate::report::Reporter;
use crate::stages::StageRunner;
use crate::trigger::Trigger;
use crate::untrusted::{MarkdownCode, Username};

/// Everything a workflow needs, built once per job.
#[derive(Debug)]
pub struct Job {
    pub settings: Settings,
    pub env: Env,
    pub client: Client,
    pub token: SecretString,
    pub prompts: Prompts,
    pub agent: ConfiguredAgent,
    /// The agent user the token belongs to.
    pub agent_user: CurrentUser,
    pub pipeline_url: Option<String>,
    pub job_url: Option<String>,
    /// Where target repositories are cloned.
    pub work_dir: PathBuf,
    /// `TOTAL_TIMEOUT` after the job started (`CI_JOB_STARTED_AT`, else when `run` started).
    pub deadline: std::time::Instant,
    /// Every agent call's cost, and `COPILOT_MAX_PREMIUM_REQUESTS`.
    pub spend: crate::stages::Spend,
    /// Set once a person stops the job (its pipeline is cancelled).
    pub stop: crate::stages::Stop,
    /// The agent project and pipeline the job runs in (`CI_PROJECT_ID`, `CI_PIPELINE_ID`): the
    /// status notes name it, so a stop request finds it, and the job watches it for one.
    pub own_pipeline: Option<(u64, u64)>,
    /// Projects read so far: a job reads each project once, however many steps need it.
    projects: std::sync::Mutex<std::collections::HashMap<u64, gitlab::Project>>,
    /// The rules of the project the job works on, once read, and the agent narrowed by them.
    rules: std::sync::OnceLock<ProjectRules>,
}

/// A project's rules ([`repo_config::Effective`]) and the agent that follows them: it offers only
/// the MCP servers they allow.
#[derive(Debug)]
struct ProjectRules {
    project_id: u64,
    effective: repo_config::Effective,
    agent: ConfiguredAgent,
}

impl Job {
    /// Builds the job's context: checks the token against GitLab and finds the agent program.
    pub async fn prepare(settings: Settings, env: Env) -> anyhow::Result<Self> {
        let token = settings.gitlab.token.clone().ok_or_else(|| {
            exit::Usage(format!("`{}` is not set: `run` needs the agent user's access token", env_vars::GITLAB_TOKEN))
        })?;
        let client = Client::new(&settings.gitlab.api_url(), &token).context("while building the GitLab client")?;
        let agent_user = client.current_user().await.context("while checking the GitLab token (`GET /user`)")?;
        if !agent_user.username.eq_ignore_ascii_case(&settings.access.agent_username) {
            tracing::warn!(
                token_user = %agent_user.username,
                configured = %settings.access.agent_username,
                "the token belongs to another user than `COPILOT_AGENT_USERNAME`"
            );
        }
        let prompts = Prompts::new(settings.prompts.dir.as_deref()).context("while loading the prompt templates")?;
        let agent =
            ConfiguredAgent::new(&settings.agent, &settings.sandbox, &env).context("while preparing the agent")?;
        // Outside the artifacts folder: the target's source is never uploaded with them.
        let work_dir = settings.workflow.work_dir.clone().unwrap_or_else(crate::sandbox::fresh_work_dir);
        let deadline = deadline(&env, settings.workflow.total_timeout);
        let id = |name| env.get(name).and_then(|value| value.trim().parse::<u64>().ok());
        let own_pipeline = id(env_vars::ci::CI_PROJECT_ID).zip(id(env_vars::ci::CI_PIPELINE_ID));
        Ok(Self {
            stop: crate::stages::Stop::default(),
            own_pipeline,
            projects: std::sync::Mutex::default(),
            rules: std::sync::OnceLock::new(),
            deadline,
            spend: crate::stages::Spend::new(settings.spend.max_premium_requests),
            pipeline_url: env.get(env_vars::ci::CI_PIPELINE_URL).map(str::to_owned),
            job_url: env.get(env_vars::ci::CI_JOB_URL).map(str::to_owned),
            settings,
            env,
            client,
            token,
            prompts,
            agent,
            agent_user,
            work_dir,
        })
    }

    /// The project `project_id` (`GET /projects/:id`), read once per job.
    pub(crate) async fn project(&self, project_id: u64) -> Result<gitlab::Project, gitlab::Error> {
        let known = self.projects.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&project_id).cloned();
        if let Some(project) = known {
            return Ok(project);
        }
        let project = self.client.project(project_id).await?;
        self.projects.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(project_id, project.clone());
        Ok(project)
    }

    /// The rules of project `project_id`, when the job read them already.
    pub(crate) fn rules_of(&self, project_id: u64) -> Option<&repo_config::Effective> {
        self.rules.get().filter(|rules| rules.project_id == project_id).map(|rules| &rules.effective)
    }

    /// From now on the job's agent calls, stage prompts and notes follow `effective`, the rules of
    /// project `project_id`: its language, and only the MCP servers it allows. A job works on one
    /// project; rules of a second one are not adopted (its calls keep the admin's settings).
    pub(crate) fn adopt_rules(&self, project_id: u64, effective: &repo_config::Effective) {
        let agent = self.agent.with_mcp_servers(&effective.mcp_servers);
        let rules = ProjectRules { project_id, effective: effective.clone(), agent };
        if self.rules.set(rules).is_err() {
            tracing::warn!(project = project_id, "the job already follows another project's rules");
        }
    }

    /// The language of prompts and notes: the project's rules', else `COPILOT_LANGUAGE`.
    pub(crate) fn language(&self) -> crate::config::Language {
        self.rules.get().map_or(self.settings.prompts.language, |rules| rules.effective.language)
    }

    /// Whether `TOTAL_TIMEOUT` has run out.
    pub fn out_of_time(&self) -> bool {
        std::time::Instant::now() >= self.deadline
    }

    /// Runs the workflow the trigger names, recording what it spends after each agent call and
    /// once more at the end.
    pub async fn run(&self, trigger: &Trigger) -> anyhow::Result<Code> {
        let recorder = self.spend_recorder(trigger.project_id());
        let ran = recorder.alongside(self.run_watched(trigger)).await;
        recorder.flush().await;
        match ran {
            Err(error) if crate::stages::stop::was_stopped(&error) => {
                tracing::warn!("a person stopped the work; what was pushed before stays");
                Ok(Code::Done)
            }
            ran => ran,
        }
    }

    /// Runs the workflow the trigger names while watching the job's own pipeline: once a person's
    /// stop request cancelled it, no agent call starts, the running one ends and nothing more is
    /// pushed; a workflow that does not end within one poll interval after that (one waiting on a
    /// pipeline) is dropped.
    async fn run_watched(&self, trigger: &Trigger) -> anyhow::Result<Code> {
        let mut workflow = Box::pin(self.run_workflow(trigger));
        match self.own_pipeline {
            None => workflow.await,
            Some((project_id, pipeline_id)) => {
                let interval = self.settings.pipeline_fix.retry_interval;
                tokio::select! {
                    ran = &mut workflow => ran,
                    () = self.stop.watch(&self.client, project_id, pipeline_id, interval) => {
                        match tokio::time::timeout(interval, &mut workflow).await {
                            Ok(ran) => ran,
                            Err(_) => Err(crate::stages::stop::Stopped.into()),
                        }
                    }
                }
            }
        }
    }

    async fn run_workflow(&self, trigger: &Trigger) -> anyhow::Result<Code> {
        match trigger {
            Trigger::IssueAssignee { project_id, issue_iid } => {
                let outcome = issue::run(self, *project_id, *issue_iid, None).await?;
                Ok(self.then_fix(*project_id, outcome).await)
            }
            Trigger::IssueNote { project_id, issue_iid, note_id } => {
                if let Some(code) = self.command(*project_id, gitlab::Noteable::Issue(*issue_iid), *note_id).await? {
                    return Ok(code);
                }
                let outcome = issue::run(self, *project_id, *issue_iid, Some(*note_id)).await?;
                Ok(self.then_fix(*project_id, outcome).await)
            }
            Trigger::MrNote { project_id, mr_iid, note_id, .. } => {
                match self.command(*project_id, gitlab::Noteable::MergeRequest(*mr_iid), *note_id).await? {
                    Some(code) => Ok(code),
                    None => mr_note::run(self, *project_id, *mr_iid, *note_id).await,
                }
            }
            Trigger::MrReviewer { project_id, mr_iid, .. } => mr_review::run(self, *project_id, *mr_iid).await,
            Trigger::PipelineFailed { project_id, pipeline_id, mr_iid, .. } => {
                pipeline_fix::run(self, *project_id, *pipeline_id, *mr_iid).await
            }
        }
    }

    /// Answers note `note_id` when it is a short command (help, stop, retry, plan, proceed); a
    /// retry runs the failed request again through its workflow, a plan or proceed runs the issue
    /// workflow in that mode. `None`: the note asks for work.
    async fn command(&self, project_id: u64, on: gitlab::Noteable, note_id: u64) -> anyhow::Result<Option<Code>> {
        let request = match commands::answer_note(self, project_id, on, note_id).await? {
            None => return Ok(None),
            Some(commands::Answer::Done(code)) => return Ok(Some(code)),
            Some(commands::Answer::Retry(request)) => request,
            Some(commands::Answer::Plan { note_id, by }) => {
                let gitlab::Noteable::Issue(iid) = on else { return Ok(Some(Code::Done)) };
                let mode = issue::Mode::Plan { by };
                let outcome = Box::pin(issue::run_as(self, project_id, iid, note_id, mode)).await?;
                return Ok(Some(self.then_fix(project_id, outcome).await));
            }
            Some(commands::Answer::Proceed { stored, by }) => {
                let gitlab::Noteable::Issue(iid) = on else { return Ok(Some(Code::Done)) };
                let note_id = stored.request_note;
                let mode = issue::Mode::Planned { stored, by };
                let outcome = Box::pin(issue::run_as(self, project_id, iid, note_id, mode)).await?;
                return Ok(Some(self.then_fix(project_id, outcome).await));
            }
        };
        let code = match (request.on, request.note_id) {
            (gitlab::Noteable::Issue(iid), note_id) => {
                let outcome = Box::pin(issue::run(self, project_id, iid, note_id)).await?;
                self.then_fix(project_id, outcome).await
            }
            (gitlab::Noteable::MergeRequest(iid), Some(note_id)) => {
                Box::pin(mr_note::run(self, project_id, iid, note_id)).await?
            }
            (gitlab::Noteable::MergeRequest(iid), None) => Box::pin(mr_review::run(self, project_id, iid)).await?,
        };
        Ok(Some(code))
    }

    /// After the issue story delivered a merge request: the pipeline-fix loop on it, when
    /// `COPILOT_AUTO_FIX_PIPELINE` asks for that.
    async fn then_fix(&self, project_id: u64, outcome: issue::Outcome) -> Code {
        match outcome {
            issue::Outcome::Ended(code) => code,
            issue::Outcome::MergeRequest(mr_iid) => pipeline_fix::after_issue(self, project_id, mr_iid).await,
        }
    }

    /// The agent-call runner for work in `repo_dir`, its artifacts and work folders named
    /// `folder` (`stages`, `review`).
    pub(crate) fn stage_runner(&self, repo_dir: &std::path::Path, folder: &str) -> StageRunner<'_, ConfiguredAgent> {
        StageRunner {
            agent: self.rules.get().map_or(&self.agent, |rules| &rules.agent),
            prompts: &self.prompts,
            language: self.language(),
            repo_dir: repo_dir.to_owned(),
            artifacts_dir: self.settings.artifacts_dir.join(folder),
            work_dir: self.work_dir.join(folder),
            stage_timeout: self.settings.agent.stage_timeout,
            deadline: Some(self.deadline),
            spend: &self.spend,
            stop: Some(&self.stop),
        }
    }

    /// Whether a GitLab user is this agent or a bot: their events never start work (no loops).
    pub fn ignores(&self, user: &UserBasic) -> bool {
        user.id == self.agent_user.id || crate::request::actor::is_bot(&user.username)
    }

    /// The checks before any work: the agent's own and bots' requests are ignored, people
    /// below `COPILOT_MIN_ACCESS_LEVEL` get a polite refusal, and so does everyone once the
    /// project used `COPILOT_MONTHLY_PREMIUM_REQUESTS` this month. `None` means stop with `Done`.
    /// `internal`: the request is an internal note, so every note in reply is internal too.
    pub(crate) async fn reporter_for<'a>(
        &'a self,
        project_id: u64,
        on: gitlab::Noteable,
        actor: Option<&UserBasic>,
        internal: bool,
    ) -> anyhow::Result<Option<crate::report::Reporter<'a>>> {
        let Some(actor) = actor else {
            tracing::warn!("cannot tell who asked for this work; nothing done");
            return Ok(None);
        };
        if self.ignores(actor) {
            tracing::info!(actor = %actor.username, "the agent itself or a bot asked; nothing done");
            return Ok(None);
        }
        let mut reporter = self.reporter(project_id, on);
        reporter.target.internal = internal;
        if !self.may_start_work(project_id, actor).await.context("while checking the actor's access")? {
            tracing::info!(actor = %actor.username, "refused: not enough access");
            let required_role = role_name(self.settings.access.min_access_level).to_owned();
            let refusal = crate::prompts::message::RefusalNote {
                actor: crate::untrusted::Username::new(&actor.username),
                required_role,
            };
            reporter.post(&refusal).await?;
            return Ok(None);
        }
        let monthly = self.settings.spend.monthly_premium_requests;
        if let Some(refusal) = self.monthly_cap_reached(project_id, actor, monthly).await? {
            reporter.post(&refusal).await?;
            return Ok(None);
        }
        Ok(Some(reporter))
    }

    /// Who wrote the description the agent follows (of the issue or merge request whose notes,
    /// oldest first, are `notes`), when the person who edited it last may not start work: the
    /// author of the newest "changed the description" system note, which GitLab writes as the
    /// editor. `None` when nobody edited it, or when its editor may start work.
    pub(crate) async fn edited_text(
        &self,
        project_id: u64,
        author: Option<&UserBasic>,
        notes: &[gitlab::Note],
    ) -> anyhow::Result<Option<EditedText>> {
        let editor = notes
            .iter()
            .rev()
            .filter(|note| note.system && note.body.starts_with("changed the description"))
            .find_map(|note| note.author.as_ref());
        let Some(editor) = editor else { return Ok(None) };
        if editor.id == self.agent_user.id
            || self.may_start_work(project_id, editor).await.context("while checking the editor's access")?
        {
            return Ok(None);
        }
        tracing::warn!(editor = %editor.username, "the description was last edited by someone who may not start work");
        Ok(Some(EditedText {
            author: author.map(|author| Username::new(&author.username)),
            editor: Username::new(&editor.username),
            required_role: role_name(self.settings.access.min_access_level).to_owned(),
        }))
    }

    /// A reporter of this job's notes on `on`, in the configured language, its status note
    /// showing what the job spent.
    pub(crate) fn reporter(&self, project_id: u64, on: gitlab::Noteable) -> crate::report::Reporter<'_> {
        let target = crate::report::Target { project_id, on, agent_user_id: self.agent_user.id, internal: false };
        let mut reporter = crate::report::Reporter::new(
            &self.client,
            &self.prompts,
            self.language(),
            target,
            self.pipeline_url.clone(),
            self.job_url.clone(),
        );
        reporter.follow_spend(&self.spend);
        reporter.follow_stop(&self.stop, self.own_pipeline);
        reporter
    }

    /// The project understanding the stages start from, through the context cache (the level
    /// goes to the job log): the checkout of `workspace` on `branch`, which started from `base`;
    /// with the project's rules applied once the job read them.
    pub(crate) async fn understand(
        &self,
        project_id: u64,
        workspace: &crate::git::Workspace,
        branch: &str,
        base: &str,
    ) -> anyhow::Result<crate::context::ProjectUnderstanding> {
        let agent_understanding = self.settings.workflow.project_understanding;
        self.understand_as(project_id, workspace, (branch, base), agent_understanding).await
    }

    /// [`Job::understand`] of a checkout whose text is not the project's word (a merge request's
    /// head under review): the agent writes no understanding of it, whatever
    /// `ENABLE_PROJECT_UNDERSTANDING` says, since what the branch's files tell the agent would
    /// reach the review's prompt as the project's context.
    pub(crate) async fn understand_under_review(
        &self,
        project_id: u64,
        workspace: &crate::git::Workspace,
        branch: &str,
        base: &str,
    ) -> anyhow::Result<crate::context::ProjectUnderstanding> {
        self.understand_as(project_id, workspace, (branch, base), false).await
    }

    async fn understand_as(
        &self,
        project_id: u64,
        workspace: &crate::git::Workspace,
        (branch, base): (&str, &str),
        agent_understanding: bool,
    ) -> anyhow::Result<crate::context::ProjectUnderstanding> {
        let project = project_id.to_string();
        let checkout = crate::context::ProjectCheckout {
            project: &project,
            branch,
            base_branch: Some(base),
            dir: workspace.dir(),
            git: workspace.git(),
            clone: Some(workspace),
            artifacts_dir: &self.settings.artifacts_dir,
            work_dir: &self.work_dir,
        };
        let runner = self.stage_runner(workspace.dir(), "understanding");
        let cache = &self.settings.cache;
        let mut understood =
            Box::pin(crate::context::understand_project(cache, agent_understanding, &self.env, &checkout, &runner))
                .await
                .context("while analysing the project")?;
        if let Some(rules) = self.rules_of(project_id) {
            rules.apply_to(&mut understood.facts);
        }
        Ok(understood)
    }

    /// Whether the actor's effective access level on the project (none for a blocked or locked
    /// user, or an expired or pending membership) reaches `COPILOT_MIN_ACCESS_LEVEL`.
    pub async fn may_start_work(&self, project_id: u64, user: &UserBasic) -> Result<bool, gitlab::Error> {
        let level = self.client.access_level(project_id, user.id).await?;
        Ok(level.0 >= self.settings.access.min_access_level)
    }
}

/// The name of the role `COPILOT_MIN_ACCESS_LEVEL` stands for, for refusal notes.
pub fn role_name(level: u32) -> &'static str {
    match level {
        0..=9 => "Minimal Access",
        10..=14 => "Guest",
        15..=19 => "Planner",
        20..=29 => "Reporter",
        30..=39 => "Developer",
        40..=49 => "Maintainer",
        _ => "Owner",
    }
}

/// Marks the running step failed, posts the failure note, and ends the job with exit 1.
pub(super) async fn fail(reporter: &mut Reporter<'_>, error: &anyhow::Error) -> anyhow::Result<Code> {
    if crate::stages::stop::was_stopped(error) {
        // The stop request says so on GitLab; the status note is left to it.
        tracing::warn!("a person stopped the work; what was pushed before stays");
        return Ok(Code::Done);
    }
    tracing::error!(error = %format!("{error:#}"), "the work failed");
    let step = reporter.fail_current().await.unwrap_or(None);
    let note = FailureNote {
        marker: Marker::status("failure"),
        step,
        error: MarkdownCode::new(&crate::redact::redact(&format!("{error:#}")), 4000),
        job_url: reporter.job_url.clone(),
        pipeline_url: reporter.pipeline_url.clone(),
    };
    if let Err(report_error) = reporter.post(&note).await {
        tracing::error!(error = %report_error, "could not post the failure note");
    }
    Ok(Code::WorkFailed)
}

/// When `TOTAL_TIMEOUT` runs out: counted from the job's start as GitLab gives it, so time spent
/// before `run` (pulling the image, cloning the agent project) counts too.
fn deadline(env: &Env, total: std::time::Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    let started = env.get(env_vars::ci::CI_JOB_STARTED_AT).and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok());
    let spent =
        started.and_then(|at| (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).to_std().ok()).unwrap_or_default();
    now + total.saturating_sub(spent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_named_by_level() {
        assert_eq!(role_name(30), "Developer");
        assert_eq!(role_name(40), "Maintainer");
        assert_eq!(role_name(10), "Guest");
    }
}
