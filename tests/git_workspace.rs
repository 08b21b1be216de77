//! The git workspace against the fake GitLab's real git smart HTTP: clone with a token that
//! never lands on disk, in a URL or in a log; access failures as typed errors; shallow depth,
//! deepened on demand when a rebase needs an older merge base; commits as the agent with
//! trailers; fast-forward pushes; a person's concurrent push is never overwritten.
#![expect(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    reason = "tests run real git, read their own environment, and fail by panicking"
)]

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use copilot_runner::config::Env;
use copilot_runner::git::{GitCommand, GitError, Identity, PushOutcome, Remote, Workspace};
use copilot_runner_testkit::FakeGitLab;
use copilot_runner_testkit::poisoned_git::Poison;

const PROJECT: &str = "acme/widgets";

/// Every log line this test process writes, at every level.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(Arc::clone(&sink)))
            .init();
        logs
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Plain `git` for inspecting a clone, isolated from the machine's configuration.
fn git(dir: &Path, args: &[&str]) -> String {
    git_as(dir, args, None)
}

/// Plain `git` as a person with a token of their own (sent as a header, as the agent does).
fn git_as(dir: &Path, args: &[&str], token: Option<&str>) -> String {
    let mut command = std::process::Command::new("git");
    command
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Alice")
        .env("GIT_AUTHOR_EMAIL", "alice@example.com")
        .env("GIT_COMMITTER_NAME", "Alice")
        .env("GIT_COMMITTER_EMAIL", "alice@example.com")
        .stdin(Stdio::null());
    if let Some(token) = token {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{token}"));
        command
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env("GIT_CONFIG_VALUE_0", format!("Authorization: Basic {basic}"));
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn git_command(home: &Path) -> GitCommand {
    let agent = Identity { name: "Copilot Agent".to_owned(), email: "copilot-agent@example.com".to_owned() };
    GitCommand::new(&Env::capture(), home, agent)
}

async fn clone_as(
    fake: &FakeGitLab,
    token: Option<String>,
    dest: &Path,
    depth: Option<u32>,
) -> Result<Workspace, GitError> {
    let remote = Remote::new(&fake.git_url(PROJECT), token.map(Into::into)).unwrap();
    Workspace::clone(git_command(dest), remote, dest, depth, None).await
}

async fn clone(fake: &FakeGitLab, dest: &Path, depth: Option<u32>) -> Workspace {
    clone_as(fake, Some(fake.agent_token()), dest, depth).await.unwrap()
}

/// Whether the clone at `dir` holds object `sha`.
fn has_object(dir: &Path, sha: &str) -> bool {
    let status = std::process::Command::new("git")
        .args(["cat-file", "-e", sha])
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null())
        .status()
        .unwrap();
    status.success()
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn clone_with_a_token_keeps_it_out_of_config_remote_url_and_logs() {
    let logs = captured_logs();
    let fake = FakeGitLab::start().await.unwrap();
    let token = fake.agent_token();
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("oauth2:{token}"));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("widgets");

    let workspace = clone(&fake, &dest, Some(1)).await;
    assert!(read(dest.join("src/lib.rs")).contains("pub fn add"));
    assert_eq!(workspace.default_branch(), "main");

    // Push through the CLI as well, so both transports have carried the token.
    workspace.checkout_or_create_branch("copilot/issue-1", None).await.unwrap();
    std::fs::write(dest.join("NEW.md"), "new\n").unwrap();
    workspace.commit_all("Add NEW.md", &[]).await.unwrap().unwrap();
    let head = workspace.push("copilot/issue-1").await.unwrap();
    assert_eq!(fake.branch_head(PROJECT, "copilot/issue-1").await.as_deref(), Some(head.as_str()));

    let config = read(workspace.git_dir().join("config"));
    for secret in [&token, &encoded] {
        assert!(!config.contains(secret.as_str()), ".git/config holds a credential:\n{config}");
    }
    assert!(!config.to_lowercase().contains("extraheader"), "{config}");
    assert_eq!(git(&dest, &["remote", "get-url", "origin"]).trim(), fake.git_url(PROJECT));
    assert!(!git(&dest, &["config", "--list", "--show-origin"]).contains(&token));

    // The clone and fetches (upload-pack) and the push (receive-pack) authenticated with basic auth.
    let requests = fake.requests();
    for service in ["git-upload-pack", "git-receive-pack"] {
        let authenticated = requests.iter().any(|request| {
            request.path.ends_with(service)
                && request.headers.iter().any(|(name, value)| name == "authorization" && value.starts_with("Basic "))
        });
        assert!(authenticated, "no authenticated `{service}` request");
    }

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("cloned") && logs.contains("pushed"), "the capture saw no log lines:\n{logs}");
    for secret in [&token, &encoded] {
        assert!(!logs.contains(secret.as_str()), "a log line holds a credential:\n{logs}");
    }
}

#[tokio::test]
async fn clone_without_access_fails_with_a_typed_error() {
    let fake = FakeGitLab::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    let err = clone_as(&fake, None, &dir.path().join("anonymous"), Some(1)).await.unwrap_err();
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");

    let wrong = "glpat-wrong-token-000".to_owned();
    let err = clone_as(&fake, Some(wrong), &dir.path().join("wrong"), Some(1)).await.unwrap_err();
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
    assert!(!err.to_string().contains("glpat-wrong-token-000"));

    // A guest may not read code (403); an outsider does not see the project at all (404).
    let err = clone_as(&fake, Some(fake.token("gus")), &dir.path().join("guest"), Some(1)).await.unwrap_err();
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
    let err = clone_as(&fake, Some(fake.token("outsider")), &dir.path().join("outsider"), Some(1)).await.unwrap_err();
    assert!(matches!(err, GitError::NotFound { .. }), "{err:?}");
    assert!(!dir.path().join("outsider").join(".git").exists(), "a failed clone leaves nothing behind");
    assert!(!dir.path().join("outsider.git").exists(), "a failed clone leaves nothing behind");
}

#[tokio::test]
async fn shallow_clone_depth_is_respected() {
    let fake = FakeGitLab::start().await.unwrap();
    for round in 0..4 {
        let content = format!("{round}\n");
        fake.push_files(PROJECT, "main", &[("counter.txt", Some(content.as_str()))], "count", "alice").await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();

    let shallow = dir.path().join("shallow");
    let workspace = clone(&fake, &shallow, Some(2)).await;
    assert_eq!(git(&shallow, &["rev-list", "--count", "HEAD"]).trim(), "2");
    assert!(workspace.git_dir().join("shallow").exists());

    let full = dir.path().join("full");
    let workspace = clone(&fake, &full, None).await;
    assert_eq!(git(&full, &["rev-list", "--count", "HEAD"]).trim(), "5");
    assert!(!workspace.git_dir().join("shallow").exists());
}

#[tokio::test]
async fn commit_carries_the_trailers_and_the_agent_identity_and_pushes_fast_forward() {
    let fake = FakeGitLab::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("widgets");
    let workspace = clone(&fake, &dest, Some(1)).await;
    let base = workspace.checkout_or_create_branch("copilot/issue-7", None).await.unwrap();
    assert_eq!(Some(base.clone()), fake.branch_head(PROJECT, "main").await);
    assert_eq!(workspace.current_branch().await.unwrap().as_deref(), Some("copilot/issue-7"));

    assert!(!workspace.has_changes().await.unwrap());
    assert_eq!(workspace.commit_all("nothing", &[]).await.unwrap(), None);
    std::fs::write(dest.join("README.md"), "# widgets\n\nNow with a greeting.\n").unwrap();
    std::fs::create_dir_all(dest.join("docs")).unwrap();
    std::fs::write(dest.join("docs/new file.md"), "new\n").unwrap();
    assert!(workspace.has_changes().await.unwrap());
    let mut changed = workspace.changed_paths().await.unwrap();
    changed.sort();
    assert_eq!(changed, ["README.md", "docs/new file.md"]);

    let pipeline = "https://gitlab.example.com/acme/copilot-agent/-/pipelines/42";
    let trailers = [("Copilot-Stage", "implementation"), ("Pipeline", pipeline)];
    let head = workspace.commit_all("Add a greeting\n\nCloses #7", &trailers).await.unwrap().unwrap();
    assert_eq!(workspace.head_sha().await.unwrap(), head);
    assert!(!workspace.has_changes().await.unwrap());
    let mut since = workspace.diff_since(&base).await.unwrap();
    since.sort();
    assert_eq!(since, ["README.md", "docs/new file.md"]);

    assert_eq!(workspace.push("copilot/issue-7").await.unwrap(), head);
    let pushed = fake.commit(PROJECT, "copilot/issue-7").await.unwrap();
    assert_eq!(pushed.id, head);
    assert_eq!(
        (pushed.author_name.as_str(), pushed.author_email.as_str()),
        ("Copilot Agent", "copilot-agent@example.com")
    );
    assert_eq!(pushed.committer_name, "Copilot Agent");
    assert!(
        pushed
            .message
            .trim_end()
            .ends_with(&format!("Closes #7\n\nCopilot-Stage: implementation\nPipeline: {pipeline}")),
        "{:?}",
        pushed.message
    );

    // A second commit is a plain fast-forward.
    std::fs::write(dest.join("README.md"), "# widgets\n\nAgain.\n").unwrap();
    let second = workspace.commit_all("Second", &[("Copilot-Stage", "tests")]).await.unwrap().unwrap();
    assert_eq!(
        workspace.push_rebasing_once("copilot/issue-7").await.unwrap(),
        PushOutcome::Pushed { head: second.clone() }
    );
    assert_eq!(fake.branch_head(PROJECT, "copilot/issue-7").await, Some(second));
}

/// The agent's branch on the server with one agent commit, and the agent's workspace on it.
async fn agent_branch(fake: &FakeGitLab, dir: &Path, branch: &str) -> Workspace {
    let dest = dir.join("agent");
    let workspace = clone(fake, &dest, Some(1)).await;
    workspace.checkout_or_create_branch(branch, None).await.unwrap();
    std::fs::write(dest.join("agent.txt"), "by the agent\n").unwrap();
    workspace.commit_all("Agent: first", &[]).await.unwrap().unwrap();
    workspace.push(branch).await.unwrap();
    workspace
}

#[tokio::test]
async fn a_concurrent_push_by_a_person_makes_ours_non_fast_forward_and_keeps_their_commit() {
    let fake = FakeGitLab::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let branch = "copilot/issue-9";
    let workspace = agent_branch(&fake, dir.path(), branch).await;
    let theirs = fake
        .push_files(PROJECT, branch, &[("person.txt", Some("by a person\n"))], "Person: meanwhile", "alice")
        .await
        .unwrap();

    std::fs::write(workspace.dir().join("agent.txt"), "by the agent, again\n").unwrap();
    workspace.commit_all("Agent: second", &[]).await.unwrap().unwrap();
    let err = workspace.push(branch).await.unwrap_err();
    assert!(matches!(&err, GitError::NonFastForward { branch: rejected } if rejected == branch), "{err:?}");
    assert_eq!(fake.branch_head(PROJECT, branch).await, Some(theirs));
}

#[tokio::test]
async fn a_rebase_once_onto_a_persons_commit_then_push_keeps_both() {
    let fake = FakeGitLab::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let branch = "copilot/issue-10";
    let workspace = agent_branch(&fake, dir.path(), branch).await;
    let theirs = fake
        .push_files(PROJECT, branch, &[("person.txt", Some("by a person\n"))], "Person: meanwhile", "alice")
        .await
        .unwrap();

    std::fs::write(workspace.dir().join("agent.txt"), "by the agent, again\n").unwrap();
    workspace.commit_all("Agent: second", &[]).await.unwrap().unwrap();
    let outcome = workspace.push_rebasing_once(branch).await.unwrap();
    let PushOutcome::PushedAfterRebase { head } = outcome else { panic!("expected a rebase: {outcome:?}") };
    let tip = fake.commit(PROJECT, branch).await.unwrap();
    assert_eq!(tip.id, head);
    assert_eq!(tip.title, "Agent: second");
    assert_eq!(tip.parent_ids, [theirs], "our commit must sit on the person's, unchanged");
    assert_eq!(read(workspace.dir().join("person.txt")), "by a person\n");
}

// Several threads: the person's plain `git` blocks one while the fake GitLab answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebase_onto_a_branch_a_person_started_below_the_shallow_clone_deepens_it_and_keeps_both() {
    let fake = FakeGitLab::start().await.unwrap();
    for round in 1..=5 {
        let content = format!("{round}\n");
        fake.push_files(PROJECT, "main", &[("counter.txt", Some(content.as_str()))], "count", "alice").await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let branch = "copilot/issue-14";
    let dest = dir.path().join("agent");
    let workspace = clone(&fake, &dest, Some(1)).await;
    assert!(workspace.is_shallow());
    workspace.checkout_or_create_branch(branch, None).await.unwrap();
    std::fs::write(dest.join("agent.txt"), "by the agent\n").unwrap();
    workspace.commit_all("Agent: first", &[]).await.unwrap().unwrap();

    // Meanwhile a person starts the same branch three commits below main's tip: the merge base
    // is deeper than the agent's clone.
    let person = dir.path().join("person");
    let token = fake.token("alice");
    git_as(dir.path(), &["clone", "-q", &fake.git_url(PROJECT), person.to_str().unwrap()], Some(&token));
    git(&person, &["checkout", "-q", "-b", branch, "main~3"]);
    std::fs::write(person.join("person.txt"), "by a person\n").unwrap();
    git(&person, &["add", "person.txt"]);
    git(&person, &["commit", "-q", "-m", "Person: started the branch"]);
    git_as(&person, &["push", "-q", "origin", &format!("HEAD:refs/heads/{branch}")], Some(&token));
    let theirs = git(&person, &["rev-parse", "HEAD"]).trim().to_owned();
    let merge_base = git(&person, &["rev-parse", "main~3"]).trim().to_owned();
    assert!(!has_object(&dest, &merge_base), "the merge base is below the agent's shallow clone");

    let outcome = workspace.push_rebasing_once(branch).await.unwrap();
    let PushOutcome::PushedAfterRebase { head } = outcome else { panic!("expected a rebase: {outcome:?}") };
    assert_eq!(fake.branch_head(PROJECT, branch).await.as_deref(), Some(head.as_str()));
    assert!(fake.is_ancestor(PROJECT, &theirs, branch).await, "the person's commit stays");
    assert_eq!(git(&dest, &["merge-base", "HEAD", &theirs]).trim(), theirs);
    assert!(has_object(&dest, &merge_base), "the clone was deepened to the merge base");
    assert_eq!(read(dest.join("person.txt")), "by a person\n");
    assert_eq!(read(dest.join("agent.txt")), "by the agent\n");
    assert_eq!(read(dest.join("counter.txt")), "5\n", "main's later commits replayed onto the person's");
}

// Several threads: the person's plain `git` blocks one while the fake GitLab answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebase_over_a_branch_a_person_rewrote_below_the_shallow_clone_unshallows_it_and_keeps_both() {
    let fake = FakeGitLab::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let branch = "copilot/issue-15";
    let token = fake.token("alice");
    let person = dir.path().join("person");
    git_as(dir.path(), &["clone", "-q", &fake.git_url(PROJECT), person.to_str().unwrap()], Some(&token));
    git(&person, &["checkout", "-q", "-b", branch]);
    for step in 1..=3 {
        std::fs::write(person.join(format!("step{step}.txt")), format!("{step}\n")).unwrap();
        git(&person, &["add", "--all"]);
        git(&person, &["commit", "-q", "-m", &format!("Person: step {step}")]);
    }
    git_as(&person, &["push", "-q", "origin", &format!("HEAD:refs/heads/{branch}")], Some(&token));

    // The agent continues the branch from its tip alone.
    let dest = dir.path().join("agent");
    let workspace = clone(&fake, &dest, Some(1)).await;
    workspace.checkout_or_create_branch(branch, None).await.unwrap();
    assert!(workspace.is_shallow());
    std::fs::write(dest.join("agent.txt"), "by the agent\n").unwrap();
    workspace.commit_all("Agent: on top", &[]).await.unwrap().unwrap();

    // Meanwhile the person rewrites the last step (same change, new message) and force-pushes:
    // the merge base is the step below, which the agent's clone cut off.
    git(&person, &["commit", "-q", "--amend", "-m", "Person: step 3, reworded"]);
    git_as(&person, &["push", "-q", "--force", "origin", &format!("HEAD:refs/heads/{branch}")], Some(&token));
    let theirs = git(&person, &["rev-parse", "HEAD"]).trim().to_owned();

    let outcome = workspace.push_rebasing_once(branch).await.unwrap();
    let PushOutcome::PushedAfterRebase { head } = outcome else { panic!("expected a rebase: {outcome:?}") };
    let tip = fake.commit(PROJECT, branch).await.unwrap();
    assert_eq!(tip.id, head);
    assert_eq!(tip.parent_ids, [theirs], "our commit sits on the rewritten one; the old step 3 is not replayed");
    assert!(!workspace.is_shallow(), "the rewritten history could only be joined by unshallowing");
    assert_eq!(read(dest.join("agent.txt")), "by the agent\n");
}

#[tokio::test]
async fn a_conflicting_rebase_returns_conflict_and_the_remote_keeps_the_persons_commit() {
    let fake = FakeGitLab::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let branch = "copilot/issue-11";
    let workspace = agent_branch(&fake, dir.path(), branch).await;
    let theirs = fake
        .push_files(PROJECT, branch, &[("agent.txt", Some("the person's version\n"))], "Person: edit", "alice")
        .await
        .unwrap();

    std::fs::write(workspace.dir().join("agent.txt"), "the agent's version\n").unwrap();
    let ours = workspace.commit_all("Agent: edit", &[]).await.unwrap().unwrap();
    let err = workspace.push_rebasing_once(branch).await.unwrap_err();
    let GitError::Conflict { paths, .. } = &err else { panic!("expected a conflict: {err:?}") };
    assert_eq!(paths, &["agent.txt"]);
    assert_eq!(fake.branch_head(PROJECT, branch).await, Some(theirs));
    // The rebase was aborted: the agent's branch and files are as they were.
    assert_eq!(workspace.head_sha().await.unwrap(), ours);
    assert!(!workspace.has_changes().await.unwrap());
    assert!(!workspace.git_dir().join("rebase-merge").exists());
}

#[tokio::test]
async fn a_rerun_continues_the_existing_remote_branch() {
    let fake = FakeGitLab::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let branch = "copilot/issue-12";
    let first = agent_branch(&fake, dir.path(), branch).await;
    let pushed = first.head_sha().await.unwrap();

    let again = dir.path().join("again");
    let workspace = clone(&fake, &again, Some(1)).await;
    assert_eq!(workspace.checkout_or_create_branch(branch, None).await.unwrap(), pushed);
    assert_eq!(read(again.join("agent.txt")), "by the agent\n");
    assert_eq!(workspace.fetch("copilot/absent").await.unwrap(), None);
}

#[tokio::test]
async fn a_clone_from_a_server_that_never_answers_stops_at_the_git_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = std::time::Duration::from_secs(2);
    // The same clone with the same timeout from a server that answers works.
    let fake = FakeGitLab::start().await.unwrap();
    let dest = dir.path().join("answered");
    let remote = Remote::new(&fake.git_url(PROJECT), Some(fake.agent_token().into())).unwrap();
    Workspace::clone(git_command(&dest).with_timeout(timeout), remote, &dest, Some(1), None).await.unwrap();

    // A server that accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/group/project.git", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            connections.push(connection);
        }
    });
    let dest = dir.path().join("silent");
    let remote = Remote::new(&url, Some("glpat-silent-0123456789".into())).unwrap();
    let started = std::time::Instant::now();
    let err =
        Workspace::clone(git_command(&dest).with_timeout(timeout), remote, &dest, Some(1), None).await.unwrap_err();
    assert!(matches!(err, GitError::TimedOut { .. }), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "took {:?}", started.elapsed());
    held.abort();
}

#[tokio::test]
async fn clone_of_a_named_branch_checks_it_out_and_a_missing_one_is_not_found() {
    let fake = FakeGitLab::start().await.unwrap();
    let tip = fake.push_files(PROJECT, "feature/x", &[("x.txt", Some("x\n"))], "Add x", "alice").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let remote = || Remote::new(&fake.git_url(PROJECT), Some(fake.agent_token().into())).unwrap();

    let dest = dir.path().join("feature");
    let workspace = Workspace::clone(git_command(&dest), remote(), &dest, Some(1), Some("feature/x")).await.unwrap();
    assert_eq!(workspace.default_branch(), "feature/x");
    assert_eq!(workspace.head_sha().await.unwrap(), tip);
    assert_eq!(read(dest.join("x.txt")), "x\n");

    let dest = dir.path().join("absent");
    let err = Workspace::clone(git_command(&dest), remote(), &dest, Some(1), Some("feature/absent")).await.unwrap_err();
    assert!(matches!(err, GitError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn the_git_dir_lives_beside_the_work_tree_behind_a_gitfile() {
    let fake = FakeGitLab::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("project-1");
    let workspace = clone(&fake, &dest, Some(1)).await;

    assert_eq!(workspace.git_dir(), dir.path().join("project-1.git"));
    assert!(workspace.git_dir().join("objects").is_dir() && workspace.git_dir().join("HEAD").is_file());
    assert!(std::fs::symlink_metadata(dest.join(".git")).unwrap().is_file(), "the work tree holds a gitfile");
    assert_eq!(read(dest.join(".git")), format!("gitdir: {}\n", workspace.git_dir().display()));
    // The agent's own tools find the repository through the gitfile.
    assert_eq!(git(&dest, &["rev-parse", "HEAD"]).trim(), workspace.head_sha().await.unwrap());
    assert_eq!(git(&dest, &["status", "--porcelain"]), "");

    let err = clone_as(&fake, Some(fake.agent_token()), &dest, Some(1)).await.unwrap_err();
    assert!(matches!(err, GitError::Io { .. }), "a second clone onto the same git dir is refused: {err:?}");
}

#[tokio::test]
async fn a_poisoned_git_dir_steers_no_commit_fetch_rebase_or_push() {
    let fake = FakeGitLab::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let branch = "copilot/issue-13";
    let workspace = agent_branch(&fake, dir.path(), branch).await;
    let refs_before = fake.refs(PROJECT).await.unwrap();
    let poison = Poison::start(&dir.path().join("poison"), &fake.git_url(PROJECT)).await;

    // What the agent could do between our operations when nothing stops it from writing the git dir.
    poison.apply(workspace.dir(), workspace.git_dir()).await;
    std::fs::write(workspace.dir().join("agent.txt"), "by the agent, poisoned\n").unwrap();
    let theirs = fake
        .push_files(PROJECT, branch, &[("person.txt", Some("by a person\n"))], "Person: meanwhile", "alice")
        .await
        .unwrap();
    workspace.commit_all("Agent: second", &[]).await.unwrap().unwrap();
    let outcome = workspace.push_rebasing_once(branch).await.unwrap();
    assert!(matches!(outcome, PushOutcome::PushedAfterRebase { .. }), "{outcome:?}");
    assert!(fake.is_ancestor(PROJECT, &theirs, branch).await);
    assert!(workspace.fetch("main").await.unwrap().is_some());

    poison.assert_untouched();
    let mut refs_after = fake.refs(PROJECT).await.unwrap();
    refs_after.retain(|name| !refs_before.contains(name));
    assert_eq!(refs_after, Vec::<String>::new(), "only the agent's branch, which existed, may change");
    assert!(git(workspace.dir(), &["tag", "--list"]).contains("agent-annotated"), "the agent's tags stay local");
    assert_eq!(read(workspace.dir().join(".git")), format!("gitdir: {}\n", workspace.git_dir().display()));

    // The control: the same poison, read by plain git, reaches the traps.
    poison.assert_plain_git_falls_for_it(workspace.dir(), workspace.git_dir(), &fake.git_url(PROJECT)).await;
}
