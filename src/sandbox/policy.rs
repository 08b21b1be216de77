//! What one sandboxed stage may reach: the [`Policy`] the runner hands to `sandbox-exec`, and
//! the rules that build it.
//!
//! Landlock only ever grants: a path not granted is out of reach. So the care goes into what is
//! granted. A grant that would contain a protected path (the agent project's checkout, the
//! artifacts, the configuration file, a file a secret was read from, the cache) is split into
//! its entries, recursively, leaving the protected path out; a grant inside a protected path is
//! dropped. The git dir of a checkout sits beside its work tree, so it can be granted read-only
//! while the work tree is writable.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Env, SandboxSettings};
use crate::env_vars;

/// Everything `sandbox-exec` needs to confine one agent call; travels as JSON in its argv (it
/// holds paths and ports, never a secret).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Policy {
    /// Whether to apply Landlock at all (`COPILOT_SANDBOX` is not `off`).
    pub confine: bool,
    /// Whether a kernel without Landlock refuses the start (`COPILOT_SANDBOX=require`).
    pub require: bool,
    /// Folders and files the agent may read and execute.
    pub read: Vec<PathBuf>,
    /// Folders the agent may read, write and execute in.
    pub write: Vec<PathBuf>,
    /// Device files the agent may read, write and use terminals on.
    pub devices: Vec<PathBuf>,
    /// TCP ports the agent may connect to.
    pub ports: Vec<u16>,
    /// How long the supervisor waits after passing on a SIGTERM before it kills what is left.
    pub grace_ms: u64,
}

/// The folders of one agent call.
#[derive(Debug, Clone)]
pub struct StageArea {
    /// The work tree the agent changes.
    pub repo_dir: PathBuf,
    /// The stage's scratch folder (outputs the runner reads back).
    pub scratch_dir: PathBuf,
    /// The call's own folder: its temporary folder and the CLI's logs.
    pub private_dir: PathBuf,
}

/// System folders every agent may read and execute from, where they exist.
const SYSTEM_READ: &[&str] = &[
    "/bin",
    "/sbin",
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/opt",
    "/nix/store",
    "/sys/fs/cgroup",
    "/sys/devices/system/cpu",
    // The few global `/proc` files runtimes read (CPU count, memory, uptime); never `/proc`
    // itself, so no other process's entries (`cmdline`, `environ`) can be listed or opened.
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/loadavg",
    "/proc/uptime",
    "/proc/version",
    "/proc/filesystems",
    "/proc/sys/kernel/osrelease",
    "/proc/sys/vm/overcommit_memory",
];

/// Device files every agent may use.
pub const DEVICES: &[&str] =
    &["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/pts"];

/// TCP ports every agent may connect to: HTTPS and DNS.
const BASE_PORTS: &[u16] = &[443, 53];

/// The system folders that exist on this machine.
pub fn system_read_paths() -> Vec<PathBuf> {
    SYSTEM_READ.iter().map(PathBuf::from).filter(|path| path.exists()).collect()
}

/// HTTPS, DNS, and the ports of the model endpoint and of the proxies in the agent's
/// environment (`get` reads it).
pub fn default_ports<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Vec<u16> {
    let mut ports = BASE_PORTS.to_vec();
    for name in ["COPILOT_PROVIDER_BASE_URL", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
        if let Some(port) =
            get(name).and_then(|value| url::Url::parse(value).ok()).and_then(|url| url.port_or_known_default())
        {
            ports.push(port);
        }
    }
    ports
}

/// Paths no agent may reach: the agent project's checkout and GitLab's folder of "File"
/// variables beside it, the artifacts, the configuration file, every file a secret was read
/// from, and a local context cache.
pub fn protected_paths(settings: &SandboxSettings, env: &Env) -> Vec<PathBuf> {
    let mut protected = vec![settings.artifacts_dir.clone()];
    if let Some(project_dir) = env.get(env_vars::ci::CI_PROJECT_DIR) {
        protected.push(PathBuf::from(project_dir));
        protected.push(PathBuf::from(format!("{}.tmp", project_dir.trim_end_matches('/'))));
    }
    protected.extend(settings.config_file.iter().cloned());
    protected.extend(settings.secret_files.iter().cloned());
    protected.extend(settings.cache_dir.iter().cloned());
    protected.iter().map(|path| absolute(path)).collect()
}

/// The folder to grant for running `program`: the outermost `node_modules` it lives in (the
/// Copilot CLI's loader finds its native program in a sibling package), else its folder.
pub fn program_root(program: &Path) -> PathBuf {
    let real = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_owned());
    let outermost_modules =
        real.ancestors().filter(|dir| dir.file_name().is_some_and(|name| name == "node_modules")).last();
    match outermost_modules {
        Some(dir) => dir.to_owned(),
        None => real.parent().map_or_else(|| real.clone(), Path::to_owned),
    }
}

/// The git dir of a work tree whose repository lives beside it (`<tree>.git`), as the runner's
/// clones are laid out; `None` when the repository is inside the tree (a person's own checkout
/// in `local`), where it shares the tree's access.
pub fn trusted_git_dir(repo_dir: &Path) -> Option<PathBuf> {
    let mut name = repo_dir.file_name()?.to_owned();
    name.push(".git");
    let dir = repo_dir.with_file_name(name);
    dir.is_dir().then_some(dir)
}

/// The grants with every protected path left out: a grant inside (or equal to) a protected path
/// is dropped, and one that contains a protected path is replaced by its entries, recursively.
/// Paths are compared after resolving symbolic links; grants that do not exist are dropped.
pub fn carve(grants: Vec<PathBuf>, protected: &[PathBuf]) -> Vec<PathBuf> {
    let protected: Vec<PathBuf> = protected.iter().map(|path| resolved(path)).collect();
    let mut kept = Vec::new();
    for grant in grants {
        if grant.exists() {
            carve_one(resolved(&grant), &protected, &mut kept, 0);
        }
    }
    kept.sort();
    kept.dedup();
    kept
}

/// The protected path `path` lies in (or is), if any.
pub fn protecting<'a>(path: &Path, protected: &'a [PathBuf]) -> Option<&'a Path> {
    let path = resolved(path);
    protected.iter().find(|protected| path.starts_with(resolved(protected))).map(PathBuf::as_path)
}

fn carve_one(grant: PathBuf, protected: &[PathBuf], kept: &mut Vec<PathBuf>, depth: usize) {
    if protected.iter().any(|path| grant.starts_with(path)) {
        return;
    }
    if !protected.iter().any(|path| path.starts_with(&grant)) {
        kept.push(grant);
        return;
    }
    // Deeper than any real layout: give nothing rather than loop.
    if depth > 32 {
        return;
    }
    tracing::debug!(grant = %grant.display(), "a sandbox grant contains a protected path; granting its entries instead");
    let Ok(entries) = std::fs::read_dir(&grant) else { return };
    for entry in entries.flatten() {
        carve_one(entry.path(), protected, kept, depth + 1);
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

fn resolved(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| absolute(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_containing_a_protected_path_is_split_around_it() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        for dir in ["builds/agent/.git", "builds/other", ".cache"] {
            std::fs::create_dir_all(home.join(dir)).unwrap();
        }
        std::fs::write(home.join("notes.txt"), "x").unwrap();
        let protected = [home.join("builds/agent")];
        let kept = carve(vec![home.clone()], &protected);
        let home = resolved(&home);
        assert_eq!(kept, vec![home.join(".cache"), home.join("builds/other"), home.join("notes.txt")]);
    }

    #[test]
    fn a_grant_inside_a_protected_path_or_missing_is_dropped() {
        let root = tempfile::tempdir().unwrap();
        let project = root.path().join("project");
        std::fs::create_dir_all(project.join("src")).unwrap();
        std::fs::create_dir_all(root.path().join("tree")).unwrap();
        let grants = vec![project.join("src"), project.clone(), root.path().join("missing"), root.path().join("tree")];
        assert_eq!(carve(grants, std::slice::from_ref(&project)), vec![resolved(&root.path().join("tree"))]);
    }

    #[test]
    fn a_stage_folder_inside_a_protected_path_is_named() {
        let root = tempfile::tempdir().unwrap();
        let project = root.path().join("agent-project");
        std::fs::create_dir_all(project.join("work/stages")).unwrap();
        let protected = [project.clone()];
        assert_eq!(protecting(&project.join("work/stages"), &protected), Some(project.as_path()));
        assert_eq!(protecting(root.path(), &protected), None);
    }

    #[test]
    fn the_model_endpoint_and_proxy_ports_are_allowed_beside_https_and_dns() {
        let env = [("COPILOT_PROVIDER_BASE_URL", "http://127.0.0.1:41234/v1"), ("HTTPS_PROXY", "http://proxy:3128")];
        let get = |name: &str| env.iter().find(|(known, _)| *known == name).map(|(_, value)| *value);
        assert_eq!(default_ports(get), vec![443, 53, 41234, 3128]);
    }

    #[test]
    fn the_git_dir_beside_the_tree_is_found_and_one_inside_is_not() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("project-7/.git")).unwrap();
        assert_eq!(trusted_git_dir(&root.path().join("project-7")), None);
        std::fs::create_dir_all(root.path().join("project-7.git")).unwrap();
        assert_eq!(trusted_git_dir(&root.path().join("project-7")), Some(root.path().join("project-7.git")));
    }

    #[test]
    fn a_program_in_node_modules_gets_the_outermost_node_modules() {
        let root = tempfile::tempdir().unwrap();
        let loader = root.path().join("lib/node_modules/@github/copilot/node_modules/@github/x/index.js");
        std::fs::create_dir_all(loader.parent().unwrap()).unwrap();
        std::fs::write(&loader, "").unwrap();
        assert_eq!(program_root(&loader), resolved(&root.path().join("lib/node_modules")));
        let tool = root.path().join("bin/agent");
        std::fs::create_dir_all(tool.parent().unwrap()).unwrap();
        std::fs::write(&tool, "").unwrap();
        assert_eq!(program_root(&tool), resolved(&root.path().join("bin")));
    }
}
