//! Parsers for git's machine-readable outputs, so that no decision depends on English text.
//!
//! `git push --porcelain` prints one line per ref, `<flag>\t<from>:<to>\t<summary>`, where the
//! flag is documented and stable (`!` = rejected) and a client-side rejection (the ones that
//! would need a force) has the summary `[rejected]` while a server-side one reads
//! `[remote rejected]`. `git status --porcelain -z` and `git diff --name-only -z` separate
//! paths with NUL, so any file name survives.

/// What happened to one ref in a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PushedRef {
    /// Updated, created, or already up to date.
    Accepted,
    /// Refused by our git because the remote moved: only a force would overwrite it.
    NeedsForce { reason: String },
    /// Refused by the server (protected branch, hook, quota).
    RemoteRejected { reason: String },
}

/// Finds the status line of the remote ref `target` (`refs/heads/...`) in porcelain output.
pub(crate) fn push_status(stdout: &str, target: &str) -> Option<PushedRef> {
    stdout.lines().find_map(|line| {
        let mut fields = line.splitn(3, '\t');
        let flag = fields.next()?;
        let refs = fields.next()?;
        let summary = fields.next().unwrap_or_default();
        let (_, to) = refs.split_once(':')?;
        if to != target || flag.chars().count() != 1 {
            return None;
        }
        let reason = summary
            .split_once('(')
            .and_then(|(_, rest)| rest.rsplit_once(')'))
            .map_or_else(|| summary.trim().to_owned(), |(reason, _)| reason.to_owned());
        Some(match flag {
            "!" if summary.starts_with("[rejected]") => PushedRef::NeedsForce { reason },
            "!" => PushedRef::RemoteRejected { reason },
            _ => PushedRef::Accepted,
        })
    })
}

/// The object `git ls-remote` output (`<sha>\t<ref>` lines) lists for exactly `reference`, if
/// any: its patterns also match refs that merely end with the name.
pub(crate) fn listed_tip<'a>(stdout: &'a str, reference: &str) -> Option<&'a str> {
    stdout.lines().find_map(|line| line.split_once('\t').filter(|(_, name)| *name == reference).map(|(sha, _)| sha))
}

/// The paths in `git status --porcelain=v1 -z` output (for a rename, the new path).
pub(crate) fn status_paths(stdout: &[u8]) -> Vec<String> {
    let mut paths = Vec::new();
    let mut entries = stdout.split(|byte| *byte == 0).filter(|entry| !entry.is_empty());
    while let Some(entry) = entries.next() {
        if entry.len() < 4 {
            continue;
        }
        let (status, path) = entry.split_at(3);
        paths.push(String::from_utf8_lossy(path).into_owned());
        // A rename or copy is followed by its source path as a separate entry.
        if matches!(status[0], b'R' | b'C') || matches!(status[1], b'R' | b'C') {
            entries.next();
        }
    }
    paths
}

/// The paths in NUL-separated `--name-only -z` output.
pub(crate) fn name_only_paths(stdout: &[u8]) -> Vec<String> {
    stdout
        .split(|byte| *byte == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| String::from_utf8_lossy(entry).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_non_fast_forward_needs_force() {
        let out = "To http://127.0.0.1:4000/group/project.git\n!\trefs/heads/copilot/x:refs/heads/copilot/x\t[rejected] (fetch first)\nDone\n";
        assert_eq!(
            push_status(out, "refs/heads/copilot/x"),
            Some(PushedRef::NeedsForce { reason: "fetch first".to_owned() })
        );
        let out = "To u\n!\trefs/heads/a:refs/heads/a\t[rejected] (non-fast-forward)\nDone\n";
        assert_eq!(
            push_status(out, "refs/heads/a"),
            Some(PushedRef::NeedsForce { reason: "non-fast-forward".to_owned() })
        );
    }

    #[test]
    fn a_hook_refusal_is_a_remote_rejection() {
        let out = "To u\n!\trefs/heads/main:refs/heads/main\t[remote rejected] (pre-receive hook declined)\nDone\n";
        assert_eq!(
            push_status(out, "refs/heads/main"),
            Some(PushedRef::RemoteRejected { reason: "pre-receive hook declined".to_owned() })
        );
    }

    #[test]
    fn new_updated_and_up_to_date_refs_are_accepted_and_other_refs_ignored() {
        let out = "To u\n*\trefs/heads/a:refs/heads/a\t[new branch]\n \trefs/heads/b:refs/heads/b\t1111111..2222222\n=\trefs/heads/c:refs/heads/c\t[up to date]\nDone\n";
        assert_eq!(push_status(out, "refs/heads/a"), Some(PushedRef::Accepted));
        assert_eq!(push_status(out, "refs/heads/b"), Some(PushedRef::Accepted));
        assert_eq!(push_status(out, "refs/heads/c"), Some(PushedRef::Accepted));
        assert_eq!(push_status(out, "refs/heads/d"), None);
    }

    #[test]
    fn status_paths_survive_spaces_renames_and_untracked_files() {
        let out = b" M src/a file.rs\0R  new.rs\0old.rs\0?? docs/new.md\0D  gone.txt\0";
        assert_eq!(status_paths(out), ["src/a file.rs", "new.rs", "docs/new.md", "gone.txt"]);
        assert!(status_paths(b"").is_empty());
    }

    #[test]
    fn ls_remote_lists_only_the_exact_ref() {
        let out = "1111111111111111111111111111111111111111\trefs/heads/team/refs/heads/main\n";
        assert_eq!(listed_tip(out, "refs/heads/main"), None);
        let out = format!("{out}2222222222222222222222222222222222222222\trefs/heads/main\n");
        assert_eq!(listed_tip(&out, "refs/heads/main"), Some("2222222222222222222222222222222222222222"));
        assert_eq!(listed_tip("", "refs/heads/main"), None);
    }

    #[test]
    fn name_only_paths_split_on_nul() {
        assert_eq!(name_only_paths(b"a.rs\0dir/b c.rs\0"), ["a.rs", "dir/b c.rs"]);
    }
}
