//! Checks that a delivery comes from our GitLab: the `X-Gitlab-Token` header must equal the
//! configured secret. GitLab sends the secret in plain text, so the comparison is all the
//! protection there is; it runs in constant time so that response timing leaks nothing about it.

use secrecy::{ExposeSecret as _, SecretString};
use sha1::{Digest as _, Sha1};
use subtle::ConstantTimeEq as _;

/// The secret GitLab sends with every delivery, kept as a digest: comparing fixed-size digests
/// in constant time hides the secret's length as well as its content.
#[derive(Clone)]
pub struct WebhookSecret {
    digest: [u8; 20],
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([MASKED])")
    }
}

impl WebhookSecret {
    /// `None` for an empty secret: an empty `X-Gitlab-Token` must never be accepted.
    pub fn new(secret: &SecretString) -> Option<Self> {
        let secret = secret.expose_secret();
        (!secret.is_empty()).then(|| Self { digest: Sha1::digest(secret.as_bytes()).into() })
    }

    /// Whether the header GitLab sent (if any) is the secret.
    pub fn matches(&self, header: Option<&[u8]>) -> bool {
        let Some(given) = header else { return false };
        let given: [u8; 20] = Sha1::digest(given).into();
        self.digest.ct_eq(&given).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> Option<WebhookSecret> {
        WebhookSecret::new(&SecretString::from(text.to_owned()))
    }

    #[test]
    fn only_the_exact_token_matches() {
        let secret = secret("s3cret-token").expect("non-empty");
        assert!(secret.matches(Some(b"s3cret-token")));
        for wrong in [&b""[..], b"s3cret-toke", b"s3cret-token ", b"S3CRET-TOKEN", b"other"] {
            assert!(!secret.matches(Some(wrong)), "{wrong:?}");
        }
        assert!(!secret.matches(None));
    }

    #[test]
    fn an_empty_secret_is_refused() {
        assert!(secret("").is_none());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let shown = format!("{:?}", secret("s3cret-token").expect("non-empty"));
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
