//! Property-based tests of the parsers that read what others wrote: the webhook router on JSON
//! shaped like each event, the mention and command parsers on arbitrary Markdown, the diff line
//! map on arbitrary unified diffs, the trace excerpt on arbitrary bytes, the findings parser on
//! arbitrary JSON. Each input must be read without a panic, within a time and a memory bound.
//!
//! Memory is the peak of what the call allocated on its own thread, counted by the allocator
//! this test binary installs ([`alloc::Counting`]). Time is wall-clock per input and the bound
//! holds on a loaded machine.
//!
//! The suite runs `FUZZ_CASES` cases per parser (256 when unset); the long form runs the same
//! tests with a large count under nextest's `fuzz` profile (see `BENCHMARKS.md`, "Fuzzed
//! parsers"). Each test prints
//! its slowest and hungriest input, which `--no-capture` shows.

mod alloc;
mod inputs;

use std::time::{Duration, Instant};

use copilot_runner::ci::trace::{ExcerptOptions, excerpt};
use copilot_runner::gitlab::FileDiff;
use copilot_runner::gitlab::events::Event;
use copilot_runner::request::{instruction, intent, mention};
use copilot_runner::review::diff::{FileMap, LineMap, Side};
use copilot_runner::review::findings::parse_findings;
use copilot_runner::webhook::route::{Agent, route};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// No input may take longer than this, on a machine at load average 15.
const TIME_BOUND: Duration = Duration::from_secs(2);

const AGENT: &str = "copilot-agent";

/// Cases per parser: `FUZZ_CASES`, or a size the suite runs in seconds.
#[expect(clippy::disallowed_methods, reason = "the long form's case count, read by these tests only")]
fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(256)
}

/// What a run saw: the slowest and the hungriest input, and the time of all inputs beside a
/// baseline's time over the same inputs.
#[derive(Debug, Default)]
struct Worst {
    slowest: Duration,
    peak_bytes: usize,
    inputs: u64,
    input_bytes: u64,
    total: Duration,
    baseline_total: Duration,
}

impl Worst {
    #[expect(clippy::print_stdout, reason = "the long form's figures, shown with `--no-capture`")]
    fn report(&self, parser: &str) {
        println!(
            "{parser}: {} inputs ({} bytes in all), slowest {:.3} ms, highest peak {} bytes; all inputs {:.1} ms, baseline {:.1} ms",
            self.inputs,
            self.input_bytes,
            self.slowest.as_secs_f64() * 1e3,
            self.peak_bytes,
            self.total.as_secs_f64() * 1e3,
            self.baseline_total.as_secs_f64() * 1e3,
        );
    }
}

/// Runs `parse` on every input `strategy` gives, checking each against the time bound and
/// `memory_bound(input length)`; `parse` checks what it parsed. `baseline` is one plain pass
/// over the same input (a generic JSON parse, a line count), timed beside it for the report.
fn fuzz<S: Strategy>(
    parser: &str,
    strategy: S,
    size: impl Fn(&S::Value) -> usize,
    memory_bound: impl Fn(usize) -> usize,
    baseline: impl Fn(&S::Value) -> usize,
    parse: impl Fn(&S::Value) -> Result<(), TestCaseError>,
) {
    let worst = std::cell::RefCell::new(Worst::default());
    let config = Config { cases: cases(), failure_persistence: None, ..Config::default() };
    let result = TestRunner::new(config).run(&strategy, |input| {
        let started = Instant::now();
        std::hint::black_box(baseline(std::hint::black_box(&input)));
        let baseline_elapsed = started.elapsed();
        let started = Instant::now();
        let (outcome, peak) = alloc::peak_during(|| parse(&input));
        let elapsed = started.elapsed();
        outcome?;
        let length = size(&input);
        prop_assert!(elapsed <= TIME_BOUND, "{parser}: {elapsed:?} for {length} bytes");
        let bound = memory_bound(length);
        prop_assert!(peak <= bound, "{parser}: peak {peak} bytes for {length} bytes of input (bound {bound})");
        let mut worst = worst.borrow_mut();
        worst.slowest = worst.slowest.max(elapsed);
        worst.peak_bytes = worst.peak_bytes.max(peak);
        worst.inputs += 1;
        worst.input_bytes += length as u64;
        worst.total += elapsed;
        worst.baseline_total += baseline_elapsed;
        Ok(())
    });
    if let Err(error) = result {
        panic!("{parser}: {error}");
    }
    worst.into_inner().report(parser);
}

/// A generic parse of JSON text into a value, with no shape expected.
fn any_json(text: &[u8]) -> usize {
    serde_json::from_slice::<serde_json::Value>(text).map_or(0, |_| 1)
}

/// One pass counting lines.
fn lines(text: &[u8]) -> usize {
    text.iter().filter(|byte| **byte == b'\n').count()
}

/// Linear in the input, with room for a parser's tables and formatting.
fn linear(factor: usize) -> impl Fn(usize) -> usize {
    move |length| factor * length + (1 << 20)
}

#[test]
fn the_webhook_router_reads_json_shaped_like_every_event() {
    let agent = Agent {
        username: AGENT.to_owned(),
        branch_prefix: "copilot/".to_owned(),
        auto_review: copilot_runner::config::AutoReviewSettings {
            mode: copilot_runner::config::AutoReview::All,
            ..Default::default()
        },
    };
    fuzz(
        "webhook router",
        inputs::event_delivery(),
        |(_, body)| body.len(),
        linear(32),
        |(_, body)| any_json(body),
        |(hook, body)| {
            if let Ok(event) = Event::parse_delivery(body, Some(hook)) {
                let _ = route(&event, &agent);
                let _ = event.kind();
            }
            Ok(())
        },
    );
}

#[test]
fn the_mention_and_command_parsers_read_arbitrary_markdown() {
    let baseline = |text: &String| lines(text.as_bytes());
    fuzz("mention and command parsers", inputs::markdown(), String::len, linear(32), baseline, |text| {
        let mentioned = mention::mentions(text, AGENT);
        let asked = instruction::instruction(text, AGENT);
        let _ = intent::intent(text, AGENT);
        let _ = instruction::slug(text, AGENT);
        prop_assert!(text.contains('@') || !mentioned, "a mention without an `@`: {text:?}");
        // Whatever follows, a first paragraph of plain prose that names the agent is a mention.
        let asking = format!("@{AGENT} please look\n\n{text}");
        prop_assert!(mention::mentions(&asking, AGENT), "the leading mention was missed: {asking:?}");
        prop_assert!(asked.len() <= text.len(), "the instruction grew: {asked:?} from {text:?}");
        Ok(())
    });
}

#[test]
fn the_diff_line_map_reads_arbitrary_unified_diffs() {
    fuzz(
        "diff line map",
        inputs::unified_diff(),
        |(text, _)| text.len(),
        linear(64),
        |(text, _)| lines(text.as_bytes()),
        |(text, probes)| {
            let file = FileDiff {
                old_path: "src/lib.rs".to_owned(),
                new_path: "src/lib.rs".to_owned(),
                a_mode: None,
                b_mode: None,
                diff: text.clone(),
                new_file: false,
                renamed_file: false,
                deleted_file: false,
                generated_file: None,
            };
            if let Ok(map) = FileMap::from_file_diff(&file) {
                for &(new_side, line) in probes {
                    let side = if new_side { Side::New } else { Side::Old };
                    if let Some(location) = map.locate(side, line) {
                        let number = if new_side { location.new_line } else { location.old_line };
                        prop_assert_eq!(number, Some(line), "located on the wrong line");
                    }
                    let _ = map.text(side, line);
                }
                let _ = (map.added_count(), map.removed_count(), map.new_line_count());
            }
            let with_header =
                format!("diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n{text}");
            let _ = LineMap::from_git_diff(&with_header);
            let _ = LineMap::from_git_diff(text);
            Ok(())
        },
    );
}

#[test]
fn the_trace_excerpt_reads_arbitrary_bytes_within_its_budget() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let options = ExcerptOptions::default();
    // The excerpt streams: what it holds does not grow with the log.
    let bounded = |_: usize| 4 << 20;
    fuzz(
        "trace excerpt",
        inputs::job_log(),
        Vec::len,
        bounded,
        |log| lines(log),
        |log| {
            let kept = runtime.block_on(excerpt(log.as_slice(), &options)).expect("reading from memory");
            prop_assert!(kept.text.len() <= options.budget_bytes, "{} bytes kept", kept.text.len());
            prop_assert_eq!(kept.total_bytes, log.len() as u64);
            prop_assert!(kept.failed_tests.len() <= copilot_runner::ci::trace::MAX_FAILED_TESTS);
            Ok(())
        },
    );
}

#[test]
fn the_findings_parser_reads_arbitrary_json() {
    let baseline = |text: &String| any_json(text.as_bytes());
    fuzz("findings parser", inputs::findings_json(), String::len, linear(64), baseline, |text| {
        let parsed = parse_findings(text);
        let items = match serde_json::from_str::<serde_json::Value>(text.trim_start_matches('\u{FEFF}').trim()) {
            Ok(serde_json::Value::Array(items)) => items.len(),
            _ => 1,
        };
        // Every element is either read or said to be wrong.
        prop_assert!(
            parsed.findings.len() + parsed.problems.len() >= items,
            "{} findings and {:?} from {items} elements",
            parsed.findings.len(),
            parsed.problems
        );
        for finding in &parsed.findings {
            prop_assert!(finding.line >= 1 && finding.last_line() >= finding.line, "{finding:?}");
            prop_assert!(!finding.title.contains('\n') && !finding.file.is_empty(), "{finding:?}");
        }
        let _ = parsed.retry_request("findings.json");
        Ok(())
    });
}
