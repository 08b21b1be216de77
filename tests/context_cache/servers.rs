//! The blob servers the cache suite runs against: Azurite (Azure Blob) and moto (S3), started on
//! a free loopback port, plus stores that refuse connections or never answer.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// Azurite's documented development account.
pub(crate) const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub(crate) const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const STARTUP: Duration = Duration::from_secs(30);

fn tool(relative: &str, what: &str) -> PathBuf {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/")).join(relative);
    assert!(path.is_file(), "`{}` is missing: run scripts/test to install {what}", path.display());
    path
}

/// A server child process, killed when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    _child: Child,
    pub(crate) port: u16,
}

/// Reads the child's output until a line holds `marker` followed by `127.0.0.1:PORT`.
async fn announced_port(output: impl AsRead, marker: &str) -> u16 {
    let mut lines = BufReader::new(output).lines();
    let wait = async {
        while let Some(line) = lines.next_line().await.expect("read server output") {
            if let Some(rest) = line.split(marker).nth(1)
                && let Some(port) = rest.split("127.0.0.1:").nth(1)
            {
                let digits: String = port.chars().take_while(char::is_ascii_digit).collect();
                return digits.parse().expect("port number");
            }
        }
        panic!("the server exited before announcing its port");
    };
    let port = tokio::time::timeout(STARTUP, wait).await.expect("server announces its port in time");
    // Keep draining so a chatty server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    port
}

pub(crate) trait AsRead: AsyncRead + Unpin + Send + 'static {}
impl<T: AsyncRead + Unpin + Send + 'static> AsRead for T {}

pub(crate) async fn azurite() -> Server {
    let program = tool("npm/node_modules/.bin/azurite-blob", "azurite");
    let mut child = Command::new(program)
        .args(["--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--disableTelemetry"])
        .arg("--skipApiVersionCheck")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start azurite");
    let port = announced_port(child.stdout.take().expect("stdout"), "listens on").await;
    Server { _child: child, port }
}

pub(crate) async fn moto() -> Server {
    let program = tool("venv/bin/moto_server", "moto[server]");
    let mut child = Command::new(program)
        .args(["-H", "127.0.0.1", "-p", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start moto_server");
    let port = announced_port(child.stderr.take().expect("stderr"), "Running on").await;
    Server { _child: child, port }
}

/// Creates a container in Azurite with a Shared Key signed request (object_store has no call
/// for it).
pub(crate) async fn create_azurite_container(port: u16, container: &str) {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let version = "2021-08-06";
    let string_to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{container}\nrestype:container"
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &STANDARD.decode(AZURITE_KEY).expect("key"));
    let signature = STANDARD.encode(ring::hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
    let client = http_client();
    let response = client
        .put(format!("http://127.0.0.1:{port}/{AZURITE_ACCOUNT}/{container}?restype=container"))
        .header("x-ms-date", date)
        .header("x-ms-version", version)
        .header("Authorization", format!("SharedKey {AZURITE_ACCOUNT}:{signature}"))
        .header("Content-Length", "0")
        .send()
        .await
        .expect("create container");
    assert!(response.status().is_success(), "create container: {}", response.status());
}

/// Creates a bucket in moto (it accepts unsigned requests).
pub(crate) async fn create_moto_bucket(port: u16, bucket: &str) {
    let response = http_client()
        .put(format!("http://127.0.0.1:{port}/{bucket}"))
        .header("Content-Length", "0")
        .send()
        .await
        .expect("create bucket");
    assert!(response.status().is_success(), "create bucket: {}", response.status());
}

fn http_client() -> reqwest::Client {
    copilot_runner::http::client("cache-tests", Duration::from_secs(5), Duration::from_secs(10)).expect("http client")
}

/// A loopback port where nothing listens.
pub(crate) async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A loopback listener that accepts connections and never answers; alive while the returned
/// task runs.
pub(crate) async fn silent_listener() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}
