//! `copilot-runner cache`: looks into the context cache named by `CONTEXT_CACHE_URL` — which
//! level a job would hit (`find`), what an entry holds (`show`) — and keeps it small (`prune`).
//! Unlike a job, these commands fail when the store is unusable: that is what they are asked
//! about.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::AsyncWriteExt as _;

use crate::config::{Env, Settings};
use crate::context::cache::{ContextCache, Entry, LookupRequest};
use crate::context::store::CacheStore;
use crate::exit::{self, Code};

#[derive(Debug, clap::Args)]
pub(crate) struct CacheArgs {
    #[command(subcommand)]
    command: CacheCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CacheCommand {
    /// Print the lookup level a job for this project, branch and commit would hit
    Find {
        #[command(flatten)]
        at: EntryArgs,
        /// Cached ancestors to consider for level 2, nearest first (repeatable)
        #[arg(long = "ancestor", value_name = "SHA")]
        ancestors: Vec<String>,
        /// The default branch, for level 4 when no fork relation is recorded
        #[arg(long, value_name = "BRANCH")]
        default_branch: Option<String>,
    },
    /// Print an entry's meta and project context (the branch's newest without `--sha`)
    Show {
        #[command(flatten)]
        at: EntryArgs,
    },
    /// Delete entries older than `--older-than` days, keeping the newest `--keep` per branch
    Prune {
        /// Age in days past which an entry may go
        #[arg(long, value_name = "DAYS")]
        older_than: u64,
        /// Entries per branch always kept, newest first
        #[arg(long, value_name = "N", default_value_t = 1)]
        keep: usize,
        /// Only this project (default: every project in the store)
        #[arg(long, value_name = "ID")]
        project: Option<String>,
        /// Print what would be deleted without deleting it
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, clap::Args)]
struct EntryArgs {
    /// Project id
    #[arg(long, value_name = "ID")]
    project: String,
    /// Branch name
    #[arg(long, value_name = "BRANCH")]
    branch: String,
    /// Commit SHA
    #[arg(long, value_name = "SHA")]
    sha: Option<String>,
}

pub(crate) async fn run(args: CacheArgs, settings: Settings, env: Env) -> anyhow::Result<Code> {
    let store = CacheStore::from_settings(&settings.cache, &env).context("while opening the context cache")?;
    let cache = ContextCache::new(store);
    let (output, code) = output(&cache, args.command).await?;
    let mut stdout = tokio::io::stdout();
    stdout.write_all(output.as_bytes()).await.context("while printing the cache report")?;
    stdout.flush().await.context("while printing the cache report")?;
    Ok(code)
}

async fn output(cache: &ContextCache, command: CacheCommand) -> anyhow::Result<(String, Code)> {
    let mut out = String::new();
    match command {
        CacheCommand::Find { at, ancestors, default_branch } => {
            let request = LookupRequest {
                project: &at.project,
                branch: &at.branch,
                sha: at.sha.as_deref().unwrap_or(""),
                ancestors: &ancestors,
                default_branch: default_branch.as_deref(),
            };
            let found = cache.find(&request).await;
            if let Some(problem) = found.store_problem {
                return Err(anyhow::Error::new(exit::Unreachable(problem))
                    .context(format!("while looking up `{}` in the context cache", cache.store().description())));
            }
            let _ = writeln!(out, "{}", found.level);
            if let Some(entry) = &found.entry {
                let _ = writeln!(out, "from {} {} ({})", entry.meta.branch, entry.meta.sha, entry.meta.created_at);
            }
            let _ = writeln!(out, "lookup took {} ms", found.elapsed.as_millis());
        }
        CacheCommand::Show { at } => {
            let entry = match &at.sha {
                Some(sha) => cache.read_entry(&at.project, &at.branch, sha).await,
                None => cache.latest_entry(&at.project, &at.branch).await,
            }
            .context("while reading the context cache entry")?;
            let Some(Entry { meta, project_context, .. }) = entry else {
                let _ = writeln!(out, "no entry for project {} on `{}`", at.project, at.branch);
                return Ok((out, Code::WorkFailed));
            };
            let meta = serde_json::to_string_pretty(&meta).context("while printing the entry meta")?;
            let _ = writeln!(out, "{meta}\n\n{project_context}");
        }
        CacheCommand::Prune { older_than, keep, project, dry_run } => {
            let older_than = Duration::from_secs(older_than.saturating_mul(86_400));
            let projects = match project {
                Some(project) => vec![project],
                None => cache.projects().await.context("while listing the cached projects")?,
            };
            let mut deleted = 0_usize;
            for project in &projects {
                for branch in cache.branches(project).await.context("while listing the cached branches")? {
                    let prunable = cache.prunable(project, &branch, older_than, keep).await?;
                    for sha in prunable {
                        if !dry_run {
                            cache.delete_entry(project, &branch, &sha).await.context("while pruning")?;
                        }
                        deleted += 1;
                        let _ = writeln!(
                            out,
                            "{} {project} {branch} {sha}",
                            if dry_run { "would delete" } else { "deleted" }
                        );
                    }
                }
            }
            let _ = writeln!(out, "{deleted} entries {}", if dry_run { "to delete" } else { "deleted" });
        }
    }
    Ok((out, Code::Done))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(dir: &std::path::Path) -> ContextCache {
        ContextCache::new(CacheStore::local(dir).expect("store"))
    }

    fn entry_at(project: &str, branch: &str, sha: Option<&str>) -> EntryArgs {
        EntryArgs { project: project.to_owned(), branch: branch.to_owned(), sha: sha.map(str::to_owned) }
    }

    #[tokio::test]
    async fn find_show_and_prune_report_what_the_cache_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = cache(dir.path());
        let facts = crate::context::Facts::default();
        for sha in ["a1", "b2", "c3"] {
            cache.write_entry("7", "main", sha, &facts, &format!("context {sha}"), false).await.expect("write");
        }

        let find =
            CacheCommand::Find { at: entry_at("7", "main", Some("b2")), ancestors: vec![], default_branch: None };
        let (out, code) = output(&cache, find).await.expect("find");
        assert_eq!(code, Code::Done);
        assert!(out.starts_with("level 1 (exact commit)\nfrom main b2"), "{out}");
        let find = CacheCommand::Find {
            at: entry_at("7", "dev", None),
            ancestors: vec![],
            default_branch: Some("main".into()),
        };
        let (out, _) = output(&cache, find).await.expect("find");
        assert!(out.starts_with("level 4 (cross-branch)"), "{out}");

        let (out, _) =
            output(&cache, CacheCommand::Show { at: entry_at("7", "main", Some("a1")) }).await.expect("show");
        assert!(out.contains("\"sha\": \"a1\"") && out.ends_with("context a1\n"), "{out}");
        let (_, code) = output(&cache, CacheCommand::Show { at: entry_at("7", "dev", None) }).await.expect("show");
        assert_eq!(code, Code::WorkFailed);

        let prune = CacheCommand::Prune { older_than: 0, keep: 1, project: None, dry_run: true };
        let (out, _) = output(&cache, prune).await.expect("prune");
        assert!(out.ends_with("2 entries to delete\n"), "{out}");
        assert_eq!(cache.branch_commits("7", "main").await.expect("list").len(), 3);
        let prune = CacheCommand::Prune { older_than: 0, keep: 1, project: Some("7".into()), dry_run: false };
        output(&cache, prune).await.expect("prune");
        assert_eq!(cache.branch_commits("7", "main").await.expect("list").len(), 1);
        let prune = CacheCommand::Prune { older_than: 30, keep: 0, project: None, dry_run: false };
        let (out, _) = output(&cache, prune).await.expect("prune");
        assert!(out.ends_with("0 entries deleted\n"), "{out}");
    }
}
