//! The artifacts of a job hold what people need (the log, the summary, the plan, prompts and
//! transcripts) and never the target project's source or its git objects.

use std::collections::HashSet;
use std::path::{Component, Path};

use copilot_runner_testkit::ci_job::text;

use super::rig::{PROJECT, Rig, files_below, greeting_script};

/// Formats the bytes of a git dir starts with: a pack, a pack index, an index, a commit graph.
const GIT_MAGIC: &[&[u8]] = &[b"PACK", b"\xfftOc", b"DIRC", b"CGPH", b"MIDX"];

#[tokio::test]
async fn an_issue_jobs_artifacts_hold_no_file_and_no_git_object_of_the_target_project() {
    let mut rig = Rig::start(greeting_script).await;
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");

    let out = rig.run().await;

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(rig.gitlab.merge_requests(PROJECT).len(), 1);
    let artifacts = files_below(&rig.paths.artifacts);
    let relative = |file: &Path, root: &Path| file.strip_prefix(root).unwrap().to_owned();
    let listed: Vec<String> =
        artifacts.iter().map(|file| relative(file, &rig.paths.artifacts).display().to_string()).collect();
    for needed in ["copilot-runner.log", "summary.json"] {
        assert!(listed.iter().any(|name| name == needed), "`{needed}` is missing from {listed:#?}");
    }
    assert!(listed.iter().any(|name| name.starts_with("stages/") && name.ends_with("transcript.txt")), "{listed:#?}");

    // The target's files (the work tree after the job) and everything in its git dir.
    let tree = files_below(&rig.paths.clone);
    let target_paths: Vec<_> =
        tree.iter().map(|file| relative(file, &rig.paths.clone)).filter(|path| path != Path::new(".git")).collect();
    assert!(target_paths.iter().any(|path| path == Path::new("greeting.txt")), "{target_paths:?}");
    let git_files = files_below(&rig.paths.git_dir);
    assert!(!git_files.is_empty(), "the git dir is beside the work tree");
    let target_contents: HashSet<Vec<u8>> = tree
        .iter()
        .chain(&git_files)
        .map(|file| std::fs::read(file).unwrap())
        .filter(|content| !content.is_empty())
        .collect();

    for file in &artifacts {
        let name = relative(file, &rig.paths.artifacts);
        assert!(
            !name
                .components()
                .any(|part| matches!(part, Component::Normal(part) if part.to_string_lossy().ends_with(".git"))),
            "a git dir among the artifacts: {}",
            name.display()
        );
        for path in &target_paths {
            assert!(!name.ends_with(path), "the target's `{}` among the artifacts: {}", path.display(), name.display());
        }
        let content = std::fs::read(file).unwrap();
        assert!(!target_contents.contains(&content), "{} is a copy of a target or git file", name.display());
        assert!(!GIT_MAGIC.iter().any(|magic| content.starts_with(magic)), "{} is a git file", name.display());
    }
}
