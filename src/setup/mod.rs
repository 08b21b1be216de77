//! `copilot-runner setup`: the GitLab side of an installation, done through the API in one
//! idempotent run, in the order the pieces depend on each other:
//!
//! 1. the agent user: `GITLAB_TOKEN` belongs to `COPILOT_AGENT_USERNAME`;
//! 2. the agent project, created in its namespace when missing;
//! 3. the agent user is its Maintainer (it owns the trigger token);
//! 4. its `.gitlab-ci.yml`, the shipped example with this installation put in ([`ci_file`]);
//! 5. its "minimum role to use pipeline variables" (`no_one_allowed` when triggers pass inputs);
//! 6. the webhook's trigger token, created with the agent's token so that only the agent (and
//!    so `serve`) can read it back;
//! 7. its CI/CD variables `GITLAB_TOKEN` and `COPILOT_GITHUB_TOKEN`: masked, hidden where
//!    GitLab supports it, protected;
//! 8. the agent user's Developer role on every target (project or group);
//! 9. the webhook on every target;
//! 10. a runner with the runner tag online for the agent project.
//!
//! Every step reads first and writes only what differs, so a second run changes nothing and
//! says so; `--dry-run` stops before every write and says what it would do. Secrets are never
//! printed (GitLab cannot show hidden variables and hook tokens either, so those are kept
//! unless `--rotate-secrets`). A refused call names the role or scope and the token that lacked
//! it ([`refusal`]). Most calls use the setup token (`COPILOT_SETUP_TOKEN`, a person's); the
//! agent's own token reads the agent user and creates the trigger token.

pub mod ci_file;
mod members;
mod project;
pub mod refusal;
pub mod report;
mod targets;
mod webhooks;

use secrecy::SecretString;

use crate::config::TriggerWith;
use crate::env_vars;
use crate::gitlab::{self, Client, CurrentUser};
use refusal::Token;
pub use report::{Change, Report, Step};

/// Where GitLab delivers webhooks, and the secret it sends along.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub secret: SecretString,
}

/// Everything one run of `setup` is asked to make true.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The agent project's full path (`tools/copilot-agent`).
    pub agent_project: String,
    pub agent_username: String,
    /// The branch triggered pipelines run on, which holds the `.gitlab-ci.yml`.
    pub pipeline_ref: String,
    pub trigger_with: TriggerWith,
    pub component: String,
    pub image: String,
    pub runner_tag: String,
    /// Full paths of the projects and groups the agent works on.
    pub targets: Vec<String>,
    /// `None` when `WEBHOOK_URL` or `WEBHOOK_SECRET_TOKEN` is not set (the webhook step fails
    /// with the fix).
    pub webhook: Option<Webhook>,
    /// Whether confidential issues and notes are delivered too (`COPILOT_ALLOW_CONFIDENTIAL`).
    pub allow_confidential: bool,
    /// The value of the agent project's `GITLAB_TOKEN` variable.
    pub agent_token: SecretString,
    /// The value of its `COPILOT_GITHUB_TOKEN` variable, when set here.
    pub github_token: Option<SecretString>,
    pub dry_run: bool,
    /// Overwrite what GitLab cannot show to compare: hidden variables and hook tokens.
    pub rotate_secrets: bool,
}

/// The two clients: the person's (setup token) and the agent's.
#[derive(Debug, Clone)]
pub struct Clients {
    pub setup: Client,
    pub agent: Client,
}

/// What a call asked of GitLab, for the message when it is refused.
#[derive(Debug, Clone, Copy)]
struct Ask<'a> {
    /// e.g. `creating the project hook on acme/widgets`.
    action: &'a str,
    needs: gitlab::AccessLevel,
    token: Token,
}

/// One run: the plan, the clients, who the tokens belong to, and the report so far.
struct Run<'a> {
    plan: &'a Plan,
    clients: &'a Clients,
    /// The setup token's user.
    admin: CurrentUser,
    /// The agent user.
    agent: CurrentUser,
    report: Report,
}

/// Runs every step and returns the report; never fails itself, every problem is a step.
pub async fn run(plan: &Plan, clients: &Clients) -> Report {
    let mut report = Report::default();
    let Some((admin, agent)) = users(plan, clients, &mut report).await else { return report };
    let mut run = Run { plan, clients, admin, agent, report };
    let agent_project = project::steps(&mut run).await;
    targets::steps(&mut run, agent_project.as_ref()).await;
    if let Some(project) = &agent_project {
        run.report.notes.push(format!(
            "`serve` needs {}={} besides `{}` and `{}`; it reads the trigger token from GitLab itself",
            env_vars::PIPELINE_PROJECT_ID,
            project.id,
            env_vars::GITLAB_TOKEN,
            env_vars::WEBHOOK_SECRET_TOKEN
        ));
    }
    run.report
}

/// Step 1: who the two tokens belong to; the agent's must be `COPILOT_AGENT_USERNAME`.
async fn users(plan: &Plan, clients: &Clients, report: &mut Report) -> Option<(CurrentUser, CurrentUser)> {
    const STEP: &str = "tokens";
    let admin = match clients.setup.current_user().await {
        Ok(user) => user,
        Err(error) => {
            report.push(token_failure(STEP, Token::Setup, &error));
            return None;
        }
    };
    let agent = match clients.agent.current_user().await {
        Ok(user) => user,
        Err(error) => {
            report.push(token_failure(STEP, Token::Agent, &error));
            return None;
        }
    };
    if !agent.username.eq_ignore_ascii_case(&plan.agent_username) {
        report.push(
            Step::new(
                "agent user",
                format!("@{}", plan.agent_username),
                Change::Failed,
                format!(
                    "`{}` belongs to @{}, not to the agent user @{}",
                    env_vars::GITLAB_TOKEN,
                    agent.username,
                    plan.agent_username
                ),
            )
            .with_fix(format!(
                "set `{}` to a token of @{} (scopes `api`, `write_repository`), or `{}={}`",
                env_vars::GITLAB_TOKEN,
                plan.agent_username,
                env_vars::COPILOT_AGENT_USERNAME,
                agent.username
            )),
        );
        return None;
    }
    if admin.id == agent.id {
        report.push(
            Step::new(
                STEP,
                format!("@{}", admin.username),
                Change::Failed,
                format!("`{}` and `{}` belong to the same user", env_vars::COPILOT_SETUP_TOKEN, env_vars::GITLAB_TOKEN),
            )
            .with_fix(format!(
                "set `{}` to the token of the person who owns the agent project's namespace and the targets",
                env_vars::COPILOT_SETUP_TOKEN
            )),
        );
        return None;
    }
    report.push(Step::new(
        "agent user",
        format!("@{}", agent.username),
        Change::Unchanged,
        format!(
            "`{}` belongs to the agent user (id {}); the setup token to @{}",
            env_vars::GITLAB_TOKEN,
            agent.id,
            admin.username
        ),
    ));
    Some((admin, agent))
}

fn token_failure(step: &'static str, token: Token, error: &gitlab::Error) -> Step {
    let variable = match token {
        Token::Setup => env_vars::COPILOT_SETUP_TOKEN,
        Token::Agent => env_vars::GITLAB_TOKEN,
    };
    let change = unreachable_or_failed(error);
    Step::new(step, format!("`{variable}`"), change, format!("GitLab did not accept {}: {error}", token.describe()))
        .with_fix(format!("set `{variable}` to a valid personal access token with the `api` scope"))
}

/// Transport trouble is infrastructure; anything else needs a fix.
fn unreachable_or_failed(error: &gitlab::Error) -> Change {
    match error {
        gitlab::Error::Transport { .. } | gitlab::Error::RateLimited { .. } => Change::Unreachable,
        gitlab::Error::Status { code, .. } if *code >= 500 => Change::Unreachable,
        _ => Change::Failed,
    }
}

impl Run<'_> {
    /// Reports a call GitLab refused: what was asked, the role it needs, and the role the
    /// token's user has on `of` (read with the setup token, when given).
    async fn refuse(
        &mut self,
        name: &'static str,
        subject: &str,
        ask: Ask<'_>,
        error: &gitlab::Error,
        of: Option<&gitlab::MemberOf>,
    ) {
        let (user, user_id) = match ask.token {
            Token::Setup => (self.admin.username.clone(), self.admin.id),
            Token::Agent => (self.agent.username.clone(), self.agent.id),
        };
        let actual = match of {
            Some(of) => self.role_of(of, user_id).await,
            None => None,
        };
        let user = user.as_str();
        let refused = refusal::Refused {
            action: ask.action,
            resource: subject,
            needs: ask.needs,
            token: ask.token,
            user,
            actual,
        };
        let (detail, fix) = refused.explain(error);
        let mut step = Step::new(name, subject, unreachable_or_failed(error), detail);
        step.fix = fix;
        self.report.push(step);
    }

    /// `would` in a dry run, else `done`.
    fn change(&self, done: Change) -> Change {
        match (self.plan.dry_run, done) {
            (true, Change::Created) => Change::WouldCreate,
            (true, Change::Updated) => Change::WouldUpdate,
            _ => done,
        }
    }
}
