//! The one place that builds an HTTP client: rustls with the ring provider (installed once), the
//! system's certificate authorities plus `COPILOT_CA_BUNDLE`'s (`tls`), our timeouts and user
//! agent, and redirects that never leave the origin. GitLab's client and the context cache's blob
//! stores both use it.

use std::sync::Once;
use std::time::Duration;

/// What we call ourselves in the `User-Agent` header.
pub const USER_AGENT: &str = concat!("copilot-runner/", env!("CARGO_PKG_VERSION"));

static CRYPTO_PROVIDER: Once = Once::new();

/// Builds the reqwest client every HTTP caller of copilot-runner uses.
pub fn client(
    user_agent: &str,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> reqwest::Result<reqwest::Client> {
    CRYPTO_PROVIDER.call_once(|| {
        // Fails only when a provider is already installed, which is what we want anyway.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    #[expect(clippy::disallowed_methods, reason = "this is the one place that builds reqwest clients")]
    let builder = reqwest::Client::builder();
    builder
        .tls_certs_merge(crate::tls::extra_roots())
        .redirect(same_origin_redirects())
        .user_agent(user_agent)
        .connect_timeout(connect_timeout)
        .timeout(request_timeout)
        .build()
}

/// Follows redirects only within one origin: reqwest drops `Authorization` on a cross-host
/// redirect but not GitLab's `PRIVATE-TOKEN`, which must never reach another host.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let crosses_origin =
            attempt.previous().last().is_some_and(|previous| previous.origin() != attempt.url().origin());
        if crosses_origin {
            attempt.stop()
        } else if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// Whether a failed request failed because the server's certificate is not trusted: retrying
/// cannot help, and the fix is a setting.
pub fn is_untrusted_certificate(error: &(dyn std::error::Error + 'static)) -> bool {
    causes(error).any(|cause| {
        let text = cause.to_string();
        text.contains("invalid peer certificate") || text.contains("certificate verify failed")
    })
}

/// The innermost cause of a failed request, which names what went wrong ("connection refused",
/// "invalid peer certificate: UnknownIssuer"), with the fix when it is an untrusted certificate.
pub fn describe_failure(error: &(dyn std::error::Error + 'static)) -> String {
    let innermost = causes(error).last().map(ToString::to_string).unwrap_or_default();
    if is_untrusted_certificate(error) {
        format!(
            "{innermost} (the server's certificate is not signed by an authority we trust: set `{}` to a PEM \
             file of its certificate authority)",
            crate::env_vars::COPILOT_CA_BUNDLE
        )
    } else {
        innermost
    }
}

/// An error and its causes, looking inside `io::Error`s, whose own `source()` skips the error
/// they wrap (hyper and rustls report through them).
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |current| {
        current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)))
            .or_else(|| current.source())
    })
}
