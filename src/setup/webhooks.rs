//! The webhook on every target (step 9) and the runner of the agent project (step 10).
//!
//! A group target gets one group webhook where GitLab offers them (Premium and up, Owner role);
//! where it refuses, every project of the group gets its own, and the report says why. A hook
//! with our URL is ours: it is updated only when its events or SSL verification differ, since
//! its secret token cannot be read back; `--rotate-secrets` writes the token again.

use super::refusal::{Token, role_name};
use super::targets::Target;
use super::{Ask, Change, Run, Step};
use crate::env_vars;
use crate::gitlab::{self, AccessLevel, Hook, HookEvents, HookParent, HookSpec, MemberOf, Project, RunnerFilter};

const STEP: &str = "webhook";

/// The flags that are on, for the report.
fn events_text(events: &HookEvents) -> String {
    let on: Vec<&str> = events.flags().iter().filter(|(_, on)| *on).map(|(flag, _)| *flag).collect();
    on.join(", ")
}

/// Whose members decide who may change a hook of `parent`.
fn member_of(parent: &HookParent) -> MemberOf {
    match parent {
        HookParent::Project(id) => MemberOf::Project(id.clone()),
        HookParent::Group(id) => MemberOf::Group(id.clone()),
    }
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl Run<'_> {
    /// Step 9 for one target.
    pub(super) async fn webhook(&mut self, path: &str, target: &Target, agent_project: Option<&Project>) {
        let Some(webhook) = self.plan.webhook.clone() else {
            let detail =
                format!("`{}` and `{}` are not both set", env_vars::WEBHOOK_URL, env_vars::WEBHOOK_SECRET_TOKEN);
            let fix = format!(
                "set `{}` to `serve`'s public URL (e.g. `https://copilot-runner.example.com/webhook`) and `{}` to \
                 the secret `serve` checks",
                env_vars::WEBHOOK_URL,
                env_vars::WEBHOOK_SECRET_TOKEN
            );
            self.report.push(Step::new(STEP, path, Change::Failed, detail).with_fix(fix));
            return;
        };
        let group = match target {
            Target::Project(project) => {
                let parent = HookParent::Project(project.id.into());
                self.project_hook(path, &parent, &webhook, None).await;
                return;
            }
            Target::Group(group) => group,
        };
        let parent = HookParent::Group(group.id.into());
        let listed = self.clients.setup.hooks(&parent).await;
        let hooks = match listed {
            Ok(hooks) => hooks,
            Err(gitlab::Error::Forbidden { .. } | gitlab::Error::NotFound { .. }) => {
                let role = self.admin_role(&MemberOf::Group(group.id.into())).await;
                let why = if role.is_some_and(|role| role >= AccessLevel::OWNER) {
                    "this GitLab's tier has no group webhooks (Premium and up)".to_owned()
                } else {
                    format!(
                        "group webhooks need the Owner role and @{} has {}",
                        self.admin.username,
                        role.map_or("no access", role_name)
                    )
                };
                self.fall_back_to_projects(path, group.id, &webhook, &why, agent_project).await;
                return;
            }
            Err(error) => {
                let ask =
                    Ask { action: "reading the group's webhooks", needs: AccessLevel::OWNER, token: Token::Setup };
                self.refuse(STEP, path, ask, &error, Some(&MemberOf::Group(group.id.into()))).await;
                return;
            }
        };
        self.ensure_hook(path, &parent, hooks, &webhook, None).await;
    }

    /// A group without a group webhook: a hook on each of its projects (the agent project aside).
    async fn fall_back_to_projects(
        &mut self,
        path: &str,
        group_id: u64,
        webhook: &super::Webhook,
        why: &str,
        agent_project: Option<&Project>,
    ) {
        let listed = self.clients.setup.group_projects(group_id).await;
        let projects = match listed {
            Ok(projects) => projects,
            Err(error) => {
                let ask =
                    Ask { action: "listing the group's projects", needs: AccessLevel::GUEST, token: Token::Setup };
                self.refuse(STEP, path, ask, &error, None).await;
                return;
            }
        };
        let projects: Vec<Project> =
            projects.into_iter().filter(|p| agent_project.is_none_or(|agent| agent.id != p.id)).collect();
        if projects.is_empty() {
            let detail = format!("no group webhook ({why}), and the group has no project to put one on");
            let fix =
                format!("add the webhook by hand on {path}, or name its projects in `{}`", env_vars::COPILOT_TARGETS);
            self.report.push(Step::new(STEP, path, Change::Failed, detail).with_fix(fix));
            return;
        }
        let note = format!("on the project instead of the group {path}: {why}");
        for project in projects {
            let parent = HookParent::Project(project.id.into());
            self.project_hook(&project.path_with_namespace, &parent, webhook, Some(&note)).await;
        }
    }

    async fn project_hook(&mut self, path: &str, parent: &HookParent, webhook: &super::Webhook, note: Option<&str>) {
        let listed = self.clients.setup.hooks(parent).await;
        match listed {
            Ok(hooks) => self.ensure_hook(path, parent, hooks, webhook, note).await,
            Err(error) => {
                let ask = Ask {
                    action: "reading the project's webhooks",
                    needs: AccessLevel::MAINTAINER,
                    token: Token::Setup,
                };
                self.refuse(STEP, path, ask, &error, Some(&member_of(parent))).await;
            }
        }
    }

    /// Our hook among `hooks`: created, updated where it differs, or left alone.
    async fn ensure_hook(
        &mut self,
        path: &str,
        parent: &HookParent,
        hooks: Vec<Hook>,
        webhook: &super::Webhook,
        note: Option<&str>,
    ) {
        let wanted = HookEvents::for_serve(self.plan.allow_confidential);
        let ours = hooks.into_iter().find(|hook| same_url(&hook.url, &webhook.url));
        let kind = match parent {
            HookParent::Project(_) => "project hook",
            HookParent::Group(_) => "group hook",
        };
        let subject = format!("{path} {}", webhook.url);
        let with_note = |detail: String| match note {
            Some(note) => format!("{detail} ({note})"),
            None => detail,
        };
        let (done, detail, token) = match &ours {
            None => (Change::Created, format!("{kind} for {}", events_text(&wanted)), true),
            Some(hook) if hook.events != wanted || !hook.enable_ssl_verification => {
                let missing = hook.events.missing(&wanted);
                let detail =
                    format!("{kind}'s events set to {} (missing: {})", events_text(&wanted), missing.join(", "));
                (Change::Updated, detail, self.plan.rotate_secrets)
            }
            Some(_) if self.plan.rotate_secrets => {
                (Change::Updated, format!("{kind}'s secret token written again (`--rotate-secrets`)"), true)
            }
            Some(_) => {
                let detail = format!(
                    "{kind} has the events {}; its secret token cannot be read back (`--rotate-secrets` writes it again)",
                    events_text(&wanted)
                );
                self.report.push(Step::new(STEP, subject, Change::Unchanged, with_note(detail)));
                return;
            }
        };
        if self.plan.dry_run {
            self.report.push(Step::new(STEP, subject, self.change(done), with_note(detail)));
            return;
        }
        let spec = HookSpec {
            url: webhook.url.clone(),
            token: token.then(|| webhook.secret.clone()),
            events: wanted,
            enable_ssl_verification: true,
        };
        let written = match &ours {
            Some(hook) => self.clients.setup.update_hook(parent, hook.id, &spec).await.map(drop),
            None => self.clients.setup.create_hook(parent, &spec).await.map(drop),
        };
        match written {
            Ok(()) => self.report.push(Step::new(STEP, subject, done, with_note(detail))),
            Err(error) => {
                let needs = match parent {
                    HookParent::Project(_) => AccessLevel::MAINTAINER,
                    HookParent::Group(_) => AccessLevel::OWNER,
                };
                let action = format!("{} a {kind} on {path}", if ours.is_some() { "updating" } else { "creating" });
                let ask = Ask { action: &action, needs, token: Token::Setup };
                self.refuse(STEP, path, ask, &error, Some(&member_of(parent))).await;
            }
        }
    }

    /// Step 10: a runner with the runner tag online for the agent project; a warning otherwise.
    pub(super) async fn runner(&mut self, agent_project: Option<&Project>) {
        const RUNNER: &str = "runner";
        let tag = self.plan.runner_tag.clone();
        let subject = format!("tag `{tag}`");
        let register = format!(
            "register a runner with the tag `{tag}` for {} (Settings > CI/CD > Runners > New project runner, or a \
             group or instance runner; docs/deploy.md, section 4), and keep it online",
            self.plan.agent_project
        );
        let Some(project) = agent_project else {
            let detail = "the agent project does not exist yet, so no runner can be checked".to_owned();
            self.report.push(Step::new(RUNNER, subject, Change::Warning, detail).with_fix(register));
            return;
        };
        let filter = RunnerFilter { tags: vec![tag.clone()], ..RunnerFilter::default() };
        let listed = self.clients.setup.project_runners(project.id, &filter).await;
        let runners = match listed {
            Ok(runners) => runners,
            Err(error) => {
                let (detail, _) = super::refusal::Refused {
                    action: "listing the agent project's runners",
                    resource: &self.plan.agent_project,
                    needs: AccessLevel::MAINTAINER,
                    token: Token::Setup,
                    user: &self.admin.username,
                    actual: None,
                }
                .explain(&error);
                self.report.push(Step::new(RUNNER, subject, Change::Warning, detail).with_fix(register));
                return;
            }
        };
        let ready: Vec<String> = runners
            .iter()
            .filter(|runner| runner.is_online() && !runner.is_paused())
            .map(|runner| format!("#{} {}", runner.id, runner.description.as_deref().unwrap_or("")).trim().to_owned())
            .collect();
        if ready.is_empty() {
            let detail = if runners.is_empty() {
                format!("no runner of {} has the tag; its jobs would stay pending", self.plan.agent_project)
            } else {
                format!(
                    "{} runner(s) have the tag, none online and unpaused; its jobs would stay pending",
                    runners.len()
                )
            };
            self.report.push(Step::new(RUNNER, subject, Change::Warning, detail).with_fix(register));
        } else {
            let detail = format!("online for {}: {}", self.plan.agent_project, ready.join(", "));
            self.report.push(Step::new(RUNNER, subject, Change::Unchanged, detail));
        }
    }
}
