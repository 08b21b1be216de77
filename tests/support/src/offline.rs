//! Keeps every process a test starts on this machine: no test may reach a host outside it.
//!
//! [`loopback_only`] checks that every URL a test hands the binary points at the loopback
//! interface, and routes anything else to a proxy address where nothing listens, so a forgotten
//! setting fails at once (connection refused) instead of reaching gitlab.com or GitHub. The
//! loopback itself stays direct (`NO_PROXY`). Our binary passes the proxy variables on to `git`
//! and the agent, so they are held the same way.

/// Variables that name a host the binary will connect to.
const URL_VARIABLES: &[&str] = &[
    "GITLAB_API_BASE",
    "CI_SERVER_URL",
    "COPILOT_PROVIDER_BASE_URL",
    "AWS_ENDPOINT_URL",
    "STORAGE_EMULATOR_HOST",
    "WEBHOOK_URL",
];

/// Where requests for any other host go: the discard port of the loopback, where nothing listens.
pub const DEAD_PROXY: &str = "http://127.0.0.1:9";

/// The environment to add to a child's so that it stays on the machine; panics when one of
/// `env`'s URL settings points elsewhere.
pub fn loopback_only<'a>(env: impl IntoIterator<Item = (&'a str, &'a str)>) -> [(&'static str, &'static str); 6] {
    assert_loopback(env);
    let no_proxy = "127.0.0.1,localhost,::1";
    [
        ("HTTP_PROXY", DEAD_PROXY),
        ("HTTPS_PROXY", DEAD_PROXY),
        ("http_proxy", DEAD_PROXY),
        ("https_proxy", DEAD_PROXY),
        ("NO_PROXY", no_proxy),
        ("no_proxy", no_proxy),
    ]
}

/// Panics when one of `env`'s URL settings points at a host other than the loopback.
pub fn assert_loopback<'a>(env: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (name, value) in env {
        // Values a test only shows or validates may use the reserved example domain, or be no URL
        // at all; the dead proxy holds them anyway should one be used.
        // A bucket URL (`s3://`, `az://`, `gs://`) names no host: its endpoint variable does.
        let web = value.starts_with("http://") || value.starts_with("https://");
        let shown_only = !web || host(value).is_some_and(|host| host.ends_with("example.com"));
        if URL_VARIABLES.contains(&name) && !shown_only {
            assert!(is_loopback(value), "a test may not send `{name}` anywhere but the loopback: `{value}`");
        }
    }
}

/// Whether `url` names the loopback interface.
pub fn is_loopback(url: &str) -> bool {
    matches!(host(url), Some("127.0.0.1" | "localhost" | "::1"))
}

/// The host of a `scheme://` URL.
fn host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if let Some(bracketed) = host.strip_prefix('[') { bracketed.split(']').next() } else { host.split(':').next() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_loopback_passes() {
        for url in ["http://127.0.0.1:8080/api", "https://localhost", "http://[::1]:9/x"] {
            assert!(is_loopback(url), "{url}");
        }
        for url in ["https://gitlab.com", "http://127.0.0.1.example.org", "https://user@github.com:443", "gitlab.com"] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[test]
    #[should_panic(expected = "may not send `GITLAB_API_BASE`")]
    fn a_url_elsewhere_is_refused() {
        let _ = loopback_only([("GITLAB_API_BASE", "https://gitlab.com")]);
    }
}
