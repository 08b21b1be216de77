//! Which exit code an error chain stands for.
//!
//! `exit` (the ground floor) defines the codes, the [`Usage`]/[`Unreachable`] markers and the
//! [`Classify`] trait; every adapter implements `Classify` for its own error type. Only the
//! command line, which sits above every adapter, names those types: the list below is the one
//! place they meet, and a test fails when an implementation of `Classify` is missing from it.

use crate::exit::{Classify, Code, Unreachable, Usage};

/// The exit code for an error chain: a [`Usage`] or [`Unreachable`] marker (as an error or as a
/// context) decides first, then the first cause, from the outside in, whose type knows its
/// class; anything else is a failed piece of work.
pub fn exit_code(error: &anyhow::Error) -> Code {
    // `downcast_ref` also finds a marker attached with `.context(..)`, which `chain()` shows only
    // as its text.
    if error.downcast_ref::<Usage>().is_some() {
        return Code::Usage;
    }
    if error.downcast_ref::<Unreachable>().is_some() {
        return Code::Unreachable;
    }
    error.chain().find_map(classify).unwrap_or(Code::WorkFailed)
}

/// The error types that implement [`Classify`], each downcast in turn.
fn classify(cause: &(dyn std::error::Error + 'static)) -> Option<Code> {
    fn class<E: Classify + std::error::Error + 'static>(cause: &(dyn std::error::Error + 'static)) -> Option<Code> {
        cause.downcast_ref::<E>().map(Classify::exit_code)
    }
    if cause.is::<Usage>() {
        return Some(Code::Usage);
    }
    if cause.is::<Unreachable>() {
        return Some(Code::Unreachable);
    }
    class::<crate::config::ConfigErrors>(cause)
        .or_else(|| class::<crate::prompts::PromptError>(cause))
        .or_else(|| class::<crate::trigger::TriggerError>(cause))
        .or_else(|| class::<crate::trigger::guard::GuardError>(cause))
        .or_else(|| class::<crate::trigger::token::LookupError>(cause))
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
        assert_eq!(exit_code(&error), Code::Usage);
        let error = anyhow::Error::new(Unreachable("gitlab".into())).context("while reading the issue");
        assert_eq!(exit_code(&error), Code::Unreachable);
        assert_eq!(exit_code(&anyhow::anyhow!("stage failed")), Code::WorkFailed);
    }

    #[test]
    fn a_marker_given_as_context_counts() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = anyhow::Error::new(io).context(Usage("cannot read the issue file `issue.md`".into()));
        assert_eq!(exit_code(&error), Code::Usage);
        let error =
            anyhow::anyhow!("connection refused").context(Unreachable("the cache".into())).context("while saving");
        assert_eq!(exit_code(&error), Code::Unreachable);
    }

    /// Every `impl Classify for X` under `src/` is named in [`classify`]; an error type left out
    /// would silently exit 1.
    #[test]
    fn every_classified_error_type_is_listed() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let this = std::fs::read_to_string(src.join("cli/exit_code.rs")).expect("reads itself");
        let listed = this.split("fn classify(").nth(1).expect("has classify").split("#[cfg(test)]").next().unwrap();
        let mut files = vec![src];
        let mut missing = Vec::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
                continue;
            }
            if path.ends_with("cli/exit_code.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for implementation in text.split("Classify for ").skip(1) {
                let name: String = implementation.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !listed.contains(&format!("::{name}>")) {
                    missing.push(format!("{name} ({})", path.display()));
                }
            }
        }
        assert!(missing.is_empty(), "list these in `classify`: {missing:?}");
    }
}
