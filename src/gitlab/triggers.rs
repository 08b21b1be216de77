//! Pipeline trigger tokens of the agent project: listing them and creating one.
//!
//! Shapes: Pipeline trigger tokens API, <https://docs.gitlab.com/api/pipeline_triggers/>
//! (`GET /projects/:id/triggers`, `POST /projects/:id/triggers` with `description`; Maintainer
//! role). "The trigger token is displayed in full if the trigger token was created by the
//! authenticated user. Trigger tokens created by other users are shortened to four
//! characters." The agent user creates the webhook's trigger, so only the agent's own token
//! (which `serve` holds) can read it back, and nobody has to copy it anywhere.
//!
//! Retry rules: listing is retried on every transient failure. Creating is sent again only when
//! GitLab certainly did not act: a blind repeat would make a second token.

use reqwest::Method;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::client::{Client, ProjectId};
use super::error::Error;
use super::retry::Replay;
use super::types::UserBasic;

/// A pipeline trigger token.
#[derive(Debug, Clone, Deserialize)]
pub struct TriggerToken {
    pub id: u64,
    #[serde(default)]
    pub description: String,
    /// In full for the user who created it, else its first four characters.
    pub token: SecretString,
    /// The user whose role the pipelines run with; `null` for tokens whose owner is gone.
    #[serde(default)]
    pub owner: Option<UserBasic>,
}

impl TriggerToken {
    /// Whether GitLab showed the whole token (it shows four characters to everyone but its
    /// owner).
    pub fn is_whole(&self) -> bool {
        self.token.expose_secret().len() > 4
    }

    /// Whether `user_id` owns it.
    pub fn is_owned_by(&self, user_id: u64) -> bool {
        self.owner.as_ref().is_some_and(|owner| owner.id == user_id)
    }
}

impl Client {
    /// `GET /projects/:id/triggers`: every trigger token of the project (Maintainer role).
    pub async fn trigger_tokens(&self, project: impl Into<ProjectId>) -> Result<Vec<TriggerToken>, Error> {
        let tokens: Vec<TriggerToken> =
            self.get_all(&format!("/projects/{}/triggers", project.into().segment()), &[]).await?;
        for token in tokens.iter().filter(|token| token.is_whole()) {
            crate::redact::register(token.token.expose_secret());
        }
        Ok(tokens)
    }

    /// `POST /projects/:id/triggers`: a new trigger token owned by the token's user.
    pub async fn create_trigger_token(
        &self,
        project: impl Into<ProjectId>,
        description: &str,
    ) -> Result<TriggerToken, Error> {
        let path = format!("/projects/{}/triggers", project.into().segment());
        let request =
            self.request(Method::POST, &path, &[], Some(json!({ "description": description })), Replay::OnlyUnsent)?;
        let token: TriggerToken = self.call(&request).await?;
        crate::redact::register(token.token.expose_secret());
        Ok(token)
    }
}
