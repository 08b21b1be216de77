//! The only place that spawns child processes.
//!
//! Every child (git, the Copilot CLI, another agent CLI) is hostile in some way: it may never
//! exit, flood its output, ignore SIGTERM, or leave a grandchild holding our pipes open. So each
//! one runs in its own process group with a complete, explicit environment (nothing of ours is
//! inherited), stdout and stderr are drained concurrently with caps (reading goes on past a cap,
//! so the child never blocks on a full pipe), a deadline sends SIGTERM to the whole group and
//! SIGKILL after a grace period, and the group is killed when the child exits or the future is
//! dropped. A grandchild that escapes the group and keeps a pipe open costs at most
//! [`DRAIN_AFTER_EXIT`] before we stop reading.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::config::Env;
use crate::env_vars;

/// How long we keep reading a pipe after the child exited: output a grandchild writes later is
/// not ours to wait for.
pub const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// Default cap of captured stdout and stderr, each.
pub const DEFAULT_CAP: usize = 4 * 1024 * 1024;

/// Longest line handed to a line callback; a longer one is cut there (the rest is skipped).
pub const MAX_LINE: usize = 4 * 1024 * 1024;

const READ_CHUNK: usize = 64 * 1024;

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        })
    }
}

/// Whether (and how loudly) a child's output lines go to the log as they arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Echo {
    /// Lines are captured only.
    #[default]
    Off,
    /// Each line becomes a `debug` event (redacted).
    Debug,
    /// Each line becomes an `info` event (redacted).
    Info,
}

/// Everything needed to run one child.
#[derive(Clone)]
pub struct ProcessSpec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Working directory; `None` keeps ours.
    pub cwd: Option<PathBuf>,
    /// The complete environment of the child: it never inherits ours.
    pub env: Vec<(String, String)>,
    /// Bytes written to the child's stdin, which is then closed; `None` closes stdin at once.
    pub stdin: Option<Vec<u8>>,
    /// Wall-clock limit; on expiry the whole process group gets SIGTERM.
    pub timeout: Duration,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
    pub stdout_cap: usize,
    pub stderr_cap: usize,
    /// Names the child in logs and errors (`git fetch`, `copilot`).
    pub label: String,
    pub echo: Echo,
}

impl fmt::Debug for ProcessSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The environment may hold tokens: names only.
        f.debug_struct("ProcessSpec")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .field("env", &self.env.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .field("stdin_bytes", &self.stdin.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .field("grace", &self.grace)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl ProcessSpec {
    /// A spec with an empty environment, closed stdin, a 10 minute timeout, a 5 second grace and
    /// [`DEFAULT_CAP`] caps.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        let program = program.into();
        let label = program.file_name().unwrap_or(program.as_os_str()).to_string_lossy().into_owned();
        Self {
            program,
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            stdin: None,
            timeout: Duration::from_secs(600),
            grace: Duration::from_secs(5),
            stdout_cap: DEFAULT_CAP,
            stderr_cap: DEFAULT_CAP,
            label,
            echo: Echo::Off,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: Into<OsString>>(mut self, args: impl IntoIterator<Item = I>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Adds (or replaces) one variable of the child's environment.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.env.retain(|(known, _)| *known != name);
        self.env.push((name, value.into()));
        self
    }

    /// Adds (or replaces) several variables of the child's environment.
    pub fn envs(self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        vars.into_iter().fold(self, |spec, (name, value)| spec.env(name, value))
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Caps both captured streams.
    pub fn caps(mut self, stdout: usize, stderr: usize) -> Self {
        self.stdout_cap = stdout;
        self.stderr_cap = stderr;
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn echo(mut self, echo: Echo) -> Self {
        self.echo = echo;
        self
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    pub fn success(self) -> bool {
        self == Self::Code(0)
    }

    fn from_std(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Self::Code(code),
            (None, Some(signal)) => Self::Signal(signal),
            (None, None) => Self::Code(-1),
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(code) => write!(f, "exit code {code}"),
            Self::Signal(signal) => match Signal::try_from(*signal) {
                Ok(name) => write!(f, "signal {signal} ({name})"),
                Err(_) => write!(f, "signal {signal}"),
            },
        }
    }
}

/// One captured stream: its first `cap` bytes, and how much there was in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// Whether output past the cap was discarded.
    pub truncated: bool,
    /// Bytes the child wrote in all (kept or not).
    pub total: u64,
}

impl Captured {
    /// The captured bytes as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// What a finished child left behind.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Captured,
    pub stderr: Captured,
    pub duration: Duration,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

/// Why running a child failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program could not be started (not found, not executable).
    #[error("could not start `{program}`: {source}{}", spawn_hint(source))]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// The deadline passed; the whole process group was terminated. `output` holds what the
    /// child wrote until then.
    #[error("`{label}` did not finish within {}s and was stopped", after.as_secs())]
    Timeout { label: String, after: Duration, output: Box<Output> },
    /// Waiting for or talking to the child failed.
    #[error("i/o error while running `{label}`")]
    Io {
        label: String,
        #[source]
        source: std::io::Error,
    },
}

fn spawn_hint(source: &std::io::Error) -> &'static str {
    match source.kind() {
        std::io::ErrorKind::NotFound => " (is it installed, and is the path or `PATH` right?)",
        std::io::ErrorKind::PermissionDenied => " (is the file executable?)",
        _ => "",
    }
}

/// Runs a child to completion and returns its captured output.
pub async fn run(spec: ProcessSpec) -> Result<Output, ProcessError> {
    run_with_lines(spec, |_, _| {}).await
}

/// Runs a child to completion, handing every complete output line (without its newline) to
/// `on_line` as it arrives; a final line without a newline is handed over at the end.
pub async fn run_with_lines(spec: ProcessSpec, mut on_line: impl FnMut(Stream, &str)) -> Result<Output, ProcessError> {
    #[expect(clippy::disallowed_methods, reason = "the one place that spawns processes")]
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(name, value)| (name, value)))
        .stdin(if spec.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &spec.cwd {
        command.current_dir(dir);
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|source| ProcessError::Spawn { program: spec.program.display().to_string(), source })?;
    let io_error = |source| ProcessError::Io { label: spec.label.clone(), source };
    let group = GroupGuard(child.id().and_then(|pid| i32::try_from(pid).ok()).map(Pid::from_raw));
    tracing::debug!(label = %spec.label, pid = ?child.id(), "started child");

    // Writing stdin in its own task: a child that reads its input only after writing a lot of
    // output must not deadlock against us.
    let stdin_task = match (child.stdin.take(), spec.stdin.clone()) {
        (Some(mut pipe), Some(bytes)) => Some(tokio::spawn(async move {
            // A child that exits without reading its stdin is not our error: EPIPE is expected.
            let _ = pipe.write_all(&bytes).await;
            let _ = pipe.shutdown().await;
        })),
        _ => None,
    };
    let _abort_stdin = AbortOnDrop(stdin_task);

    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(io_error(std::io::Error::other("child pipes were not set up")));
    };
    let mut out = Drain::new(stdout, Stream::Stdout, spec.stdout_cap);
    let mut err = Drain::new(stderr, Stream::Stderr, spec.stderr_cap);
    let mut emit = |stream: Stream, line: &str| {
        echo_line(&spec.label, spec.echo, stream, line);
        on_line(stream, line);
    };

    let deadline = tokio::time::Instant::from_std(started + spec.timeout);
    let mut status: Option<ExitStatus> = None;
    let mut timed_out = false;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let mut stop_reading_at: Option<tokio::time::Instant> = None;
    let far = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);

    while status.is_none() || !(out.done && err.done) {
        tokio::select! {
            read = out.read_some(), if !out.done => out.take(read, &mut emit).map_err(io_error)?,
            read = err.read_some(), if !err.done => err.take(read, &mut emit).map_err(io_error)?,
            exited = child.wait(), if status.is_none() => {
                status = Some(ExitStatus::from_std(exited.map_err(io_error)?));
                // Whatever the child left running in its group goes with it.
                group.signal(Signal::SIGKILL);
                stop_reading_at = Some(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
            }
            () = tokio::time::sleep_until(deadline), if status.is_none() && !timed_out => {
                timed_out = true;
                tracing::warn!(label = %spec.label, timeout_s = spec.timeout.as_secs(), "child timed out, terminating its process group");
                group.signal(Signal::SIGTERM);
                kill_at = Some(tokio::time::Instant::now() + spec.grace);
            }
            () = tokio::time::sleep_until(kill_at.unwrap_or(far)), if status.is_none() && kill_at.is_some() => {
                tracing::warn!(label = %spec.label, "child ignored SIGTERM, killing its process group");
                group.signal(Signal::SIGKILL);
                kill_at = None;
            }
            () = tokio::time::sleep_until(stop_reading_at.unwrap_or(far)), if stop_reading_at.is_some() => {
                tracing::debug!(label = %spec.label, "pipes still open after the child exited; no longer reading");
                break;
            }
        }
    }
    out.finish(&mut emit);
    err.finish(&mut emit);

    let output = Output {
        status: status.unwrap_or(ExitStatus::Code(-1)),
        stdout: out.captured,
        stderr: err.captured,
        duration: started.elapsed(),
    };
    tracing::debug!(label = %spec.label, status = %output.status, duration_ms = output.duration.as_millis() as u64, "child finished");
    if timed_out {
        return Err(ProcessError::Timeout { label: spec.label, after: spec.timeout, output: Box::new(output) });
    }
    Ok(output)
}

fn echo_line(label: &str, echo: Echo, stream: Stream, line: &str) {
    match echo {
        Echo::Off => {}
        Echo::Debug => tracing::debug!(child = label, %stream, "{}", crate::redact::redact(line)),
        Echo::Info => tracing::info!(child = label, %stream, "{}", crate::redact::redact(line)),
    }
}

/// Sends signals to a child's process group; kills the group when dropped (also when the
/// future running the child is cancelled).
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.0 {
            // ESRCH: the group is already gone, which is what we want.
            let _ = killpg(pgid, signal);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}

struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// Reads one pipe: keeps the first `cap` bytes, splits lines for the callback, and discards the
/// rest so the child never blocks on a full pipe.
struct Drain<R> {
    pipe: R,
    stream: Stream,
    cap: usize,
    buf: Vec<u8>,
    line: Vec<u8>,
    skipping_long_line: bool,
    captured: Captured,
    done: bool,
}

impl<R: AsyncRead + Unpin> Drain<R> {
    fn new(pipe: R, stream: Stream, cap: usize) -> Self {
        Self {
            pipe,
            stream,
            cap,
            buf: vec![0; READ_CHUNK],
            line: Vec::new(),
            skipping_long_line: false,
            captured: Captured::default(),
            done: false,
        }
    }

    async fn read_some(&mut self) -> std::io::Result<usize> {
        self.pipe.read(&mut self.buf).await
    }

    fn take(&mut self, read: std::io::Result<usize>, emit: &mut impl FnMut(Stream, &str)) -> std::io::Result<()> {
        let count = read?;
        if count == 0 {
            self.done = true;
            return Ok(());
        }
        let chunk = &self.buf[..count];
        self.captured.total += count as u64;
        let room = self.cap.saturating_sub(self.captured.bytes.len());
        self.captured.bytes.extend_from_slice(&chunk[..room.min(count)]);
        self.captured.truncated |= count > room;

        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|&byte| byte == b'\n') {
            if !self.skipping_long_line {
                let room = MAX_LINE.saturating_sub(self.line.len());
                self.line.extend_from_slice(&rest[..newline.min(room)]);
                emit_line(&mut self.line, self.stream, emit);
            }
            self.skipping_long_line = false;
            rest = &rest[newline + 1..];
        }
        if !self.skipping_long_line {
            let room = MAX_LINE.saturating_sub(self.line.len());
            self.line.extend_from_slice(&rest[..rest.len().min(room)]);
            if self.line.len() >= MAX_LINE {
                emit_line(&mut self.line, self.stream, emit);
                self.skipping_long_line = true;
            }
        }
        Ok(())
    }

    fn finish(&mut self, emit: &mut impl FnMut(Stream, &str)) {
        if !self.line.is_empty() {
            emit_line(&mut self.line, self.stream, emit);
        }
    }
}

fn emit_line(line: &mut Vec<u8>, stream: Stream, emit: &mut impl FnMut(Stream, &str)) {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    emit(stream, &String::from_utf8_lossy(line));
    line.clear();
}

/// Starts `program` with `args`, inheriting our standard streams, environment and working
/// directory: the one child of the sandbox supervisor, which has no runtime to drive a
/// [`ProcessSpec`] and must not read the child's output itself.
pub fn spawn_inheriting(program: &Path, args: &[OsString]) -> std::io::Result<std::process::Child> {
    #[expect(clippy::disallowed_methods, reason = "the one place that spawns processes")]
    let mut command = std::process::Command::new(program);
    command.args(args).spawn()
}

/// Replaces this process with `program` (the last step of `sandbox-exec`); returns only when the
/// exec failed.
pub fn exec_replacing(program: &Path, args: &[OsString]) -> std::io::Error {
    use std::os::unix::process::CommandExt as _;
    #[expect(clippy::disallowed_methods, reason = "the one place that spawns processes")]
    let mut command = std::process::Command::new(program);
    command.args(args).exec()
}

/// Variables every networked child gets from ours when set: how to reach the network (proxies)
/// and which certificate authorities to trust beside the defaults (a self-managed GitLab behind a
/// proxy or a private CA).
pub const NETWORK_ENV: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Builds a child environment from ours: exact names in `allowed`, and names starting with one of
/// `prefixes`. A prefix never lets one of our own settings through (`GITLAB_TOKEN`,
/// `COPILOT_LANGUAGE`, …): those pass only when named exactly in `allowed`.
pub fn env_allowlist(env: &Env, allowed: &[&str], prefixes: &[&str]) -> Vec<(String, String)> {
    env.iter()
        .filter(|(name, _)| {
            allowed.contains(name)
                || (prefixes.iter().any(|prefix| name.starts_with(prefix)) && env_vars::setting(name).is_none())
        })
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// Finds `program` on the `PATH` of `env` (not ours), as the child would.
pub fn find_program(program: &str, env: &Env, cwd: &Path) -> Option<PathBuf> {
    let path = env.get("PATH")?;
    which::which_in(program, Some(path), cwd).ok()
}

#[cfg(test)]
mod tests;
