//! What can go wrong when talking to GitLab, as one enum with a variant wherever a caller reacts
//! differently: a bad token is configuration, a missing resource is a branch in a workflow, a
//! rate limit or an unreachable server is infrastructure, a body we cannot read is a bug to
//! report with the exact JSON path.
//!
//! Messages are written for people reading a job log: lowercase, the endpoint in backticks, and
//! never a secret (response excerpts pass through the redactor).

use std::time::Duration;

use crate::exit::{self, Classify};

/// The scopes the agent's token needs; named in the hint of a 401/403.
pub const REQUIRED_SCOPES_HINT: &str = "the GitLab token needs the `api` and `write_repository` scopes, and the agent \
     user needs at least Developer access to the project";

/// How many characters of an error response body we keep.
const BODY_EXCERPT_CHARS: usize = 400;

/// An error from the GitLab REST client. `endpoint` is the method and path without the query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API URL or the HTTP client could not be set up; a configuration problem.
    #[error("cannot set up the gitlab client: {reason}")]
    Setup { reason: String },

    /// 401: the token is missing, revoked or expired.
    #[error("gitlab rejected the token on `{endpoint}` (401 unauthorized); {REQUIRED_SCOPES_HINT}")]
    Unauthorized { endpoint: String },

    /// 403: the token lacks a scope or the user lacks access.
    #[error("gitlab refused `{endpoint}` (403 forbidden): {message}; {REQUIRED_SCOPES_HINT}")]
    Forbidden { endpoint: String, message: String },

    /// 404: the resource does not exist or is invisible to the token's user.
    #[error("not found on gitlab: `{endpoint}` (404): {message}")]
    NotFound { endpoint: String, message: String },

    /// 409: the change conflicts with the current state (e.g. an open MR for the branch exists).
    #[error("gitlab reported a conflict on `{endpoint}` (409): {message}")]
    Conflict { endpoint: String, message: String },

    /// 429 that outlasted the retry budget. `retry_after` is the server's last hint, if any.
    #[error("gitlab kept rate-limiting `{endpoint}` after {attempts} attempt(s)")]
    RateLimited { endpoint: String, attempts: u32, retry_after: Option<Duration> },

    /// Any other unsuccessful status, after retries where they were allowed.
    #[error("gitlab answered {code} on `{endpoint}` after {attempts} attempt(s): {body}")]
    Status { endpoint: String, code: u16, body: String, attempts: u32 },

    /// A successful answer whose JSON did not match our type; `path` locates the bad field.
    #[error("cannot read the answer of `{endpoint}` at `{path}`: {message}")]
    Decode { endpoint: String, path: String, message: String },

    /// The request did not complete: connection refused or reset, timeout, broken body.
    #[error("cannot reach gitlab for `{endpoint}` after {attempts} attempt(s): {}", crate::http::describe_failure(.source))]
    Transport {
        endpoint: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
}

impl Error {
    /// Whether a write may have taken effect even though we got no good answer: the request
    /// was (or may have been) sent and then the connection broke, timed out, or a 5xx came back.
    pub fn may_have_landed(&self) -> bool {
        match self {
            Error::Transport { source, .. } => !source.is_connect(),
            Error::Status { code, .. } => *code >= 500,
            _ => false,
        }
    }

    /// A known fix for this error, printed under it as a `hint:` line.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Unauthorized { .. } | Error::Forbidden { .. } => Some(REQUIRED_SCOPES_HINT),
            Error::NotFound { .. } => Some("check the project id or path and that the agent user can see the project"),
            _ => None,
        }
    }

    /// Maps a final unsuccessful status to its variant.
    pub(crate) fn from_status(endpoint: String, code: u16, body: &str, attempts: u32) -> Self {
        let message = gitlab_message(body);
        match code {
            401 => Error::Unauthorized { endpoint },
            403 => Error::Forbidden { endpoint, message },
            404 => Error::NotFound { endpoint, message },
            409 => Error::Conflict { endpoint, message },
            429 => Error::RateLimited { endpoint, attempts, retry_after: None },
            _ => Error::Status { endpoint, code, body: message, attempts },
        }
    }
}

impl Classify for Error {
    fn exit_code(&self) -> exit::Code {
        match self {
            // A bad token, a missing scope or a bad URL are fixed in configuration.
            Error::Setup { .. } | Error::Unauthorized { .. } | Error::Forbidden { .. } => exit::Code::Usage,
            Error::Transport { .. } | Error::RateLimited { .. } => exit::Code::Unreachable,
            Error::Status { code, .. } if *code >= 500 => exit::Code::Unreachable,
            Error::NotFound { .. } | Error::Conflict { .. } | Error::Status { .. } | Error::Decode { .. } => {
                exit::Code::WorkFailed
            }
        }
    }
}

/// A read where 404 means "there is none": `Ok(None)` instead of an error.
pub(crate) fn optional<T>(result: Result<T, Error>) -> Result<Option<T>, Error> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// GitLab's error bodies are `{"message": …}` or `{"error": …}` (a string, list or object); the
/// message alone reads best. Anything else is kept as a short, redacted excerpt.
pub(crate) fn gitlab_message(body: &str) -> String {
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(object)) => match object.get("message").or_else(|| object.get("error")) {
            Some(serde_json::Value::String(message)) => message.clone(),
            Some(other) => other.to_string(),
            None => body.to_owned(),
        },
        _ => body.to_owned(),
    };
    excerpt(&crate::redact::redact(text.trim()))
}

fn excerpt(text: &str) -> String {
    match text.char_indices().nth(BODY_EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, body: &str) -> Error {
        Error::from_status("GET /projects/1".into(), code, body, 1)
    }

    #[test]
    fn statuses_map_to_the_variants_callers_react_to() {
        assert!(matches!(status(401, r#"{"message":"401 Unauthorized"}"#), Error::Unauthorized { .. }));
        assert!(matches!(status(403, r#"{"message":"403 Forbidden"}"#), Error::Forbidden { .. }));
        assert!(matches!(status(404, r#"{"message":"404 Project Not Found"}"#), Error::NotFound { .. }));
        assert!(matches!(status(409, r#"{"message":["Another open merge request"]}"#), Error::Conflict { .. }));
        assert!(matches!(status(429, "Retry later"), Error::RateLimited { .. }));
        assert!(matches!(status(500, "boom"), Error::Status { code: 500, .. }));
        assert!(matches!(status(422, "{}"), Error::Status { code: 422, .. }));
    }

    #[test]
    fn the_exit_code_says_whose_problem_it_is() {
        assert_eq!(status(401, "").exit_code(), exit::Code::Usage);
        assert_eq!(status(403, "").exit_code(), exit::Code::Usage);
        assert_eq!(status(503, "").exit_code(), exit::Code::Unreachable);
        assert_eq!(status(429, "").exit_code(), exit::Code::Unreachable);
        assert_eq!(status(404, "").exit_code(), exit::Code::WorkFailed);
        assert_eq!(status(400, "").exit_code(), exit::Code::WorkFailed);
        let error = anyhow::Error::new(status(401, "")).context("while reading the issue");
        assert_eq!(crate::exit::Classify::exit_code(error.downcast_ref::<Error>().unwrap()), exit::Code::Usage);
        let error = anyhow::Error::new(status(502, "")).context("while reading the issue");
        assert_eq!(crate::exit::Classify::exit_code(error.downcast_ref::<Error>().unwrap()), exit::Code::Unreachable);
    }

    #[test]
    fn forbidden_names_the_scopes_and_messages_come_from_the_body() {
        let error = status(403, r#"{"message":"403 Forbidden - insufficient_scope"}"#);
        let text = error.to_string();
        assert!(text.contains("insufficient_scope"), "{text}");
        assert!(text.contains("`api`") && text.contains("`write_repository`"), "{text}");
        assert_eq!(error.hint(), Some(REQUIRED_SCOPES_HINT));
        let error = status(400, r#"{"error":"title is missing"}"#);
        assert_eq!(error.to_string(), "gitlab answered 400 on `GET /projects/1` after 1 attempt(s): title is missing");
    }

    #[test]
    fn long_bodies_are_cut_and_5xx_may_have_landed() {
        let error = status(502, &"x".repeat(5000));
        let Error::Status { body, .. } = &error else { panic!("expected a status error") };
        assert_eq!(body.chars().count(), BODY_EXCERPT_CHARS + 1);
        assert!(error.may_have_landed());
        assert!(!status(404, "").may_have_landed());
    }
}
