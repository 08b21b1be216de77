//! The real `git` CLI clones from and pushes to the fake over smart HTTP with a token passed as
//! an `http.extraHeader` through `GIT_CONFIG_*` (never in the URL), is refused without one,
//! and a push runs GitLab's side effects (a pipeline, a new MR version).
#![expect(clippy::disallowed_methods, reason = "these tests drive the real `git` CLI")]

mod common;

use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use copilot_runner_testkit::FakeGitLab;

/// Runs git in `dir` with a clean environment and optional extra header.
async fn git(dir: &Path, home: &Path, header: Option<&str>, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new("git");
    for var in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG_PARAMETERS", "GIT_ASKPASS", "SSH_ASKPASS"] {
        command.env_remove(var);
    }
    command
        .current_dir(dir)
        .args(args)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com");
    match header {
        Some(header) => command
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env("GIT_CONFIG_VALUE_0", header),
        None => command.env("GIT_CONFIG_COUNT", "0"),
    };
    command.output().await.expect("git runs")
}

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "git failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test]
async fn git_clones_and_pushes_with_a_token_header_and_the_push_creates_a_pipeline() {
    let fake = FakeGitLab::start().await.unwrap();
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path();
    let bearer = format!("Authorization: Bearer {}", fake.agent_token());
    let url = fake.git_url("acme/widgets");
    assert!(!url.contains(&fake.agent_token()));

    ok(&git(home, home, Some(&bearer), &["clone", "--quiet", &url, "work"]).await);
    let work = home.join("work");
    assert!(work.join("src/lib.rs").exists());

    tokio::fs::write(work.join("greet.txt"), "hello\n").await.unwrap();
    ok(&git(&work, home, None, &["checkout", "--quiet", "-b", "copilot/issue-1"]).await);
    ok(&git(&work, home, None, &["add", "greet.txt"]).await);
    ok(&git(&work, home, None, &["commit", "--quiet", "-m", "Add greeting"]).await);
    let head = ok(&git(&work, home, None, &["rev-parse", "HEAD"]).await);

    // PRIVATE-TOKEN through extraHeader works for push as well.
    let private = format!("PRIVATE-TOKEN: {}", fake.agent_token());
    ok(&git(&work, home, Some(&private), &["push", "--quiet", "origin", "copilot/issue-1"]).await);
    assert_eq!(fake.branch_head("acme/widgets", "copilot/issue-1").await.as_deref(), Some(head.as_str()));

    let pipelines = fake.pipelines("acme/widgets");
    assert_eq!(pipelines.len(), 1, "the push created exactly one pipeline");
    assert_eq!((pipelines[0].git_ref.as_str(), pipelines[0].sha.as_str()), ("copilot/issue-1", head.as_str()));
    assert_eq!(pipelines[0].source, "push");

    // The API sees the pushed branch under its URL-encoded name.
    let branch = common::as_user(&fake, "copilot-agent")
        .get_json("/projects/acme%2Fwidgets/repository/branches/copilot%2Fissue-1")
        .await;
    assert_eq!(
        (branch["name"].as_str(), branch["commit"]["id"].as_str()),
        (Some("copilot/issue-1"), Some(head.as_str()))
    );
    assert_eq!(branch["commit"]["title"], "Add greeting");

    // Basic auth with the token as password (any username) is accepted too.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("oauth2:{}", fake.token("alice")));
    let basic = format!("Authorization: Basic {basic}");
    ok(&git(home, home, Some(&basic), &["clone", "--quiet", &url, "again"]).await);
    // GitLab serves the repository without the `.git` suffix too.
    let bare_url = url.trim_end_matches(".git").to_owned();
    ok(&git(home, home, Some(&basic), &["clone", "--quiet", &bare_url, "suffixless"]).await);
    assert!(home.join("suffixless/README.md").exists());
}

#[tokio::test]
async fn git_without_a_token_fails_authentication_and_stores_nothing() {
    let fake = FakeGitLab::start().await.unwrap();
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path();
    let url = fake.git_url("acme/widgets");

    let clone = git(home, home, None, &["clone", "--quiet", &url, "anon"]).await;
    assert_eq!(clone.status.code(), Some(128));
    assert!(!home.join("anon").join("README.md").exists());

    // A real clone, then a push with a wrong token and with a guest's token.
    let bearer = format!("Authorization: Bearer {}", fake.agent_token());
    ok(&git(home, home, Some(&bearer), &["clone", "--quiet", &url, "work"]).await);
    let work = home.join("work");
    tokio::fs::write(work.join("secret.txt"), "unpushed\n").await.unwrap();
    ok(&git(&work, home, None, &["add", "secret.txt"]).await);
    ok(&git(&work, home, None, &["commit", "--quiet", "-m", "Unpushed"]).await);
    let commit = ok(&git(&work, home, None, &["rev-parse", "HEAD"]).await);
    let objects_before = fake.object_count("acme/widgets").await.unwrap();

    let push = git(&work, home, None, &["push", "--quiet", "origin", "HEAD:refs/heads/anon"]).await;
    assert_eq!(push.status.code(), Some(128), "{}", String::from_utf8_lossy(&push.stderr));
    let wrong = git(&work, home, Some("Authorization: Bearer nope"), &["push", "origin", "HEAD:refs/heads/x"]).await;
    assert_eq!(wrong.status.code(), Some(128));
    let guest = format!("Authorization: Bearer {}", fake.token("gus"));
    let refused = git(&work, home, Some(&guest), &["push", "origin", "HEAD:refs/heads/guest"]).await;
    assert_eq!(refused.status.code(), Some(128));

    assert!(!fake.has_object("acme/widgets", &commit).await);
    assert_eq!(fake.object_count("acme/widgets").await.unwrap(), objects_before);
    assert!(fake.branches("acme/widgets").await.unwrap().iter().all(|(b, _)| b == "main"));
    assert!(fake.pipelines("acme/widgets").is_empty());
    let denied = fake.requests_to("/acme/widgets.git/**");
    assert!(denied.iter().any(|r| r.status == Some(401)));
}

#[tokio::test]
async fn a_large_fetch_request_arrives_gzip_encoded_and_is_served() {
    let fake = FakeGitLab::start().await.unwrap();
    for n in 0..30 {
        let name = format!("topic-{n:02}");
        let content = format!("{n}\n");
        fake.push_files("acme/widgets", &name, &[("topic.txt", Some(&content))], "topic", "alice").await.unwrap();
    }
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path();
    let bearer = format!("Authorization: Bearer {}", fake.agent_token());
    ok(&git(home, home, Some(&bearer), &["clone", "--quiet", "--mirror", &fake.git_url("acme/widgets"), "m"]).await);
    let refs = ok(&git(&home.join("m"), home, None, &["for-each-ref", "--format=%(refname)", "refs/heads"]).await);
    assert_eq!(refs.lines().count(), 31);
    let gzipped = fake
        .requests_to("POST /acme/widgets.git/git-upload-pack")
        .into_iter()
        .any(|r| r.header("content-encoding") == Some("gzip"));
    assert!(gzipped, "git sent a gzip-encoded request body and the fake served it");
}

#[tokio::test]
async fn a_fork_merge_request_head_is_served_from_the_target_and_follows_pushes_to_the_fork() {
    let fake = FakeGitLab::start().await.unwrap();
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path();
    fake.fork_project("acme/widgets", "olga/widgets", "outsider").await.unwrap();
    let upstream_main = fake.branch_head("acme/widgets", "main").await.unwrap();
    assert_eq!(fake.branch_head("olga/widgets", "main").await.as_deref(), Some(upstream_main.as_str()), "a fork");
    fake.push_files("olga/widgets", "idea", &[("IDEA.md", Some("one\n"))], "Idea", "outsider").await.unwrap();
    let iid = fake.open_fork_merge_request("acme/widgets", "olga/widgets", "idea", "outsider", "Idea").await.unwrap();

    // The agent reads the target project only; the head is there, under the merge request's ref.
    let bearer = format!("Authorization: Bearer {}", fake.agent_token());
    let url = fake.git_url("acme/widgets");
    let head_ref = format!("refs/merge-requests/{iid}/head");
    let listed = ok(&git(home, home, Some(&bearer), &["ls-remote", &url, &head_ref]).await);
    let first = fake.branch_head("olga/widgets", "idea").await.unwrap();
    assert_eq!(listed, format!("{first}\t{head_ref}"));
    assert!(fake.branch_head("acme/widgets", "idea").await.is_none(), "the branch itself stays in the fork");

    // A push to the fork moves the ref and adds a version with the new head.
    fake.push_files("olga/widgets", "idea", &[("IDEA.md", Some("two\n"))], "Better idea", "outsider").await.unwrap();
    let second = fake.branch_head("olga/widgets", "idea").await.unwrap();
    let listed = ok(&git(home, home, Some(&bearer), &["ls-remote", &url, &head_ref]).await);
    assert_eq!(listed, format!("{second}\t{head_ref}"));
    let mr = fake.merge_request("acme/widgets", iid).unwrap();
    let heads: Vec<&str> = mr.versions.iter().map(|version| version.head_commit_sha.as_str()).collect();
    assert_eq!(heads, [first.as_str(), second.as_str()]);
    assert_eq!(mr.versions[1].base_commit_sha, upstream_main, "the fork shares the target's history");
}
