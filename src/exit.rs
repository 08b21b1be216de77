//! Exit codes, and how an error chain maps to one.
//!
//! 0 done (also "nothing to do"), 1 the work failed (and GitLab was told), 2 bad configuration
//! or usage, 3 infrastructure unreachable. Code marks its errors with [`Usage`] or
//! [`Unreachable`], and each adapter implements [`Classify`] for its error type; anything
//! unmarked is a failed piece of work. This module knows no adapter: the command line, which
//! sits above them all, maps a whole error chain to a code.

use std::fmt;

/// The process exit codes of every subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    Done = 0,
    WorkFailed = 1,
    Usage = 2,
    Unreachable = 3,
}

impl From<Code> for std::process::ExitCode {
    fn from(code: Code) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

/// Bad configuration or usage: the message says which key or flag and what is allowed.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Something we depend on (GitLab, the model, a store) could not be reached.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// Lets an adapter's error enum say which exit code it stands for.
pub trait Classify {
    fn exit_code(&self) -> Code;
}

/// A hint printed under an error: a known fix for a known cause.
#[derive(Debug)]
pub struct Hint(pub String);

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Hint {}
