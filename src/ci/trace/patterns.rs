//! What makes a log line an error line, and which shapes of text are secrets.
//!
//! Error lines are recognised by the words build and test tools print when they fail (cargo,
//! rustc, pytest, jest, npm, go, maven, gradle, shells and the runner itself), not by a tool's
//! exact format: an unrecognised tool still says `error:`, `ERROR` or `FAILED`. The patterns
//! avoid the words' harmless uses (`0 failed`, `thiserror`, `ErrorKind`, `-Werror`).
//!
//! Nearly every line of a log is no error line, and the full pattern is slow to rule a line out
//! (its case-insensitive alternatives and word boundaries leave the regex engine no literal to
//! skip ahead with), so a line first passes [`ERROR_WORDS`]: one case-insensitive multi-literal
//! scan for words that every match of the full pattern contains. Only lines with such a word meet
//! the regex.
//!
//! Secrets are masked twice: every secret the process registered with [`crate::redact`], and
//! anything shaped like a GitLab or GitHub token, an `Authorization` header value or a password
//! in a URL, because a job log can print credentials this process never knew.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use regex::Regex;
use regex::bytes::Regex as BytesRegex;

use crate::redact::{self, MASK};

static ERROR_LINE: LazyLock<BytesRegex> = LazyLock::new(|| {
    BytesRegex::new(concat!(
        r"(?-u)",
        // rustc, gcc, python, node, shells, most tools: `error:`, `Error:`, `error[E0308]:`.
        r"(?i:\berror(?:\[[A-Za-z0-9]+\])?:)",
        // maven `[ERROR]`, pytest `ERROR tests/…`, the runner's `ERROR: Job failed`.
        r"|\bERROR\b",
        // go `--- FAIL:`, jest `FAIL src/…`, cargo `… FAILED`, pytest `FAILED tests/…`, maven `BUILD FAILURE`.
        r"|\bFAIL(?:ED|URE)?\b",
        r"|\bpanicked at\b|^panic: |^fatal error: ",
        r"|Traceback \(most recent call last\)",
        r"|npm ERR!|\bnpm error\b",
        r"|(?i:\bexit(?:ed with)? (?:code|status):? *[1-9][0-9]*)|non-zero exit (?:code|status)",
        // `TypeError: …`, `AssertionError`, `java.lang.IllegalStateException`, make's `Error 2`.
        r"|(?:Error|Exception)\b",
        r"|(?i:\bfatal:)",
        r"|(?i:\b(?:build|job|tests?|compilation|command|script) failed\b)",
        r"|Segmentation fault|\(core dumped\)|\bcommand not found\b|\bundefined reference to\b",
        // jest and mocha mark a failed test with a cross.
        r"|\xE2\x9C\x95|\xE2\x9C\x97|\xE2\x9C\x98",
    ))
    .unwrap_or_else(|error| unreachable!("the error line pattern is valid: {error}"))
});

/// Words of which every match of [`ERROR_LINE`] contains at least one, ignoring ASCII case: a
/// line without any of them is no error line. Each alternative of the pattern is covered:
/// `error:`, `ERROR`, `Error`, `npm error` and `fatal error:` by `error`; `FAIL…` and `… failed`
/// by `fail`; `panicked at` and `panic: ` by `panic`; `exit code`, `exited with status` and
/// `non-zero exit` by `exit`; `fatal:` by `fatal`; `npm ERR!` by `err!`; the rest by themselves
/// (the crosses by their common first two bytes).
const ERROR_WORDS_LIST: [&[u8]; 12] = [
    b"error",
    b"fail",
    b"panic",
    b"exit",
    b"fatal",
    b"err!",
    b"traceback (most recent call last)",
    b"exception",
    b"segmentation fault",
    b"(core dumped)",
    b"command not found",
    b"undefined reference to",
];

/// The first two bytes of the UTF-8 encodings of the crosses `✕`, `✗` and `✘`.
const CROSS_PREFIX: &[u8] = b"\xE2\x9C";

static ERROR_WORDS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(AhoCorasickKind::DFA))
        .build(ERROR_WORDS_LIST.iter().copied().chain([CROSS_PREFIX]))
        .unwrap_or_else(|error| unreachable!("the error words build a searcher: {error}"))
});

static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:glpat|gldt|glrt|glptt|glcbt|glft|glimt|glsoat|gloas|glagent|glwt|glffct|gltst)-[0-9A-Za-z_-]+",
        r"|\bgh[pousr]_[0-9A-Za-z]+",
        r"|\bgithub_pat_[0-9A-Za-z_]+",
    ))
    .unwrap_or_else(|error| unreachable!("the token pattern is valid: {error}"))
});

/// A credential after a header name: the name stays, the value goes.
static CREDENTIAL_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(\b(?:authorization|proxy-authorization):\s*(?:bearer|basic|token)\s+",
        r"|\b(?:private-token|job-token|deploy-token):\s*)",
        r#"[^\s'"]+"#,
    ))
    .unwrap_or_else(|error| unreachable!("the credential header pattern is valid: {error}"))
});

/// A password inside a URL (`https://user:password@host`): user and host stay.
static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s/@:]+:)[^\s/@]+@")
        .unwrap_or_else(|error| unreachable!("the URL password pattern is valid: {error}"))
});

/// A failing test named on its line by cargo (`test a::b ... FAILED`), pytest
/// (`FAILED tests/x.py::test_y - …`), go (`--- FAIL: TestX (0.01s)`), maven surefire
/// (`[ERROR] com.x.YTest.z  Time elapsed: … <<< FAILURE!`) or jest and mocha (`✕ adds (3 ms)`).
static FAILED_TEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^\s*test (?<cargo>\S+) \.\.\. FAILED\s*$",
        r"|^\s*FAILED (?<pytest>\S+::\S+)",
        r"|^\s*--- FAIL: (?<go>\S+)",
        r"|^\s*\[ERROR\]\s+(?<maven>\S+)\s+Time elapsed:.*<<< (?:FAILURE|ERROR)!",
        r"|^\s*[✕✗✘]\s+(?<js>.+?)(?:\s+\(\d+(?:\.\d+)?\s*m?s\))?\s*$",
    ))
    .unwrap_or_else(|error| unreachable!("the failed test pattern is valid: {error}"))
});

/// Longest test name kept, in bytes.
const MAX_TEST_NAME: usize = 200;

/// The failing test a cleaned error line names, if it names one (masked, bounded).
pub(super) fn failed_test(text: &[u8]) -> Option<String> {
    let line = String::from_utf8_lossy(text);
    let captures = FAILED_TEST.captures(&line)?;
    let name = ["cargo", "pytest", "go", "maven", "js"].iter().find_map(|group| captures.name(group))?.as_str();
    let mut end = name.len().min(MAX_TEST_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    Some(mask_secrets(&name[..end]))
}

/// Whether a cleaned log line reports a failure.
pub(super) fn is_error_line(text: &[u8]) -> bool {
    may_be_error_line(text) && ERROR_LINE.is_match(text)
}

/// Whether `text` holds one of the words without which [`ERROR_LINE`] cannot match.
fn may_be_error_line(text: &[u8]) -> bool {
    ERROR_WORDS.is_match(text)
}

/// `text` with registered secrets and token-shaped text masked.
pub(super) fn mask_secrets(text: &str) -> String {
    let text = redact::redact(text);
    let text = TOKEN.replace_all(&text, MASK);
    let text = CREDENTIAL_HEADER.replace_all(&text, format!("${{1}}{MASK}"));
    let text = URL_PASSWORD.replace_all(&text, format!("${{1}}{MASK}@"));
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn failures_of_common_tools_are_error_lines() {
        let lines = [
            "error[E0308]: mismatched types",
            "error: could not compile `app` (lib) due to 1 previous error",
            "test tests::parses ... FAILED",
            "thread 'tests::parses' panicked at src/lib.rs:10:5:",
            "FAILED tests/test_app.py::test_sum - assert 3 == 4",
            "ERROR tests/test_db.py - ModuleNotFoundError: No module named 'psycopg'",
            "Traceback (most recent call last):",
            "AssertionError: expected 3 to equal 4",
            "FAIL src/sum.test.js",
            "  \u{2715} adds numbers (3 ms)",
            "npm ERR! code ELIFECYCLE",
            "npm error Lifecycle script `test` failed with error:",
            "--- FAIL: TestSum (0.00s)",
            "FAIL\texample.com/sum\t0.004s",
            "panic: runtime error: index out of range [3] with length 3",
            "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:3.2.5:test",
            "[INFO] BUILD FAILURE",
            "FAILURE: Build failed with an exception.",
            "ERROR: Job failed: exit code 1",
            "make: *** [Makefile:12: test] Error 2",
            "fatal: could not read Username for 'https://gitlab.com': No such device or address",
            "Exception in thread \"main\" java.lang.IllegalStateException: boom",
            "/bin/bash: line 140: cargo-nextest: command not found",
            "Process exited with code 137",
            "Segmentation fault (core dumped)",
        ];
        for line in lines {
            assert!(is_error_line(line.as_bytes()), "not recognised: {line}");
        }
    }

    #[test]
    fn harmless_uses_of_the_words_are_not_error_lines() {
        let lines = [
            "   Compiling thiserror v2.0.12",
            "test result: ok. 12 passed; 0 failed; 0 ignored",
            "warning: unused import: `std::io::ErrorKind`",
            "cc -Werror -O2 -c main.c",
            "Running with gitlab-runner 18.9.0 (abc123)",
            "test errors::tests::display ... ok",
            "$ cargo test --workspace",
            "Job succeeded",
            "exit code 0",
            "=== 12 passed in 0.42s ===",
        ];
        for line in lines {
            assert!(!is_error_line(line.as_bytes()), "wrongly recognised: {line}");
        }
    }

    /// Every piece of text the error line pattern looks for, so that generated lines often match.
    const PATTERN_PIECES: &[&str] = &[
        "error",
        "ERROR",
        "Error",
        "eRRoR",
        "error[E0308]",
        ":",
        " ",
        "FAIL",
        "FAILED",
        "FAILURE",
        "fail",
        "panicked at",
        "panic: ",
        "fatal error: ",
        "Traceback (most recent call last)",
        "npm ERR!",
        "npm error",
        "exit code 1",
        "EXITED WITH STATUS: 2",
        "non-zero exit status",
        "Exception",
        "fatal:",
        "FATAL:",
        "build failed",
        "Tests Failed",
        "Segmentation fault",
        "(core dumped)",
        "command not found",
        "undefined reference to",
        "\u{2715}",
        "\u{2717}",
        "\u{2718}",
        "thiserror",
        "ErrorKind",
        "-Werror",
        "0 failed",
        "x",
        "_",
        "[",
        "]",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..Default::default() })]

        /// The prefilter never rules out a line the full pattern matches.
        #[test]
        fn the_prefilter_passes_every_line_the_pattern_matches(
            pieces in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(PATTERN_PIECES).prop_map(|piece| piece.as_bytes().to_vec()),
                    proptest::collection::vec(any::<u8>(), 0..4),
                ],
                0..8,
            ),
        ) {
            let line = pieces.concat();
            if ERROR_LINE.is_match(&line) {
                prop_assert!(may_be_error_line(&line), "ruled out: {:?}", String::from_utf8_lossy(&line));
            }
        }
    }

    #[test]
    fn token_shapes_headers_and_url_passwords_are_masked() {
        assert_eq!(
            mask_secrets("push with glpat-AbCdEf1234567890_xy-z and ghp_0123456789abcdefABCDEF0123456789abcd"),
            "push with [MASKED] and [MASKED]"
        );
        assert_eq!(mask_secrets("token github_pat_11AAAA_bbbb."), "token [MASKED].");
        assert_eq!(mask_secrets("> Authorization: Bearer eyJhbGciOi.x.y"), "> Authorization: Bearer [MASKED]");
        assert_eq!(mask_secrets("PRIVATE-TOKEN: s3cr3t-value ok"), "PRIVATE-TOKEN: [MASKED] ok");
        assert_eq!(
            mask_secrets("fatal: unable to access 'https://gitlab-ci-token:abc123def@gitlab.example.com/g/p.git/'"),
            "fatal: unable to access 'https://gitlab-ci-token:[MASKED]@gitlab.example.com/g/p.git/'"
        );
        assert_eq!(mask_secrets("see https://example.com:8443/docs"), "see https://example.com:8443/docs");
    }

    #[test]
    fn registered_secrets_are_masked() {
        redact::register("a-registered-trace-secret");
        assert_eq!(mask_secrets("echo a-registered-trace-secret"), "echo [MASKED]");
    }
}
