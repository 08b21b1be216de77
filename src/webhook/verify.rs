//! Checks that a delivery comes from our GitLab.
//!
//! Always: the `X-Gitlab-Token` header must equal the configured secret. GitLab sends the secret
//! in plain text, so the comparison is all the protection it gives; it runs in constant time so
//! that response timing leaks nothing about it.
//!
//! When a signing secret is configured: the delivery must also carry a valid Standard Webhooks
//! signature (GitLab's signed webhooks): `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{webhook-id}.{webhook-timestamp}.{body}">`, with a timestamp no more than five minutes from
//! our clock. Unlike the token, the signature binds the body and the time, so a captured
//! delivery can be neither altered nor replayed later.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::hmac;
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

/// How far a signed delivery's timestamp may be from our clock, either way.
pub const SIGNATURE_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The hook's signing token, ready to check signatures with.
#[derive(Clone)]
pub struct SigningSecret {
    key: hmac::Key,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret([MASKED])")
    }
}

/// Why a signing secret cannot be used; the message never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningSecretError {
    #[error("the signing secret is empty")]
    Empty,
    #[error("the signing secret starts with `whsec_` but the rest is not base64; copy the hook's signing token again")]
    NotBase64,
}

/// Why a delivery's signature was refused. Shown to whoever sent it, so it names the problem
/// and never anything secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing `{0}` header; is the signing token set on the hook in GitLab?")]
    Missing(&'static str),
    #[error("`webhook-timestamp` is not a Unix time in seconds")]
    BadTimestamp,
    #[error(
        "`webhook-timestamp` is {seconds} s away from our clock (at most 300 s are allowed): a replayed delivery, \
         or a clock that needs syncing"
    )]
    Stale { seconds: u64 },
    #[error(
        "no `v1` signature in `webhook-signature` matches; check that the signing secret is the hook's signing token"
    )]
    Mismatch,
}

impl SigningSecret {
    /// Accepts the Standard Webhooks form `whsec_<base64 key>`, and any other non-empty value as
    /// the key's bytes themselves.
    pub fn new(secret: &SecretString) -> Result<Self, SigningSecretError> {
        let secret = secret.expose_secret().trim();
        let key = match secret.strip_prefix("whsec_") {
            Some(encoded) => BASE64.decode(encoded).map_err(|_| SigningSecretError::NotBase64)?,
            None => secret.as_bytes().to_vec(),
        };
        if key.is_empty() {
            return Err(SigningSecretError::Empty);
        }
        Ok(Self { key: hmac::Key::new(hmac::HMAC_SHA256, &key) })
    }

    /// Checks the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers against the
    /// body, at `now`.
    pub fn verify(
        &self,
        id: Option<&[u8]>,
        timestamp: Option<&[u8]>,
        signatures: Option<&[u8]>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), SignatureError> {
        let id = id.ok_or(SignatureError::Missing("webhook-id"))?;
        let timestamp = timestamp.ok_or(SignatureError::Missing("webhook-timestamp"))?;
        let signatures = signatures.ok_or(SignatureError::Missing("webhook-signature"))?;
        let sent: i64 = std::str::from_utf8(timestamp)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .ok_or(SignatureError::BadTimestamp)?;
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX));
        let skew = now.abs_diff(sent);
        if skew > SIGNATURE_TOLERANCE.as_secs() {
            return Err(SignatureError::Stale { seconds: skew });
        }

        let mut context = hmac::Context::with_key(&self.key);
        for part in [id, b".", timestamp, b".", body] {
            context.update(part);
        }
        let expected = context.sign();
        // Several signatures may be sent while a secret is rotated; any valid `v1` one counts.
        let mut matched = subtle::Choice::from(0);
        for entry in signatures.split(|byte| *byte == b' ').filter(|entry| !entry.is_empty()) {
            let Some(encoded) = entry.strip_prefix(b"v1,") else { continue };
            let Ok(given) = BASE64.decode(encoded) else { continue };
            matched |= expected.as_ref().ct_eq(&given);
        }
        if bool::from(matched) { Ok(()) } else { Err(SignatureError::Mismatch) }
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

    const KEY: &[u8] = b"a signing key of thirty-two bytes";

    fn signing() -> SigningSecret {
        let secret = format!("whsec_{}", BASE64.encode(KEY));
        SigningSecret::new(&SecretString::from(secret)).expect("valid secret")
    }

    fn sign(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        let message = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
        format!("v1,{}", BASE64.encode(hmac::sign(&key, &message)))
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn a_standard_webhooks_signature_verifies() {
        let signature = sign(KEY, "msg_1", "1700000000", b"{}");
        let verified =
            signing().verify(Some(b"msg_1"), Some(b"1700000000"), Some(signature.as_bytes()), b"{}", at(1_700_000_010));
        assert_eq!(verified, Ok(()));
    }

    #[test]
    fn the_standard_webhooks_test_vector_verifies() {
        // From the Standard Webhooks specification's reference libraries.
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
        let body = br#"{"test": 2432232314}"#;
        let signature = b"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let verified = SigningSecret::new(&secret).expect("valid").verify(
            Some(b"msg_p5jXN8AQM9LWM0D4loKWxJek"),
            Some(b"1614265330"),
            Some(signature),
            body,
            at(1_614_265_330),
        );
        assert_eq!(verified, Ok(()));
    }

    #[test]
    fn any_one_of_several_signatures_may_match() {
        let good = sign(KEY, "msg_1", "1700000000", b"{}");
        let header = format!("v1,AAAA v1a,whatever {good}");
        let verified =
            signing().verify(Some(b"msg_1"), Some(b"1700000000"), Some(header.as_bytes()), b"{}", at(1_700_000_000));
        assert_eq!(verified, Ok(()));
    }

    #[test]
    fn a_changed_body_id_or_key_is_a_mismatch() {
        let signature = sign(KEY, "msg_1", "1700000000", b"{}");
        let now = at(1_700_000_000);
        let check = |id: &[u8], body: &[u8], signature: &str| {
            signing().verify(Some(id), Some(b"1700000000"), Some(signature.as_bytes()), body, now)
        };
        assert_eq!(check(b"msg_1", b"{ }", &signature), Err(SignatureError::Mismatch), "body");
        assert_eq!(check(b"msg_2", b"{}", &signature), Err(SignatureError::Mismatch), "id");
        let other_key = sign(b"another key", "msg_1", "1700000000", b"{}");
        assert_eq!(check(b"msg_1", b"{}", &other_key), Err(SignatureError::Mismatch), "key");
        let unversioned = signature.trim_start_matches("v1,").to_owned();
        assert_eq!(check(b"msg_1", b"{}", &unversioned), Err(SignatureError::Mismatch), "no version");
    }

    #[test]
    fn timestamps_more_than_five_minutes_off_are_refused_either_way() {
        let signature = sign(KEY, "msg_1", "1700000000", b"{}");
        let check = |now: u64| {
            signing().verify(Some(b"msg_1"), Some(b"1700000000"), Some(signature.as_bytes()), b"{}", at(now))
        };
        assert_eq!(check(1_700_000_300), Ok(()));
        assert_eq!(check(1_699_999_700), Ok(()));
        assert_eq!(check(1_700_000_301), Err(SignatureError::Stale { seconds: 301 }));
        assert_eq!(check(1_699_999_699), Err(SignatureError::Stale { seconds: 301 }));
    }

    #[test]
    fn missing_headers_and_bad_timestamps_are_named() {
        let signing = signing();
        let now = at(1_700_000_000);
        assert_eq!(
            signing.verify(None, Some(b"1"), Some(b"v1,x"), b"", now),
            Err(SignatureError::Missing("webhook-id"))
        );
        assert_eq!(
            signing.verify(Some(b"m"), None, Some(b"v1,x"), b"", now),
            Err(SignatureError::Missing("webhook-timestamp"))
        );
        assert_eq!(
            signing.verify(Some(b"m"), Some(b"1"), None, b"", now),
            Err(SignatureError::Missing("webhook-signature"))
        );
        assert_eq!(
            signing.verify(Some(b"m"), Some(b"soon"), Some(b"v1,x"), b"", now),
            Err(SignatureError::BadTimestamp)
        );
    }

    #[test]
    fn signing_secrets_in_both_forms_and_bad_ones() {
        let raw = SigningSecret::new(&SecretString::from("plain-signing-token".to_owned())).expect("raw form");
        let signature = sign(b"plain-signing-token", "m", "1700000000", b"x");
        assert_eq!(
            raw.verify(Some(b"m"), Some(b"1700000000"), Some(signature.as_bytes()), b"x", at(1_700_000_000)),
            Ok(())
        );
        assert_eq!(
            SigningSecret::new(&SecretString::from("whsec_!!!".to_owned())).err(),
            Some(SigningSecretError::NotBase64)
        );
        assert_eq!(SigningSecret::new(&SecretString::from(" ".to_owned())).err(), Some(SigningSecretError::Empty));
        assert!(!format!("{raw:?}").contains("plain"), "debug output hides the secret");
    }
}
