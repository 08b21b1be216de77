//! The one place that builds an HTTP client: rustls with the ring provider (installed once), our
//! timeouts and user agent, and redirects that never leave the origin. GitLab's client and the
//! context cache's blob stores both use it.

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
