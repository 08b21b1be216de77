//! The context cache: project understanding kept per commit, found again in five levels.
//!
//! An entry lives under `projects/{project}/branches/{branch}/commits/{sha}/` as
//! `project_context.md`, `facts.json` and `meta.json`; `meta.json` is written last and carries
//! a digest of the other two, so an entry without it, or whose files come from two different
//! writers, is treated as absent. `fork-relations/{project}/{branch}.json` names the branch a
//! branch came from. Lookup tries, in order: 1 the exact commit, 2 a cached ancestor (updated
//! incrementally from the changed paths), 3 the newest entry of the branch, 4 the newest entry
//! of the base branch (or the default branch), 5 a full analysis. The store is an optimisation:
//! the whole lookup runs under one time bound and any store failure means level 5.

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha1::{Digest as _, Sha1};

use super::store::{CacheStore, StoreError};
use super::{Change, ContextError, FACTS_FILE, Facts, PROJECT_CONTEXT_FILE, SCHEMA_VERSION};

pub const META_FILE: &str = "meta.json";
/// Size caps on what a reader accepts from the store.
pub const FACTS_LIMIT: u64 = 8 * 1024 * 1024;
pub const CONTEXT_LIMIT: u64 = 256 * 1024;
pub const META_LIMIT: u64 = 64 * 1024;
/// How many entries of a branch level 3 reads at most.
const MAX_LATEST_CANDIDATES: usize = 8;
/// The bound on a whole lookup; past it the job goes on with a full analysis.
pub const LOOKUP_BOUND: Duration = Duration::from_secs(5);

/// Which level a lookup hit, as reported in the job log and `summary.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    ExactCommit = 1,
    Ancestor = 2,
    BranchLatest = 3,
    CrossBranch = 4,
    FullAnalysis = 5,
}

impl Level {
    pub fn number(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::ExactCommit => "exact commit",
            Self::Ancestor => "ancestor commit",
            Self::BranchLatest => "branch latest",
            Self::CrossBranch => "cross-branch",
            Self::FullAnalysis => "full analysis",
        };
        write!(f, "level {} ({name})", self.number())
    }
}

/// `meta.json`: what an entry is and whether its files belong together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryMeta {
    pub schema_version: u32,
    pub sha: String,
    pub branch: String,
    pub created_at: DateTime<Utc>,
    pub files_analysed: u64,
    /// Whether `project_context.md` was written by the agent (the understanding stage) rather
    /// than rendered from the facts.
    pub agent_written: bool,
    /// SHA-1 over `facts.json` then `project_context.md`, as stored.
    pub content_digest: String,
}

/// One complete cache entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub meta: EntryMeta,
    pub facts: Facts,
    pub project_context: String,
}

/// `fork-relations/{project}/{branch}.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkRelation {
    pub branch: String,
    pub base_branch: String,
}

/// What to look up: the checkout's project, branch and commit, and what git knows around it.
#[derive(Debug, Clone, Copy)]
pub struct LookupRequest<'a> {
    pub project: &'a str,
    pub branch: &'a str,
    /// Empty when unknown (`cache find` without `--sha`): level 1 is then skipped.
    pub sha: &'a str,
    /// Ancestor commits nearest first (`git rev-list --max-count=N HEAD~1`).
    pub ancestors: &'a [String],
    /// The project's default branch, for level 4 when no fork relation is known.
    pub default_branch: Option<&'a str>,
}

/// The outcome of a lookup: the level and the entry it found (none for level 5).
#[derive(Debug, Clone)]
pub struct Found {
    pub level: Level,
    pub entry: Option<Entry>,
    /// Why the store could not be used, when it could not (level 5 then).
    pub store_problem: Option<String>,
    pub elapsed: Duration,
}

/// The understanding a job starts from, after the lookup and any update.
#[derive(Debug, Clone)]
pub struct Understanding {
    pub level: Level,
    pub facts: Facts,
    pub project_context: String,
    pub agent_written: bool,
    /// The `(branch, sha)` of the entry it came from, for levels 1 to 4.
    pub from: Option<(String, String)>,
    pub store_problem: Option<String>,
}

/// The cache over a store.
#[derive(Debug, Clone)]
pub struct ContextCache {
    store: CacheStore,
    bound: Duration,
}

fn commits_prefix(project: &str, branch: &str) -> String {
    format!("projects/{}/branches/{}/commits/", key_part(project), key_part(branch))
}

fn entry_prefix(project: &str, branch: &str, sha: &str) -> String {
    format!("{}{}/", commits_prefix(project, branch), key_part(sha))
}

fn fork_relation_key(project: &str, branch: &str) -> String {
    format!("fork-relations/{}/{}.json", key_part(project), key_part(branch))
}

/// Branch names hold `/`; one key segment per name keeps listings unambiguous.
pub(super) fn key_part(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, KEY_SET).to_string()
}

const KEY_SET: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn digest(facts_json: &[u8], project_context: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(facts_json);
    hasher.update(project_context);
    hex::encode(hasher.finalize())
}

impl ContextCache {
    pub fn new(store: CacheStore) -> Self {
        Self { store, bound: LOOKUP_BOUND }
    }

    /// Changes the bound on a whole lookup or write (tests).
    #[must_use]
    pub fn with_bound(mut self, bound: Duration) -> Self {
        self.bound = bound;
        self
    }

    pub fn store(&self) -> &CacheStore {
        &self.store
    }

    /// Reads the entry of one commit; `None` when absent, incomplete, torn between two writers
    /// or of another schema version.
    pub async fn read_entry(&self, project: &str, branch: &str, sha: &str) -> Result<Option<Entry>, StoreError> {
        let prefix = entry_prefix(project, branch, sha);
        let Some(meta) = self.store.get(&format!("{prefix}{META_FILE}"), META_LIMIT).await? else {
            return Ok(None);
        };
        let Ok(meta) = serde_json::from_slice::<EntryMeta>(&meta) else { return Ok(None) };
        if meta.schema_version != SCHEMA_VERSION {
            return Ok(None);
        }
        let facts_json = self.store.get(&format!("{prefix}{FACTS_FILE}"), FACTS_LIMIT).await?;
        let context = self.store.get(&format!("{prefix}{PROJECT_CONTEXT_FILE}"), CONTEXT_LIMIT).await?;
        let (Some(facts_json), Some(context)) = (facts_json, context) else { return Ok(None) };
        if digest(&facts_json, &context) != meta.content_digest {
            return Ok(None);
        }
        let Ok(facts) = serde_json::from_slice::<Facts>(&facts_json) else { return Ok(None) };
        let Ok(project_context) = String::from_utf8(context.to_vec()) else { return Ok(None) };
        Ok(Some(Entry { meta, facts, project_context }))
    }

    /// [`Self::read_entry`] for lookups: an entry over the size caps is skipped like a damaged one.
    async fn read_usable(&self, project: &str, branch: &str, sha: &str) -> Result<Option<Entry>, StoreError> {
        match self.read_entry(project, branch, sha).await {
            Err(StoreError::TooLarge { key, limit }) => {
                tracing::warn!(%key, limit, "skipping a context cache entry over the size cap");
                Ok(None)
            }
            other => other,
        }
    }

    /// Writes an entry: the content files first, `meta.json` last, so a reader never takes a
    /// half-written entry for a whole one.
    pub async fn write_entry(
        &self,
        project: &str,
        branch: &str,
        sha: &str,
        facts: &Facts,
        project_context: &str,
        agent_written: bool,
    ) -> Result<EntryMeta, StoreError> {
        let write = async {
            let prefix = entry_prefix(project, branch, sha);
            let facts_json = serde_json::to_vec_pretty(facts)
                .map_err(|error| StoreError::Config(format!("cannot encode the facts: {error}")))?;
            let meta = EntryMeta {
                schema_version: SCHEMA_VERSION,
                sha: sha.to_owned(),
                branch: branch.to_owned(),
                created_at: Utc::now(),
                files_analysed: facts.files,
                agent_written,
                content_digest: digest(&facts_json, project_context.as_bytes()),
            };
            let meta_json = serde_json::to_vec_pretty(&meta)
                .map_err(|error| StoreError::Config(format!("cannot encode the entry meta: {error}")))?;
            self.store.put(&format!("{prefix}{FACTS_FILE}"), Bytes::from(facts_json)).await?;
            let context = Bytes::copy_from_slice(project_context.as_bytes());
            self.store.put(&format!("{prefix}{PROJECT_CONTEXT_FILE}"), context).await?;
            self.store.put(&format!("{prefix}{META_FILE}"), Bytes::from(meta_json)).await?;
            Ok(meta)
        };
        self.within_bound(write).await
    }

    /// Records which branch `branch` was created from (for level 4).
    pub async fn write_fork_relation(&self, project: &str, branch: &str, base_branch: &str) -> Result<(), StoreError> {
        let relation = ForkRelation { branch: branch.to_owned(), base_branch: base_branch.to_owned() };
        let json = serde_json::to_vec(&relation)
            .map_err(|error| StoreError::Config(format!("cannot encode the fork relation: {error}")))?;
        self.within_bound(self.store.put(&fork_relation_key(project, branch), Bytes::from(json))).await
    }

    pub async fn fork_relation(&self, project: &str, branch: &str) -> Result<Option<ForkRelation>, StoreError> {
        let bytes = self.store.get(&fork_relation_key(project, branch), META_LIMIT).await?;
        Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// The commits of a branch that have a `meta.json`, newest first, with its time.
    pub async fn branch_commits(
        &self,
        project: &str,
        branch: &str,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let prefix = commits_prefix(project, branch);
        let mut commits: Vec<(String, DateTime<Utc>)> = self
            .store
            .list(&prefix)
            .await?
            .into_iter()
            .filter_map(|object| {
                let rest = object.key.strip_prefix(&prefix)?;
                let (sha, file) = rest.split_once('/')?;
                let sha = percent_encoding::percent_decode_str(sha).decode_utf8().ok()?.into_owned();
                (file == META_FILE).then_some((sha, object.last_modified))
            })
            .collect();
        commits.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(commits)
    }

    /// The projects that hold entries.
    pub async fn projects(&self) -> Result<Vec<String>, StoreError> {
        let mut projects: Vec<String> = self
            .store
            .list("projects/")
            .await?
            .into_iter()
            .filter_map(|object| {
                let (project, _) = object.key.strip_prefix("projects/")?.split_once('/')?;
                Some(percent_encoding::percent_decode_str(project).decode_utf8().ok()?.into_owned())
            })
            .collect();
        projects.dedup();
        projects.sort();
        projects.dedup();
        Ok(projects)
    }

    /// The newest readable entry of a branch, for `cache show` without a commit.
    pub async fn latest_entry(&self, project: &str, branch: &str) -> Result<Option<Entry>, StoreError> {
        self.within_bound(self.branch_latest(project, branch)).await
    }

    /// The newest readable entry of a branch. Listing times have a one-second resolution on
    /// some stores, so the entries close to the newest are read and ordered by `created_at`.
    async fn branch_latest(&self, project: &str, branch: &str) -> Result<Option<Entry>, StoreError> {
        let commits = self.branch_commits(project, branch).await?;
        let Some(newest) = commits.first().map(|commit| commit.1) else { return Ok(None) };
        let close = newest - chrono::Duration::seconds(2);
        let mut best: Option<Entry> = None;
        for (sha, at) in commits.iter().take(MAX_LATEST_CANDIDATES) {
            if *at < close && best.is_some() {
                break;
            }
            if let Some(entry) = self.read_usable(project, branch, sha).await?
                && best.as_ref().is_none_or(|best| entry.meta.created_at > best.meta.created_at)
            {
                best = Some(entry);
            }
        }
        Ok(best)
    }

    async fn lookup_levels(&self, request: &LookupRequest<'_>) -> Result<(Level, Option<Entry>), StoreError> {
        let LookupRequest { project, branch, sha, ancestors, default_branch } = *request;
        if !sha.is_empty()
            && let Some(entry) = self.read_usable(project, branch, sha).await?
        {
            return Ok((Level::ExactCommit, Some(entry)));
        }
        if !ancestors.is_empty() {
            let cached: Vec<String> = self.branch_commits(project, branch).await?.into_iter().map(|c| c.0).collect();
            for ancestor in ancestors.iter().filter(|ancestor| cached.contains(ancestor)) {
                if let Some(entry) = self.read_usable(project, branch, ancestor).await? {
                    return Ok((Level::Ancestor, Some(entry)));
                }
            }
        }
        if let Some(entry) = self.branch_latest(project, branch).await? {
            return Ok((Level::BranchLatest, Some(entry)));
        }
        let base = match self.fork_relation(project, branch).await? {
            Some(relation) => Some(relation.base_branch),
            None => default_branch.map(str::to_owned),
        };
        if let Some(base) = base.filter(|base| base != branch)
            && let Some(entry) = self.branch_latest(project, &base).await?
        {
            return Ok((Level::CrossBranch, Some(entry)));
        }
        Ok((Level::FullAnalysis, None))
    }

    /// Finds the best entry for `request` within the bound; store trouble means level 5.
    pub async fn find(&self, request: &LookupRequest<'_>) -> Found {
        let started = Instant::now();
        let (level, entry, store_problem) = match self.within_bound(self.lookup_levels(request)).await {
            Ok((level, entry)) => (level, entry, None),
            Err(error) => {
                tracing::warn!(%error, "context cache unavailable; analysing the project in full");
                (Level::FullAnalysis, None, Some(error.to_string()))
            }
        };
        Found { level, entry, store_problem, elapsed: started.elapsed() }
    }

    async fn within_bound<T>(&self, work: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        tokio::time::timeout(self.bound, work).await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable {
                store: self.store.description().to_owned(),
                reason: format!("no answer within {} ms", self.bound.as_millis()),
            })
        })
    }

    /// Lists the entries of a branch that `prune` would delete: older than `older_than`, except
    /// the newest `keep`.
    pub async fn prunable(
        &self,
        project: &str,
        branch: &str,
        older_than: Duration,
        keep: usize,
    ) -> Result<Vec<String>, StoreError> {
        let cutoff = Utc::now() - chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
        Ok(self
            .branch_commits(project, branch)
            .await?
            .into_iter()
            .skip(keep)
            .filter(|(_, at)| *at < cutoff)
            .map(|(sha, _)| sha)
            .collect())
    }

    /// Deletes one entry, `meta.json` first so readers stop trusting it before its files go.
    pub async fn delete_entry(&self, project: &str, branch: &str, sha: &str) -> Result<(), StoreError> {
        let prefix = entry_prefix(project, branch, sha);
        for file in [META_FILE, FACTS_FILE, PROJECT_CONTEXT_FILE] {
            self.store.delete(&format!("{prefix}{file}")).await?;
        }
        Ok(())
    }

    /// The branches of a project that hold entries.
    pub async fn branches(&self, project: &str) -> Result<Vec<String>, StoreError> {
        let prefix = format!("projects/{}/branches/", key_part(project));
        let mut branches: Vec<String> = self
            .store
            .list(&prefix)
            .await?
            .into_iter()
            .filter_map(|object| {
                let (branch, _) = object.key.strip_prefix(&prefix)?.split_once('/')?;
                Some(percent_encoding::percent_decode_str(branch).decode_utf8().ok()?.into_owned())
            })
            .collect();
        branches.sort();
        branches.dedup();
        Ok(branches)
    }
}

/// Turns a lookup into the understanding to start from: level 1 as cached; levels 2 to 4
/// updated with [`super::analyze_paths`] over `changes_since(cached sha)` (or taken as cached
/// when git cannot say what changed); level 5 a full [`super::analyze`]. An agent-written
/// context is kept as is, a rendered one is rendered again from the updated facts.
///
/// It reads the checkout: call it from `spawn_blocking` in async code.
pub fn understand(
    root: &Path,
    found: Found,
    changes_since: impl FnOnce(&str) -> Option<Vec<Change>>,
) -> Result<Understanding, ContextError> {
    let Found { level, entry, store_problem, .. } = found;
    let Some(entry) = entry.filter(|_| level != Level::FullAnalysis) else {
        let facts = super::analyze(root)?;
        let project_context = super::project_context(&facts);
        return Ok(Understanding {
            level: Level::FullAnalysis,
            facts,
            project_context,
            agent_written: false,
            from: None,
            store_problem,
        });
    };
    let from = Some((entry.meta.branch.clone(), entry.meta.sha.clone()));
    let facts = match level {
        Level::ExactCommit => entry.facts,
        _ => match changes_since(&entry.meta.sha) {
            Some(changes) => super::analyze_paths(root, &changes, &entry.facts)?,
            None => entry.facts,
        },
    };
    let project_context = if entry.meta.agent_written || level == Level::ExactCommit {
        entry.project_context
    } else {
        super::project_context(&facts)
    };
    Ok(Understanding { level, facts, project_context, agent_written: entry.meta.agent_written, from, store_problem })
}
