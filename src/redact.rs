//! Masks known secrets in any text before it reaches a log line, a comment or an artifact.
//!
//! Secrets are registered once, when configuration is resolved (tokens, connection strings) or
//! when an adapter learns one. Every log writer passes its bytes through [`redact`], so a token
//! that slipped into an error message or a child's output is masked rather than printed.

use std::borrow::Cow;
use std::sync::{PoisonError, RwLock};

/// What a masked secret looks like in output.
pub const MASK: &str = "[MASKED]";

/// Secrets shorter than this are not registered: masking every `a` or `42` would destroy logs
/// while protecting nothing (GitLab's own masked variables need at least 8 characters).
const MIN_SECRET_LEN: usize = 6;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers a secret so that every later [`redact`] masks it.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    if !secrets.iter().any(|known| known == secret) {
        secrets.push(secret.to_owned());
        // Longest first, so a secret that contains another is masked whole.
        secrets.sort_by_key(|known| std::cmp::Reverse(known.len()));
    }
}

/// Returns `text` with every registered secret replaced by [`MASK`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    redact_with(text, &secrets)
}

/// Masks the given secrets in `text`; the pure core of [`redact`].
pub fn redact_with<'a, S: AsRef<str>>(text: &'a str, secrets: &[S]) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for secret in secrets {
        let secret = secret.as_ref();
        if !secret.is_empty() && out.contains(secret) {
            out = Cow::Owned(out.replace(secret, MASK));
        }
    }
    out
}

/// Masks registered secrets in raw bytes (child output that may not be UTF-8).
pub fn redact_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    match std::str::from_utf8(bytes) {
        Ok(text) => match redact(text) {
            Cow::Borrowed(_) => Cow::Borrowed(bytes),
            Cow::Owned(masked) => Cow::Owned(masked.into_bytes()),
        },
        Err(_) => match redact(&String::from_utf8_lossy(bytes)) {
            Cow::Borrowed(_) if !has_registered_secret(bytes) => Cow::Borrowed(bytes),
            masked => Cow::Owned(masked.into_owned().into_bytes()),
        },
    }
}

fn has_registered_secret(bytes: &[u8]) -> bool {
    let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    secrets.iter().any(|secret| bytes.windows(secret.len()).any(|window| window == secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_and_the_longest_secret_first() {
        let secrets = ["glpat-abcdefgh-long", "glpat-abcdefgh"];
        let text = "token glpat-abcdefgh-long and glpat-abcdefgh twice glpat-abcdefgh";
        assert_eq!(redact_with(text, &secrets), "token [MASKED] and [MASKED] twice [MASKED]");
    }

    #[test]
    fn text_without_secrets_is_borrowed() {
        assert!(matches!(redact_with("plain", &["secret-value"]), Cow::Borrowed(_)));
    }

    #[test]
    fn registered_secrets_are_masked_and_short_ones_ignored() {
        register("registered-secret-123");
        register("ab");
        assert_eq!(redact("x registered-secret-123 ab"), "x [MASKED] ab");
        assert_eq!(redact_bytes(b"\xff registered-secret-123").as_ref(), "\u{fffd} [MASKED]".as_bytes());
    }
}
