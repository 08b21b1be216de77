//! The context cache against real stores: a local folder, Azurite (Azure Blob) and moto (S3) on
//! loopback run one shared suite over the five lookup levels, the incremental update, torn and
//! concurrent writes and pruning; stores that refuse or hang degrade to a full analysis in time.
//! The monthly spending records kept in the same stores are in `spend_ledger`.
#![expect(clippy::disallowed_methods, reason = "tests start the blob servers as child processes")]

mod servers;
mod spend_ledger;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use copilot_runner::config::Env;
use copilot_runner::context::cache::{ContextCache, Found, Level, LookupRequest, understand};
use copilot_runner::context::store::{CacheStore, StoreError};
use copilot_runner::context::{self, Change, Facts};

const MAIN: &str = "main";
const FEATURE: &str = "copilot/fix-7";

fn sha(n: u8) -> String {
    format!("{n:02x}").repeat(20)
}

fn write(root: &Path, path: &str, contents: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, contents).expect("write");
}

fn project_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "Cargo.toml", "[package]\nname = \"widgets\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    write(dir.path(), "src/main.rs", "fn main() {\n    println!(\"widgets\");\n}\n");
    write(dir.path(), "README.md", "# Widgets\n\nMakes widgets.\n");
    dir
}

fn request<'a>(branch: &'a str, sha: &'a str, ancestors: &'a [String]) -> LookupRequest<'a> {
    LookupRequest { project: "", branch, sha, ancestors, default_branch: Some(MAIN) }
}

/// Runs the lookup for `project` and returns the level and the understanding.
async fn look_up(
    cache: &ContextCache,
    project: &str,
    lookup: LookupRequest<'_>,
    root: &Path,
    changes: Option<Vec<Change>>,
) -> (Found, context::cache::Understanding) {
    let found = cache.find(&LookupRequest { project, ..lookup }).await;
    let understanding = understand(root, found.clone(), |_| changes).expect("understand");
    (found, understanding)
}

/// The suite every store runs: all five levels, the incremental update, torn entries,
/// concurrent writers, size caps and pruning.
async fn exercise(cache: ContextCache) {
    let project = format!("42-{}", std::process::id());
    let project = project.as_str();
    let tree = project_tree();
    let root = tree.path();

    // Level 5: nothing cached yet.
    let (found, first) = look_up(&cache, project, request(MAIN, &sha(1), &[]), root, None).await;
    assert_eq!(found.level, Level::FullAnalysis);
    assert!(found.store_problem.is_none(), "{:?}", found.store_problem);
    assert_eq!(first.facts, context::analyze(root).expect("analyze"));
    cache.write_entry(project, MAIN, &sha(1), &first.facts, &first.project_context, false).await.expect("write");

    // Level 1: the exact commit.
    let (found, exact) = look_up(&cache, project, request(MAIN, &sha(1), &[]), root, None).await;
    assert_eq!(found.level, Level::ExactCommit);
    assert_eq!(exact.facts, first.facts);
    assert_eq!(exact.project_context, first.project_context);
    let meta = found.entry.expect("entry").meta;
    assert_eq!((meta.sha.as_str(), meta.branch.as_str(), meta.files_analysed), (sha(1).as_str(), MAIN, 3));

    // Level 2: a cached ancestor, updated from the changed paths only.
    let readme_before = std::fs::metadata(root.join("README.md")).expect("stat").len();
    write(
        root,
        "package.json",
        r#"{"name": "widgets-ui", "scripts": {"test": "vitest"}, "devDependencies": {"vitest": "1"}}"#,
    );
    write(root, "README.md", "# Widgets\n\nMakes widgets, now with a UI.\n");
    let changes = vec![
        Change { path: "package.json".into(), previous_bytes: None },
        Change { path: "README.md".into(), previous_bytes: Some(readme_before) },
    ];
    let ancestors = vec![sha(9), sha(1)];
    let (found, updated) = look_up(&cache, project, request(MAIN, &sha(2), &ancestors), root, Some(changes)).await;
    assert_eq!(found.level, Level::Ancestor);
    assert_eq!(updated.from, Some((MAIN.to_owned(), sha(1))));
    let full = context::analyze(root).expect("analyze");
    assert_eq!(updated.facts, full, "the incremental update equals a full analysis");
    assert_eq!(updated.project_context, context::project_context(&full));
    cache
        .write_entry(project, MAIN, &sha(2), &updated.facts, "agent-written understanding", true)
        .await
        .expect("write");

    // Level 3: the newest entry of the branch (no cached ancestor given).
    let (found, latest) = look_up(&cache, project, request(MAIN, &sha(3), &[]), root, None).await;
    assert_eq!(found.level, Level::BranchLatest);
    assert_eq!(latest.from, Some((MAIN.to_owned(), sha(2))));
    assert!(latest.agent_written);
    assert_eq!(latest.project_context, "agent-written understanding", "agent-written context is kept");

    // Level 4: the base branch named by the fork relation, then the default branch.
    cache.write_fork_relation(project, FEATURE, MAIN).await.expect("fork relation");
    let relation = cache.fork_relation(project, FEATURE).await.expect("read").expect("relation");
    assert_eq!(relation.base_branch, MAIN);
    let (found, crossed) = look_up(&cache, project, request(FEATURE, &sha(4), &[]), root, None).await;
    assert_eq!(found.level, Level::CrossBranch);
    assert_eq!(crossed.from, Some((MAIN.to_owned(), sha(2))));
    let (found, _) = look_up(&cache, project, request("unrelated", &sha(5), &[]), root, None).await;
    assert_eq!(found.level, Level::CrossBranch, "the default branch when no fork relation is known");
    let five = sha(5);
    let no_default = LookupRequest { default_branch: None, ..request("unrelated", &five, &[]) };
    assert_eq!(look_up(&cache, project, no_default, root, None).await.0.level, Level::FullAnalysis);

    // An entry whose meta.json is missing does not exist; one torn between writers neither.
    let store = cache.store();
    let torn = format!("projects/{project}/branches/{MAIN}/commits/{}/", sha(6));
    store.put(&format!("{torn}facts.json"), Bytes::from(serde_json::to_vec(&full).expect("json"))).await.expect("put");
    store.put(&format!("{torn}project_context.md"), Bytes::from_static(b"partial")).await.expect("put");
    assert_eq!(cache.read_entry(project, MAIN, &sha(6)).await.expect("read"), None);
    let (found, _) = look_up(&cache, project, request(MAIN, &sha(6), &[]), root, None).await;
    assert_eq!(found.level, Level::BranchLatest, "an entry without meta.json is not an exact hit");
    cache.write_entry(project, MAIN, &sha(7), &full, "seven", false).await.expect("write");
    store
        .put(&format!("projects/{project}/branches/{MAIN}/commits/{}/project_context.md", sha(7)), "other".into())
        .await
        .expect("put");
    assert_eq!(cache.read_entry(project, MAIN, &sha(7)).await.expect("read"), None, "digest mismatch");

    // Size caps: an object larger than the reader accepts is refused, not read.
    let big = Bytes::from(vec![b'x'; 70 * 1024]);
    store.put(&format!("projects/{project}/branches/{MAIN}/commits/{}/meta.json", sha(8)), big).await.expect("put");
    let error = cache.read_entry(project, MAIN, &sha(8)).await.expect_err("too large");
    assert!(matches!(error, StoreError::TooLarge { .. }), "{error}");

    concurrent_writers(&cache, project, &full).await;

    // Pruning keeps the newest entries per branch.
    let commits = cache.branch_commits(project, MAIN).await.expect("list");
    assert!(commits.len() >= 3, "{commits:?}");
    let prunable = cache.prunable(project, MAIN, Duration::ZERO, 2).await.expect("prunable");
    assert_eq!(prunable.len(), commits.len() - 2);
    for sha in &prunable {
        cache.delete_entry(project, MAIN, sha).await.expect("delete");
    }
    assert_eq!(cache.branch_commits(project, MAIN).await.expect("list").len(), 2);
    assert!(cache.prunable(project, MAIN, Duration::from_secs(86_400), 0).await.expect("prunable").is_empty());
    assert_eq!(cache.branches(project).await.expect("branches"), vec![FEATURE.to_owned(), MAIN.to_owned()]);
}

/// Two jobs finishing the same commit at once: same content stays readable; different content
/// reads as one writer's entry or as absent, never as a mix.
async fn concurrent_writers(cache: &ContextCache, project: &str, facts: &Facts) {
    let same = sha(10);
    let (a, b) = tokio::join!(
        cache.write_entry(project, FEATURE, &same, facts, "same", false),
        cache.write_entry(project, FEATURE, &same, facts, "same", false),
    );
    a.expect("first writer");
    b.expect("second writer");
    let entry = cache.read_entry(project, FEATURE, &same).await.expect("read").expect("entry");
    assert_eq!((&entry.facts, entry.project_context.as_str()), (facts, "same"));

    let mut other = facts.clone();
    other.files += 1;
    for round in 0..4_u8 {
        let key = sha(20 + round);
        let (a, b) = tokio::join!(
            cache.write_entry(project, FEATURE, &key, facts, "writer a", false),
            cache.write_entry(project, FEATURE, &key, &other, "writer b", true),
        );
        a.expect("writer a");
        b.expect("writer b");
        if let Some(entry) = cache.read_entry(project, FEATURE, &key).await.expect("read") {
            let from_a = entry.facts == *facts && entry.project_context == "writer a" && !entry.meta.agent_written;
            let from_b = entry.facts == other && entry.project_context == "writer b" && entry.meta.agent_written;
            assert!(from_a || from_b, "a mixed entry was read: {entry:?}");
        }
    }
}

fn runtime_test(test: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime").block_on(async {
        tokio::time::timeout(Duration::from_secs(120), test).await.expect("test finishes in time");
    });
}

#[test]
fn levels_and_incremental_update_on_a_local_folder() {
    runtime_test(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}", dir.path().join("cache").display());
        let store = CacheStore::open(&url, None, &Env::from_pairs::<String, String>([])).expect("open");
        exercise(ContextCache::new(store)).await;
    });
}

#[test]
fn levels_and_incremental_update_on_azurite() {
    runtime_test(async {
        let (server, store) = azurite_store().await;
        exercise(ContextCache::new(store)).await;
        let connection = azurite_connection(server.port);
        let masked = copilot_runner::redact::redact(&connection);
        assert!(!masked.contains(servers::AZURITE_KEY), "the account key is registered as a secret: {masked}");
    });
}

/// Azurite on loopback with a `context` container, and the store `az://context/runner` in it;
/// the server stops when dropped.
async fn azurite_store() -> (servers::Server, CacheStore) {
    let server = servers::azurite().await;
    servers::create_azurite_container(server.port, "context").await;
    let connection = azurite_connection(server.port);
    let store = CacheStore::open("az://context/runner", Some(&connection), &Env::from_pairs::<String, String>([]))
        .expect("open");
    (server, store)
}

/// moto on loopback with a `context` bucket, and the store `s3://context/runner` in it.
async fn s3_store() -> (servers::Server, CacheStore) {
    let server = servers::moto().await;
    servers::create_moto_bucket(server.port, "context").await;
    let store = CacheStore::open("s3://context/runner", None, &s3_env(server.port)).expect("open");
    (server, store)
}

/// The connection string of the Azurite account on `port`.
fn azurite_connection(port: u16) -> String {
    format!(
        "DefaultEndpointsProtocol=http;AccountName={};AccountKey={};BlobEndpoint=http://127.0.0.1:{port}/{};",
        servers::AZURITE_ACCOUNT,
        servers::AZURITE_KEY,
        servers::AZURITE_ACCOUNT
    )
}

fn s3_env(port: u16) -> Env {
    Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", "testing-key-id".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing-secret-key".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
    ])
}

#[test]
fn levels_and_incremental_update_on_s3() {
    runtime_test(async {
        let (_server, store) = s3_store().await;
        exercise(ContextCache::new(store)).await;
    });
}

/// The job must go on with a full analysis, within the bound, and later writes fail at once.
async fn degrades_to_full_analysis(store: CacheStore) {
    let tree = project_tree();
    let cache = ContextCache::new(store);
    let started = Instant::now();
    let (found, understanding) = look_up(&cache, "42", request(MAIN, &sha(1), &[sha(0)]), tree.path(), None).await;
    // The lookup's bound, plus room for the local analysis and a machine at load 15.
    let allowed = copilot_runner::context::cache::LOOKUP_BOUND + Duration::from_secs(4);
    assert!(started.elapsed() < allowed, "took {:?}", started.elapsed());
    assert_eq!(found.level, Level::FullAnalysis);
    assert!(found.store_problem.is_some());
    assert_eq!(understanding.facts, context::analyze(tree.path()).expect("analyze"));
    let started = Instant::now();
    let written = cache.write_entry("42", MAIN, &sha(1), &understanding.facts, "x", false).await;
    assert!(matches!(written, Err(StoreError::Unavailable { .. })), "{written:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "a store found down is not waited on again");
}

#[test]
fn a_store_that_refuses_connections_means_a_full_analysis() {
    runtime_test(async {
        let port = servers::closed_port().await;
        let store = CacheStore::open("s3://context/runner", None, &s3_env(port)).expect("open");
        degrades_to_full_analysis(store).await;
        let connection = format!(
            "AccountName=devstoreaccount1;AccountKey={};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1",
            servers::AZURITE_KEY
        );
        let store =
            CacheStore::open("az://context", Some(&connection), &Env::from_pairs::<String, String>([])).expect("open");
        degrades_to_full_analysis(store).await;
    });
}

#[test]
fn a_store_that_never_answers_means_a_full_analysis_within_the_bound() {
    runtime_test(async {
        let (port, listener) = servers::silent_listener().await;
        let store = CacheStore::open("s3://context/runner", None, &s3_env(port)).expect("open");
        degrades_to_full_analysis(store).await;
        listener.abort();
    });
}
