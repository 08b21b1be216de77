//! Nothing under `tests/` is silently left out of the build. With `autotests = false` a file
//! compiles only when a `[[test]]` target's module tree reaches it, so a new file that no `mod`
//! names would never run; this walks those trees the way rustc resolves `mod x;` and
//! `#[path = "…"] mod x;` and fails naming every `.rs` file outside `tests/support/` (the test
//! rig's own crate) and `tests/data/` that neither binary reaches.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn every_test_file_is_compiled() {
    let root = Path::new(ROOT);
    let manifest: toml::Table =
        std::fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml").parse().expect("Cargo.toml parses");
    let targets: Vec<PathBuf> = manifest["test"]
        .as_array()
        .expect("`[[test]]` targets")
        .iter()
        .map(|target| root.join(target["path"].as_str().expect("each `[[test]]` names its path")))
        .collect();
    assert_eq!(targets.len(), 2, "one in-process and one end-to-end binary: {targets:?}");

    let unreached = unreached(&root.join("tests"), &targets, &["support", "data"]);
    assert!(unreached.is_empty(), "no `mod` in {targets:?} reaches these files, so they never run: {unreached:?}");
}

#[test]
fn a_file_no_module_names_is_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tests = dir.path();
    let files = [
        ("all.rs", "//! Root.\nmod single;\n#[path = \"suite/main.rs\"]\nmod suite;\n// mod commented;\n"),
        ("single.rs", "mod nested;\nmod inline {\n    fn f() {}\n}\n"),
        ("single/nested.rs", ""),
        ("suite/main.rs", "pub(crate) mod part;\n#[cfg(unix)]\nmod dir;\n"),
        ("suite/part.rs", ""),
        ("suite/dir/mod.rs", "mod leaf;\n"),
        ("suite/dir/leaf.rs", ""),
        ("suite/forgotten.rs", ""),
        ("commented.rs", ""),
        ("stray.rs", ""),
        ("data/fixture.rs", ""),
    ];
    for (path, text) in files {
        let path = tests.join(path);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("create folder");
        std::fs::write(path, text).expect("write file");
    }

    let unreached = unreached(tests, &[tests.join("all.rs")], &["data"]);
    let names: Vec<_> = unreached.iter().map(|path| path.strip_prefix(tests).expect("below tests")).collect();
    assert_eq!(names, [Path::new("commented.rs"), Path::new("stray.rs"), Path::new("suite/forgotten.rs")]);
}

/// The `.rs` files below `tests` (minus the `skipped` top-level folders) that no module tree
/// rooted at `roots` reaches, sorted.
fn unreached(tests: &Path, roots: &[PathBuf], skipped: &[&str]) -> Vec<PathBuf> {
    let mut reached = BTreeSet::new();
    for root in roots {
        // A crate root owns its folder: its `mod x;` is `x.rs` or `x/mod.rs` beside it.
        walk(root, true, &mut reached);
    }
    let mut all = BTreeSet::new();
    rust_files(tests, &mut all);
    all.retain(|path| {
        let relative = path.strip_prefix(tests).expect("below tests");
        !skipped.iter().any(|folder| relative.starts_with(folder))
    });
    all.difference(&reached).cloned().collect()
}

/// Adds `file` and every module file it declares, recursively. A file that owns its folder (a
/// crate root, a `mod.rs`, or one loaded through `#[path]`) finds `mod x;` beside itself; any other
/// `a.rs` finds it in `a/`.
fn walk(file: &Path, owns_folder: bool, reached: &mut BTreeSet<PathBuf>) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|error| panic!("read {}: {error}", file.display()));
    reached.insert(file.to_path_buf());
    let beside = file.parent().expect("a file has a folder");
    let folder = if owns_folder { beside.to_path_buf() } else { beside.join(file.file_stem().expect("a file name")) };
    let mut path_attribute = None;
    for line in text.lines().map(str::trim) {
        if let Some(path) = line.strip_prefix("#[path = \"").and_then(|rest| rest.strip_suffix("\"]")) {
            path_attribute = Some(path.to_owned());
            continue;
        }
        if line.starts_with("#[") {
            continue;
        }
        let declared = line
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .strip_prefix("mod ")
            .and_then(|rest| rest.strip_suffix(';'));
        match (declared, path_attribute.take()) {
            (Some(_), Some(path)) => walk(&beside.join(path), true, reached),
            (Some(name), None) => {
                let single = folder.join(format!("{name}.rs"));
                if single.exists() {
                    walk(&single, false, reached);
                } else {
                    walk(&folder.join(name).join("mod.rs"), true, reached);
                }
            }
            (None, _) => {}
        }
    }
}

fn rust_files(folder: &Path, found: &mut BTreeSet<PathBuf>) {
    for entry in std::fs::read_dir(folder).unwrap_or_else(|error| panic!("list {}: {error}", folder.display())) {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.insert(path);
        }
    }
}
