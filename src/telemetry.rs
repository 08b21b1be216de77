//! Logging for people and for machines.
//!
//! tracing to stderr (human on a terminal, JSON with `--log-format json`), plus a file log in the
//! artifacts dir (kept as a job artifact) through tracing-appender. Every byte either writer
//! emits passes through `redact`, so a registered secret is masked even when it slipped into an
//! error message. GitLab collapsible log sections are written with [`section`].

use std::io::{self, IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::LogFormat;

/// Name of the file log inside the artifacts dir.
pub const LOG_FILE: &str = "copilot-runner.log";

/// Keeps the file log's background writer alive; dropping it flushes the file.
#[derive(Debug)]
pub struct Guard {
    _file: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Why logging could not start. A folder problem names the folder, so a job whose artifacts
/// folder is not writable says which folder to fix.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot create the log folder `{}`", dir.display())]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot open the log file `{LOG_FILE}` in `{}`", dir.display())]
    OpenFile {
        dir: PathBuf,
        #[source]
        source: tracing_appender::rolling::InitError,
    },
    #[error("a global log subscriber is already installed")]
    AlreadyInstalled(#[source] tracing_subscriber::util::TryInitError),
}

/// Installs the global subscriber. `log_dir` adds a JSON file log there (created if missing).
pub fn init(format: LogFormat, filter: &str, log_dir: Option<&Path>) -> Result<Guard, InitError> {
    let filter = || EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = match format {
        LogFormat::Human => tracing_subscriber::fmt::layer()
            .with_writer(Redacting(io::stderr))
            .with_ansi(io::stderr().is_terminal())
            .with_target(false)
            .boxed(),
        LogFormat::Json => {
            tracing_subscriber::fmt::layer().json().with_writer(Redacting(io::stderr)).with_current_span(true).boxed()
        }
    };
    let (file_layer, file_guard) = match log_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| InitError::CreateDir { dir: dir.to_owned(), source })?;
            // The builder reports an unwritable folder as an error; `rolling::never` would panic.
            let appender = tracing_appender::rolling::RollingFileAppender::builder()
                .rotation(tracing_appender::rolling::Rotation::NEVER)
                .filename_prefix(LOG_FILE)
                .build(dir)
                .map_err(|source| InitError::OpenFile { dir: dir.to_owned(), source })?;
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer().json().with_writer(Redacting(writer)).with_filter(filter());
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(stderr.with_filter(filter()))
        .with(file_layer)
        .try_init()
        .map_err(InitError::AlreadyInstalled)?;
    Ok(Guard { _file: file_guard })
}

/// A `MakeWriter` whose writers mask registered secrets. The fmt layer writes one whole event
/// per `write` call, so a secret is never split across two calls.
#[derive(Debug, Clone)]
pub struct Redacting<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

/// The writer behind [`Redacting`].
#[derive(Debug)]
pub struct RedactingWriter<W>(W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(&crate::redact::redact_bytes(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// An open GitLab collapsible section; the end marker is written when it is dropped.
#[derive(Debug)]
#[must_use = "the section ends when the guard is dropped"]
pub struct Section {
    name: String,
}

static SECTION_SEQ: AtomicU64 = AtomicU64::new(0);

/// Opens a collapsed section in the job log. `name` is made safe for GitLab (`[A-Za-z0-9_.-]`)
/// and unique, so nested or repeated sections never close each other.
pub fn section(name: &str, header: &str) -> Section {
    let safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect();
    let name = format!("{safe}_{}", SECTION_SEQ.fetch_add(1, Ordering::Relaxed));
    write_marker(&section_start(&name, header, unix_now()));
    Section { name }
}

impl Drop for Section {
    fn drop(&mut self) {
        write_marker(&section_end(&self.name, unix_now()));
    }
}

/// The start marker, as GitLab's log parser expects it (`\e[0K` must include the 0).
pub fn section_start(name: &str, header: &str, unix_seconds: u64) -> String {
    let header = crate::redact::redact(header).replace(['\r', '\n'], " ");
    format!("\x1b[0Ksection_start:{unix_seconds}:{name}[collapsed=true]\r\x1b[0K{header}\n")
}

/// The end marker.
pub fn section_end(name: &str, unix_seconds: u64) -> String {
    format!("\x1b[0Ksection_end:{unix_seconds}:{name}\r\x1b[0K\n")
}

/// Writes raw lines into the job log (stderr, where our log lines go, to keep their order).
pub fn write_job_log(text: &str) {
    let mut stderr = io::stderr().lock();
    // A job log we cannot write to has nowhere to report that either.
    let _ = stderr.write_all(crate::redact::redact(text).as_bytes());
}

fn write_marker(marker: &str) {
    write_job_log(marker);
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_markers_follow_gitlab_syntax() {
        assert_eq!(
            section_start("agent_1", "Running agent", 1_700_000_000),
            "\x1b[0Ksection_start:1700000000:agent_1[collapsed=true]\r\x1b[0KRunning agent\n"
        );
        assert_eq!(section_end("agent_1", 1_700_000_001), "\x1b[0Ksection_end:1700000001:agent_1\r\x1b[0K\n");
    }

    #[test]
    fn redacting_writer_masks_registered_secrets() {
        crate::redact::register("telemetry-secret-xyz");
        let mut out = Vec::new();
        RedactingWriter(&mut out).write_all(b"token=telemetry-secret-xyz\n").expect("write");
        assert_eq!(String::from_utf8(out).expect("utf-8"), "token=[MASKED]\n");
    }
}
