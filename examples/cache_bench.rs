//! Context cache benchmark, run by hand in release (see BENCHMARKS.md, "Context cache"):
//! lookup time per level, and a full analysis against the incremental update, on a generated
//! repository.
//!
//! `cargo run --release --example cache_bench -- [FILES] [RUNS] [CACHE_URL]`
//! (defaults: 20000 files, 15 runs, a temporary `file://` folder). For an `s3://` or `az://` URL
//! the usual credentials come from the environment.
#![expect(clippy::print_stdout, reason = "a benchmark prints its report")]

use std::path::Path;
use std::time::{Duration, Instant};

use copilot_runner::config::Env;
use copilot_runner::context::cache::{ContextCache, Level, LookupRequest};
use copilot_runner::context::store::CacheStore;
use copilot_runner::context::{self, Change};

fn generate(root: &Path, files: usize) -> std::io::Result<()> {
    let write = |path: &str, contents: &str| -> std::io::Result<()> {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, contents)
    };
    write("Cargo.toml", "[package]\nname = \"big\"\nversion = \"0.1.0\"\n\n[dependencies]\ntokio = \"1\"\n")?;
    write("package.json", r#"{"name": "big-ui", "scripts": {"test": "jest"}, "devDependencies": {"jest": "29"}}"#)?;
    write("README.md", "# Big\n\nA generated repository.\n")?;
    write(".gitlab-ci.yml", "test:\n  script: cargo test\n")?;
    let extensions = ["rs", "ts", "py", "go", "md"];
    for index in 0..files {
        let extension = extensions[index % extensions.len()];
        let body = format!("// file {index}\n{}\n", "x".repeat(200 + index % 700));
        write(&format!("src/m{}/d{}/f{index}.{extension}", index % 40, index % 13), &body)?;
    }
    Ok(())
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let files: usize = args.first().map_or(Ok(20_000), |value| value.parse())?;
    let runs: usize = args.get(1).map_or(Ok(15), |value| value.parse())?;
    let tree = tempfile::tempdir()?;
    let store_dir = tempfile::tempdir()?;
    let url = args.get(2).cloned().unwrap_or_else(|| format!("file://{}", store_dir.path().display()));
    let env = Env::capture();
    let store = CacheStore::open(&url, None, &env)?;
    println!("store: {}", store.description());
    let cache = ContextCache::new(store);
    let root = tree.path().to_path_buf();
    generate(&root, files)?;
    println!("repository: {files} generated files (+4 manifests and docs), {runs} runs, medians");

    let mut full = Vec::new();
    let mut facts = context::analyze(&root)?;
    for _ in 0..runs {
        let started = Instant::now();
        facts = context::analyze(&root)?;
        full.push(started.elapsed());
    }
    let rendered = context::project_context(&facts);
    let project = format!("bench-{}", std::process::id());
    let sha = |n: u32| format!("{n:040x}");
    cache.write_entry(&project, "main", &sha(1), &facts, &rendered, false).await?;
    cache.write_fork_relation(&project, "feature", "main").await?;

    // Ten files change between the cached commit and HEAD.
    let mut changes = Vec::new();
    for index in 0..10 {
        let path =
            format!("src/m{}/d{}/f{index}.{}", index % 40, index % 13, ["rs", "ts", "py", "go", "md"][index % 5]);
        let previous_bytes = std::fs::metadata(root.join(&path))?.len();
        std::fs::write(root.join(&path), "// changed\n")?;
        changes.push(Change { path: path.into(), previous_bytes: Some(previous_bytes) });
    }
    let mut incremental = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let updated = context::analyze_paths(&root, &changes, &facts)?;
        incremental.push(started.elapsed());
        std::hint::black_box(updated);
    }

    let ancestors = vec![sha(7), sha(1)];
    let cases: [(&str, LookupRequest<'_>, Level); 5] = [
        (
            "1",
            LookupRequest { project: &project, branch: "main", sha: &sha(1), ancestors: &[], default_branch: None },
            Level::ExactCommit,
        ),
        (
            "2",
            LookupRequest {
                project: &project,
                branch: "main",
                sha: &sha(2),
                ancestors: &ancestors,
                default_branch: None,
            },
            Level::Ancestor,
        ),
        (
            "3",
            LookupRequest { project: &project, branch: "main", sha: &sha(3), ancestors: &[], default_branch: None },
            Level::BranchLatest,
        ),
        (
            "4",
            LookupRequest { project: &project, branch: "feature", sha: &sha(4), ancestors: &[], default_branch: None },
            Level::CrossBranch,
        ),
        (
            "5",
            LookupRequest { project: &project, branch: "other", sha: &sha(5), ancestors: &[], default_branch: None },
            Level::FullAnalysis,
        ),
    ];
    println!("| level | lookup (store only) | lookup + update to HEAD |");
    println!("|---|---|---|");
    let mut level_one = Duration::ZERO;
    for (name, request, expected) in cases {
        let mut lookups = Vec::new();
        let mut totals = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let found = cache.find(&request).await;
            lookups.push(found.elapsed);
            anyhow::ensure!(found.level == expected, "level {name}: hit {}", found.level);
            let changes = changes.clone();
            let understanding = context::cache::understand(&root, found, move |_| Some(changes))?;
            totals.push(started.elapsed());
            std::hint::black_box(understanding);
        }
        let total = median(totals);
        if expected == Level::ExactCommit {
            level_one = total;
        }
        println!("| {name} | {} | {} |", ms(median(lookups)), ms(total));
    }
    let full = median(full);
    let incremental = median(incremental);
    println!("full analysis: {}", ms(full));
    println!("incremental update (10 changed files): {} ({:.1}x faster)", ms(incremental), ratio(full, incremental));
    println!("level 1 hit vs full analysis: {:.1}x faster", ratio(full, level_one));
    Ok(())
}

fn ratio(slow: Duration, fast: Duration) -> f64 {
    slow.as_secs_f64() / fast.as_secs_f64().max(1e-9)
}
