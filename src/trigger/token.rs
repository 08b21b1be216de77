//! Which trigger token `serve` starts pipelines with when `PIPELINE_TRIGGER_TOKEN` is not set:
//! the agent user's own token in the agent project, described [`WEBHOOK_TRIGGER_DESCRIPTION`]
//! (`setup` creates it with the agent's token).
//!
//! GitLab lists a trigger token in full only to the user who created it, so the agent's
//! `GITLAB_TOKEN`, which `serve` holds anyway, is enough to read it: nobody copies the trigger
//! token into a Secret, and deleting it in GitLab takes effect at the next start.

use secrecy::SecretString;

use crate::env_vars;
use crate::exit::{Classify, Code};
use crate::gitlab::{self, Client, TriggerToken};

/// The description of the trigger token `setup` creates for the webhook service.
pub const WEBHOOK_TRIGGER_DESCRIPTION: &str = "copilot-runner webhook";

/// Why no trigger token could be found.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(
        "the agent project {project_id} has no trigger token of @{agent} described `{WEBHOOK_TRIGGER_DESCRIPTION}`; \
         run `copilot-runner setup` (it creates one with the agent's token), or set `{}`",
        env_vars::PIPELINE_TRIGGER_TOKEN
    )]
    NotFound { project_id: u64, agent: String },
    #[error(
        "@{agent} cannot list the trigger tokens of the agent project {project_id} (it needs the Maintainer role \
         there, and `{}` must be the project's id); run `copilot-runner setup`, or set `{}`",
        env_vars::PIPELINE_PROJECT_ID,
        env_vars::PIPELINE_TRIGGER_TOKEN
    )]
    NoAccess { project_id: u64, agent: String },
    #[error("cannot read the trigger tokens of the agent project {project_id}")]
    GitLab {
        project_id: u64,
        #[source]
        source: gitlab::Error,
    },
}

impl Classify for LookupError {
    fn exit_code(&self) -> Code {
        match self {
            LookupError::NotFound { .. } | LookupError::NoAccess { .. } => Code::Usage,
            LookupError::GitLab { source, .. } => source.exit_code(),
        }
    }
}

/// The trigger `user_id` owns with the webhook's description, shown in full, among `tokens`.
pub fn own_webhook_trigger(tokens: &[TriggerToken], user_id: u64) -> Option<&TriggerToken> {
    tokens.iter().find(|token| {
        token.description == WEBHOOK_TRIGGER_DESCRIPTION && token.is_owned_by(user_id) && token.is_whole()
    })
}

/// Reads the agent's own webhook trigger token of `project_id` with `client` (the agent's).
pub async fn find_own(
    client: &Client,
    project_id: u64,
    agent_id: u64,
    agent: &str,
) -> Result<SecretString, LookupError> {
    let tokens = client.trigger_tokens(project_id).await.map_err(|source| match source {
        gitlab::Error::NotFound { .. } | gitlab::Error::Forbidden { .. } => {
            LookupError::NoAccess { project_id, agent: agent.to_owned() }
        }
        source => LookupError::GitLab { project_id, source },
    })?;
    own_webhook_trigger(&tokens, agent_id)
        .map(|token| token.token.clone())
        .ok_or_else(|| LookupError::NotFound { project_id, agent: agent.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(description: &str, owner: u64, token: &str) -> TriggerToken {
        serde_json::from_value(serde_json::json!({
            "id": 1, "description": description, "token": token, "owner": {"id": owner, "username": "u"},
        }))
        .expect("a trigger token")
    }

    #[test]
    fn only_the_agents_own_whole_webhook_token_is_taken() {
        let tokens = [
            token(WEBHOOK_TRIGGER_DESCRIPTION, 8, "glpt"),
            token("something else", 7, "glptt-other-0123"),
            token(WEBHOOK_TRIGGER_DESCRIPTION, 9, "glptt-someone-elses"),
            token(WEBHOOK_TRIGGER_DESCRIPTION, 7, "glptt-the-agents-0123"),
        ];
        let found = own_webhook_trigger(&tokens, 7).map(|t| secrecy::ExposeSecret::expose_secret(&t.token).to_owned());
        assert_eq!(found.as_deref(), Some("glptt-the-agents-0123"));
        assert!(own_webhook_trigger(&tokens[..3], 7).is_none());
        assert!(own_webhook_trigger(&tokens[..1], 8).is_none(), "four characters are not the token");
    }
}
