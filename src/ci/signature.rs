//! A failure's signature: what makes two failed pipelines "the same failure".
//!
//! For each failed job: its name, its first error line with what changes from run to run taken
//! out (numbers, paths, hashes), and the failing tests its log names. Two failures with the same
//! signature failed the same way, whatever the timestamps, temporary directories and line numbers
//! of the logs say. The pipeline-fix loop stops when an attempt ends in the failure it set out to
//! fix, and shows every earlier attempt's signature to the next one.

use std::sync::LazyLock;

use regex::Regex;
use sha1::{Digest as _, Sha1};

use super::trace::Excerpt;

/// The signature of one failed job.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct JobSignature {
    pub job: String,
    /// The first error line, normalised (see [`normalize`]); empty when the log showed none.
    pub first_error: String,
    /// Failing test names as the log gives them (names are identifiers: not normalised).
    pub tests: Vec<String>,
}

impl JobSignature {
    /// The signature of job `job` whose log gave `excerpt`.
    pub fn new(job: &str, excerpt: &Excerpt) -> Self {
        Self {
            job: job.to_owned(),
            first_error: excerpt.first_error.as_deref().map(normalize).unwrap_or_default(),
            tests: excerpt.failed_tests.clone(),
        }
    }
}

/// The signature of a failed pipeline: its failed jobs' signatures, in job-name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signature {
    jobs: Vec<JobSignature>,
}

/// Characters of [`Signature::describe`] at most.
const DESCRIPTION_CHARS: usize = 600;

impl Signature {
    pub fn new(mut jobs: Vec<JobSignature>) -> Self {
        jobs.sort();
        jobs.dedup();
        Self { jobs }
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// 12 hex digits that stand for the signature (kept in the loop's state marker).
    pub fn digest(&self) -> String {
        let mut hash = Sha1::new();
        for job in &self.jobs {
            for part in std::iter::once(&job.job).chain([&job.first_error]).chain(&job.tests) {
                hash.update(part.as_bytes());
                hash.update([0]);
            }
            hash.update([1]);
        }
        hex::encode(&hash.finalize()[..6])
    }

    /// One line for people and prompts: `test: error: … (failing: a, b); lint: …`.
    pub fn describe(&self) -> String {
        let jobs: Vec<String> = self
            .jobs
            .iter()
            .map(|job| {
                let error = if job.first_error.is_empty() { "no error line" } else { job.first_error.as_str() };
                match job.tests.as_slice() {
                    [] => format!("{}: {error}", job.job),
                    tests => format!("{}: {error} (failing: {})", job.job, tests.join(", ")),
                }
            })
            .collect();
        let text = jobs.join("; ");
        match text.char_indices().nth(DESCRIPTION_CHARS) {
            Some((end, _)) => format!("{}…", &text[..end]),
            None => text,
        }
    }
}

/// Hex runs of 7 or more that hold a digit (commit and object hashes, ids).
static HASH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[0-9a-fA-F]*[0-9][0-9a-fA-F]*\b").unwrap_or_else(|error| unreachable!("valid: {error}"))
});
/// A path with at least one `/`: its directories differ between runners and checkouts.
static PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:[A-Za-z]:)?[\w.~-]*(?:/[\w.@+-]+)+/([\w.@+-]+)")
        .unwrap_or_else(|error| unreachable!("valid: {error}"))
});
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d+").unwrap_or_else(|error| unreachable!("valid: {error}")));

/// `line` with hashes as `H`, paths as their file name and numbers as `N`, spaces collapsed:
/// `panicked at /builds/a/b/src/lib.rs:9:5` → `panicked at lib.rs:N:N`.
pub fn normalize(line: &str) -> String {
    let hashes = HASH.replace_all(line, |captures: &regex::Captures<'_>| {
        let found = &captures[0];
        if found.len() >= 7 && found.bytes().any(|byte| byte.is_ascii_alphabetic()) {
            "H".to_owned()
        } else {
            found.to_owned()
        }
    });
    let paths = PATH.replace_all(&hashes, "$1");
    let numbers = NUMBER.replace_all(&paths, "N");
    numbers.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excerpt(first_error: Option<&str>, tests: &[&str]) -> Excerpt {
        Excerpt {
            text: String::new(),
            error_lines: 1,
            total_bytes: 0,
            truncated: false,
            first_error: first_error.map(str::to_owned),
            failed_tests: tests.iter().map(|name| (*name).to_owned()).collect(),
        }
    }

    #[test]
    fn what_changes_from_run_to_run_is_normalised_away() {
        assert_eq!(
            normalize("thread 'main' panicked at /builds/acme/widgets/src/lib.rs:9:5:"),
            "thread 'main' panicked at lib.rs:N:N:"
        );
        assert_eq!(
            normalize("error: object 3f2a9c1d0e not found in /tmp/build-8812/cache  (took 12ms)"),
            "error: object H not found in cache (took Nms)"
        );
        assert_eq!(normalize("ERROR: Job failed: exit code 101"), "ERROR: Job failed: exit code N");
        // Short hex-looking words are words.
        assert_eq!(normalize("error: bad face"), "error: bad face");
    }

    #[test]
    fn the_same_failure_in_another_run_has_the_same_signature_and_another_does_not() {
        let first = Signature::new(vec![JobSignature::new(
            "test",
            &excerpt(Some("thread 'x' panicked at /builds/1/src/lib.rs:9:5:"), &["greet::hello"]),
        )]);
        let again = Signature::new(vec![JobSignature::new(
            "test",
            &excerpt(Some("thread 'x' panicked at /builds/2/src/lib.rs:11:5:"), &["greet::hello"]),
        )]);
        let other_test = Signature::new(vec![JobSignature::new(
            "test",
            &excerpt(Some("thread 'x' panicked at /builds/2/src/lib.rs:11:5:"), &["greet::bye"]),
        )]);
        let other_job = Signature::new(vec![JobSignature::new(
            "lint",
            &excerpt(Some("thread 'x' panicked at /builds/1/src/lib.rs:9:5:"), &["greet::hello"]),
        )]);
        assert_eq!(first.digest(), again.digest());
        assert_ne!(first.digest(), other_test.digest());
        assert_ne!(first.digest(), other_job.digest());
        assert_eq!(first.digest().len(), 12);
        assert_eq!(first.describe(), "test: thread 'x' panicked at lib.rs:N:N: (failing: greet::hello)");
    }

    #[test]
    fn job_order_does_not_matter() {
        let a = JobSignature::new("a", &excerpt(Some("error: a"), &[]));
        let b = JobSignature::new("b", &excerpt(None, &[]));
        assert_eq!(Signature::new(vec![a.clone(), b.clone()]), Signature::new(vec![b, a]));
        assert_eq!(Signature::new(vec![JobSignature::new("b", &excerpt(None, &[]))]).describe(), "b: no error line");
    }
}
