//! The index reader against indexes written by the real `git`, in every version it writes.
#![expect(clippy::disallowed_methods, reason = "the tests write real git indexes with the git CLI")]

use std::path::Path;
use std::process::Command;

use super::IndexSizes;
use crate::context::analyze;

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "core.autocrlf=false", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn checkout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = [
        ("a.rs", "abc".to_owned()),
        ("src/deep/b.ts", "export const b = 1;\n".to_owned()),
        ("src/deep/c with space.md", "# c\n".to_owned()),
        (&*format!("src/{}file.txt", "long-dir-name/".repeat(20)), "x".repeat(5000)),
        ("empty.txt", String::new()),
        ("later.txt", "not added yet".to_owned()),
        ("intent.txt", "intent to add".to_owned()),
    ];
    for (path, contents) in &files {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, contents).expect("write");
    }
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "a.rs", "src", "empty.txt"]);
    dir
}

#[test]
fn sizes_come_from_real_git_indexes_of_versions_2_3_and_4() {
    let dir = checkout();
    for version in ["2", "3", "4"] {
        if version == "3" {
            // An intent-to-add entry has extended flags, which only versions 3 and 4 can hold.
            git(dir.path(), &["add", "-N", "intent.txt"]);
        }
        git(dir.path(), &["update-index", "--index-version", version]);
        let index = std::fs::read(dir.path().join(".git/index")).expect("index");
        let sizes = IndexSizes::load(dir.path()).unwrap_or_else(|| panic!("version {version} parses"));
        assert_eq!(u32::from_be_bytes(index[4..8].try_into().expect("header")).to_string(), version);
        assert_eq!(sizes.len(), 4, "version {version}: regular files with a size");
        assert_eq!(sizes.size_of(b"a.rs"), Some(3));
        assert_eq!(sizes.size_of(b"src/deep/b.ts"), Some(20));
        assert_eq!(sizes.size_of(b"src/deep/c with space.md"), Some(4));
        assert_eq!(sizes.size_of(format!("src/{}file.txt", "long-dir-name/".repeat(20)).as_bytes()), Some(5000));
        assert_eq!(sizes.size_of(b"later.txt"), None, "untracked");
        assert_eq!(sizes.size_of(b"intent.txt"), None, "intent-to-add records no size");
        assert_eq!(sizes.size_of(b"empty.txt"), None, "an empty size is stat'ed");
        assert_eq!(sizes.size_of(b"src"), None);
    }
}

#[test]
fn analysis_of_a_checkout_equals_the_analysis_without_its_index() {
    let dir = checkout();
    let with_index = analyze(dir.path()).expect("analysis");
    std::fs::remove_file(dir.path().join(".git/index")).expect("rm index");
    let without_index = analyze(dir.path()).expect("analysis");
    assert_eq!(with_index, without_index);
    assert_eq!(with_index.files, 7);
}

#[test]
fn a_damaged_or_foreign_index_is_not_used() {
    let dir = checkout();
    let path = dir.path().join(".git/index");
    let mut index = std::fs::read(&path).expect("index");
    index[4..8].copy_from_slice(&9u32.to_be_bytes());
    std::fs::write(&path, &index).expect("write");
    assert!(IndexSizes::load(dir.path()).is_none(), "unknown version");
    std::fs::write(&path, &index[..40]).expect("write");
    assert!(IndexSizes::load(dir.path()).is_none(), "truncated");
    std::fs::write(&path, b"not an index at all").expect("write");
    assert!(IndexSizes::load(dir.path()).is_none(), "no signature");
    assert_eq!(analyze(dir.path()).expect("analysis still works").files, 7);
}

#[test]
fn a_gitfile_leads_to_the_git_dir_beside_the_work_tree() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("project-1");
    std::fs::create_dir_all(&tree).unwrap();
    let git_dir = dir.path().join("project-1.git");
    std::fs::write(tree.join(".git"), format!("gitdir: {}\n", git_dir.display())).unwrap();
    assert_eq!(super::git_dir(&tree), git_dir);
    let plain = dir.path().join("plain");
    assert_eq!(super::git_dir(&plain), plain.join(".git"));
}
