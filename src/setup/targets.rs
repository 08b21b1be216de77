//! The targets, the projects and groups the agent works on (steps 8 to 10): the agent user's
//! Developer role on each, the webhook on each, and a runner for the agent project.

use super::refusal::Token;
use super::{Ask, Change, Run, Step};
use crate::env_vars;
use crate::gitlab::{AccessLevel, Group, MemberOf, Project};

/// A target as GitLab knows it.
#[derive(Debug, Clone)]
pub(super) enum Target {
    Project(Project),
    Group(Group),
}

impl Target {
    fn member_of(&self) -> MemberOf {
        match self {
            Target::Project(project) => MemberOf::Project(project.id.into()),
            Target::Group(group) => MemberOf::Group(group.id.into()),
        }
    }
}

/// Runs steps 8 to 10.
pub(super) async fn steps(run: &mut Run<'_>, agent_project: Option<&Project>) {
    if run.plan.targets.is_empty() {
        let step = Step::new("targets", "", Change::Failed, format!("`{}` is empty", env_vars::COPILOT_TARGETS))
            .with_fix(format!(
                "set `{}` to the projects and groups the agent works on, e.g. `acme/widgets,acme/tools`",
                env_vars::COPILOT_TARGETS
            ));
        run.report.push(step);
    }
    let mut targets = Vec::new();
    for path in run.plan.targets.clone() {
        if let Some(target) = resolve(run, &path).await {
            targets.push((path, target));
        }
    }
    for (path, target) in &targets {
        run.ensure_agent_role("target access", path, &target.member_of(), AccessLevel::DEVELOPER).await;
    }
    for (path, target) in &targets {
        run.webhook(path, target, agent_project).await;
    }
    run.runner(agent_project).await;
}

/// A target path as a project, else as a group.
async fn resolve(run: &mut Run<'_>, path: &str) -> Option<Target> {
    const STEP: &str = "target";
    let setup = &run.clients.setup.clone();
    let ask = Ask { action: "reading the target", needs: AccessLevel::GUEST, token: Token::Setup };
    match setup.find_project(path).await {
        Ok(Some(project)) => return Some(Target::Project(project)),
        Ok(None) => {}
        Err(error) => {
            run.refuse(STEP, path, ask, &error, None).await;
            return None;
        }
    }
    match setup.group(path).await {
        Ok(Some(group)) => Some(Target::Group(group)),
        Ok(None) => {
            let detail = format!("is neither a project nor a group that @{} can see", run.admin.username);
            let fix = format!(
                "check the path in `{}`, or give @{} access to it",
                env_vars::COPILOT_TARGETS,
                run.admin.username
            );
            run.report.push(Step::new(STEP, path, Change::Failed, detail).with_fix(fix));
            None
        }
        Err(error) => {
            run.refuse(STEP, path, ask, &error, None).await;
            None
        }
    }
}
