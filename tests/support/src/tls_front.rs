//! A TLS-terminating front for the rig's plain-HTTP servers, with a certificate signed by the
//! test certificate authority of `tests/data/tls/`: it stands in for a self-managed GitLab or a
//! model endpoint behind a private CA. Each accepted connection is decrypted and its bytes are
//! copied both ways to the upstream address.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

/// A running front; it stops when dropped.
#[derive(Debug)]
pub struct TlsFront {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    /// Serves TLS on a free loopback port with the server certificate and key in `tls_dir`
    /// (`server.pem`, `server.key`, valid for `127.0.0.1` and `localhost`), forwarding to
    /// `upstream`.
    pub async fn start(tls_dir: &Path, upstream: SocketAddr) -> anyhow::Result<Self> {
        let chain = CertificateDer::pem_file_iter(tls_dir.join("server.pem"))
            .context("while reading the server certificate")?
            .collect::<Result<Vec<_>, _>>()
            .context("while parsing the server certificate")?;
        let key = PrivateKeyDer::from_pem_file(tls_dir.join("server.key")).context("while reading the server key")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("while choosing TLS versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("while loading the server certificate")?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.context("while binding the TLS front")?;
        let addr = listener.local_addr().context("while reading the TLS front's address")?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that refuses our certificate ends the handshake: nothing to copy.
                    let Ok(mut tls) = acceptor.accept(stream).await else { return };
                    let Ok(mut plain) = TcpStream::connect(upstream).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Ok(Self { addr, task })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
