//! Benchmark of the trace excerpt on a large job log against reading the same file once.
//!
//! Run by hand, in release mode: `cargo run --release --example trace_bench [-- MEGABYTES RUNS]`
//! (defaults: 100 MB, 7 runs). It writes two logs into a temporary directory:
//! - a realistic GitLab job log of MEGABYTES: runner preamble, collapsible sections, coloured
//!   `cargo` and test output, `\r` progress lines, an occasional 2 KB line, 25 failures spread
//!   through the log (a compiler error, a failed test, a Python traceback, `npm ERR!`…) and the
//!   runner's `ERROR: Job failed` at the end;
//! - a pathological log of the same size that is one single line.
//!
//! Each measurement runs in a fresh process so that its peak RSS (`VmHWM`) is its own:
//! - baseline: `cat LOG > /dev/null`;
//! - baseline: this program reading the file once through tokio, counting newlines;
//! - `ci::trace::excerpt` of the file with the default options.
//!
//! Sides alternate within each round so that noise on the shared machine hits them alike; after
//! one warm-up round (which also fills the page cache) it prints the medians, the ratio to the
//! baselines, and checks that the excerpt kept every injected error line.
#![expect(clippy::print_stdout, reason = "a benchmark program reports on stdout")]
#![expect(clippy::disallowed_methods, reason = "the benchmark runs `cat` and itself as measured processes")]

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use copilot_runner::ci::trace::{ExcerptOptions, excerpt};
use tokio::io::AsyncReadExt;

const FAILURES: usize = 25;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--excerpt") => measure_in_process(&args[1], true),
        Some("--count") => measure_in_process(&args[1], false),
        _ => {
            let megabytes: u64 = args.first().map(|a| a.parse()).transpose()?.unwrap_or(100);
            let runs: usize = args.get(1).map(|a| a.parse()).transpose()?.unwrap_or(7);
            drive(megabytes, runs)
        }
    }
}

/// One measurement in this process: prints `elapsed_micros peak_rss_kib error_lines text_bytes`
/// and, for an excerpt, writes its text beside the log.
fn measure_in_process(log: &str, excerpting: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let started = Instant::now();
    let (error_lines, text) = runtime.block_on(async {
        let file = tokio::fs::File::open(log).await?;
        if excerpting {
            let excerpt = excerpt(file, &ExcerptOptions::default()).await?;
            Ok::<_, std::io::Error>((excerpt.error_lines, excerpt.text))
        } else {
            let mut file = file;
            let mut buffer = vec![0; 64 * 1024];
            let mut lines = 0;
            loop {
                let read = file.read(&mut buffer).await?;
                if read == 0 {
                    break;
                }
                lines += memchr::memchr_iter(b'\n', &buffer[..read]).count();
            }
            Ok((lines, String::new()))
        }
    })?;
    let elapsed = started.elapsed();
    if excerpting {
        std::fs::write(format!("{log}.excerpt"), &text)?;
    }
    println!("{} {} {} {}", elapsed.as_micros(), peak_rss_kib()?, error_lines, text.len());
    Ok(())
}

fn peak_rss_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).context("no `VmHWM` in the status")?;
    Ok(line.split_whitespace().nth(1).context("no `VmHWM` value")?.parse()?)
}

#[derive(Debug, Default)]
struct Samples {
    micros: Vec<u64>,
    rss_kib: Vec<u64>,
}

impl Samples {
    fn median_ms(&self) -> f64 {
        median(&self.micros) as f64 / 1000.0
    }
    fn peak_mib(&self) -> f64 {
        self.rss_kib.iter().copied().max().unwrap_or(0) as f64 / 1024.0
    }
}

fn median(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

fn drive(megabytes: u64, runs: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let realistic = dir.path().join("job.log");
    let single_line = dir.path().join("one-line.log");
    let started = Instant::now();
    let failures = write_realistic_log(&realistic, megabytes * 1_000_000)?;
    write_single_line_log(&single_line, megabytes * 1_000_000)?;
    println!("logs: {megabytes} MB each, written in {:.1?}", started.elapsed());
    let program = std::env::current_exe()?;

    for (name, log, expected) in
        [("realistic log", &realistic, Some(&failures)), ("one 100 MB line", &single_line, None)]
    {
        let mut cat = Samples::default();
        let mut count = Samples::default();
        let mut ours = Samples::default();
        for round in 0..=runs {
            let cat_time = time_cat(log)?;
            let (count_time, count_rss, _, _) = run_child(&program, "--count", log)?;
            let (ours_time, ours_rss, error_lines, text_bytes) = run_child(&program, "--excerpt", log)?;
            if round == 0 {
                println!("\n== {name}: {error_lines} error lines, excerpt {text_bytes} bytes ==");
                if let Some(failures) = expected {
                    check_every_failure_kept(log, failures, error_lines)?;
                }
                continue;
            }
            cat.micros.push(cat_time.as_micros() as u64);
            count.micros.push(count_time);
            count.rss_kib.push(count_rss);
            ours.micros.push(ours_time);
            ours.rss_kib.push(ours_rss);
        }
        println!("cat > /dev/null (baseline):   {:8.1} ms", cat.median_ms());
        println!("tokio read, count lines:      {:8.1} ms   peak RSS {:5.1} MiB", count.median_ms(), count.peak_mib());
        println!(
            "ci::trace::excerpt:           {:8.1} ms   peak RSS {:5.1} MiB   ({:.2}x cat, {:.2}x read)",
            ours.median_ms(),
            ours.peak_mib(),
            ours.median_ms() / cat.median_ms(),
            ours.median_ms() / count.median_ms()
        );
    }
    Ok(())
}

fn time_cat(log: &Path) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = Command::new("cat").arg(log).stdout(Stdio::null()).status()?;
    if !status.success() {
        bail!("`cat` failed: {status}");
    }
    Ok(started.elapsed())
}

fn run_child(program: &Path, mode: &str, log: &Path) -> anyhow::Result<(u64, u64, usize, usize)> {
    let output = Command::new(program).arg(mode).arg(log).stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        bail!("the `{mode}` run failed: {}", output.status);
    }
    let line = String::from_utf8(output.stdout)?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [micros, rss, errors, bytes] = fields[..] else { bail!("unexpected child output `{line}`") };
    Ok((micros.parse()?, rss.parse()?, errors.parse()?, bytes.parse()?))
}

fn check_every_failure_kept(log: &Path, failures: &[String], error_lines: usize) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(log.with_extension("log.excerpt"))?;
    let missing: Vec<&String> = failures.iter().filter(|failure| !text.contains(failure.as_str())).collect();
    println!(
        "injected error lines: {}, recognised: {error_lines}, kept in the excerpt: {}",
        failures.len(),
        failures.len() - missing.len()
    );
    if !missing.is_empty() {
        bail!("error lines missing from the excerpt: {missing:?}");
    }
    Ok(())
}

/// A small deterministic generator (no dependency needed for noise).
struct Noise(u64);

impl Noise {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

/// Writes a realistic log of about `size` bytes; returns the error lines it injected.
fn write_realistic_log(path: &Path, size: u64) -> anyhow::Result<Vec<String>> {
    let out = &mut BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut noise = Noise(42);
    let written = std::cell::Cell::new(0u64);
    let mut failures = Vec::new();
    let mut emit = |out: &mut BufWriter<std::fs::File>, text: &str| -> std::io::Result<()> {
        written.set(written.get() + text.len() as u64);
        out.write_all(text.as_bytes())
    };
    emit(out, "\x1b[0KRunning with gitlab-runner 18.9.0 (a1b2c3d4)\x1b[0;m\n")?;
    emit(out, "\x1b[0K  on shared-runner-7 abcdEFGH, system ID: s_0123456789ab\x1b[0;m\n")?;
    emit(
        out,
        "\x1b[0Ksection_start:1732370000:prepare_executor\r\x1b[0K\x1b[0K\x1b[36;1mPreparing the \"docker\" executor\x1b[0;m\x1b[0;m\n",
    )?;
    emit(out, "\x1b[0KUsing docker image rust:1.95 ...\x1b[0;m\n")?;
    emit(out, "\x1b[0Ksection_end:1732370002:prepare_executor\r\x1b[0K\n")?;
    let body = size.saturating_sub(200);
    let failure_every = body / (FAILURES as u64 + 1);
    let mut next_failure = failure_every;
    let mut section = 0u64;
    while written.get() < body {
        if written.get() >= next_failure && failures.len() < FAILURES {
            next_failure += failure_every;
            let failure = failure_block(failures.len(), &mut emit, out)?;
            failures.push(failure);
            continue;
        }
        let line = match noise.next(100) {
            0 => {
                section += 1;
                format!(
                    "\x1b[0Ksection_end:{0}:step_{1}\r\x1b[0K\n\x1b[0Ksection_start:{0}:step_{2}[collapsed=true]\r\x1b[0K\x1b[36;1mStep {2}\x1b[0;m\n",
                    1_732_370_000 + section,
                    section - 1,
                    section
                )
            }
            1..=30 => format!(
                "\x1b[0m\x1b[0m\x1b[1m\x1b[32m   Compiling\x1b[0m crate-{} v{}.{}.{}\n",
                noise.next(5000),
                noise.next(3),
                noise.next(40),
                noise.next(20)
            ),
            31..=70 => format!(
                "test module_{}::tests::behaves_as_documented_{} ... \x1b[32mok\x1b[0m\n",
                noise.next(300),
                noise.next(1000)
            ),
            71..=80 => {
                let mut progress = String::new();
                for percent in (0..=100).step_by(20) {
                    progress.push_str(&format!("\rDownloading artifact {} ({percent}%)", noise.next(100)));
                }
                progress.push_str("\r\n");
                progress
            }
            81 => format!("{{\"payload\":\"{}\"}}\n", "z".repeat(2000)),
            82..=90 => format!("$ echo \"stage {}: building documentation for package {}\"\n", section, noise.next(80)),
            _ => format!(
                "    Finished `test` profile [unoptimized + debuginfo] target(s) in {}.{}s\n",
                noise.next(90),
                noise.next(99)
            ),
        };
        emit(out, &line)?;
    }
    emit(out, "\x1b[0Ksection_end:1732379999:step_script\r\x1b[0K\n")?;
    emit(out, "\x1b[31;1mERROR: Job failed: exit code 101\n\x1b[0;m\n")?;
    failures.push("ERROR: Job failed: exit code 101".to_owned());
    out.flush()?;
    Ok(failures)
}

/// Writes one failure with some surrounding output; returns its distinctive error line.
fn failure_block(
    index: usize,
    emit: &mut impl FnMut(&mut BufWriter<std::fs::File>, &str) -> std::io::Result<()>,
    out: &mut BufWriter<std::fs::File>,
) -> anyhow::Result<String> {
    let (block, line) = match index % 5 {
        0 => (
            format!(
                "\x1b[0m\x1b[1m\x1b[38;5;9merror[E0308]\x1b[0m\x1b[0m\x1b[1m: mismatched types in failure {index}\x1b[0m\n  --> src/lib.rs:{index}:5\n   |\n"
            ),
            format!("error[E0308]: mismatched types in failure {index}"),
        ),
        1 => (
            format!(
                "test failure_{index}::adds ... \x1b[31mFAILED\x1b[0m\nthread 'failure_{index}' panicked at src/lib.rs:9:5:\n"
            ),
            format!("test failure_{index}::adds ... FAILED"),
        ),
        2 => (
            format!(
                "Traceback (most recent call last):\n  File \"app.py\", line {index}, in <module>\nValueError: bad value in failure {index}\n"
            ),
            format!("ValueError: bad value in failure {index}"),
        ),
        3 => (
            format!("npm ERR! code ELIFECYCLE in failure {index}\n"),
            format!("npm ERR! code ELIFECYCLE in failure {index}"),
        ),
        _ => (
            format!("--- FAIL: TestFailure{index} (0.00s)\n    sum_test.go:12: got 3, want 4\n"),
            format!("--- FAIL: TestFailure{index} (0.00s)"),
        ),
    };
    emit(out, &block)?;
    Ok(line)
}

fn write_single_line_log(path: &Path, size: u64) -> anyhow::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    out.write_all(b"error: a single line follows ")?;
    let chunk = vec![b'q'; 1 << 20];
    let mut written = 0;
    while written < size {
        out.write_all(&chunk)?;
        written += chunk.len() as u64;
    }
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
