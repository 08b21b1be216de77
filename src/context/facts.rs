//! The static facts about a project, as stored in `facts.json` next to `project_context.md`.
//!
//! Facts are what the analyzer found without asking a model: languages, manifests and what they
//! declare, CI configuration, docs and the repository's own agent instructions. They are
//! versioned (`schema_version`) because they live in a cache that outlives a binary version;
//! aggregate fields are recomputed from the per-manifest records so an incremental update only
//! has to replace the records of the files that changed.

use serde::{Deserialize, Serialize};

use crate::planner::ProjectTraits;

/// Bumped whenever the meaning or shape of a field changes; a cached `facts.json` with another
/// version is analysed again instead of being trusted.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything the static analysis learned about one checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub schema_version: u32,
    /// Files counted (gitignored files, `.git` and symlinks excluded).
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Languages by bytes, largest first (files with an unknown extension count only in the totals).
    pub languages: Vec<LanguageStat>,
    /// Top-level directories with their file counts (files at the root are under `.`), by name.
    pub directories: Vec<DirectoryStat>,
    /// Every manifest found, by path.
    pub manifests: Vec<Manifest>,
    /// Union over the manifests, sorted.
    pub frameworks: Vec<String>,
    pub test_frameworks: Vec<String>,
    pub build_tools: Vec<String>,
    /// Commands to run the tests, from the shallowest manifest of each kind, in manifest order.
    pub test_commands: Vec<String>,
    pub build_commands: Vec<String>,
    /// CI configuration files, by path.
    pub ci: Vec<CiConfig>,
    /// Top-level documentation: `README*`, `CONTRIBUTING*`, `CHANGELOG*`, `docs/`.
    pub docs: Vec<String>,
    /// The start of the top-level README, bounded.
    pub readme_excerpt: Option<String>,
    /// The repository's own instructions for coding agents, bounded, by path.
    pub agent_instructions: Vec<AgentInstructions>,
    /// Entries the walk could not read (permissions, races with deletion).
    pub unreadable: u64,
}

impl Default for Facts {
    fn default() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            files: 0,
            bytes: 0,
            languages: Vec::new(),
            directories: Vec::new(),
            manifests: Vec::new(),
            frameworks: Vec::new(),
            test_frameworks: Vec::new(),
            build_tools: Vec::new(),
            test_commands: Vec::new(),
            build_commands: Vec::new(),
            ci: Vec::new(),
            docs: Vec::new(),
            readme_excerpt: None,
            agent_instructions: Vec::new(),
            unreadable: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageStat {
    pub name: String,
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryStat {
    pub name: String,
    pub files: u64,
}

/// Which kind of manifest a file is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestKind {
    Cargo,
    Npm,
    Pyproject,
    Requirements,
    SetupPy,
    GoMod,
    Maven,
    Gradle,
    Gemfile,
    Composer,
    Dotnet,
    Mix,
    Pubspec,
    Cmake,
    Make,
}

/// One manifest and what it declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Relative to the project root, `/`-separated.
    pub path: String,
    pub kind: ManifestKind,
    pub name: Option<String>,
    pub frameworks: Vec<String>,
    pub test_frameworks: Vec<String>,
    pub build_tools: Vec<String>,
    pub test_commands: Vec<String>,
    pub build_commands: Vec<String>,
    /// Why the contents could not be used (too large, unreadable, invalid), if so.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CiKind {
    GitlabCi,
    GithubActions,
    Jenkins,
    CircleCi,
    AzurePipelines,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiConfig {
    pub path: String,
    pub kind: CiKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInstructions {
    pub path: String,
    /// The text, cut at [`AGENT_INSTRUCTIONS_BYTES`](super::AGENT_INSTRUCTIONS_BYTES) bytes.
    pub text: String,
    pub truncated: bool,
}

impl Facts {
    /// The traits the planner reads.
    pub fn traits(&self) -> ProjectTraits {
        ProjectTraits {
            has_test_framework: !self.test_frameworks.is_empty() || !self.test_commands.is_empty(),
            test_command: self.test_commands.first().cloned(),
            languages: self.languages.iter().map(|lang| lang.name.clone()).collect(),
            frameworks: self.frameworks.clone(),
            test_frameworks: self.test_frameworks.clone(),
            files: self.files,
        }
    }

    /// Recomputes every aggregate from the records (manifests, stats), and puts lists in their
    /// canonical order, so that a full and an incremental analysis of the same tree are equal.
    pub(super) fn finish(&mut self) {
        self.languages.retain(|lang| lang.files > 0);
        self.languages.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
        self.directories.retain(|dir| dir.files > 0);
        self.directories.sort_by(|a, b| a.name.cmp(&b.name));
        self.manifests.sort_by(|a, b| a.path.cmp(&b.path));
        self.ci.sort_by(|a, b| a.path.cmp(&b.path));
        self.docs.sort();
        self.docs.dedup();
        self.agent_instructions.sort_by(|a, b| a.path.cmp(&b.path));

        let union = |pick: fn(&Manifest) -> &Vec<String>| {
            let mut all: Vec<String> = self.manifests.iter().flat_map(|m| pick(m).iter().cloned()).collect();
            all.sort();
            all.dedup();
            all
        };
        self.frameworks = union(|m| &m.frameworks);
        self.test_frameworks = union(|m| &m.test_frameworks);
        self.build_tools = union(|m| &m.build_tools);

        // Commands come from the shallowest manifests of each kind: a workspace root says how
        // to test everything, its members would only repeat it per directory.
        let mut shallowest: std::collections::BTreeMap<ManifestKind, usize> = Default::default();
        for manifest in &self.manifests {
            let depth = manifest.path.matches('/').count();
            let entry = shallowest.entry(manifest.kind).or_insert(depth);
            *entry = (*entry).min(depth);
        }
        let mut by_depth: Vec<&Manifest> =
            self.manifests.iter().filter(|m| shallowest.get(&m.kind) == Some(&m.path.matches('/').count())).collect();
        by_depth.sort_by_key(|m| (m.path.matches('/').count(), m.path.clone()));
        self.test_commands = ordered_unique(by_depth.iter().flat_map(|m| m.test_commands.iter()));
        self.build_commands = ordered_unique(by_depth.iter().flat_map(|m| m.build_commands.iter()));
    }
}

fn ordered_unique<'a>(items: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}
