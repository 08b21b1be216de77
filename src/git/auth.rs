//! The remote's address and the token that opens it, kept apart on purpose.
//!
//! A token written into a URL ends up in `.git/config`, in `argv` (visible to every process on
//! the machine), in error messages and in logs. So a [`Remote`] holds a URL that must carry no
//! credentials, and the token travels only as an HTTP `Authorization` header in the `git`
//! child's environment, scoped to the remote's origin, for the clone, fetches and pushes.

use std::fmt;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::GitError;
use crate::redact;

/// GitLab accepts any user name with a token as the password over HTTP; `oauth2` is the name
/// its documentation uses for OAuth and personal access tokens alike.
const TOKEN_USER: &str = "oauth2";

/// A remote repository reached over HTTP(S): its URL (never with credentials) and its token.
#[derive(Clone)]
pub struct Remote {
    url: Url,
    token: Option<SecretString>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url.as_str())
            .field("token", &self.token.as_ref().map(|_| redact::MASK))
            .finish()
    }
}

impl Remote {
    /// A remote at `url` (`http` or `https`, no user name or password in it), authenticated by
    /// `token` when given. The token and the header derived from it are registered for
    /// redaction at once, so no later log line can show them.
    pub fn new(url: &str, token: Option<SecretString>) -> Result<Self, GitError> {
        let url = Url::parse(url).map_err(|err| GitError::InvalidUrl { reason: err.to_string() })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GitError::InvalidUrl { reason: format!("scheme `{}` is not `http` or `https`", url.scheme()) });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(GitError::InvalidUrl {
                reason: "credentials in the URL are refused; pass the token separately".to_owned(),
            });
        }
        if let Some(token) = &token {
            redact::register(token.expose_secret());
            redact::register(&basic_credentials(token));
        }
        Ok(Self { url, token })
    }

    /// The URL, safe to print and to pass as an argument: it never holds a credential.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The `http.<url>.extraHeader` scope: the remote's origin, so that a redirect or an
    /// `insteadOf` rewrite to another host never receives the token.
    pub(crate) fn header_scope(&self) -> String {
        self.url.origin().ascii_serialization() + "/"
    }

    /// The value of `http.extraHeader` that authenticates us, if there is a token.
    pub(crate) fn authorization_header(&self) -> Option<SecretString> {
        self.token.as_ref().map(|token| format!("Authorization: Basic {}", basic_credentials(token)).into())
    }
}

fn basic_credentials(token: &SecretString) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{TOKEN_USER}:{}", token.expose_secret()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_credentials_in_the_url_and_other_schemes() {
        assert!(matches!(
            Remote::new("https://oauth2:secret@example.com/a/b.git", None),
            Err(GitError::InvalidUrl { .. })
        ));
        assert!(matches!(Remote::new("ssh://example.com/a/b.git", None), Err(GitError::InvalidUrl { .. })));
        assert!(matches!(Remote::new("not a url", None), Err(GitError::InvalidUrl { .. })));
    }

    #[test]
    fn the_header_is_basic_auth_for_oauth2_and_scoped_to_the_origin() {
        let remote =
            Remote::new("https://gitlab.example.com:8443/group/project.git", Some("tok-123456".into())).unwrap();
        let header = remote.authorization_header().unwrap();
        // base64("oauth2:tok-123456")
        assert_eq!(header.expose_secret(), "Authorization: Basic b2F1dGgyOnRvay0xMjM0NTY=");
        assert_eq!(remote.header_scope(), "https://gitlab.example.com:8443/");
        assert!(!format!("{remote:?}").contains("tok-123456"));
        assert_eq!(redact::redact("x b2F1dGgyOnRvay0xMjM0NTY= tok-123456"), "x [MASKED] [MASKED]");
    }
}
