//! Which certificate authorities every client of ours trusts: the system's, plus the extra bundle
//! of `COPILOT_CA_BUNDLE` (a self-managed GitLab, object store or model endpoint behind a private
//! certificate authority or a TLS-inspecting proxy).
//!
//! The bundle is installed once at start-up ([`install`]) and then honoured everywhere a
//! connection is made:
//! - our reqwest clients (GitLab, the cache's blob stores) merge its certificates into the
//!   system's roots ([`extra_roots`]);
//! - the `git` CLI, whose `http.sslCAInfo` replaces the system bundle rather than adding to it,
//!   gets a file holding both ([`git_ca_file`]);
//! - the Copilot CLI gets the bundle itself as `NODE_EXTRA_CA_CERTS`, which Node adds to its own
//!   roots, and the agent sandbox lets it read that file ([`bundle_path`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The installed bundle: where it is, its PEM text and its parsed certificates.
struct Bundle {
    path: PathBuf,
    pem: Vec<u8>,
    certificates: Vec<reqwest::Certificate>,
    /// The system's bundle followed by ours, written on first use by `git`.
    combined: OnceLock<Option<PathBuf>>,
}

static BUNDLE: OnceLock<Bundle> = OnceLock::new();

/// Why a bundle cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("`{path}` holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)")]
    NoCertificate { path: PathBuf },
    #[error("`{path}` is not a valid PEM certificate bundle: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// Reads and parses a PEM bundle of one or more certificates.
pub fn read_bundle(path: &Path) -> Result<(Vec<u8>, Vec<reqwest::Certificate>), BundleError> {
    let pem = std::fs::read(path).map_err(|source| BundleError::Read { path: path.to_owned(), source })?;
    if !pem.windows(27).any(|window| window == b"-----BEGIN CERTIFICATE-----") {
        return Err(BundleError::NoCertificate { path: path.to_owned() });
    }
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|err| BundleError::Invalid { path: path.to_owned(), reason: err.to_string() })?;
    if certificates.is_empty() {
        return Err(BundleError::NoCertificate { path: path.to_owned() });
    }
    Ok((pem, certificates))
}

/// Trusts the bundle at `path` beside the system's roots for the rest of the process. The first
/// installed bundle stays: settings are resolved once per process.
pub fn install(path: &Path) -> Result<(), BundleError> {
    let (pem, certificates) = read_bundle(path)?;
    let _first_one_stays = BUNDLE.set(Bundle { path: path.to_owned(), pem, certificates, combined: OnceLock::new() });
    Ok(())
}

/// The certificates to trust beside the system's roots (none without a bundle).
pub fn extra_roots() -> Vec<reqwest::Certificate> {
    BUNDLE.get().map(|bundle| bundle.certificates.clone()).unwrap_or_default()
}

/// The installed bundle's path, for `NODE_EXTRA_CA_CERTS` and the sandbox's read grants.
pub fn bundle_path() -> Option<&'static Path> {
    BUNDLE.get().map(|bundle| bundle.path.as_path())
}

/// A file with the system's certificate authorities and the installed bundle's, for
/// `GIT_SSL_CAINFO`; `None` without a bundle, or when the file cannot be written (git then
/// trusts only the system's, and says so when a connection fails).
pub fn git_ca_file() -> Option<&'static Path> {
    let bundle = BUNDLE.get()?;
    bundle.combined.get_or_init(|| write_combined(bundle)).as_deref()
}

fn write_combined(bundle: &Bundle) -> Option<PathBuf> {
    let mut combined = system_bundle().and_then(|path| std::fs::read(path).ok()).unwrap_or_default();
    if !combined.is_empty() && !combined.ends_with(b"\n") {
        combined.push(b'\n');
    }
    combined.extend_from_slice(&bundle.pem);
    let path = std::env::temp_dir().join(format!("copilot-runner-ca-{}.pem", std::process::id()));
    match std::fs::write(&path, combined) {
        Ok(()) => Some(path),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot write the certificate bundle for git");
            None
        }
    }
}

/// The system's bundle file, where the usual distributions keep it.
fn system_bundle() -> Option<&'static Path> {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ]
    .into_iter()
    .map(Path::new)
    .find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls").join(name)
    }

    #[test]
    fn a_pem_bundle_is_read_and_anything_else_is_refused_with_the_reason() {
        let (pem, certificates) = read_bundle(&data("ca.pem")).unwrap();
        assert_eq!(certificates.len(), 1);
        assert!(pem.starts_with(b"-----BEGIN CERTIFICATE-----"));

        let key = read_bundle(&data("server.key")).unwrap_err();
        assert!(matches!(key, BundleError::NoCertificate { .. }), "{key}");
        let missing = read_bundle(&data("missing.pem")).unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
    }
}
