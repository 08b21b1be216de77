use proptest::prelude::*;

use super::*;
use crate::redact;

fn options(budget_bytes: usize, context_lines: usize, tail_lines: usize) -> ExcerptOptions {
    ExcerptOptions { budget_bytes, context_lines, tail_lines }
}

fn excerpt_of(log: &[u8], options: &ExcerptOptions) -> Excerpt {
    let mut excerpter = Excerpter::new(options.clone());
    excerpter.feed(log);
    excerpter.finish()
}

fn numbered(range: std::ops::RangeInclusive<usize>) -> String {
    range.map(|n| format!("line {n}\n")).collect()
}

#[test]
fn a_gitlab_log_keeps_the_error_window_and_the_tail_without_escapes_or_markers() {
    let mut log = String::new();
    log.push_str("\x1b[0KRunning with gitlab-runner 18.9.0 (abc)\x1b[0;m\n");
    log.push_str(
        "\x1b[0Ksection_start:1732370000:prepare_script[collapsed=true]\r\x1b[0K\x1b[0;33mPreparing\x1b[0;m\n",
    );
    log.push_str("\x1b[0Ksection_end:1732370001:prepare_script\r\x1b[0K\n");
    log.push_str("\x1b[0Ksection_start:1732370002:step_script\r\x1b[0K\x1b[36;1mExecuting \"step_script\"\x1b[0;m\n");
    log.push_str("\x1b[32;1m$ cargo test\x1b[0;m\n");
    for n in 0..30 {
        log.push_str(&format!("   Compiling dep-{n} v1.0.{n}\n"));
    }
    log.push_str("Downloading 10%\rDownloading 60%\rDownloading 100%\r\n");
    log.push_str("\x1b[0m\x1b[1m\x1b[38;5;9merror[E0308]\x1b[0m\x1b[0m\x1b[1m: mismatched types\x1b[0m\n");
    log.push_str("  --> src/lib.rs:4:5\n");
    log.push_str("   |\n");
    for n in 0..30 {
        log.push_str(&format!("note {n}\n"));
    }
    log.push_str("\x1b[0Ksection_end:1732370003:step_script\r\x1b[0K\n");
    log.push_str("\x1b[31;1mERROR: Job failed: exit code 101\n\x1b[0;m\n");

    let excerpt = excerpt_of(log.as_bytes(), &options(4096, 2, 3));

    assert_eq!(
        excerpt.text,
        "[… 33 lines skipped …]\n\
         \x20  Compiling dep-29 v1.0.29\n\
         Downloading 100%\n\
         error[E0308]: mismatched types\n\
         \x20 --> src/lib.rs:4:5\n\
         \x20  |\n\
         [… 28 lines skipped …]\n\
         note 28\n\
         note 29\n\
         ERROR: Job failed: exit code 101\n\
         \n"
    );
    assert_eq!(excerpt.error_lines, 2);
    assert_eq!(excerpt.total_bytes, log.len() as u64);
    assert!(excerpt.truncated);
}

#[test]
fn overlapping_windows_merge_into_one_block() {
    let mut log = numbered(1..=9);
    log.push_str("error: first\n");
    log.push_str(&numbered(11..=12));
    log.push_str("error: second\n");
    log.push_str(&numbered(14..=30));

    let excerpt = excerpt_of(log.as_bytes(), &options(4096, 2, 1));

    assert_eq!(
        excerpt.text,
        "[… 7 lines skipped …]\nline 8\nline 9\nerror: first\nline 11\nline 12\nerror: second\nline 14\nline 15\n\
         [… 14 lines skipped …]\nline 30\n"
    );
}

#[test]
fn a_short_log_is_kept_whole() {
    let excerpt = excerpt_of(b"one\ntwo\nthree", &ExcerptOptions::default());
    assert_eq!(excerpt.text, "one\ntwo\nthree\n");
    assert!(!excerpt.truncated);
    assert_eq!(excerpt.error_lines, 0);
}

#[test]
fn a_short_budget_keeps_the_tail_the_first_error_and_the_newest_errors() {
    let mut log = String::new();
    for n in 1..=200 {
        log.push_str(&format!("step {n}\nerror: failure number {n}\n"));
    }
    log.push_str("summary: 200 failures\n");
    let budget = 600;

    let excerpt = excerpt_of(log.as_bytes(), &options(budget, 1, 5));

    assert!(excerpt.text.len() <= budget, "{} bytes", excerpt.text.len());
    assert_eq!(excerpt.error_lines, 200);
    assert!(excerpt.text.ends_with("error: failure number 200\nsummary: 200 failures\n"), "{}", excerpt.text);
    assert!(excerpt.text.contains("error: failure number 196\n"), "{}", excerpt.text);
    assert!(excerpt.text.starts_with("step 1\nerror: failure number 1\n"), "{}", excerpt.text);
    assert!(!excerpt.text.contains("error: failure number 2\n"));
    assert!(excerpt.truncated);
}

#[test]
fn a_long_log_keeps_its_first_error_and_window_as_well_as_its_tail() {
    let mut log = String::from(
        "$ make check\nconfigure: checking for cc\nerror: libfoo.so not found\n  hint: install libfoo-dev\n",
    );
    for n in 1..=2000 {
        log.push_str(&format!("step {n}\nerror: follow-on failure number {n}\n"));
    }
    log.push_str("summary: 2001 errors\n");
    let budget = 1200;

    let excerpt = excerpt_of(log.as_bytes(), &options(budget, 1, 5));

    assert!(excerpt.text.len() <= budget, "{} bytes", excerpt.text.len());
    assert!(excerpt.text.contains("configure: checking for cc\nerror: libfoo.so not found\n"), "{}", excerpt.text);
    assert!(excerpt.text.ends_with("error: follow-on failure number 2000\nsummary: 2001 errors\n"), "{}", excerpt.text);
    assert_eq!(excerpt.first_error.as_deref(), Some("error: libfoo.so not found"));
    // Without the rule for the first error, the newest errors would fill the budget.
    assert!(!excerpt.text.contains("follow-on failure number 1\n"), "{}", excerpt.text);
}

#[test]
fn failing_test_names_are_collected_from_every_tool() {
    let log = "test greet::says_hello ... FAILED\n\
               test greet::says_bye ... ok\n\
               FAILED tests/test_api.py::test_login - AssertionError: 401\n\
               --- FAIL: TestParse (0.01s)\n\
               [ERROR] com.acme.WidgetTest.spins  Time elapsed: 0.2 s  <<< FAILURE!\n\
               \u{2715} adds two numbers (3 ms)\n\
               test greet::says_hello ... FAILED\n\
               error: test failed, to rerun pass `--lib`\n";
    let excerpt = excerpt_of(log.as_bytes(), &ExcerptOptions::default());
    assert_eq!(
        excerpt.failed_tests,
        [
            "greet::says_hello",
            "tests/test_api.py::test_login",
            "TestParse",
            "com.acme.WidgetTest.spins",
            "adds two numbers"
        ]
    );
    assert_eq!(excerpt.first_error.as_deref(), Some("test greet::says_hello ... FAILED"));
    let quiet = excerpt_of(b"all good\ntest a ... ok\n", &ExcerptOptions::default());
    assert!(quiet.failed_tests.is_empty() && quiet.first_error.is_none());
}

#[test]
fn every_error_line_is_kept_when_the_errors_fit_even_if_their_context_does_not() {
    let mut log = String::new();
    for n in 1..=100 {
        log.push_str(&format!("error: e{n}\n"));
        log.push_str(&"context line that is long enough to matter ".repeat(3));
        log.push('\n');
        log.push_str(&numbered(1..=50));
    }
    let excerpt = excerpt_of(log.as_bytes(), &ExcerptOptions::default());
    for n in 1..=100 {
        assert!(excerpt.text.contains(&format!("error: e{n}\n")), "error {n} missing");
    }
    assert!(excerpt.text.len() <= ExcerptOptions::default().budget_bytes);
}

#[test]
fn secrets_are_masked_even_when_split_by_colour_codes() {
    redact::register("registered-job-secret-42");
    let log = "error: push failed for https://oauth2:glpat-abcdefghij0123456789@gitlab.example.com/a/b.git\n\
               curl -H 'Authorization: Bearer tok3n-value' https://api\n\
               echo regis\x1b[1mtered-job-secret-42\x1b[0m\n";

    let excerpt = excerpt_of(log.as_bytes(), &ExcerptOptions::default());

    assert_eq!(
        excerpt.text,
        "error: push failed for https://oauth2:[MASKED]@gitlab.example.com/a/b.git\n\
         curl -H 'Authorization: Bearer [MASKED]' https://api\n\
         echo [MASKED]\n"
    );
}

#[test]
fn a_huge_single_line_is_cut_and_memory_stays_bounded() {
    let mut excerpter = Excerpter::new(ExcerptOptions::default());
    excerpter.feed(b"before\nerror: payload follows ");
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..256 {
        excerpter.feed(&chunk);
        assert!(excerpter.partial.capacity() <= 2 * RAW_LINE_CAP);
    }
    excerpter.feed(b"\nafter\n");
    let excerpt = excerpter.finish();

    let lines: Vec<&str> = excerpt.text.lines().collect();
    assert_eq!(lines.len(), 3, "{}", excerpt.text);
    assert_eq!(lines[0], "before");
    let payload = "error: payload follows ".len() + 64 * 1024 * 256;
    assert!(lines[1].starts_with("error: payload follows xxx"));
    assert!(lines[1].ends_with(&format!("x [… {} bytes cut]", payload - SHOWN_LINE_CAP)), "{}", &lines[1][1000..]);
    assert_eq!(lines[2], "after");
    assert_eq!(excerpt.error_lines, 1);
    assert!(excerpt.truncated);
}

#[test]
fn an_overlong_progress_line_shows_its_latest_update() {
    let mut log = Vec::new();
    for percent in 0..=1000 {
        log.extend_from_slice(format!("\rDownloading artifacts {:>4}/1000", percent).as_bytes());
    }
    log.extend_from_slice(b"\r\nnext\n");
    for split in [log.len(), 7, 4096] {
        let mut excerpter = Excerpter::new(ExcerptOptions::default());
        for chunk in log.chunks(split) {
            excerpter.feed(chunk);
        }
        let excerpt = excerpter.finish();
        assert_eq!(excerpt.text, "Downloading artifacts 1000/1000\nnext\n");
        assert!(!excerpt.truncated);
    }
}

#[tokio::test]
async fn the_async_reader_gives_the_same_excerpt_as_the_core() {
    let mut log = Vec::new();
    for n in 0..50_000 {
        log.extend_from_slice(format!("\x1b[32mline {n}\x1b[0m\n").as_bytes());
        if n % 10_000 == 9_999 {
            log.extend_from_slice(format!("FAILED test_{n}\n").as_bytes());
        }
    }
    let options = options(2048, 3, 10);
    let read = excerpt(log.as_slice(), &options).await.unwrap();
    assert_eq!(read, excerpt_of(&log, &options));
    assert_eq!(read.error_lines, 5);
    assert!(read.text.contains("FAILED test_49999\n"));
}

/// One generated raw line and what a reader of the log page sees of it (`None`: no line).
fn raw_line() -> impl Strategy<Value = (String, Option<String>, bool)> {
    (0..9u8, 0..1000u32).prop_map(|(kind, n)| match kind {
        0 => (format!("   Compiling crate-{n} v1.0.0"), Some(format!("   Compiling crate-{n} v1.0.0")), false),
        1 => (format!("\x1b[32;1mRunning step {n}\x1b[0;m"), Some(format!("Running step {n}")), false),
        2 => (
            format!("\x1b[0Ksection_start:1700000000:step_{n}[collapsed=true]\r\x1b[0KHeader {n}"),
            Some(format!("Header {n}")),
            false,
        ),
        3 => (format!("\x1b[0Ksection_end:1700000000:step_{n}\r\x1b[0K"), None, false),
        4 => (format!("Downloading {n}%\rDownloading 100% of {n}"), Some(format!("Downloading 100% of {n}")), false),
        5 => (String::new(), Some(String::new()), false),
        6 => (format!("plain {n}\r"), Some(format!("plain {n}")), false),
        7 => (format!("error[E0308]: mismatched types {n}"), Some(format!("error[E0308]: mismatched types {n}")), true),
        _ => (format!("\x1b[31mFAILED tests/test_{n}.py\x1b[0m"), Some(format!("FAILED tests/test_{n}.py")), true),
    })
}

/// Checks that `text` is the visible lines with runs replaced by exact skip markers, and returns
/// the indexes of the shown lines.
fn shown_indexes(text: &str, visible: &[String]) -> Vec<usize> {
    let mut next = 0;
    let mut shown = Vec::new();
    for line in text.lines() {
        if let Some(count) = line.strip_prefix("[… ").and_then(|rest| rest.split(' ').next()) {
            next += count.parse::<usize>().unwrap();
        } else {
            assert_eq!(line, visible[next], "line {next}");
            shown.push(next);
            next += 1;
        }
    }
    assert_eq!(next, visible.len());
    shown
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn excerpts_are_exact_bounded_and_independent_of_chunking(
        lines in proptest::collection::vec(raw_line(), 0..300),
        splits in proptest::collection::vec(1..200usize, 1..20),
        budget in 0..3000usize,
        context_lines in 0..4usize,
        tail_lines in 0..6usize,
    ) {
        let log: String = lines.iter().map(|(raw, _, _)| format!("{raw}\n")).collect();
        let visible: Vec<String> = lines.iter().filter_map(|(_, visible, _)| visible.clone()).collect();
        let errors: Vec<usize> = lines
            .iter()
            .filter(|(_, visible, _)| visible.is_some())
            .enumerate()
            .filter(|(_, (_, _, error))| *error)
            .map(|(index, _)| index)
            .collect();

        let options = options(budget, context_lines, tail_lines);
        let whole = excerpt_of(log.as_bytes(), &options);
        let mut excerpter = Excerpter::new(options.clone());
        let mut rest = log.as_bytes();
        for split in splits.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*split).min(rest.len()));
            excerpter.feed(chunk);
            rest = tail;
        }
        prop_assert_eq!(&excerpter.finish(), &whole);

        prop_assert!(whole.text.len() <= budget);
        prop_assert!(!whole.text.contains('\x1b') && !whole.text.contains('\r'));
        prop_assert_eq!(whole.error_lines, errors.len());
        prop_assert_eq!(whole.first_error.is_some(), !errors.is_empty());
        if whole.text.is_empty() {
            prop_assert!(visible.is_empty() || budget < 40);
        } else {
            shown_indexes(&whole.text, &visible);
        }

        // With room for everything, every window and the whole tail are there.
        let roomy = excerpt_of(log.as_bytes(), &ExcerptOptions { budget_bytes: 1 << 20, ..options });
        let shown = shown_indexes(&roomy.text, &visible);
        for &error in &errors {
            let first = error.saturating_sub(context_lines);
            let last = (error + context_lines).min(visible.len() - 1);
            for index in first..=last {
                prop_assert!(shown.contains(&index), "line {} of the window of {} missing", index, error);
            }
        }
        for index in visible.len().saturating_sub(tail_lines)..visible.len() {
            prop_assert!(shown.contains(&index), "tail line {} missing", index);
        }
        prop_assert_eq!(roomy.truncated, shown.len() != visible.len());
    }
}
