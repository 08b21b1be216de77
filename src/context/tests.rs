//! Analyzer tests on small trees written by each test: what is counted, what manifests say,
//! what `project_context.md` keeps within its budget, and that an incremental update equals a
//! full analysis.

use std::path::{Path, PathBuf};

use super::*;

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, contents) in files {
        put(dir.path(), path, contents);
    }
    dir
}

fn put(root: &Path, path: &str, contents: &str) {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(file, contents).expect("write");
}

fn language<'f>(facts: &'f Facts, name: &str) -> Option<&'f LanguageStat> {
    facts.languages.iter().find(|lang| lang.name == name)
}

const WORKSPACE_CARGO: &str = r#"
[workspace]
members = ["crates/core"]

[package]
name = "server"
version = "0.1.0"

[dependencies]
axum = "0.8"
tokio = { version = "1", features = ["full"] }

[dev-dependencies]
proptest = "1"
"#;

const WEB_PACKAGE: &str = r#"{
  "name": "web",
  "scripts": { "test": "vitest run", "build": "vite build" },
  "dependencies": { "react": "^19.0.0" },
  "devDependencies": { "vitest": "^3.0.0", "vite": "^6.0.0" }
}"#;

fn monorepo() -> tempfile::TempDir {
    tree(&[
        (".gitignore", "target/\nnode_modules/\n*.log\n"),
        ("Cargo.toml", WORKSPACE_CARGO),
        ("src/main.rs", "fn main() {}\n"),
        ("crates/core/Cargo.toml", "[package]\nname = \"core\"\n[dependencies]\nserde = \"1\"\n"),
        ("crates/core/src/lib.rs", "pub fn add() {}\n"),
        ("web/package.json", WEB_PACKAGE),
        ("web/pnpm-lock.yaml", "lockfileVersion: '9.0'\n"),
        ("web/src/App.tsx", "export const App = () => null;\n"),
        ("web/node_modules/react/package.json", r#"{"name":"react","dependencies":{"express":"4"}}"#),
        ("web/node_modules/react/index.js", "module.exports = {};\n"),
        ("target/debug/build.rs", "fn generated() {}\n"),
        ("server.log", "noise\n"),
        (".gitlab-ci.yml", "test:\n  script: cargo test\n"),
        (".github/workflows/ci.yml", "on: push\n"),
        ("AGENTS.md", "Run `cargo test` before committing.\n"),
        ("README.md", "# Monorepo\n\nA server and a web client.\n"),
        ("docs/design.md", "# Design\n"),
    ])
}

#[test]
fn rust_and_npm_monorepo_reports_both_stacks_and_commands() {
    let dir = monorepo();
    let facts = analyze(dir.path()).expect("analysis");

    assert_eq!(facts.schema_version, SCHEMA_VERSION);
    let rust = language(&facts, "Rust").expect("rust counted");
    assert_eq!(rust.files, 2, "target/ is gitignored: {facts:#?}");
    assert_eq!(language(&facts, "TypeScript").map(|l| l.files), Some(1));
    assert_eq!(language(&facts, "JavaScript"), None, "node_modules is gitignored");

    let paths: Vec<&str> = facts.manifests.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(paths, ["Cargo.toml", "crates/core/Cargo.toml", "web/package.json"]);
    assert_eq!(facts.manifests[0].name.as_deref(), Some("server"));
    for framework in ["axum", "tokio", "react"] {
        assert!(facts.frameworks.iter().any(|f| f == framework), "{framework} in {:?}", facts.frameworks);
    }
    assert!(!facts.frameworks.iter().any(|f| f == "express"), "ignored node_modules manifests are not read");
    assert!(facts.test_frameworks.iter().any(|t| t == "vitest"));
    assert!(facts.test_frameworks.iter().any(|t| t == "proptest"));
    assert!(facts.build_tools.iter().any(|t| t == "pnpm"));
    assert_eq!(facts.test_commands, ["cargo test", "cd web && pnpm test"]);
    assert_eq!(facts.build_commands, ["cargo build", "cd web && pnpm run build"]);

    let ci: Vec<(&str, CiKind)> = facts.ci.iter().map(|c| (c.path.as_str(), c.kind)).collect();
    assert_eq!(ci, [(".github/workflows/ci.yml", CiKind::GithubActions), (".gitlab-ci.yml", CiKind::GitlabCi)]);
    assert_eq!(facts.docs, ["README.md", "docs/"]);
    assert!(facts.readme_excerpt.as_deref().is_some_and(|r| r.starts_with("# Monorepo")));
    assert_eq!(facts.agent_instructions.len(), 1);

    let dirs: Vec<(&str, u64)> = facts.directories.iter().map(|d| (d.name.as_str(), d.files)).collect();
    assert_eq!(dirs, [(".", 5), (".github", 1), ("crates", 2), ("docs", 1), ("src", 1), ("web", 3)]);
    assert_eq!(facts.files, 13);

    let traits = facts.traits();
    assert!(traits.has_test_framework);
    assert_eq!(traits.test_command.as_deref(), Some("cargo test"));
    assert!(traits.languages.iter().any(|l| l == "Rust"));
}

#[test]
fn python_project_with_pytest_is_tested_with_pytest() {
    let dir = tree(&[
        (
            "pyproject.toml",
            "[project]\nname = \"shop\"\ndependencies = [\"fastapi>=0.110\", \"SQLAlchemy[asyncio]~=2.0\"]\n\n\
             [project.optional-dependencies]\ndev = [\"pytest>=8\"]\n\n[tool.pytest.ini_options]\naddopts = \"-q\"\n\n\
             [build-system]\nbuild-backend = \"hatchling.build\"\n",
        ),
        ("requirements-dev.txt", "# tools\npytest-cov==5.0\nflask  # legacy admin\n"),
        ("shop/app.py", "app = None\n"),
        ("tests/test_app.py", "def test_app():\n    assert True\n"),
    ]);
    let facts = analyze(dir.path()).expect("analysis");
    assert_eq!(facts.manifests[0].name.as_deref(), Some("shop"));
    assert_eq!(facts.frameworks, ["fastapi", "flask", "sqlalchemy"]);
    assert_eq!(facts.test_frameworks, ["pytest"]);
    assert_eq!(facts.test_commands, ["pytest"]);
    assert!(facts.build_tools.iter().any(|t| t == "hatch"));
    assert_eq!(language(&facts, "Python").map(|l| l.files), Some(2));
    assert!(facts.traits().has_test_framework);
}

#[test]
fn python_project_without_pytest_falls_back_to_unittest_when_it_has_tests() {
    let dir = tree(&[
        ("setup.py", "from setuptools import setup\nsetup(name='tool', install_requires=['django>=4'])\n"),
        ("tests/test_tool.py", "import unittest\n"),
    ]);
    let facts = analyze(dir.path()).expect("analysis");
    assert_eq!(facts.frameworks, ["django"]);
    assert_eq!(facts.test_commands, ["python -m unittest discover"]);
}

#[test]
fn go_module_names_its_web_framework_and_go_test() {
    let dir = tree(&[
        (
            "go.mod",
            "module example.com/api\n\ngo 1.22\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.10.0\n\t\
             github.com/stretchr/testify v1.9.0 // indirect\n)\n",
        ),
        ("main.go", "package main\n"),
        ("main_test.go", "package main\n"),
    ]);
    let facts = analyze(dir.path()).expect("analysis");
    assert_eq!(facts.manifests[0].name.as_deref(), Some("example.com/api"));
    assert_eq!(facts.frameworks, ["gin"]);
    assert_eq!(facts.test_frameworks, ["go test", "testify"]);
    assert_eq!(facts.test_commands, ["go test ./..."]);
    assert_eq!(language(&facts, "Go").map(|l| (l.files, l.bytes)), Some((2, 26)));
}

#[test]
fn gitignored_files_are_not_counted_anywhere() {
    let dir = tree(&[
        (".gitignore", "build/\n*.tmp\n!keep.tmp\n"),
        ("sub/.gitignore", "secret.txt\n"),
        ("a.rs", "x"),
        ("drop.tmp", "xxxx"),
        ("keep.tmp", "yy"),
        ("build/out.rs", "zzzzzzzz"),
        ("build/package.json", "{}"),
        ("sub/secret.txt", "zzzz"),
        ("sub/open.txt", "w"),
    ]);
    std::fs::create_dir_all(dir.path().join(".git/objects")).expect("git dir");
    std::fs::write(dir.path().join(".git/config"), "[core]\n").expect("git config");
    let facts = analyze(dir.path()).expect("analysis");
    // .gitignore, sub/.gitignore, a.rs, keep.tmp, sub/open.txt
    assert_eq!(facts.files, 5, "{facts:#?}");
    assert_eq!(facts.bytes, 23 + 11 + 1 + 2 + 1);
    assert!(facts.manifests.is_empty());
    assert_eq!(language(&facts, "Rust").map(|l| l.files), Some(1));
}

#[test]
fn agent_instructions_are_included_bounded_in_the_project_context() {
    let long: String = "Always write tests first.\n".repeat(2000);
    let dir = tree(&[
        ("AGENTS.md", &long),
        (".github/copilot-instructions.md", "Prefer small commits.\n"),
        ("lib/AGENTS.md", "Library rules.\n"),
    ]);
    let facts = analyze(dir.path()).expect("analysis");
    let paths: Vec<&str> = facts.agent_instructions.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(paths, [".github/copilot-instructions.md", "AGENTS.md", "lib/AGENTS.md"]);
    let agents = &facts.agent_instructions[1];
    assert!(agents.truncated);
    assert!(agents.text.len() <= AGENT_INSTRUCTIONS_BYTES);

    let context = project_context(&facts);
    assert!(context.len() <= PROJECT_CONTEXT_BYTES);
    assert!(context.contains("Prefer small commits."));
    assert!(context.contains("Library rules."));
    assert!(context.contains("Always write tests first."));
    assert!(context.contains("`AGENTS.md` continues"));
}

#[test]
fn the_prompt_context_carries_each_instruction_file_once() {
    let dir = tree(&[("AGENTS.md", "Run the linter before committing.\n"), ("src/main.rs", "fn main() {}\n")]);
    let facts = analyze(dir.path()).expect("analysis");
    // `project_context.md` (the cache entry and artifact) keeps them for a reader…
    assert!(project_context(&facts).contains("Run the linter before committing."));

    // …but a prompt shows them once, as the instructions part, not again inside the facts.
    let prompt = serde_json::to_string(&super::prompt_context(&facts, None)).expect("serializes");
    assert_eq!(prompt.matches("Run the linter before committing.").count(), 1, "{prompt}");
    assert!(prompt.contains("main.rs") || prompt.contains("Rust"), "the facts are still there: {prompt}");
}

#[test]
fn project_context_stays_within_its_budget_and_says_when_cut() {
    let mut files: Vec<(String, String)> = Vec::new();
    for index in 0..300 {
        files.push((format!("packages/pkg-{index:03}/package.json"), format!(r#"{{"name":"pkg-{index}"}}"#)));
        files.push((format!("top-{index:03}/file.txt"), "x".to_owned()));
    }
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
    let dir = tree(&refs);
    let facts = analyze(dir.path()).expect("analysis");
    assert_eq!(facts.manifests.len(), 300);

    let context = render::project_context_within(&facts, 2048);
    assert!(context.len() <= 2048, "{} bytes", context.len());
    assert!(context.trim_end().ends_with("_(cut at 2048 bytes; facts.json has everything)_"), "{context}");

    let full = project_context(&facts);
    assert!(full.len() <= PROJECT_CONTEXT_BYTES);
    assert!(full.contains("- … and 260 more"), "manifest list is bounded");
}

#[test]
fn written_facts_read_back_equal() {
    let dir = monorepo();
    let facts = analyze(dir.path()).expect("analysis");
    let out = tempfile::tempdir().expect("out");
    write(out.path(), &facts, &project_context(&facts)).expect("write");
    let json = std::fs::read_to_string(out.path().join(FACTS_FILE)).expect("facts.json");
    assert!(json.contains("\"schema_version\": 1"));
    let back: Facts = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, facts);
    let context = std::fs::read_to_string(out.path().join(PROJECT_CONTEXT_FILE)).expect("context");
    assert!(context.contains("- test: `cd web && pnpm test`"), "{context}");
}

#[test]
fn missing_root_is_an_error() {
    let error = analyze(Path::new("/nonexistent/copilot-runner-test")).expect_err("no root");
    assert!(matches!(error, ContextError::NotADirectory(_)));
}

fn size(root: &Path, path: &str) -> Option<u64> {
    std::fs::metadata(root.join(path)).ok().map(|m| m.len())
}

#[test]
fn incremental_update_equals_a_full_analysis() {
    let dir = monorepo();
    let root = dir.path();
    let before = analyze(root).expect("first analysis");

    let touched = [
        "src/main.rs",
        "src/routes.rs",
        "crates/core/src/lib.rs",
        "web/package.json",
        "requirements.txt",
        "target/debug/new.rs",
        "AGENTS.md",
        ".github/workflows/ci.yml",
        "README.md",
        "docs/design.md",
    ];
    let previous: Vec<Option<u64>> = touched.iter().map(|path| size(root, path)).collect();

    put(root, "src/main.rs", "fn main() { println!(\"hello\"); }\n");
    put(root, "src/routes.rs", "pub fn routes() {}\n");
    std::fs::remove_file(root.join("crates/core/src/lib.rs")).expect("rm");
    put(root, "web/package.json", &WEB_PACKAGE.replace("vitest run", "jest").replace("vitest", "jest"));
    put(root, "requirements.txt", "django==5.0\n");
    put(root, "target/debug/new.rs", "ignored\n");
    put(root, "AGENTS.md", "Run `cargo nextest run`.\n");
    std::fs::remove_file(root.join(".github/workflows/ci.yml")).expect("rm");
    std::fs::remove_file(root.join("docs/design.md")).expect("rm");
    put(root, "README.md", "# Renamed\n");

    let changes: Vec<Change> = touched
        .iter()
        .zip(previous)
        .map(|(path, previous_bytes)| Change { path: PathBuf::from(path), previous_bytes })
        .collect();
    let updated = analyze_paths(root, &changes, &before).expect("incremental");
    let full = analyze(root).expect("full analysis");
    assert_eq!(updated, full);

    assert_ne!(updated, before);
    assert!(updated.frameworks.iter().any(|f| f == "django"));
    assert!(updated.test_frameworks.iter().any(|t| t == "jest"));
    assert!(!updated.test_frameworks.iter().any(|t| t == "vitest"));
    assert_eq!(updated.ci.len(), 1);
    assert_eq!(updated.docs, ["README.md"]);
    assert_eq!(updated.readme_excerpt.as_deref(), Some("# Renamed\n"));
}

#[test]
fn incremental_update_with_a_changed_gitignore_analyses_again() {
    let dir = monorepo();
    let root = dir.path();
    let before = analyze(root).expect("first analysis");
    let previous_bytes = size(root, ".gitignore");
    put(root, ".gitignore", "node_modules/\n");
    let changes = [Change { path: PathBuf::from(".gitignore"), previous_bytes }];
    let updated = analyze_paths(root, &changes, &before).expect("incremental");
    assert_eq!(updated, analyze(root).expect("full"));
    assert_eq!(updated.files, before.files + 2, "target/ and the log are counted now");
}

#[test]
fn manifests_of_other_ecosystems_say_what_they_declare() {
    let none = |_: &str| false;
    // (kind, path, text, frameworks, test frameworks, test commands)
    type Case = (
        ManifestKind,
        &'static str,
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
    );
    let cases: &[Case] = &[
        (
            ManifestKind::Gemfile,
            "Gemfile",
            "source 'https://rubygems.org'\ngem 'rails', '~> 7.1'\ngroup :test do\n  gem \"rspec-rails\"\nend\n",
            &["rails"],
            &["rspec"],
            &["bundle exec rspec"],
        ),
        (
            ManifestKind::Composer,
            "composer.json",
            r#"{"name":"acme/shop","require":{"laravel/framework":"^11"},"require-dev":{"phpunit/phpunit":"^11"}}"#,
            &["laravel"],
            &["phpunit"],
            &["vendor/bin/phpunit"],
        ),
        (
            ManifestKind::Maven,
            "svc/pom.xml",
            "<project><artifactId>svc</artifactId><dependency><artifactId>spring-boot-starter-web</artifactId>\
             </dependency><dependency><artifactId>junit-jupiter</artifactId></dependency></project>",
            &["spring"],
            &["junit"],
            &["cd svc && mvn test"],
        ),
        (
            ManifestKind::Gradle,
            "build.gradle.kts",
            "plugins { id(\"org.springframework.boot\") }\ndependencies { testImplementation(\"org.junit.jupiter:junit-jupiter\") }\n",
            &["spring"],
            &["junit"],
            &["gradle test"],
        ),
        (
            ManifestKind::Dotnet,
            "Api/Api.csproj",
            "<Project Sdk=\"Microsoft.NET.Sdk.Web\"><PackageReference Include=\"xunit\" /></Project>",
            &["aspnetcore"],
            &["xunit"],
            &["cd Api && dotnet test"],
        ),
        (
            ManifestKind::Mix,
            "mix.exs",
            "defp deps do\n  [{:phoenix, \"~> 1.7\"}]\nend\n",
            &["phoenix"],
            &["exunit"],
            &["mix test"],
        ),
        (
            ManifestKind::Pubspec,
            "pubspec.yaml",
            "name: app\ndependencies:\n  flutter:\n    sdk: flutter\n",
            &["flutter"],
            &["flutter test"],
            &["flutter test"],
        ),
        (
            ManifestKind::Cmake,
            "CMakeLists.txt",
            "project(x)\nenable_testing()\nadd_test(NAME t COMMAND t)\n",
            &[],
            &["ctest"],
            &["ctest --test-dir build"],
        ),
        (
            ManifestKind::Make,
            "Makefile",
            "CC := gcc\n.PHONY: all test\nall: build\nbuild:\n\t$(CC) x.c\ntest: build\n\t./run-tests\n",
            &[],
            &[],
            &["make test"],
        ),
        (
            ManifestKind::Npm,
            "package.json",
            r#"{"name":"fresh","scripts":{"test":"echo \"Error: no test specified\" && exit 1"}}"#,
            &[],
            &[],
            &[],
        ),
    ];
    for (kind, path, text, frameworks, test_frameworks, test_commands) in cases {
        let manifest = manifests::read(path, *kind, Ok(text), &none);
        assert_eq!(manifest.problem, None, "{path}");
        assert_eq!(&manifest.frameworks, frameworks, "{path}");
        assert_eq!(&manifest.test_frameworks, test_frameworks, "{path}");
        assert_eq!(&manifest.test_commands, test_commands, "{path}");
    }
}

#[test]
fn an_invalid_manifest_is_listed_with_its_problem() {
    let dir = tree(&[("Cargo.toml", "[package\nname = ")]);
    let facts = analyze(dir.path()).expect("analysis");
    assert_eq!(facts.manifests.len(), 1);
    assert!(facts.manifests[0].problem.as_deref().is_some_and(|p| p.starts_with("invalid TOML")), "{facts:#?}");
    assert!(facts.test_commands.is_empty());
}

#[test]
fn an_oversized_manifest_is_listed_but_not_read() {
    let huge = format!(r#"{{"name":"huge","dependencies":{{"react":"19"}},"padding":"{}"}}"#, "x".repeat(1_100_000));
    let dir = tree(&[("package.json", &huge)]);
    let facts = analyze(dir.path()).expect("analysis");
    assert_eq!(facts.manifests.len(), 1);
    let problem = facts.manifests[0].problem.as_deref().unwrap_or_default();
    assert!(problem.contains("over the 1048576-byte limit"), "{problem}");
    assert!(facts.frameworks.is_empty(), "contents were not read");
    assert_eq!(language(&facts, "JSON").map(|l| l.bytes), Some(huge.len() as u64), "its size still counts");
}
