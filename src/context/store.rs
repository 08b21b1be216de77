//! The blob store behind the context cache, chosen by `CONTEXT_CACHE_URL`.
//!
//! One small surface (get with a size cap, put, list, delete) over `object_store`: a local folder
//! (`file://DIR`, the default, which GitLab CI `cache:` can keep), Azure Blob (`az://`), S3
//! (`s3://`) or Google Cloud Storage (`gs://`). The cache is an optimisation, so every operation
//! is bounded in time and a store that refuses or hangs is marked down after its first failure:
//! the job then goes on with a full analysis instead of waiting on each later call.

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt as _;
use object_store::client::{ClientOptions, HttpClient, HttpConnector};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload, RetryConfig};
use secrecy::ExposeSecret as _;

use crate::config::{CacheSettings, Env};
use crate::env_vars;
use crate::redact;

/// How long one store operation may take before the store counts as down.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);

/// Why the store could not be opened or used; callers react to `Config` (tell the user) and
/// `Unavailable` (go on without the cache) differently.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL or the credentials are unusable; nothing was tried over the network.
    #[error("invalid context cache configuration: {0}")]
    Config(String),
    /// The store refused, failed or did not answer in time.
    #[error("context cache store `{store}` is unavailable: {reason}")]
    Unavailable { store: String, reason: String },
    /// An object is larger than the reader accepts.
    #[error("cache object `{key}` is larger than {limit} bytes")]
    TooLarge { key: String, limit: u64 },
}

/// For commands that use the cache directly (`copilot-runner cache`); jobs never fail on it.
impl crate::exit::Classify for StoreError {
    fn exit_code(&self) -> crate::exit::Code {
        match self {
            Self::Config(_) => crate::exit::Code::Usage,
            Self::Unavailable { .. } => crate::exit::Code::Unreachable,
            Self::TooLarge { .. } => crate::exit::Code::WorkFailed,
        }
    }
}

/// One object as listed: its key relative to the cache root, time and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub last_modified: DateTime<Utc>,
    pub size: u64,
}

/// A cache store: an `object_store` backend, a key prefix and a health flag.
#[derive(Clone)]
pub struct CacheStore {
    inner: Arc<dyn ObjectStore>,
    prefix: Path,
    /// The URL with credentials removed, for logs and errors.
    description: String,
    timeout: Duration,
    down: Arc<AtomicBool>,
}

impl fmt::Debug for CacheStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheStore").field("store", &self.description).finish_non_exhaustive()
    }
}

impl CacheStore {
    /// Opens the store named by the resolved settings (`CONTEXT_CACHE_URL`,
    /// `AZURE_STORAGE_CONNECTION_STRING`) and the cloud credentials in `env`.
    pub fn from_settings(settings: &CacheSettings, env: &Env) -> Result<Self, StoreError> {
        let connection_string = settings.azure_connection_string.as_ref().map(|s| s.expose_secret());
        Self::open(&settings.url, connection_string, env)
    }

    /// Opens the store for `url`: `file://DIR`, `az://container/prefix`, `s3://bucket/prefix` or
    /// `gs://bucket/prefix`. Opening touches no network; the first operation does.
    pub fn open(url: &str, azure_connection_string: Option<&str>, env: &Env) -> Result<Self, StoreError> {
        let (scheme, rest) =
            url.split_once("://").ok_or_else(|| StoreError::Config(format!("`{url}` has no scheme")))?;
        if scheme == "file" {
            return Self::local(FsPath::new(rest));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreError::Config(format!("`{url}` names no container or bucket")));
        }
        let inner: Arc<dyn ObjectStore> = match scheme {
            "az" => azure(bucket, azure_connection_string)?,
            "s3" => s3(bucket, env)?,
            "gs" => gcs(bucket, env)?,
            other => {
                return Err(StoreError::Config(format!("unknown cache scheme `{other}` (use file, az, s3 or gs)")));
            }
        };
        Ok(Self::with_backend(inner, prefix, format!("{scheme}://{bucket}/{prefix}")))
    }

    /// A store in a local folder, created if missing.
    pub fn local(dir: &FsPath) -> Result<Self, StoreError> {
        let dir: PathBuf = std::path::absolute(dir)
            .map_err(|error| StoreError::Config(format!("cannot resolve `{}`: {error}", dir.display())))?;
        std::fs::create_dir_all(&dir)
            .map_err(|error| StoreError::Config(format!("cannot create `{}`: {error}", dir.display())))?;
        let inner = object_store::local::LocalFileSystem::new_with_prefix(&dir)
            .map_err(|error| StoreError::Config(format!("cannot open `{}`: {error}", dir.display())))?;
        Ok(Self::with_backend(Arc::new(inner), "", format!("file://{}", dir.display())))
    }

    fn with_backend(inner: Arc<dyn ObjectStore>, prefix: &str, description: String) -> Self {
        Self {
            inner,
            prefix: Path::from(prefix.trim_matches('/')),
            description,
            timeout: OPERATION_TIMEOUT,
            down: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Changes the bound on each operation (tests, benchmarks).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The store's URL without credentials.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether an earlier operation found the store down (later ones fail at once).
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Keys are already made of safe segments (see the cache's key layout), so they are taken
    /// as they are rather than encoded a second time.
    fn location(&self, key: &str) -> Result<Path, StoreError> {
        let full = if self.prefix.as_ref().is_empty() { key.to_owned() } else { format!("{}/{key}", self.prefix) };
        Path::parse(&full).map_err(|error| StoreError::Config(format!("invalid cache key `{key}`: {error}")))
    }

    fn relative(&self, location: &Path) -> String {
        let prefix = self.prefix.as_ref();
        if prefix.is_empty() {
            return location.as_ref().to_owned();
        }
        let location = location.as_ref();
        location.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('/')).unwrap_or(location).to_owned()
    }

    /// Runs one operation under the timeout; a failure other than "not found" marks the store down.
    async fn bounded<T>(
        &self,
        operation: impl Future<Output = object_store::Result<T>>,
    ) -> Result<Option<T>, StoreError> {
        if self.is_down() {
            return Err(self.unavailable("an earlier operation failed"));
        }
        match tokio::time::timeout(self.timeout, operation).await {
            Ok(Ok(value)) => Ok(Some(value)),
            Ok(Err(object_store::Error::NotFound { .. })) => Ok(None),
            Ok(Err(error)) => {
                self.down.store(true, Ordering::Relaxed);
                Err(self.unavailable(&redact::redact(&error.to_string())))
            }
            Err(_) => {
                self.down.store(true, Ordering::Relaxed);
                Err(self.unavailable(&format!("no answer within {} ms", self.timeout.as_millis())))
            }
        }
    }

    fn unavailable(&self, reason: &str) -> StoreError {
        StoreError::Unavailable { store: self.description.clone(), reason: reason.to_owned() }
    }

    /// Reads `key`, refusing objects over `limit` bytes; `None` when it does not exist.
    pub async fn get(&self, key: &str, limit: u64) -> Result<Option<Bytes>, StoreError> {
        let location = self.location(key)?;
        let inner = Arc::clone(&self.inner);
        let read = async move {
            let result = inner.get(&location).await?;
            if result.meta.size > limit {
                return Ok(Err(limit));
            }
            result.bytes().await.map(Ok)
        };
        match self.bounded(read).await? {
            None => Ok(None),
            Some(Ok(bytes)) if bytes.len() as u64 <= limit => Ok(Some(bytes)),
            Some(_) => Err(StoreError::TooLarge { key: key.to_owned(), limit }),
        }
    }

    /// Writes `key` whole; object stores replace an object atomically, so readers see the old or
    /// the new content, never a mix.
    pub async fn put(&self, key: &str, contents: Bytes) -> Result<(), StoreError> {
        let location = self.location(key)?;
        self.bounded(self.inner.put(&location, PutPayload::from_bytes(contents))).await?;
        Ok(())
    }

    /// Every object under `prefix` (a key prefix ending at a `/` boundary).
    pub async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, StoreError> {
        let location = self.location(prefix)?;
        let listing = self.inner.list(Some(&location)).try_collect::<Vec<_>>();
        let objects = self.bounded(listing).await?.unwrap_or_default();
        Ok(objects
            .into_iter()
            .map(|meta| ListedObject {
                key: self.relative(&meta.location),
                last_modified: meta.last_modified,
                size: meta.size,
            })
            .collect())
    }

    /// Deletes `key`; deleting what is already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let location = self.location(key)?;
        self.bounded(self.inner.delete(&location)).await?;
        Ok(())
    }
}

/// Hands `object_store` the one reqwest client copilot-runner builds (rustls with ring, our
/// timeouts), instead of letting it build another with a second TLS provider.
#[derive(Debug)]
struct RunnerConnector;

impl HttpConnector for RunnerConnector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let client = crate::http::client(crate::http::USER_AGENT, CONNECT_TIMEOUT, OPERATION_TIMEOUT)
            .map_err(|error| object_store::Error::Generic { store: "http", source: Box::new(error) })?;
        Ok(HttpClient::new(client))
    }
}

/// One quick retry at most: the whole lookup has a bound of a few seconds.
fn retry_config() -> RetryConfig {
    RetryConfig { max_retries: 1, retry_timeout: OPERATION_TIMEOUT, ..RetryConfig::default() }
}

/// The parts of an Azure connection string the cache needs.
#[derive(Debug, PartialEq, Eq)]
pub struct AzureConnection {
    pub account_name: String,
    pub account_key: String,
    /// `BlobEndpoint`, or the public endpoint built from the account and `EndpointSuffix`.
    pub blob_endpoint: String,
}

/// Parses `Key=Value;...` (keys case-insensitive, values may contain `=`).
pub fn parse_azure_connection_string(text: &str) -> Result<AzureConnection, StoreError> {
    let mut account_name = None;
    let mut account_key = None;
    let mut blob_endpoint = None;
    let mut protocol = "https".to_owned();
    let mut suffix = "core.windows.net".to_owned();
    for pair in text.split(';').map(str::trim).filter(|pair| !pair.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(StoreError::Config("`AZURE_STORAGE_CONNECTION_STRING` has a part without `=`".to_owned()));
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "accountname" => account_name = Some(value.trim().to_owned()),
            "accountkey" => account_key = Some(value.trim().to_owned()),
            "blobendpoint" => blob_endpoint = Some(value.trim().trim_end_matches('/').to_owned()),
            "defaultendpointsprotocol" => value.trim().clone_into(&mut protocol),
            "endpointsuffix" => value.trim().clone_into(&mut suffix),
            _ => {}
        }
    }
    let missing = |what: &str| StoreError::Config(format!("`AZURE_STORAGE_CONNECTION_STRING` has no `{what}`"));
    let account_name = account_name.ok_or_else(|| missing("AccountName"))?;
    let account_key = account_key.ok_or_else(|| missing("AccountKey"))?;
    let blob_endpoint = blob_endpoint.unwrap_or_else(|| format!("{protocol}://{account_name}.blob.{suffix}"));
    Ok(AzureConnection { account_name, account_key, blob_endpoint })
}

fn azure(container: &str, connection_string: Option<&str>) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let connection_string = connection_string
        .ok_or_else(|| StoreError::Config("an `az://` cache needs `AZURE_STORAGE_CONNECTION_STRING`".to_owned()))?;
    redact::register(connection_string);
    let connection = parse_azure_connection_string(connection_string)?;
    redact::register(&connection.account_key);
    let store = object_store::azure::MicrosoftAzureBuilder::new()
        .with_container_name(container)
        .with_account(&connection.account_name)
        .with_access_key(&connection.account_key)
        .with_endpoint(connection.blob_endpoint.clone())
        .with_allow_http(connection.blob_endpoint.starts_with("http://"))
        .with_retry(retry_config())
        .with_http_connector(RunnerConnector)
        .build()
        .map_err(|error| StoreError::Config(redact::redact(&error.to_string()).into_owned()))?;
    Ok(Arc::new(store))
}

fn s3(bucket: &str, env: &Env) -> Result<Arc<dyn ObjectStore>, StoreError> {
    use env_vars::cloud;
    let region = env.get(cloud::AWS_REGION).or_else(|| env.get(cloud::AWS_DEFAULT_REGION)).unwrap_or("us-east-1");
    let mut builder = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(region)
        .with_retry(retry_config())
        .with_http_connector(RunnerConnector);
    if let Some(key_id) = env.get(cloud::AWS_ACCESS_KEY_ID) {
        builder = builder.with_access_key_id(key_id);
    }
    if let Some(secret) = env.get(cloud::AWS_SECRET_ACCESS_KEY) {
        redact::register(secret);
        builder = builder.with_secret_access_key(secret);
    }
    if let Some(token) = env.get(cloud::AWS_SESSION_TOKEN) {
        redact::register(token);
        builder = builder.with_token(token);
    }
    if let Some(endpoint) = env.get(cloud::AWS_ENDPOINT_URL) {
        builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
    }
    let store = builder.build().map_err(|error| StoreError::Config(redact::redact(&error.to_string()).into_owned()))?;
    Ok(Arc::new(store))
}

fn gcs(bucket: &str, env: &Env) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let mut builder = object_store::gcp::GoogleCloudStorageBuilder::new()
        .with_bucket_name(bucket)
        .with_retry(retry_config())
        .with_http_connector(RunnerConnector);
    if let Some(path) = env.get(env_vars::cloud::GOOGLE_APPLICATION_CREDENTIALS) {
        builder = builder.with_application_credentials(path);
    }
    let store = builder.build().map_err(|error| StoreError::Config(redact::redact(&error.to_string()).into_owned()))?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    #[test]
    fn azure_connection_strings_give_account_key_and_endpoint() {
        let azurite = format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1/;"
        );
        let parsed = parse_azure_connection_string(&azurite).expect("parse");
        assert_eq!(parsed.account_name, "devstoreaccount1");
        assert_eq!(parsed.account_key, KEY, "`=` padding inside the value is kept");
        assert_eq!(parsed.blob_endpoint, "http://127.0.0.1:10000/devstoreaccount1");
        let public =
            parse_azure_connection_string("AccountName=acme;AccountKey=c2VjcmV0;EndpointSuffix=core.chinacloudapi.cn")
                .expect("parse");
        assert_eq!(public.blob_endpoint, "https://acme.blob.core.chinacloudapi.cn");
        let error = parse_azure_connection_string("AccountName=acme").expect_err("no key");
        assert_eq!(
            error.to_string(),
            "invalid context cache configuration: `AZURE_STORAGE_CONNECTION_STRING` has no `AccountKey`"
        );
    }

    #[test]
    fn opening_a_cloud_store_registers_its_credentials_and_never_prints_them() {
        let secret = "aws-secret-for-the-redaction-test";
        let env = Env::from_pairs([("AWS_SECRET_ACCESS_KEY", secret), ("AWS_ACCESS_KEY_ID", "key-id")]);
        let store = CacheStore::open("s3://bucket/some/prefix", None, &env).expect("open");
        assert_eq!(store.description(), "s3://bucket/some/prefix");
        assert!(!format!("{store:?}").contains(secret));
        assert_eq!(redact::redact(&format!("signing with {secret}")), format!("signing with {}", redact::MASK));

        let connection = format!("AccountName=acme;AccountKey={KEY}");
        let store =
            CacheStore::open("az://container", Some(&connection), &Env::from_pairs::<&str, &str>([])).expect("open");
        assert!(!format!("{store:?} {}", store.description()).contains(KEY));
        assert!(!redact::redact(&connection).contains(KEY));
    }

    #[test]
    fn unusable_urls_are_configuration_errors() {
        let env = Env::from_pairs::<&str, &str>([]);
        for url in ["ftp://host/x", "s3://", "no-scheme", "az://container"] {
            let error = CacheStore::open(url, None, &env).expect_err(url);
            assert!(matches!(error, StoreError::Config(_)), "{url}: {error}");
            assert_eq!(crate::exit::Classify::exit_code(&error), crate::exit::Code::Usage);
        }
    }
}
