//! The context cache inside real jobs, with `ENABLE_PROJECT_UNDERSTANDING` on. The first job
//! analyses in full and the agent writes `project_context.md`; the next job on the branch starts
//! from that entry (level 3), asks the agent to update it for the changed files, a third finds
//! its exact commit (level 1), a fourth after a person's two pushes fetches the history its
//! depth-1 clone lacks and finds the entry as an ancestor (level 2), and a job for another issue
//! starts from the base branch's entry (level 4). The level is in the job log and in `summary.json`, and the understanding reaches
//! the stage prompts. A store that never answers costs a bounded wait and a full analysis,
//! never the job.

use serde_json::Value;

use super::rig::{PROJECT, Paths, Rig, greeting_script};
use copilot_runner_testkit::ci_job::text;
use copilot_runner_testkit::mock_model::{Reply, Rule, Script};

const FIRST_UNDERSTANDING: &str = "# Widgets\nPurpose: the widgets service (understanding-first-draft).\n";
const UPDATED_UNDERSTANDING: &str = "# Widgets\nPurpose: the widgets service (understanding-after-update).\n";
const UNDERSTANDING_STAGE: &str = "copilot-runner-stage: understanding";

/// The greeting issue's script, plus the understanding stage: written afresh, or updated when
/// the prompt asks for an update.
fn script(paths: &Paths) -> Script {
    let output = paths.work.join("understanding/scratch/project_context.md").display().to_string();
    greeting_script(paths)
        .rule(
            Rule::when("## Update the earlier understanding")
                .then(Reply::create(&output, UPDATED_UNDERSTANDING))
                .then(Reply::text("Updated.")),
        )
        .rule(
            Rule::when(UNDERSTANDING_STAGE)
                .then(Reply::create(&output, FIRST_UNDERSTANDING))
                .then(Reply::text("Written.")),
        )
}

/// A rig whose agent is assigned to a new greeting issue, with the understanding stage on.
async fn start() -> (Rig, u64) {
    let mut rig = Rig::start(script).await;
    let issue = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.\n");
    rig.assign(issue, "alice");
    rig.job.set("ENABLE_PROJECT_UNDERSTANDING", "true");
    (rig, issue)
}

/// Runs the job to a successful end and returns its log and `summary.json`'s `context`.
async fn run(rig: &Rig) -> (String, Value) {
    let out = rig.run().await;
    let log = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    let summary = std::fs::read(rig.paths.artifacts.join("summary.json")).unwrap();
    let summary: Value = serde_json::from_slice(&summary).unwrap();
    (log, summary["context"].clone())
}

/// Every stage prompt of the last run (analysis, implementation, …), concatenated.
fn stage_prompts(rig: &Rig) -> String {
    let mut prompts = String::new();
    for stage in std::fs::read_dir(rig.paths.artifacts.join("stages")).unwrap() {
        let prompt = stage.unwrap().path().join("prompt-1.md");
        prompts.push_str(&std::fs::read_to_string(&prompt).unwrap_or_default());
    }
    prompts
}

/// What the job log says when the shallow clone fetches the ancestors the cache looks at.
const FETCHED_HISTORY: &str = "fetching the history the context cache looks at";

/// How many model requests came from the understanding stage so far.
fn understanding_requests(rig: &Rig) -> usize {
    rig.model.requests().iter().filter(|request| request.json().to_string().contains(UNDERSTANDING_STAGE)).count()
}

/// The cached entry's `meta.json` for one commit of `branch`, from the default file store
/// (`$CI_PROJECT_DIR/.copilot-cache`).
fn cached_meta(rig: &Rig, branch: &str, sha: &str) -> Option<Value> {
    let branch = branch.replace('/', "%2F");
    let meta = rig.paths.job_dir.join(format!(
        "agent-project/.copilot-cache/projects/{}/branches/{branch}/commits/{sha}/meta.json",
        rig.project_id
    ));
    std::fs::read(meta).ok().map(|bytes| serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn later_jobs_start_from_the_cached_understanding_and_update_it() {
    let (mut rig, issue) = start().await;
    let branch = format!("copilot/issue-{issue}");
    let base = rig.gitlab.branch_head(PROJECT, "main").await.unwrap();

    // First job: nothing cached, a full analysis; the agent writes the understanding, the
    // stages read it, and the entry is cached under the commit the branch started from.
    let (log, context) = run(&rig).await;
    assert!(log.contains("project understanding from the context cache: level 5 (full analysis)"), "{log}");
    assert!(!log.contains(FETCHED_HISTORY), "the clone stays at its tip when the cache has nothing: {log}");
    assert_eq!(context["level"], "full_analysis", "{context}");
    assert_eq!(context["level_number"], 5);
    assert_eq!(context["commit"], base.as_str());
    assert_eq!(context["understanding_stage"], "written", "{context}");
    assert_eq!(context["cache_write"], "written", "{context}");
    assert!(stage_prompts(&rig).contains("understanding-first-draft"), "the stages did not get the understanding");
    let meta = cached_meta(&rig, &branch, &base).expect("an entry for the base commit");
    assert_eq!(meta["agent_written"], true);
    let head = rig.gitlab.branch_head(PROJECT, &branch).await.unwrap();
    assert_ne!(head, base, "the first job pushed a commit");

    // Second job on the branch: the branch's newest entry is for its head's parent, which the
    // clone holds (the base it fetched the branch onto), so level 3 without fetching history;
    // only greeting.txt is analysed again and the agent is asked to update the text, not to
    // write a new one.
    let (log, context) = run(&rig).await;
    assert!(log.contains("project understanding from the context cache: level 3 (branch latest)"), "{log}");
    assert!(!log.contains(FETCHED_HISTORY), "the entry's commit is in the clone: {log}");
    assert_eq!(context["level"], "branch_latest", "{context}");
    assert_eq!(context["from_commit"], base.as_str());
    assert_eq!(context["commit"], head.as_str());
    assert_eq!(context["changed_files"], 1, "{context}");
    assert_eq!(context["understanding_stage"], "updated", "{context}");
    let update_prompt = std::fs::read_to_string(rig.paths.artifacts.join("understanding/prompt-1.md")).unwrap();
    assert!(update_prompt.contains("understanding-first-draft"), "{update_prompt}");
    assert!(update_prompt.contains("greeting.txt"), "{update_prompt}");
    assert!(stage_prompts(&rig).contains("understanding-after-update"));
    let facts: Value = serde_json::from_slice(&std::fs::read(rig.paths.artifacts.join("facts.json")).unwrap()).unwrap();
    assert!(facts["files"].as_u64().unwrap() >= 2, "{facts}");
    assert_eq!(cached_meta(&rig, &branch, &head).expect("an entry for the branch head")["agent_written"], true);

    // Third job: the branch has not moved, so its exact commit is cached (level 1) and the
    // understanding is reused without asking the agent.
    let asked = understanding_requests(&rig);
    let (log, context) = run(&rig).await;
    assert!(log.contains("project understanding from the context cache: level 1 (exact commit)"), "{log}");
    assert!(!log.contains(FETCHED_HISTORY), "an exact hit needs no history: {log}");
    assert_eq!(understanding_requests(&rig), asked, "the agent was asked again for a cached understanding");
    assert_eq!(context["level"], "exact_commit", "{context}");
    assert_eq!(context["understanding_stage"], "reused", "{context}");
    assert_eq!(context["cache_write"], "unchanged", "{context}");
    assert!(stage_prompts(&rig).contains("understanding-after-update"));

    // A person pushes two commits onto the branch. The next job's clone holds the tip only, and
    // the branch's newest entry is for the commit two below it, which the clone lacks: the job
    // fetches the ancestors level 2 looks at and starts from that entry as an ancestor.
    for (file, text) in [("NOTES.md", "one\n"), ("TODO.md", "two\n")] {
        rig.gitlab.push_files(PROJECT, &branch, &[(file, Some(text))], "Notes", "alice").await.unwrap();
    }
    let (log, context) = run(&rig).await;
    assert!(log.contains(FETCHED_HISTORY), "the clone lacked the entry's commit: {log}");
    assert!(log.contains("project understanding from the context cache: level 2 (ancestor commit)"), "{log}");
    assert_eq!(context["level"], "ancestor", "{context}");
    assert_eq!(context["from_commit"], head.as_str());
    assert_eq!(context["changed_files"], 2, "{context}");

    // Another issue: its new branch has no entry, but the base branch got one when the first
    // branch started from it, so level 4; the base has not moved, so nothing is analysed again.
    let other = rig.issue("alice", "Add another greeting", "Please add greeting.txt too.\n");
    rig.assign(other, "alice");
    let asked = understanding_requests(&rig);
    let (log, context) = run(&rig).await;
    assert!(log.contains("project understanding from the context cache: level 4 (cross-branch)"), "{log}");
    assert!(!log.contains(FETCHED_HISTORY), "the base's entry is for the clone's own tip: {log}");
    assert_eq!(context["level"], "cross_branch", "{context}");
    assert_eq!(context["from_branch"], "main", "{context}");
    assert_eq!(context["from_commit"], base.as_str());
    assert_eq!(context["changed_files"], 0, "{context}");
    assert_eq!(context["understanding_stage"], "reused", "{context}");
    assert_eq!(understanding_requests(&rig), asked);
    assert!(stage_prompts(&rig).contains("understanding-first-draft"));
}

#[tokio::test]
async fn a_store_that_never_answers_means_a_full_analysis_within_the_bound() {
    let (mut rig, issue) = start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let secret = "never-in-the-log-3f9a";
    rig.job
        .set("CONTEXT_CACHE_URL", "s3://context/runner")
        .set("AWS_ACCESS_KEY_ID", "cache-key-id")
        .set("AWS_SECRET_ACCESS_KEY", secret)
        .set("AWS_REGION", "us-east-1")
        .set("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));

    let (log, context) = run(&rig).await;
    silent.abort();
    assert!(log.contains("project understanding from the context cache: level 5 (full analysis)"), "{log}");
    assert!(!log.contains(FETCHED_HISTORY), "the clone stays at its tip when the cache has nothing: {log}");
    assert_eq!(context["level"], "full_analysis", "{context}");
    assert!(context["store_problem"].as_str().unwrap().contains("unavailable"), "{context}");
    // The lookup's bound, plus room for a machine at load 15 to schedule the job again after it.
    let allowed = copilot_runner::context::cache::LOOKUP_BOUND + std::time::Duration::from_secs(3);
    assert!(u128::from(context["lookup_ms"].as_u64().unwrap()) <= allowed.as_millis(), "{context}");
    assert!(context["cache_write"].as_str().unwrap().starts_with("skipped"), "{context}");
    assert_eq!(context["understanding_stage"], "written", "{context}");
    assert!(!log.contains(secret), "the store's secret reached the job log");
    let branch = format!("copilot/issue-{issue}");
    assert_eq!(rig.gitlab.read_file(PROJECT, &branch, "greeting.txt").await.as_deref(), Some("hello\n"));
}
