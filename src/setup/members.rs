//! Giving the agent user at least a role on a project or group (steps 3 and 8): nothing to do
//! when it has the role already, directly or through a group above; its direct membership
//! raised when it has one below; else it is added.

use super::refusal::{Token, role_name};
use super::{Ask, Change, Run, Step};
use crate::gitlab::{self, AccessLevel, MemberOf, access};

impl Run<'_> {
    /// Makes the agent user at least `level` on `of`, reported as step `name` about `subject`.
    pub(super) async fn ensure_agent_role(
        &mut self,
        name: &'static str,
        subject: &str,
        of: &MemberOf,
        level: AccessLevel,
    ) {
        let setup = &self.clients.setup.clone();
        let (agent_id, agent) = (self.agent.id, format!("@{}", self.agent.username));
        let role = role_name(level);
        let read = async {
            let effective = setup.effective_member(of, agent_id).await?;
            Ok::<_, gitlab::Error>((effective, setup.direct_member(of, agent_id).await?))
        };
        let (effective, direct) = match read.await {
            Ok(read) => read,
            Err(error) => {
                let action = format!("reading the members of {subject}");
                let ask = Ask { action: &action, needs: AccessLevel::MAINTAINER, token: Token::Setup };
                self.refuse(name, subject, ask, &error, None).await;
                return;
            }
        };
        let effective = effective.map(|member| member.effective_level(access::today()));
        if let Some(current) = effective.filter(|current| *current >= level) {
            let detail = format!("{agent} has the {} role (at least {role})", role_name(current));
            self.report.push(Step::new(name, subject, Change::Unchanged, detail));
            return;
        }
        let (done, action, did) = match &direct {
            Some(member) => (
                Change::Updated,
                format!("raising {agent} from {} to {role} on {subject}", role_name(member.access_level)),
                format!("raised {agent} from {} to {role}", role_name(member.access_level)),
            ),
            None => {
                (Change::Created, format!("adding {agent} to {subject} as {role}"), format!("added {agent} as {role}"))
            }
        };
        if self.plan.dry_run {
            self.report.push(Step::new(name, subject, self.change(done), action));
            return;
        }
        let written = match direct {
            Some(_) => setup.set_member_level(of, agent_id, level).await,
            None => setup.add_member(of, agent_id, level).await,
        };
        match written {
            Ok(_) => {
                self.report.push(Step::new(name, subject, done, did));
            }
            Err(error) => {
                let ask = Ask { action: &action, needs: level.max(AccessLevel::MAINTAINER), token: Token::Setup };
                self.refuse(name, subject, ask, &error, Some(of)).await;
            }
        }
    }

    /// A user's effective role on `of`, as the setup token reads it, when it can be read.
    pub(super) async fn role_of(&self, of: &MemberOf, user_id: u64) -> Option<AccessLevel> {
        let member = self.clients.setup.effective_member(of, user_id).await.ok()??;
        Some(member.effective_level(access::today()))
    }

    /// The setup token's user's effective role on `of`, when it can be read.
    pub(super) async fn admin_role(&self, of: &MemberOf) -> Option<AccessLevel> {
        self.role_of(of, self.admin.id).await
    }
}
