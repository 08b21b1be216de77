//! Classifies a file by its name alone, without allocating: which language it is written in
//! (extension table) and whether it is a file whose contents the analyzer reads (a manifest, CI
//! configuration, docs, agent instructions) or whose presence says something (test markers).
//!
//! This runs once per file of a possibly huge tree, so it works on the name's bytes and returns
//! small copyable values; paths are only built for the rare special files.

use super::facts::{CiKind, ManifestKind};

/// Languages the extension table knows, indexed by the values [`language_of`] returns.
pub(super) const LANGUAGES: &[&str] = &[
    "Rust",
    "TypeScript",
    "JavaScript",
    "Python",
    "Go",
    "Java",
    "Kotlin",
    "Scala",
    "C",
    "C++",
    "C#",
    "F#",
    "Ruby",
    "PHP",
    "Swift",
    "Objective-C",
    "Dart",
    "Elixir",
    "Erlang",
    "Haskell",
    "OCaml",
    "Clojure",
    "Lua",
    "Perl",
    "R",
    "Julia",
    "Zig",
    "Nim",
    "Shell",
    "PowerShell",
    "HTML",
    "CSS",
    "SCSS",
    "Vue",
    "Svelte",
    "Markdown",
    "reStructuredText",
    "JSON",
    "YAML",
    "TOML",
    "XML",
    "SQL",
    "Protocol Buffers",
    "GraphQL",
    "Terraform",
    "Dockerfile",
    "Makefile",
    "CMake",
    "Groovy",
    "Visual Basic",
    "Assembly",
    "Solidity",
];

pub(super) const LANGUAGE_COUNT: usize = LANGUAGES.len();

/// The index in [`LANGUAGES`] of a file's language, from its name.
pub(super) fn language_of(name: &[u8]) -> Option<usize> {
    match name {
        b"Dockerfile" | b"Containerfile" => return index("Dockerfile"),
        b"Makefile" | b"GNUmakefile" | b"makefile" => return index("Makefile"),
        b"CMakeLists.txt" => return index("CMake"),
        b"Gemfile" | b"Rakefile" => return index("Ruby"),
        _ => {}
    }
    let dot = memrchr(b'.', name)?;
    let ext = &name[dot + 1..];
    if ext.is_empty() || ext.len() > 12 || dot == 0 {
        return None;
    }
    let mut buffer = [0u8; 12];
    let lower = &mut buffer[..ext.len()];
    lower.copy_from_slice(ext);
    lower.make_ascii_lowercase();
    let lang = match &*lower {
        b"rs" => 0,
        b"ts" | b"tsx" | b"mts" | b"cts" => 1,
        b"js" | b"jsx" | b"mjs" | b"cjs" => 2,
        b"py" | b"pyi" | b"pyx" => 3,
        b"go" => 4,
        b"java" => 5,
        b"kt" | b"kts" => 6,
        b"scala" | b"sc" => 7,
        b"c" | b"h" => 8,
        b"cc" | b"cpp" | b"cxx" | b"hpp" | b"hh" | b"hxx" | b"ipp" => 9,
        b"cs" | b"csx" => 10,
        b"fs" | b"fsi" | b"fsx" => 11,
        b"rb" | b"rake" | b"gemspec" => 12,
        b"php" => 13,
        b"swift" => 14,
        b"m" | b"mm" => 15,
        b"dart" => 16,
        b"ex" | b"exs" | b"heex" => 17,
        b"erl" | b"hrl" => 18,
        b"hs" | b"lhs" => 19,
        b"ml" | b"mli" => 20,
        b"clj" | b"cljs" | b"cljc" | b"edn" => 21,
        b"lua" => 22,
        b"pl" | b"pm" => 23,
        b"r" => 24,
        b"jl" => 25,
        b"zig" => 26,
        b"nim" => 27,
        b"sh" | b"bash" | b"zsh" | b"fish" => 28,
        b"ps1" | b"psm1" => 29,
        b"html" | b"htm" => 30,
        b"css" => 31,
        b"scss" | b"sass" | b"less" => 32,
        b"vue" => 33,
        b"svelte" => 34,
        b"md" | b"markdown" | b"mdx" => 35,
        b"rst" => 36,
        b"json" | b"jsonc" | b"json5" => 37,
        b"yml" | b"yaml" => 38,
        b"toml" => 39,
        b"xml" | b"xsd" | b"xsl" | b"csproj" | b"fsproj" | b"vbproj" | b"props" => 40,
        b"sql" => 41,
        b"proto" => 42,
        b"graphql" | b"gql" => 43,
        b"tf" | b"tfvars" | b"hcl" => 44,
        b"cmake" => 47,
        b"groovy" | b"gradle" => 48,
        b"vb" => 49,
        b"s" | b"asm" => 50,
        b"sol" => 51,
        _ => return None,
    };
    Some(lang)
}

fn index(name: &str) -> Option<usize> {
    LANGUAGES.iter().position(|lang| *lang == name)
}

fn memrchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().rposition(|byte| *byte == needle)
}

/// A file the analyzer reads or records by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Special {
    Manifest(ManifestKind),
    Ci(CiKind),
    /// `README*`, `CONTRIBUTING*`, `CHANGELOG*` at the top level.
    Doc,
    AgentInstructions,
}

/// Whether a file is special, from its name, its depth (1 = at the root) and, for a few names
/// that only count in one place, its parent directory's name.
pub(super) fn special_of(name: &[u8], depth: usize, parent: &[u8]) -> Option<Special> {
    use ManifestKind as M;
    let kind = match name {
        b"Cargo.toml" => Special::Manifest(M::Cargo),
        b"package.json" => Special::Manifest(M::Npm),
        b"pyproject.toml" => Special::Manifest(M::Pyproject),
        b"setup.py" => Special::Manifest(M::SetupPy),
        b"go.mod" => Special::Manifest(M::GoMod),
        b"pom.xml" => Special::Manifest(M::Maven),
        b"build.gradle" | b"build.gradle.kts" => Special::Manifest(M::Gradle),
        b"Gemfile" => Special::Manifest(M::Gemfile),
        b"composer.json" => Special::Manifest(M::Composer),
        b"mix.exs" => Special::Manifest(M::Mix),
        b"pubspec.yaml" => Special::Manifest(M::Pubspec),
        b"CMakeLists.txt" => Special::Manifest(M::Cmake),
        b"Makefile" | b"GNUmakefile" | b"makefile" => Special::Manifest(M::Make),
        b"AGENTS.md" => Special::AgentInstructions,
        b"copilot-instructions.md" if parent == b".github" && depth == 2 => Special::AgentInstructions,
        b".gitlab-ci.yml" if depth == 1 => Special::Ci(CiKind::GitlabCi),
        b"Jenkinsfile" if depth == 1 => Special::Ci(CiKind::Jenkins),
        b"azure-pipelines.yml" if depth == 1 => Special::Ci(CiKind::AzurePipelines),
        b"config.yml" if parent == b".circleci" && depth == 2 => Special::Ci(CiKind::CircleCi),
        _ if parent == b"workflows" && depth == 3 && (name.ends_with(b".yml") || name.ends_with(b".yaml")) => {
            Special::Ci(CiKind::GithubActions)
        }
        _ if name.starts_with(b"requirements") && name.ends_with(b".txt") => Special::Manifest(M::Requirements),
        _ if name.ends_with(b".csproj") || name.ends_with(b".sln") => Special::Manifest(M::Dotnet),
        _ if depth == 1
            && (name.starts_with(b"README") || name.starts_with(b"CONTRIBUTING") || name.starts_with(b"CHANGELOG")) =>
        {
            Special::Doc
        }
        _ => return None,
    };
    Some(kind)
}

/// Directories whose manifests are somebody else's (vendored or installed dependencies): their
/// files still count, their manifests are not read.
pub(super) fn is_dependency_dir(name: &[u8]) -> bool {
    matches!(name, b"node_modules" | b"vendor" | b"third_party" | b".venv" | b"venv" | b"site-packages")
}
