//! Benchmark of the static project analysis against a plain parallel walk of the same tree.
//!
//! Run by hand, in release mode: `cargo run --release --example analyzer_bench [-- FILES RUNS]`.
//! It writes a deterministic tree of FILES files (default 100,000) into a temporary directory:
//! nested directories, a mix of languages, manifests in every package, and a `.gitignore` that
//! excludes a tenth of the files (a `target/` directory and `*.log` files). Then, alternating
//! so that noise hits both alike, it times RUNS (default 9) runs of
//! - the baseline: the `ignore` crate's parallel walker with the analyzer's own configuration
//!   (the same ignore rules), visiting every entry and doing nothing else;
//! - `rg --files` on the tree, when ripgrep is installed;
//! - `context::analyze` (walk, stat, classification, manifest reads, aggregation).
//!
//! It prints the medians and the ratio analysis / baseline (target: ≤ 1.5), first for the plain
//! tree (no `.git`: the analysis must `stat` every file for its size), then for the same tree
//! made a git checkout (`git init && git add -A`: sizes come from `.git/index`), which is what a
//! job analyses.
#![expect(clippy::print_stdout, reason = "a benchmark program reports on stdout")]
#![expect(clippy::disallowed_methods, reason = "the benchmark runs `rg --files` as a second baseline")]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use copilot_runner::context;

const PACKAGE_FILE: &str = r#"{
  "name": "pkg",
  "scripts": { "test": "vitest run", "build": "vite build" },
  "dependencies": { "react": "^19.0.0" },
  "devDependencies": { "vitest": "^3.0.0" }
}"#;

const CARGO_FILE: &str = "[package]\nname = \"crate\"\nversion = \"0.1.0\"\n\n[dependencies]\naxum = \"0.8\"\n";

const EXTENSIONS: &[&str] = &["rs", "ts", "tsx", "py", "go", "md", "json", "yml", "css", "txt"];

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let files: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(9);

    let dir = tempfile::tempdir()?;
    let root = dir.path();
    let started = Instant::now();
    let (tracked, ignored) = generate(root, files)?;
    println!("tree: {tracked} tracked + {ignored} ignored files, written in {:.1?}", started.elapsed());

    println!("\n== plain tree (no .git: every size is a stat) ==");
    measure(root, runs, tracked)?;

    let started = Instant::now();
    git(root, &["init", "-q"])?;
    git(root, &["add", "-A"])?;
    println!(
        "\n== the same tree as a git checkout (sizes from .git/index; `git add -A` took {:.1?}) ==",
        started.elapsed()
    );
    measure(root, runs, tracked)?;
    Ok(())
}

fn git(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = std::process::Command::new("git").args(args).current_dir(root).status()?;
    anyhow::ensure!(status.success(), "git {args:?} failed");
    Ok(())
}

/// Times `runs` alternating runs of the baselines and the analysis; prints medians and the ratio.
fn measure(root: &Path, runs: usize, tracked: usize) -> anyhow::Result<()> {
    // Warm the page cache and check that the analysis sees what it should.
    let facts = context::analyze(root)?;
    anyhow::ensure!(facts.files == tracked as u64, "analysis counted {} files, expected {tracked}", facts.files);
    let walked = plain_walk(root);
    let rg = which::which("rg").ok();

    let mut baseline = Vec::new();
    let mut rg_times = Vec::new();
    let mut analysis = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let entries = plain_walk(root);
        baseline.push(start.elapsed());
        anyhow::ensure!(entries == walked, "walk is not deterministic");

        if let Some(rg) = &rg {
            let start = Instant::now();
            let output = std::process::Command::new(rg).arg("--files").arg("--hidden").arg(root).output()?;
            rg_times.push(start.elapsed());
            anyhow::ensure!(output.status.success(), "rg --files failed");
        }

        let start = Instant::now();
        let facts = context::analyze(root)?;
        analysis.push(start.elapsed());
        anyhow::ensure!(facts.files == tracked as u64, "analysis miscounted");
    }

    let baseline = median(&mut baseline);
    let analysis = median(&mut analysis);
    println!("runs: {runs} (median)");
    println!("plain parallel walk (ignore crate): {:>8.1} ms ({walked} entries)", ms(baseline));
    if rg_times.is_empty() {
        println!("rg --files:                         not installed");
    } else {
        println!("rg --files --hidden:                {:>8.1} ms", ms(median(&mut rg_times)));
    }
    println!("context::analyze:                   {:>8.1} ms", ms(analysis));
    println!("ratio analyze / plain walk:         {:>8.2}", analysis.as_secs_f64() / baseline.as_secs_f64());
    println!(
        "facts: {} files, {} bytes, {} languages, {} manifests",
        facts.files,
        facts.bytes,
        facts.languages.len(),
        facts.manifests.len()
    );
    Ok(())
}

/// Writes the tree; returns (files the analysis must count, files the `.gitignore` excludes).
fn generate(root: &Path, files: usize) -> anyhow::Result<(usize, usize)> {
    let ignored_target = files / 10;
    let mut tracked = 0;
    let mut ignored = 0;
    std::fs::write(root.join(".gitignore"), "target/\n*.log\n")?;
    tracked += 1;
    std::fs::write(root.join("Cargo.toml"), CARGO_FILE)?;
    tracked += 1;
    std::fs::create_dir_all(root.join("target/debug"))?;
    for index in 0..ignored_target {
        let dir = root.join(format!("target/debug/deps-{}", index / 500));
        if index % 500 == 0 {
            std::fs::create_dir_all(&dir)?;
        }
        std::fs::write(dir.join(format!("artifact-{index}.rlib")), "ignored")?;
        ignored += 1;
    }
    // packages/pkg-P/src/mod-M/file-F.ext: 100 files per leaf directory.
    let mut index = 0;
    'outer: for package in 0.. {
        let package_dir = root.join(format!("packages/pkg-{package:03}"));
        std::fs::create_dir_all(&package_dir)?;
        let manifest = if package % 2 == 0 { ("package.json", PACKAGE_FILE) } else { ("Cargo.toml", CARGO_FILE) };
        std::fs::write(package_dir.join(manifest.0), manifest.1)?;
        tracked += 1;
        for module in 0..10 {
            let leaf = package_dir.join(format!("src/mod-{module}"));
            std::fs::create_dir_all(&leaf)?;
            for file in 0..100 {
                if tracked + ignored >= files {
                    break 'outer;
                }
                index += 1;
                if index % 97 == 0 {
                    std::fs::write(leaf.join(format!("run-{file}.log")), "log line\n")?;
                    ignored += 1;
                    continue;
                }
                let ext = EXTENSIONS[index % EXTENSIONS.len()];
                let body = "x".repeat(40 + index % 200);
                std::fs::write(leaf.join(format!("file-{file}.{ext}")), body)?;
                tracked += 1;
            }
        }
    }
    Ok((tracked, ignored))
}

/// The baseline: the same walker configuration, every entry visited, nothing else done. Each
/// thread counts on its own and adds to the total once, as the analyzer does.
fn plain_walk(root: &Path) -> u64 {
    struct Counter<'a> {
        local: u64,
        total: &'a AtomicU64,
    }
    impl ignore::ParallelVisitor for Counter<'_> {
        fn visit(&mut self, entry: Result<ignore::DirEntry, ignore::Error>) -> ignore::WalkState {
            if entry.is_ok() {
                self.local += 1;
            }
            ignore::WalkState::Continue
        }
    }
    impl Drop for Counter<'_> {
        fn drop(&mut self) {
            self.total.fetch_add(self.local, Ordering::Relaxed);
        }
    }
    struct Builder<'a>(&'a AtomicU64);
    impl<'s> ignore::ParallelVisitorBuilder<'s> for Builder<'s> {
        fn build(&mut self) -> Box<dyn ignore::ParallelVisitor + 's> {
            Box::new(Counter { local: 0, total: self.0 })
        }
    }
    let total = AtomicU64::new(0);
    context::walker(root).build_parallel().visit(&mut Builder(&total));
    total.into_inner()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
