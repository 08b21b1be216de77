//! Award emoji: 👀 on the triggering note or issue (awarded, listed to judge its age, taken
//! back), and reactions on results.
//!
//! GitLab refuses to let a user award the same emoji twice on the same target (404 `Award Emoji
//! Name has already been taken`). The webhook service relies on that as a test-and-set across
//! replicas, so the refusal comes back as [`AwardOutcome::AlreadyAwarded`], not as an error.
//!
//! Retry rule: an award is sent again only when GitLab certainly did not act, or after an
//! ambiguous failure; in the second case "already awarded" means our earlier attempt landed and
//! counts as success ([`AwardOutcome::Awarded`] without the award's details).

use reqwest::Method;
use serde_json::json;

use super::client::{Client, ProjectId};
use super::error::Error;
use super::notes::Noteable;
use super::retry::{Budget, Replay};
use super::types::AwardEmoji;

/// What an emoji is awarded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awardable {
    Issue(u64),
    MergeRequest(u64),
    /// A note on an issue or a merge request.
    Note {
        on: Noteable,
        note_id: u64,
    },
}

impl Awardable {
    fn path(self, project: &ProjectId) -> String {
        match self {
            Awardable::Issue(iid) => format!("{}/award_emoji", Noteable::Issue(iid).path(project)),
            Awardable::MergeRequest(iid) => format!("{}/award_emoji", Noteable::MergeRequest(iid).path(project)),
            Awardable::Note { on, note_id } => format!("{}/notes/{note_id}/award_emoji", on.path(project)),
        }
    }
}

/// The result of awarding an emoji.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwardOutcome {
    /// We awarded it now. The details are missing when the answer to the landing attempt was
    /// lost and a repeat found the award already there.
    Awarded(Option<AwardEmoji>),
    /// The token's user had already awarded this emoji here (someone else won the race).
    AlreadyAwarded,
}

impl Client {
    /// `POST …/award_emoji` with `name` (`eyes`, `thumbsup`, `rocket`, …).
    pub async fn award_emoji(
        &self,
        project: impl Into<ProjectId>,
        on: Awardable,
        name: &str,
    ) -> Result<AwardOutcome, Error> {
        let path = on.path(&project.into());
        let request = self.request(Method::POST, &path, &[], Some(json!({ "name": name })), Replay::OnlyUnsent)?;
        let mut budget = Budget::new(self.retry_policy());
        let mut sent_before = false;
        loop {
            match self.execute(&request, &mut budget).await {
                Ok((_, body)) => {
                    return super::client::decode_json(&request.endpoint(), &body)
                        .map(|award| AwardOutcome::Awarded(Some(award)));
                }
                Err(error) if is_already_awarded(&error) => {
                    return Ok(if sent_before { AwardOutcome::Awarded(None) } else { AwardOutcome::AlreadyAwarded });
                }
                Err(error) if error.may_have_landed() => {
                    sent_before = true;
                    let Some(delay) = budget.next_delay(None) else { return Err(error) };
                    tracing::warn!(endpoint = %request.endpoint(), ?delay, "award may have landed; sending it again");
                    tokio::time::sleep(delay).await;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

impl Client {
    /// `GET …/award_emoji`: every award on the target, by anyone.
    pub async fn award_emojis(&self, project: impl Into<ProjectId>, on: Awardable) -> Result<Vec<AwardEmoji>, Error> {
        self.get_all(&on.path(&project.into()), &[]).await
    }

    /// `DELETE …/award_emoji/:award_id`: takes an award back (the webhook service gives up its
    /// 👀 lock when the trigger it guarded failed). Already gone counts as done, so a repeat is
    /// harmless and every transient failure is retried.
    pub async fn remove_award_emoji(
        &self,
        project: impl Into<ProjectId>,
        on: Awardable,
        award_id: u64,
    ) -> Result<(), Error> {
        let path = format!("{}/{award_id}", on.path(&project.into()));
        let request = self.request(Method::DELETE, &path, &[], None, Replay::Always)?;
        match self.execute(&request, &mut Budget::new(self.retry_policy())).await {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

/// GitLab's answer to a duplicate award: 404 with "has already been taken" (older versions
/// answered 400/422 with the same text).
fn is_already_awarded(error: &Error) -> bool {
    let message = match error {
        Error::NotFound { message, .. } => message,
        Error::Status { code: 400 | 422, body, .. } => body,
        _ => return false,
    };
    message.contains("has already been taken")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_duplicate_award_refusal_is_already_awarded() {
        let taken = Error::from_status(
            "POST /x".into(),
            404,
            r#"{"message":"404 Award Emoji Name has already been taken Not Found"}"#,
            1,
        );
        assert!(is_already_awarded(&taken));
        let invalid = Error::from_status(
            "POST /x".into(),
            404,
            r#"{"message":"404 Award Emoji Name is not a valid emoji name"}"#,
            1,
        );
        assert!(!is_already_awarded(&invalid));
        assert!(!is_already_awarded(&Error::from_status("POST /x".into(), 404, r#"{"message":"404 Not found"}"#, 1)));
    }

    #[test]
    fn award_paths_cover_issues_merge_requests_and_their_notes() {
        let project = ProjectId::from("g/p");
        assert_eq!(Awardable::Issue(3).path(&project), "/projects/g%2Fp/issues/3/award_emoji");
        assert_eq!(Awardable::MergeRequest(4).path(&project), "/projects/g%2Fp/merge_requests/4/award_emoji");
        let on_note = Awardable::Note { on: Noteable::MergeRequest(4), note_id: 9 };
        assert_eq!(on_note.path(&project), "/projects/g%2Fp/merge_requests/4/notes/9/award_emoji");
    }
}
