//! The agent project (steps 2 to 7): the project itself, the agent user as its Maintainer, its
//! `.gitlab-ci.yml`, its pipeline-variables setting, the webhook's trigger token and its CI/CD
//! variables.
//!
//! In a dry run where the project does not exist yet, every later step of the project says what
//! it would do without reading anything.

use secrecy::{ExposeSecret as _, SecretString};

use super::refusal::{Token, role_name};
use super::{Ask, Change, Run, Step, ci_file};
use crate::config::TriggerWith;
use crate::env_vars;
use crate::gitlab::{AccessLevel, FileCommit, MemberOf, NewProject, Project, SecretVariable};
use crate::trigger::token::{WEBHOOK_TRIGGER_DESCRIPTION, own_webhook_trigger};

/// What triggered pipelines need of "minimum role to use pipeline variables".
const NO_ONE: &str = "no_one_allowed";

/// Runs steps 2 to 7; returns the agent project when it exists (`None` in a dry run that
/// would create it, or when it could not be created).
pub(super) async fn steps(run: &mut Run<'_>) -> Option<Project> {
    let project = agent_project(run).await;
    let path = run.plan.agent_project.clone();
    let Some(project) = project else {
        if run.plan.dry_run && run.report.named("agent project").any(|s| s.change == Change::WouldCreate) {
            would_set_up_a_new_project(run, &path);
        } else {
            for name in ["agent maintainer", "ci file", "pipeline variables", "trigger token", "ci variable"] {
                run.report.push(Step::new(name, path.as_str(), Change::Skipped, "needs the agent project"));
            }
        }
        return None;
    };
    run.ensure_agent_role("agent maintainer", &path, &MemberOf::Project(project.id.into()), AccessLevel::MAINTAINER)
        .await;
    commit_ci_file(run, &project).await;
    pipeline_variables(run, &project).await;
    trigger_token(run, &project).await;
    variables(run, &project).await;
    Some(project)
}

/// Step 2: found by path, else created in its namespace.
async fn agent_project(run: &mut Run<'_>) -> Option<Project> {
    const STEP: &str = "agent project";
    let path = run.plan.agent_project.clone();
    let setup = &run.clients.setup.clone();
    match setup.find_project(path.as_str()).await {
        Ok(Some(project)) => {
            let detail = format!("exists (id {}, {})", project.id, project.web_url);
            run.report.push(Step::new(STEP, path.as_str(), Change::Unchanged, detail));
            return Some(project);
        }
        Ok(None) => {}
        Err(error) => {
            let ask = Ask { action: "reading the agent project", needs: AccessLevel::MAINTAINER, token: Token::Setup };
            run.refuse(STEP, &path, ask, &error, None).await;
            return None;
        }
    }
    let Some((namespace_path, name)) = path.rsplit_once('/') else {
        let step = Step::new(STEP, path.as_str(), Change::Failed, "is not a full path `namespace/project`")
            .with_fix("pass `--agent-project GROUP/NAME`");
        run.report.push(step);
        return None;
    };
    let namespace = match setup.namespace(namespace_path).await {
        Ok(Some(namespace)) => namespace,
        Ok(None) => {
            let detail =
                format!("the namespace `{namespace_path}` does not exist or @{} cannot see it", run.admin.username);
            let fix = format!("create the group `{namespace_path}`, or name an existing one in `--agent-project`");
            run.report.push(Step::new(STEP, path.as_str(), Change::Failed, detail).with_fix(fix));
            return None;
        }
        Err(error) => {
            let ask = Ask { action: "reading the namespace", needs: AccessLevel::DEVELOPER, token: Token::Setup };
            run.refuse(STEP, namespace_path, ask, &error, None).await;
            return None;
        }
    };
    let action = format!("creating the project in {namespace_path}");
    if run.plan.dry_run {
        run.report.push(Step::new(STEP, path.as_str(), Change::WouldCreate, action));
        return None;
    }
    let new = NewProject { namespace_id: namespace.id, namespace_path: &namespace.full_path, path: name };
    match setup.create_project(&new).await {
        Ok(project) => {
            let detail = format!("created in {namespace_path} (id {}, {})", project.id, project.web_url);
            run.report.push(Step::new(STEP, path.as_str(), Change::Created, detail));
            Some(project)
        }
        Err(error) => {
            let ask = Ask { action: &action, needs: AccessLevel::DEVELOPER, token: Token::Setup };
            run.refuse(STEP, namespace_path, ask, &error, Some(&MemberOf::Group(namespace_path.into()))).await;
            None
        }
    }
}

/// A dry run for a project that does not exist yet: everything would be created.
fn would_set_up_a_new_project(run: &mut Run<'_>, path: &str) {
    let agent = format!("@{}", run.agent.username);
    let plan = run.plan;
    let steps = [
        ("agent maintainer", path.to_owned(), format!("adding {agent} as Maintainer")),
        ("ci file", format!("{path}:{}", ci_file::PATH), format!("committing it on `{}`", plan.pipeline_ref)),
        (
            "pipeline variables",
            path.to_owned(),
            format!("setting the minimum role to `{}`", wanted_role(plan.trigger_with, None)),
        ),
        ("trigger token", path.to_owned(), format!("creating `{WEBHOOK_TRIGGER_DESCRIPTION}` as {agent}")),
    ];
    for (name, subject, detail) in steps {
        let change = if name == "pipeline variables" { Change::WouldUpdate } else { Change::WouldCreate };
        run.report.push(Step::new(name, subject, change, detail));
    }
    for (key, value) in secret_variables(run) {
        let (change, detail) = match value {
            Some(_) => (Change::WouldCreate, "creating it masked, hidden and protected".to_owned()),
            None => (Change::Failed, format!("`{key}` is not set here")),
        };
        run.report.push(Step::new("ci variable", format!("{path} {key}"), change, detail));
    }
}

/// Step 4: the `.gitlab-ci.yml`, committed only when its content differs.
async fn commit_ci_file(run: &mut Run<'_>, project: &Project) {
    const STEP: &str = "ci file";
    let plan = run.plan;
    let subject = format!("{}:{}", plan.agent_project, ci_file::PATH);
    let values = ci_file::Values {
        component: &plan.component,
        image: &plan.image,
        runner_tag: &plan.runner_tag,
        agent_username: &plan.agent_username,
    };
    let content = match ci_file::render(&values) {
        Ok(content) => content,
        Err(error) => {
            let step = Step::new(STEP, subject, Change::Failed, error.to_string())
                .with_fix("this build of copilot-runner is broken; report it");
            run.report.push(step);
            return;
        }
    };
    let setup = &run.clients.setup.clone();
    let current = match setup.raw_file(project.id, ci_file::PATH, &plan.pipeline_ref).await {
        Ok(current) => current,
        Err(error) => {
            let ask = Ask { action: "reading the `.gitlab-ci.yml`", needs: AccessLevel::REPORTER, token: Token::Setup };
            run.refuse(STEP, &subject, ask, &error, None).await;
            return;
        }
    };
    let (done, detail) = match current.as_deref() {
        Some(text) if text == content => {
            let detail = format!("already includes {} with the image {}", plan.component, plan.image);
            run.report.push(Step::new(STEP, subject, Change::Unchanged, detail));
            return;
        }
        Some(_) => (Change::Updated, format!("committing the new content on `{}`", plan.pipeline_ref)),
        None => (Change::Created, format!("committing it on `{}`", plan.pipeline_ref)),
    };
    if plan.dry_run {
        run.report.push(Step::new(STEP, subject, run.change(done), detail));
        return;
    }
    let message =
        format!("copilot-runner setup: {} the agent's pipeline", if current.is_some() { "update" } else { "add" });
    let file = FileCommit { path: ci_file::PATH, branch: &plan.pipeline_ref, content: &content, message: &message };
    let written = match done {
        Change::Updated => setup.update_file(project.id, &file).await,
        _ => setup.create_file(project.id, &file).await,
    };
    match written {
        Ok(()) => run.report.push(Step::new(STEP, subject, done, detail.replace("committing", "committed"))),
        Err(error) => {
            let action = format!("committing `{}` on the protected branch `{}`", ci_file::PATH, plan.pipeline_ref);
            let ask = Ask { action: &action, needs: AccessLevel::MAINTAINER, token: Token::Setup };
            run.refuse(STEP, &plan.agent_project, ask, &error, Some(&MemberOf::Project(project.id.into()))).await;
        }
    }
}

/// The "minimum role to use pipeline variables" triggers need: nobody with inputs; with
/// variables the trigger token's owner (the agent, a Maintainer) must be allowed.
fn wanted_role(with: TriggerWith, current: Option<&str>) -> &'static str {
    match (with, current) {
        (TriggerWith::Inputs, _) => NO_ONE,
        (TriggerWith::Variables, Some("developer")) => "developer",
        (TriggerWith::Variables, _) => "maintainer",
    }
}

/// Step 5: the project's "minimum role to use pipeline variables".
async fn pipeline_variables(run: &mut Run<'_>, project: &Project) {
    const STEP: &str = "pipeline variables";
    let plan = run.plan;
    let path = plan.agent_project.as_str();
    let setup = &run.clients.setup.clone();
    let current = match setup.project(project.id).await {
        Ok(read) => read.ci_pipeline_variables_minimum_override_role,
        Err(error) => {
            let ask = Ask {
                action: "reading the project's CI/CD settings",
                needs: AccessLevel::MAINTAINER,
                token: Token::Setup,
            };
            run.refuse(STEP, path, ask, &error, None).await;
            return;
        }
    };
    let Some(current) = current else {
        let actual = run.admin_role(&MemberOf::Project(project.id.into())).await;
        let detail = format!(
            "GitLab does not show the setting to @{} ({}); changing it needs the Maintainer role",
            run.admin.username,
            actual.map_or("no access", role_name)
        );
        let fix = format!("give @{} the Maintainer role on {path}", run.admin.username);
        run.report.push(Step::new(STEP, path, Change::Failed, detail).with_fix(fix));
        return;
    };
    let wanted = wanted_role(plan.trigger_with, Some(current.as_str()));
    let why = match plan.trigger_with {
        TriggerWith::Inputs => "triggers pass inputs, so nobody needs pipeline variables".to_owned(),
        TriggerWith::Variables => format!(
            "`{}=variables`: the trigger token's owner, the agent user (Maintainer), must be allowed to pass them; \
             switch to inputs and `{NO_ONE}` on GitLab 18.1 or later",
            env_vars::PIPELINE_TRIGGER_WITH
        ),
    };
    if current == wanted {
        run.report.push(Step::new(STEP, path, Change::Unchanged, format!("is `{current}`: {why}")));
        return;
    }
    let detail = format!("from `{current}` to `{wanted}`: {why}");
    if plan.dry_run {
        run.report.push(Step::new(STEP, path, Change::WouldUpdate, detail));
        return;
    }
    match setup.set_pipeline_variables_role(project.id, wanted).await {
        Ok(_) => run.report.push(Step::new(STEP, path, Change::Updated, detail)),
        Err(error) => {
            let ask = Ask {
                action: "changing the project's CI/CD settings",
                needs: AccessLevel::MAINTAINER,
                token: Token::Setup,
            };
            run.refuse(STEP, path, ask, &error, Some(&MemberOf::Project(project.id.into()))).await;
        }
    }
}

/// Step 6: the agent's own trigger token for the webhook service, created with its token.
async fn trigger_token(run: &mut Run<'_>, project: &Project) {
    const STEP: &str = "trigger token";
    let path = run.plan.agent_project.clone();
    let agent_client = &run.clients.agent.clone();
    let serve_reads = format!(
        "`serve` reads it with `{}` when `{}` is not set",
        env_vars::GITLAB_TOKEN,
        env_vars::PIPELINE_TRIGGER_TOKEN
    );
    // In a dry run the agent may not be Maintainer yet, and so cannot list the tokens.
    if run.plan.dry_run && run.report.named("agent maintainer").any(|s| s.change.is_change()) {
        let detail = format!("creating `{WEBHOOK_TRIGGER_DESCRIPTION}` as @{}", run.agent.username);
        run.report.push(Step::new(STEP, path, Change::WouldCreate, detail));
        return;
    }
    let tokens = match agent_client.trigger_tokens(project.id).await {
        Ok(tokens) => tokens,
        Err(error) => {
            let ask = Ask { action: "listing the trigger tokens", needs: AccessLevel::MAINTAINER, token: Token::Agent };
            run.refuse(STEP, &path, ask, &error, Some(&MemberOf::Project(project.id.into()))).await;
            return;
        }
    };
    if let Some(token) = own_webhook_trigger(&tokens, run.agent.id) {
        let detail = format!(
            "`{WEBHOOK_TRIGGER_DESCRIPTION}` (id {}) belongs to @{}; {serve_reads}",
            token.id, run.agent.username
        );
        run.report.push(Step::new(STEP, path, Change::Unchanged, detail));
        return;
    }
    let detail = format!("`{WEBHOOK_TRIGGER_DESCRIPTION}` as @{}; {serve_reads}", run.agent.username);
    if run.plan.dry_run {
        run.report.push(Step::new(STEP, path, Change::WouldCreate, detail));
        return;
    }
    match agent_client.create_trigger_token(project.id, WEBHOOK_TRIGGER_DESCRIPTION).await {
        Ok(token) => {
            let detail = format!("{detail} (id {}; the token itself is not shown)", token.id);
            run.report.push(Step::new(STEP, path, Change::Created, detail));
        }
        Err(error) => {
            let ask = Ask { action: "creating a trigger token", needs: AccessLevel::MAINTAINER, token: Token::Agent };
            run.refuse(STEP, &path, ask, &error, Some(&MemberOf::Project(project.id.into()))).await;
        }
    }
}

/// The agent project's secret variables and the values set here.
fn secret_variables(run: &Run<'_>) -> [(&'static str, Option<SecretString>); 2] {
    [
        (env_vars::GITLAB_TOKEN, Some(run.plan.agent_token.clone())),
        (env_vars::COPILOT_GITHUB_TOKEN, run.plan.github_token.clone()),
    ]
}

/// Step 7: `GITLAB_TOKEN` and `COPILOT_GITHUB_TOKEN` as masked, hidden, protected variables.
async fn variables(run: &mut Run<'_>, project: &Project) {
    for (key, value) in secret_variables(run) {
        variable(run, project, key, value.as_ref()).await;
    }
}

async fn variable(run: &mut Run<'_>, project: &Project, key: &'static str, value: Option<&SecretString>) {
    const STEP: &str = "ci variable";
    let plan = run.plan;
    let subject = format!("{} {key}", plan.agent_project);
    let setup = &run.clients.setup.clone();
    let ask = |action| Ask { action, needs: AccessLevel::MAINTAINER, token: Token::Setup };
    let existing = match setup.project_variable(project.id, key).await {
        Ok(existing) => existing,
        Err(error) => {
            run.refuse(
                STEP,
                &subject,
                ask("reading the CI/CD variables"),
                &error,
                Some(&MemberOf::Project(project.id.into())),
            )
            .await;
            return;
        }
    };
    let description = format!("copilot-runner: {key} of the agent's jobs (set by `copilot-runner setup`)");
    let (done, detail) = match (&existing, value) {
        (None, None) => {
            let detail = format!("`{key}` is not set here and the project has no such variable");
            let fix = format!("set `{key}` and run setup again (it is stored masked, hidden and protected)");
            run.report.push(Step::new(STEP, subject, Change::Failed, detail).with_fix(fix));
            return;
        }
        (None, Some(_)) => (Change::Created, "masked, hidden and protected".to_owned()),
        (Some(existing), None) => {
            let detail = format!("kept ({}); `{key}` is not set here", flags(existing));
            run.report.push(Step::new(STEP, subject, Change::Unchanged, detail));
            return;
        }
        (Some(existing), Some(value)) => {
            let flags_ok = existing.masked && existing.protected && existing.raw;
            let same = existing.value.as_ref().map(|current| current.expose_secret() == value.expose_secret());
            match same {
                // Hidden: GitLab cannot show the value to compare.
                None if !plan.rotate_secrets => {
                    let detail = format!(
                        "kept ({}): its value cannot be read back; `--rotate-secrets` overwrites it",
                        flags(existing)
                    );
                    run.report.push(Step::new(STEP, subject, Change::Unchanged, detail));
                    return;
                }
                Some(true) if flags_ok => {
                    run.report.push(Step::new(
                        STEP,
                        subject,
                        Change::Unchanged,
                        format!("up to date ({})", flags(existing)),
                    ));
                    return;
                }
                None => (Change::Updated, "overwritten (`--rotate-secrets`)".to_owned()),
                Some(true) => (Change::Updated, "made masked, protected and raw".to_owned()),
                Some(false) => (Change::Updated, "given the value set here, masked, protected and raw".to_owned()),
            }
        }
    };
    if plan.dry_run {
        run.report.push(Step::new(STEP, subject, run.change(done), detail));
        return;
    }
    let Some(value) = value else { return };
    let variable = SecretVariable { key, value, description: &description };
    let written = if existing.is_some() {
        setup.update_secret_variable(project.id, &variable).await
    } else {
        setup.create_secret_variable(project.id, &variable).await
    };
    match written {
        Ok(stored) => {
            let detail = if stored.hidden || done == Change::Updated {
                detail
            } else {
                "masked and protected (this GitLab does not hide variables: 17.4 or later does)".to_owned()
            };
            run.report.push(Step::new(STEP, subject, done, detail));
        }
        Err(error) => {
            run.refuse(
                STEP,
                &subject,
                ask("writing a CI/CD variable"),
                &error,
                Some(&MemberOf::Project(project.id.into())),
            )
            .await;
        }
    }
}

/// How a variable is stored, in words.
fn flags(variable: &crate::gitlab::Variable) -> String {
    let mut words = Vec::new();
    if variable.masked {
        words.push("masked");
    }
    if variable.hidden {
        words.push("hidden");
    }
    if variable.protected {
        words.push("protected");
    }
    if words.is_empty() { "visible, unprotected".to_owned() } else { words.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_with_inputs_need_no_one_and_with_variables_the_agent_maintainer() {
        assert_eq!(wanted_role(TriggerWith::Inputs, Some("developer")), "no_one_allowed");
        assert_eq!(wanted_role(TriggerWith::Variables, Some("no_one_allowed")), "maintainer");
        assert_eq!(wanted_role(TriggerWith::Variables, Some("owner")), "maintainer", "the agent is a Maintainer");
        assert_eq!(wanted_role(TriggerWith::Variables, Some("developer")), "developer", "already lets it through");
    }
}
