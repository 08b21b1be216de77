//! Exit codes, and how an error chain maps to one.
//!
//! 0 done (also "nothing to do"), 1 the work failed (and GitLab was told), 2 bad configuration
//! or usage, 3 infrastructure unreachable. Adapters mark their errors with [`Usage`] or
//! [`Unreachable`] (or implement [`Classify`]); anything unmarked is a failed piece of work.

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

/// The exit code for an error chain: the first cause that knows its class decides.
pub fn code_for(error: &anyhow::Error) -> Code {
    for cause in error.chain() {
        if cause.is::<Usage>() {
            return Code::Usage;
        }
        if cause.is::<Unreachable>() {
            return Code::Unreachable;
        }
        if let Some(code) = classify_known(cause) {
            return code;
        }
    }
    Code::WorkFailed
}

/// Adapter errors register themselves here as they land, so that `code_for` stays one function.
fn classify_known(cause: &(dyn std::error::Error + 'static)) -> Option<Code> {
    fn class<E: Classify + std::error::Error + 'static>(cause: &(dyn std::error::Error + 'static)) -> Option<Code> {
        cause.downcast_ref::<E>().map(Classify::exit_code)
    }
    if let Some(error) = cause.downcast_ref::<crate::prompts::PromptError>() {
        return error.is_configuration().then_some(Code::Usage);
    }
    class::<crate::config::ConfigErrors>(cause)
        .or_else(|| class::<crate::trigger::TriggerError>(cause))
        .or_else(|| class::<crate::trigger::guard::GuardError>(cause))
        .or_else(|| class::<crate::gitlab::Error>(cause))
        .or_else(|| class::<crate::agent::AgentError>(cause))
        .or_else(|| class::<crate::git::GitError>(cause))
        .or_else(|| class::<crate::context::store::StoreError>(cause))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_classified_cause_decides() {
        let error = anyhow::Error::new(Usage("`TRIGGER_TYPE` is missing".into())).context("while starting");
        assert_eq!(code_for(&error), Code::Usage);
        let error = anyhow::Error::new(Unreachable("gitlab".into())).context("while reading the issue");
        assert_eq!(code_for(&error), Code::Unreachable);
        assert_eq!(code_for(&anyhow::anyhow!("stage failed")), Code::WorkFailed);
    }
}
