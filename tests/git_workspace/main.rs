//! The git workspace against a real git server over smart HTTP: clone with a token that never
//! lands on disk, in argv or in a log; shallow depth; commits as the agent with trailers;
//! fast-forward pushes; a person's concurrent push is never overwritten.
#![expect(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    reason = "tests run real git, read their own environment, and fail by panicking"
)]

mod smart_http;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use copilot_runner::config::Env;
use copilot_runner::git::{GitCommand, GitError, Identity, PushOutcome, Remote, Workspace};
use smart_http::{GitServer, Person, TOKEN, git};

/// base64("oauth2:" + TOKEN), the header value that must not leak either.
fn encoded_token() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("oauth2:{TOKEN}"))
}

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

fn agent() -> Identity {
    Identity { name: "copilot-agent".to_owned(), email: "copilot-agent@example.com".to_owned() }
}

fn git_command(home: &Path) -> GitCommand {
    GitCommand::new(&Env::capture(), home, agent())
}

async fn clone(server: &GitServer, project: &str, dest: &Path, depth: Option<u32>) -> Workspace {
    let remote = Remote::new(&server.url(project), Some(TOKEN.into())).unwrap();
    Workspace::clone(git_command(dest), remote, dest, depth, None).await.unwrap()
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn clone_with_a_token_keeps_it_out_of_config_remote_url_and_logs() {
    let logs = captured_logs();
    let server = GitServer::start().await;
    server.create_project("group/app", &[&[("README.md", "hello\n"), ("src/main.rs", "fn main() {}\n")]]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("app");

    let workspace = clone(&server, "group/app", &dest, Some(1)).await;
    assert_eq!(read(dest.join("README.md")), "hello\n");
    assert_eq!(workspace.default_branch(), "main");

    // Push through the CLI as well, so both transports have had the token.
    workspace.checkout_or_create_branch("copilot/issue-1", None).await.unwrap();
    std::fs::write(dest.join("NEW.md"), "new\n").unwrap();
    workspace.commit_all("Add NEW.md", &[]).await.unwrap().unwrap();
    workspace.push("copilot/issue-1").await.unwrap();

    let config = read(dest.join(".git/config"));
    for secret in [TOKEN.to_owned(), encoded_token()] {
        assert!(!config.contains(&secret), ".git/config holds a credential:\n{config}");
    }
    assert!(!config.to_lowercase().contains("extraheader"), "{config}");
    assert_eq!(git(&dest, &["remote", "get-url", "origin"]).trim(), server.url("group/app"));
    assert!(!git(&dest, &["config", "--list", "--show-origin"]).contains(TOKEN));

    // The server saw authenticated requests from both gix and git.
    let requests = server.requests();
    assert!(
        requests.iter().any(|line| line.contains("git-upload-pack") && line.ends_with("auth=Basic")),
        "{requests:?}"
    );
    assert!(
        requests.iter().any(|line| line.contains("git-receive-pack") && line.ends_with("auth=Basic")),
        "{requests:?}"
    );

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("cloned") && logs.contains("pushed"), "the capture saw no log lines:\n{logs}");
    for secret in [TOKEN.to_owned(), encoded_token()] {
        assert!(!logs.contains(&secret), "a log line holds a credential:\n{logs}");
    }
}

#[tokio::test]
async fn clone_without_the_token_or_with_a_wrong_one_fails_with_auth_failed() {
    let server = GitServer::start().await;
    server.create_project("group/app", &[&[("README.md", "hello\n")]]);
    let dir = tempfile::tempdir().unwrap();

    let remote = Remote::new(&server.url("group/app"), None).unwrap();
    let dest = dir.path().join("anonymous");
    let err = Workspace::clone(git_command(&dest), remote, &dest, Some(1), None).await.unwrap_err();
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");

    let remote = Remote::new(&server.url("group/app"), Some("glpat-wrong-token-000".into())).unwrap();
    let dest = dir.path().join("wrong");
    let err = Workspace::clone(git_command(&dest), remote, &dest, Some(1), None).await.unwrap_err();
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
    assert!(!err.to_string().contains("glpat-wrong-token-000"));
}

#[tokio::test]
async fn shallow_clone_depth_is_respected() {
    let server = GitServer::start().await;
    let history: [&[(&str, &str)]; 5] =
        [&[("n.txt", "0\n")], &[("n.txt", "1\n")], &[("n.txt", "2\n")], &[("n.txt", "3\n")], &[("n.txt", "4\n")]];
    server.create_project("group/deep", &history);
    let dir = tempfile::tempdir().unwrap();

    let shallow = dir.path().join("shallow");
    clone(&server, "group/deep", &shallow, Some(2)).await;
    assert_eq!(git(&shallow, &["rev-list", "--count", "HEAD"]).trim(), "2");
    assert!(shallow.join(".git/shallow").exists());

    let full = dir.path().join("full");
    clone(&server, "group/deep", &full, None).await;
    assert_eq!(git(&full, &["rev-list", "--count", "HEAD"]).trim(), "5");
    assert!(!full.join(".git/shallow").exists());
}

#[tokio::test]
async fn commit_carries_the_trailers_and_the_agent_identity_and_pushes_fast_forward() {
    let server = GitServer::start().await;
    server.create_project("group/app", &[&[("README.md", "hello\n")]]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("app");
    let workspace = clone(&server, "group/app", &dest, Some(1)).await;
    let base = workspace.checkout_or_create_branch("copilot/issue-7", None).await.unwrap();
    assert_eq!(base, server.tip("group/app", "main"));
    assert_eq!(workspace.current_branch().await.unwrap().as_deref(), Some("copilot/issue-7"));

    assert!(!workspace.has_changes().await.unwrap());
    assert_eq!(workspace.commit_all("nothing", &[]).await.unwrap(), None);
    std::fs::write(dest.join("README.md"), "hello, world\n").unwrap();
    std::fs::create_dir_all(dest.join("docs")).unwrap();
    std::fs::write(dest.join("docs/new file.md"), "new\n").unwrap();
    assert!(workspace.has_changes().await.unwrap());
    let mut changed = workspace.changed_paths().await.unwrap();
    changed.sort();
    assert_eq!(changed, ["README.md", "docs/new file.md"]);

    let trailers = [("Copilot-Stage", "implementation"), ("Pipeline", "https://gitlab.example.com/g/p/-/pipelines/42")];
    let head = workspace.commit_all("Implement the greeting\n\nCloses #7", &trailers).await.unwrap().unwrap();
    assert_eq!(workspace.head_sha().await.unwrap(), head);
    assert!(!workspace.has_changes().await.unwrap());
    let shown = git(&dest, &["log", "-1", "--format=%an <%ae>|%cn <%ce>|%(trailers:only,unfold)", &head]);
    assert_eq!(
        shown.trim(),
        "copilot-agent <copilot-agent@example.com>|copilot-agent <copilot-agent@example.com>|\
         Copilot-Stage: implementation\nPipeline: https://gitlab.example.com/g/p/-/pipelines/42"
    );
    let mut since = workspace.diff_since(&base).await.unwrap();
    since.sort();
    assert_eq!(since, ["README.md", "docs/new file.md"]);

    assert_eq!(workspace.push("copilot/issue-7").await.unwrap(), head);
    assert_eq!(server.tip("group/app", "copilot/issue-7"), head);

    // A second commit is a plain fast-forward.
    std::fs::write(dest.join("README.md"), "hello again\n").unwrap();
    let second = workspace.commit_all("Second", &[("Copilot-Stage", "tests")]).await.unwrap().unwrap();
    assert_eq!(
        workspace.push_rebasing_once("copilot/issue-7").await.unwrap(),
        PushOutcome::Pushed { head: second.clone() }
    );
    assert_eq!(server.tip("group/app", "copilot/issue-7"), second);
}

/// The agent's branch on the server with one agent commit, and the agent's workspace on it.
async fn agent_branch(server: &GitServer, dir: &Path, branch: &str) -> Workspace {
    server.create_project("group/app", &[&[("README.md", "line 1\nline 2\nline 3\n"), ("a.txt", "a\n")]]);
    let dest = dir.join("agent");
    let workspace = clone(server, "group/app", &dest, Some(1)).await;
    workspace.checkout_or_create_branch(branch, None).await.unwrap();
    std::fs::write(dest.join("agent.txt"), "by the agent\n").unwrap();
    workspace.commit_all("Agent: first", &[]).await.unwrap().unwrap();
    workspace.push(branch).await.unwrap();
    workspace
}

#[tokio::test]
async fn a_concurrent_push_by_a_person_makes_ours_non_fast_forward_and_keeps_their_commit() {
    let server = GitServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let branch = "copilot/issue-9";
    let workspace = agent_branch(&server, dir.path(), branch).await;

    let person = Person::clone(&server.bare("group/app"));
    person.checkout(branch);
    person.write("person.txt", "by a person\n");
    let theirs = person.commit("Person: meanwhile");
    person.push(branch);

    std::fs::write(workspace.dir().join("agent.txt"), "by the agent, again\n").unwrap();
    workspace.commit_all("Agent: second", &[]).await.unwrap().unwrap();
    let err = workspace.push(branch).await.unwrap_err();
    assert!(matches!(&err, GitError::NonFastForward { branch: rejected } if rejected == branch), "{err:?}");
    assert_eq!(server.tip("group/app", branch), theirs);
}

#[tokio::test]
async fn a_rebase_once_onto_a_persons_commit_then_push_keeps_both() {
    let server = GitServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let branch = "copilot/issue-10";
    let workspace = agent_branch(&server, dir.path(), branch).await;

    let person = Person::clone(&server.bare("group/app"));
    person.checkout(branch);
    person.write("person.txt", "by a person\n");
    let theirs = person.commit("Person: meanwhile");
    person.push(branch);

    std::fs::write(workspace.dir().join("agent.txt"), "by the agent, again\n").unwrap();
    workspace.commit_all("Agent: second", &[]).await.unwrap().unwrap();
    let outcome = workspace.push_rebasing_once(branch).await.unwrap();
    let PushOutcome::PushedAfterRebase { head } = outcome else { panic!("expected a rebase: {outcome:?}") };
    assert_eq!(server.tip("group/app", branch), head);
    let log = server.log("group/app", branch);
    let subjects: Vec<&str> = log.iter().map(|line| line.split_once(' ').unwrap().1).collect();
    assert_eq!(subjects[..3], ["Agent: second", "Person: meanwhile", "Agent: first"]);
    assert!(log.iter().any(|line| line.starts_with(&theirs)), "the person's commit was rewritten: {log:?}");
    assert_eq!(read(workspace.dir().join("person.txt")), "by a person\n");
}

#[tokio::test]
async fn a_conflicting_rebase_returns_conflict_and_the_remote_keeps_the_persons_commit() {
    let server = GitServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let branch = "copilot/issue-11";
    let workspace = agent_branch(&server, dir.path(), branch).await;

    let person = Person::clone(&server.bare("group/app"));
    person.checkout(branch);
    person.write("README.md", "line 1\nthe person's line 2\nline 3\n");
    let theirs = person.commit("Person: edit line 2");
    person.push(branch);

    std::fs::write(workspace.dir().join("README.md"), "line 1\nthe agent's line 2\nline 3\n").unwrap();
    let ours = workspace.commit_all("Agent: edit line 2", &[]).await.unwrap().unwrap();
    let err = workspace.push_rebasing_once(branch).await.unwrap_err();
    let GitError::Conflict { paths, .. } = &err else { panic!("expected a conflict: {err:?}") };
    assert_eq!(paths, &["README.md"]);
    assert_eq!(server.tip("group/app", branch), theirs);
    // The rebase was aborted: the agent's branch and files are as they were.
    assert_eq!(workspace.head_sha().await.unwrap(), ours);
    assert!(!workspace.has_changes().await.unwrap());
    assert!(!workspace.dir().join(".git/rebase-merge").exists());
}

#[tokio::test]
async fn a_rerun_continues_the_existing_remote_branch() {
    let server = GitServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let branch = "copilot/issue-12";
    let first = agent_branch(&server, dir.path(), branch).await;
    let pushed = first.head_sha().await.unwrap();

    let again = dir.path().join("again");
    let workspace = clone(&server, "group/app", &again, Some(1)).await;
    assert_eq!(workspace.checkout_or_create_branch(branch, None).await.unwrap(), pushed);
    assert_eq!(read(again.join("agent.txt")), "by the agent\n");
    assert_eq!(workspace.fetch("copilot/absent").await.unwrap(), None);
}
