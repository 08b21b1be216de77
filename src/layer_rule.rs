//! The layer rule of `lib.rs`, checked against the source: every `crate::`, `super::` and
//! `self::` path in every file under `src/` (test files and `#[cfg(test)]` blocks aside) is an
//! import, and each import must point the allowed way.
//!
//! - **ground** imports nothing above it;
//! - **pure** modules import only the ground, each other, the prompt templates and GitLab's data
//!   types, and name no IO API (files, processes, sockets, async runtime, HTTP, git);
//! - **adapters** import no core module, workflow or entry point;
//! - **core** imports no workflow or entry point; **workflows** import no entry point;
//! - no cycle between top-level modules, nor between the files of one module.
//!
//! A new top-level module fails the test until it is given a layer here and in `lib.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Ground,
    Pure,
    Adapter,
    Core,
    Workflow,
    Entry,
}

/// Every top-level module and its layer.
const LAYERS: &[(&str, Layer)] = &[
    ("config", Layer::Ground),
    ("env_vars", Layer::Ground),
    ("exit", Layer::Ground),
    ("http", Layer::Ground),
    ("process", Layer::Ground),
    ("redact", Layer::Ground),
    ("telemetry", Layer::Ground),
    ("tls", Layer::Ground),
    ("untrusted", Layer::Ground),
    ("planner", Layer::Pure),
    ("request", Layer::Pure),
    ("review", Layer::Pure),
    ("agent", Layer::Adapter),
    ("git", Layer::Adapter),
    ("gitlab", Layer::Adapter),
    ("prompts", Layer::Adapter),
    ("sandbox", Layer::Adapter),
    ("trigger", Layer::Adapter),
    ("ci", Layer::Core),
    ("context", Layer::Core),
    ("report", Layer::Core),
    ("stages", Layer::Core),
    ("workflows", Layer::Workflow),
    ("setup", Layer::Workflow),
    ("cli", Layer::Entry),
    ("webhook", Layer::Entry),
];

/// What a pure module may use of an adapter: data and rendering, no IO.
const PURE_MAY_USE: &[&[&str]] = &[&["gitlab", "types"], &["gitlab", "events"], &["prompts"]];

/// APIs that do IO; a pure module names none of them.
const IO_APIS: &[&str] = &["std::fs", "std::process", "std::net", "std::env", "tokio::", "reqwest::", "object_store::"];

/// One source file: its module path (`["context", "render"]`) and its text without comments
/// and tests.
#[derive(Debug)]
struct SourceFile {
    module: Vec<String>,
    text: String,
}

fn layer_of(name: &str) -> Option<Layer> {
    LAYERS.iter().find(|(module, _)| *module == name).map(|(_, layer)| *layer)
}

/// Whether a module of layer `from` may import `path` (a `crate::`-absolute path).
fn allowed(from: Layer, path: &[String]) -> bool {
    let Some(to) = layer_of(&path[0]) else { return true };
    match from {
        Layer::Ground => to == Layer::Ground,
        Layer::Pure => {
            matches!(to, Layer::Ground | Layer::Pure)
                || PURE_MAY_USE
                    .iter()
                    .any(|prefix| path.len() >= prefix.len() && path.iter().zip(*prefix).all(|(a, b)| a == b))
        }
        Layer::Adapter => matches!(to, Layer::Ground | Layer::Pure | Layer::Adapter),
        Layer::Core => to <= Layer::Core,
        Layer::Workflow => to <= Layer::Workflow,
        Layer::Entry => true,
    }
}

/// Every rule broken by `files`, one line each.
fn violations(files: &[SourceFile]) -> Vec<String> {
    let mut found = Vec::new();
    let mut top_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut sibling_edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let file_modules: BTreeSet<&[String]> = files.iter().map(|file| file.module.as_slice()).collect();
    for file in files {
        let top = &file.module[0];
        let Some(layer) = layer_of(top) else {
            found.push(format!("`{top}` has no layer: add it to the layer rule and to `lib.rs`"));
            continue;
        };
        if layer == Layer::Pure {
            for api in IO_APIS.iter().filter(|api| file.text.contains(*api)) {
                found.push(format!("`{}` is pure but names `{api}`", file.module.join("::")));
            }
        }
        for path in imports(file) {
            if path.is_empty() {
                continue;
            }
            if &path[0] != top {
                if !allowed(layer, &path) {
                    found.push(format!("`{}` ({layer:?}) imports `{}`", file.module.join("::"), path.join("::")));
                }
                top_edges.entry(top.clone()).or_default().insert(path[0].clone());
            }
            // Between two files of the same parent module.
            for depth in 1..file.module.len().min(path.len()) {
                if file.module[..depth] != path[..depth] {
                    break;
                }
                let (mine, theirs) = (&file.module[..=depth], &path[..=depth]);
                if mine != theirs && file_modules.contains(theirs) {
                    sibling_edges.entry(mine.to_vec()).or_default().insert(theirs.to_vec());
                }
            }
        }
    }
    found.extend(cycles(&top_edges).into_iter().map(|cycle| format!("module cycle: {}", cycle.join(" → "))));
    let sibling_cycles = cycles(&sibling_edges);
    found.extend(sibling_cycles.into_iter().map(|cycle| {
        let names: Vec<String> = cycle.iter().map(|module| module.join("::")).collect();
        format!("module cycle: {}", names.join(" → "))
    }));
    found
}

/// The import paths of a file, made absolute from the crate root.
fn imports(file: &SourceFile) -> Vec<Vec<String>> {
    let text = &file.text;
    let mut paths = Vec::new();
    for (start, _) in text.match_indices("::") {
        let before = &text[..start];
        let keyword = ["crate", "super", "self"].into_iter().find(|keyword| before.ends_with(keyword));
        let Some(keyword) = keyword else { continue };
        let boundary = before[..before.len() - keyword.len()].chars().next_back();
        if boundary.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let base: Vec<String> = match keyword {
            "crate" => Vec::new(),
            "super" => file.module[..file.module.len() - 1].to_vec(),
            _ => file.module.clone(),
        };
        for tail in use_tree(&text[start + 2..]) {
            let mut path = base.clone();
            path.extend(tail);
            paths.push(path);
        }
    }
    paths
}

/// The paths of a use tree or path expression at the start of `text`: `a::b::{c, d::e}` gives
/// `a::b::c` and `a::b::d::e`; `super` segments climb.
fn use_tree(text: &str) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut parts = Vec::new();
            let mut part_start = 0;
            for (index, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        parts.push(&group[part_start..index]);
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(&group[part_start..index]);
                        part_start = index + 1;
                    }
                    _ => {}
                }
            }
            let mut out = Vec::new();
            for part in parts.into_iter().filter(|part| !part.trim().is_empty()) {
                for tail in use_tree(part) {
                    let mut path = segments.clone();
                    path.extend(tail);
                    out.push(path);
                }
            }
            return out;
        }
        let length = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if length == 0 {
            return vec![segments];
        }
        let segment = &rest[..length];
        rest = &rest[length..];
        match segment {
            "self" => {}
            "super" => {
                segments.pop();
            }
            _ => segments.push(segment.to_owned()),
        }
        match rest.trim_start().strip_prefix("::") {
            Some(after) => rest = after,
            None => return vec![segments],
        }
    }
}

/// The cycles of a directed graph, one per strongly connected component of more than one node.
fn cycles<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    let nodes: BTreeSet<&N> = edges.keys().chain(edges.values().flatten()).collect();
    let reaches = |from: &N, to: &N| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(node) = stack.pop() {
            for next in edges.get(node).into_iter().flatten() {
                if next == to {
                    return true;
                }
                if seen.insert(next) {
                    stack.push(next);
                }
            }
        }
        false
    };
    let mut placed = BTreeSet::new();
    let mut components = Vec::new();
    for node in &nodes {
        if placed.contains(*node) {
            continue;
        }
        let component: Vec<N> = nodes
            .iter()
            .filter(|other| **other == *node || (reaches(node, other) && reaches(other, node)))
            .map(|n| (*n).clone())
            .collect();
        if component.len() > 1 {
            placed.extend(component.iter().cloned());
            components.push(component);
        }
    }
    components
}

/// Every source file of the crate, as the rule sees it.
fn crate_sources() -> Vec<SourceFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).expect("reads src").map(|entry| entry.expect("lists src").path()));
            continue;
        }
        let relative = path.strip_prefix(&root).expect("under src").with_extension("");
        let mut module: Vec<String> = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
        let name = module.last().cloned().unwrap_or_default();
        let is_test_file = name == "tests" || name.ends_with("_tests");
        if path.extension().is_none_or(|ext| ext != "rs")
            || is_test_file
            || ["lib", "main", "layer_rule"].contains(&name.as_str())
        {
            continue;
        }
        if name == "mod" {
            module.pop();
        }
        if module.first().is_some_and(|top| top == "bin") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("reads a source file");
        files.push(SourceFile { module, text: without_tests_and_comments(&text) });
    }
    files
}

/// The text before the first `#[cfg(test)]` module, without whole-line comments.
fn without_tests_and_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed == "#[cfg(test)]" && lines.peek().is_some_and(|next| next.trim_start().starts_with("mod ")) {
            let next = lines.next().unwrap_or_default();
            if next.trim_end().ends_with('{') {
                break;
            }
            continue;
        }
        if !trimmed.starts_with("//") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn imports_follow_the_layer_rule() {
    let files = crate_sources();
    assert!(files.len() > 50, "found only {} source files", files.len());
    let found = violations(&files);
    assert!(found.is_empty(), "the layer rule (see `lib.rs`) is broken:\n{}", found.join("\n"));
}

#[test]
fn every_top_level_module_has_a_layer() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).expect("reads lib.rs");
    let declared: BTreeSet<&str> =
        lib.lines().filter_map(|line| line.strip_prefix("pub mod ")?.strip_suffix(';')).collect();
    let layered: BTreeSet<&str> = LAYERS.iter().map(|(module, _)| *module).collect();
    assert_eq!(declared, layered);
}

/// The checker itself: each kind of forbidden import is reported, and the allowed ones are not.
#[test]
fn the_rule_catches_what_it_forbids() {
    let file = |module: &str, text: &str| SourceFile {
        module: module.split("::").map(str::to_owned).collect(),
        text: without_tests_and_comments(text),
    };
    let allowed = [
        file("workflows::issue", "use crate::{gitlab::Client, report::{self, Reporter}};\n"),
        file("review::post", "use crate::gitlab::types::Position;\nuse crate::prompts::Prompts;\n"),
        file("gitlab::client", "use super::error::Error;\nuse crate::http;\n"),
        file("gitlab::error", "// crate::workflows is only named in a comment\n"),
        file(
            "stages",
            "fn f() { let _ = crate::context::prompt_context; }\n#[cfg(test)]\nmod tests {\n use crate::cli;\n}\n",
        ),
    ];
    assert_eq!(violations(&allowed), Vec::<String>::new());

    let broken = [
        (file("exit", "use crate::gitlab::Error;\n"), "`exit` (Ground) imports `gitlab::Error`"),
        (
            file("gitlab::client", "use crate::{http, report::Reporter};\n"),
            "`gitlab::client` (Adapter) imports `report::Reporter`",
        ),
        (file("review::post", "use crate::gitlab::Client;\n"), "`review::post` (Pure) imports `gitlab::Client`"),
        (file("planner", "fn f() { std::fs::read(\"x\"); }\n"), "`planner` is pure but names `std::fs`"),
        (file("stages", "use crate::workflows::Job;\n"), "`stages` (Core) imports `workflows::Job`"),
        (file("newcomer", "\n"), "`newcomer` has no layer"),
    ];
    for (source, expected) in broken {
        let found = violations(std::slice::from_ref(&source));
        assert!(found.iter().any(|line| line.starts_with(expected)), "{expected}: {found:?}");
    }

    let top_cycle = [file("context", "use crate::stages::X;\n"), file("stages", "use crate::context::Y;\n")];
    assert!(violations(&top_cycle).iter().any(|line| line.starts_with("module cycle: context → stages")));
    let sibling_cycle = [
        file("webhook::act", "use super::server::Config;\n"),
        file("webhook::server", "use super::act::{self, Acted};\n"),
    ];
    assert_eq!(violations(&sibling_cycle), ["module cycle: webhook::act → webhook::server"]);
}
