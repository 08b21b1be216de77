//! What to tell the admin when GitLab refuses a call of `setup`: which role or scope was
//! missing, whose token lacked it, and what to do, in place of a bare 401/403/404.
//!
//! GitLab answers 404 for what the token's user may not see and 403 for what they see but may
//! not change; both mean "this user's role is too low" here, since every path `setup` uses is
//! one the admin named. The caller looks up the user's actual role and passes it in.

use crate::env_vars;
use crate::gitlab::{self, AccessLevel};

/// Which of setup's two tokens made the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// `COPILOT_SETUP_TOKEN`: the person running setup.
    Setup,
    /// `GITLAB_TOKEN`: the agent user.
    Agent,
}

impl Token {
    /// How the report names the token.
    pub fn describe(self) -> String {
        match self {
            Token::Setup => format!("the setup token (`{}`)", env_vars::COPILOT_SETUP_TOKEN),
            Token::Agent => format!("the agent's token (`{}`)", env_vars::GITLAB_TOKEN),
        }
    }

    fn variable(self) -> &'static str {
        match self {
            Token::Setup => env_vars::COPILOT_SETUP_TOKEN,
            Token::Agent => env_vars::GITLAB_TOKEN,
        }
    }
}

/// GitLab's name of a role.
pub fn role_name(level: AccessLevel) -> &'static str {
    match level.0 {
        0 => "no access",
        5 => "Minimal Access",
        10 => "Guest",
        15 => "Planner",
        20 => "Reporter",
        30 => "Developer",
        40 => "Maintainer",
        50 => "Owner",
        _ => "an unknown role",
    }
}

/// A call GitLab refused, with what it needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused<'a> {
    /// What was being done, e.g. `creating a project hook on acme/widgets`.
    pub action: &'a str,
    /// Where the role is needed, e.g. `acme/widgets`.
    pub resource: &'a str,
    pub needs: AccessLevel,
    pub token: Token,
    /// The username the token belongs to.
    pub user: &'a str,
    /// The user's role on `resource`, when it could be read.
    pub actual: Option<AccessLevel>,
}

impl Refused<'_> {
    /// The report's detail and fix for `error`: a missing scope or role named as such; any
    /// other error as GitLab worded it.
    pub fn explain(&self, error: &gitlab::Error) -> (String, Option<String>) {
        let token = self.token.describe();
        let new_token = format!(
            "create a personal access token with the `api` scope for @{} and set `{}` to it",
            self.user,
            self.token.variable()
        );
        match error {
            gitlab::Error::Unauthorized { .. } => (
                format!("GitLab rejected {token} while {}: it is revoked, expired or unknown", self.action),
                Some(new_token),
            ),
            gitlab::Error::Forbidden { message, .. } if message.contains("insufficient_scope") => {
                (format!("{} needs the `api` scope, which {token} lacks", self.action), Some(new_token))
            }
            gitlab::Error::Forbidden { .. } | gitlab::Error::NotFound { .. } => {
                let has = self.actual.map_or("no access (or the path is wrong)", role_name);
                (
                    format!(
                        "{} needs the {} role on {}; {token}'s user @{} has {has}",
                        self.action,
                        role_name(self.needs),
                        self.resource,
                        self.user
                    ),
                    Some(format!(
                        "give @{} the {} role on {} (or run setup with the token of someone who has it), and check \
                         the path",
                        self.user,
                        role_name(self.needs),
                        self.resource
                    )),
                )
            }
            other => (format!("{} failed: {other}", self.action), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(actual: Option<AccessLevel>) -> Refused<'static> {
        Refused {
            action: "creating a project hook on acme/x",
            resource: "acme/x",
            needs: AccessLevel::MAINTAINER,
            token: Token::Setup,
            user: "dave",
            actual,
        }
    }

    fn status(code: u16, body: &str) -> gitlab::Error {
        gitlab::Error::from_status("POST /projects/1/hooks".to_owned(), code, body, 1)
    }

    #[test]
    fn a_missing_role_names_the_role_the_token_and_what_the_user_has() {
        let (detail, fix) =
            refused(Some(AccessLevel::DEVELOPER)).explain(&status(403, r#"{"message":"403 Forbidden"}"#));
        assert_eq!(
            detail,
            "creating a project hook on acme/x needs the Maintainer role on acme/x; the setup token \
             (`COPILOT_SETUP_TOKEN`)'s user @dave has Developer"
        );
        assert!(fix.unwrap().starts_with("give @dave the Maintainer role on acme/x"));
        let (detail, _) = refused(None).explain(&status(404, r#"{"message":"404 Project Not Found"}"#));
        assert!(detail.ends_with("has no access (or the path is wrong)"), "{detail}");
    }

    #[test]
    fn a_missing_scope_and_a_rejected_token_say_so() {
        let (detail, fix) =
            refused(None).explain(&status(403, r#"{"error":"insufficient_scope","message":"403 insufficient_scope"}"#));
        assert!(detail.contains("needs the `api` scope"), "{detail}");
        assert!(fix.unwrap().contains("`COPILOT_SETUP_TOKEN`"));
        let (detail, _) = refused(None).explain(&status(401, r#"{"message":"401 Unauthorized"}"#));
        assert!(detail.contains("revoked, expired or unknown"), "{detail}");
    }
}
