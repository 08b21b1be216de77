//! Misbehaving children: each test pins one way a child can hurt us.

use std::time::{Duration, Instant};

use super::*;

fn sh(script: &str) -> ProcessSpec {
    ProcessSpec::new("/bin/sh").arg("-c").arg(script).env("PATH", "/usr/local/bin:/usr/bin:/bin")
}

/// Whether `pid` is gone: no such process, or a zombie nobody has reaped yet (in a container
/// PID 1 may never reap reparented orphans).
fn process_gone(pid: i32) -> bool {
    match nix::sys::signal::kill(Pid::from_raw(pid), None) {
        Err(nix::errno::Errno::ESRCH) => true,
        _ => std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
            .unwrap_or(true),
    }
}

async fn wait_until_gone(pid: i32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if process_gone(pid) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn pids_from(output: &Output) -> Vec<i32> {
    output.stdout.text().lines().filter_map(|line| line.trim().parse().ok()).collect()
}

#[tokio::test]
async fn a_child_that_never_exits_is_stopped_at_the_deadline_with_its_whole_group() {
    let spec =
        sh("sleep 1000 & echo $!; echo $$; wait").timeout(Duration::from_millis(500)).grace(Duration::from_secs(30));
    let started = Instant::now();
    let error = run(spec).await.unwrap_err();
    let ProcessError::Timeout { output, after, .. } = error else { panic!("expected a timeout, got {error:?}") };
    assert_eq!(after, Duration::from_millis(500));
    // Signal 15, long before the grace period would have ended in a SIGKILL: SIGTERM ended it.
    assert_eq!(output.status, ExitStatus::Signal(15));
    assert!(started.elapsed() < Duration::from_secs(20), "SIGTERM should have ended it: {:?}", started.elapsed());
    let pids = pids_from(&output);
    assert_eq!(pids.len(), 2, "grandchild and child pids: {:?}", output.stdout.text());
    for pid in pids {
        assert!(wait_until_gone(pid, Duration::from_secs(10)).await, "process {pid} of the group survived");
    }
}

#[tokio::test]
async fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let spec = sh("trap '' TERM; sleep 1000 & echo $!; while :; do sleep 1; done")
        .timeout(Duration::from_millis(300))
        .grace(Duration::from_millis(700));
    let started = Instant::now();
    let error = run(spec).await.unwrap_err();
    let elapsed = started.elapsed();
    let ProcessError::Timeout { output, .. } = error else { panic!("expected a timeout, got {error:?}") };
    assert_eq!(output.status, ExitStatus::Signal(9));
    assert!(elapsed >= Duration::from_millis(1000), "SIGKILL came before the grace ended: {elapsed:?}");
    // Margins for a machine at load 15; the lower bound above is the one that matters.
    assert!(elapsed < Duration::from_secs(15), "SIGKILL came late: {elapsed:?}");
    for pid in pids_from(&output) {
        assert!(wait_until_gone(pid, Duration::from_secs(10)).await, "process {pid} of the group survived");
    }
}

#[tokio::test]
async fn a_flood_of_output_is_capped_and_fully_drained() {
    let hundred_mb = 100 * 1024 * 1024;
    let spec = sh(&format!("yes 'flood line' | head -c {hundred_mb}; echo done >&2"))
        .caps(1024 * 1024, 1024)
        .timeout(Duration::from_secs(50));
    let output = run(spec).await.unwrap();
    assert!(output.success(), "{}", output.status);
    assert_eq!(output.stdout.bytes.len(), 1024 * 1024);
    assert!(output.stdout.truncated);
    assert_eq!(output.stdout.total, hundred_mb);
    assert_eq!(output.stderr.text(), "done\n");
    assert!(!output.stderr.truncated);
}

#[tokio::test]
async fn a_long_line_without_newlines_reaches_the_callback_cut_at_the_line_limit() {
    let spec = sh(&format!("head -c {} /dev/zero | tr '\\0' x; printf '\\nshort\\n'", MAX_LINE * 2))
        .caps(1024, 1024)
        .timeout(Duration::from_secs(30));
    let mut lines = Vec::new();
    run_with_lines(spec, |_, line| lines.push(line.len())).await.unwrap();
    assert_eq!(lines, vec![MAX_LINE, 5]);
}

#[tokio::test]
async fn a_grandchild_holding_the_pipes_open_does_not_hang_us() {
    // The grandchild leaves our process group (setsid), so killing the group cannot reach it;
    // it keeps stdout and stderr open for 1000 s.
    // The child waits until the grandchild has its own session before exiting.
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let script = format!(
        "setsid sh -c 'echo $$ > {0}.tmp; mv {0}.tmp {0}; exec sleep 1000' & \
         while [ ! -s {0} ]; do :; done; cat {0}; exit 3",
        pid_file.display()
    );
    let spec = sh(&script).timeout(Duration::from_secs(30));
    let started = Instant::now();
    let output = run(spec).await.unwrap();
    assert_eq!(output.status, ExitStatus::Code(3));
    assert!(started.elapsed() >= DRAIN_AFTER_EXIT, "the grandchild did not hold the pipes: {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(20), "waited for the grandchild: {:?}", started.elapsed());
    for pid in pids_from(&output) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

#[tokio::test]
async fn a_grandchild_left_in_the_group_is_killed_when_the_child_exits() {
    let spec = sh("sleep 1000 & echo $!; exit 0").timeout(Duration::from_secs(30));
    let started = Instant::now();
    let output = run(spec).await.unwrap();
    assert!(output.success());
    assert!(started.elapsed() < Duration::from_secs(20), "waited for the grandchild: {:?}", started.elapsed());
    let pids = pids_from(&output);
    assert_eq!(pids.len(), 1);
    assert!(wait_until_gone(pids[0], Duration::from_secs(10)).await, "the grandchild survived");
}

#[tokio::test]
async fn a_non_zero_exit_is_reported_with_both_streams_and_lines_in_order() {
    let spec = sh("echo one; echo err >&2; printf 'two\\r\\nthree'; exit 7");
    let mut lines = Vec::new();
    let output = run_with_lines(spec, |stream, line| lines.push((stream, line.to_owned()))).await.unwrap();
    assert_eq!(output.status, ExitStatus::Code(7));
    assert!(!output.success());
    assert_eq!(output.stdout.text(), "one\ntwo\r\nthree");
    assert_eq!(output.stderr.text(), "err\n");
    let stdout_lines: Vec<_> = lines.iter().filter(|(s, _)| *s == Stream::Stdout).map(|(_, l)| l.as_str()).collect();
    assert_eq!(stdout_lines, ["one", "two", "three"]);
    assert!(lines.contains(&(Stream::Stderr, "err".to_owned())));
}

#[tokio::test]
async fn stdin_is_fed_and_closed_and_the_environment_is_only_what_we_give() {
    let spec = ProcessSpec::new("/bin/sh")
        .arg("-c")
        .arg("cat; env")
        .env("ONLY_THIS", "yes")
        .stdin(b"from stdin\n".to_vec())
        .cwd("/");
    let output = run(spec).await.unwrap();
    let text = output.stdout.text();
    assert!(text.starts_with("from stdin\n"), "{text}");
    let names: Vec<_> = text.lines().skip(1).filter_map(|line| line.split_once('=')).map(|(name, _)| name).collect();
    // `sh` itself may add PWD, SHLVL and `_`; nothing of ours is inherited.
    assert!(names.contains(&"ONLY_THIS"), "{names:?}");
    for name in names {
        assert!(["ONLY_THIS", "PWD", "SHLVL", "_", "OLDPWD"].contains(&name), "inherited `{name}`");
    }
}

#[tokio::test]
async fn without_stdin_the_child_reads_end_of_file_at_once() {
    let output = run(sh("cat; echo eof").timeout(Duration::from_secs(5))).await.unwrap();
    assert_eq!(output.stdout.text(), "eof\n");
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error_with_a_hint() {
    let error = run(ProcessSpec::new("/nonexistent/agent-cli")).await.unwrap_err();
    assert!(matches!(error, ProcessError::Spawn { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("`/nonexistent/agent-cli`") && message.contains("installed"), "{message}");
}

#[tokio::test]
async fn dropping_the_future_kills_the_group() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut tx = Some(tx);
    let spec = sh("sleep 1000 & echo $!; wait").timeout(Duration::from_secs(60));
    let running = run_with_lines(spec, move |_, line| {
        if let (Some(tx), Ok(pid)) = (tx.take(), line.parse::<i32>()) {
            let _ = tx.send(pid);
        }
    });
    let pid = tokio::select! {
        _ = running => panic!("the child should not finish"),
        pid = rx => pid.unwrap(),
    };
    assert!(wait_until_gone(pid, Duration::from_secs(10)).await, "the grandchild survived the drop");
}

#[test]
fn the_allowlist_passes_exact_names_and_prefixes_but_never_our_own_settings_by_prefix() {
    let env = Env::from_pairs([
        ("PATH", "/bin"),
        ("LC_ALL", "C"),
        ("COPILOT_OFFLINE", "true"),
        ("COPILOT_GITHUB_TOKEN", "github_pat_x"),
        ("COPILOT_LANGUAGE", "en"),
        ("GITLAB_TOKEN", "glpat-secret"),
        ("UNRELATED", "x"),
    ]);
    let mut names: Vec<_> = env_allowlist(&env, &["PATH", "COPILOT_GITHUB_TOKEN"], &["LC_", "COPILOT_", "GITLAB_"])
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    names.sort();
    assert_eq!(names, ["COPILOT_GITHUB_TOKEN", "COPILOT_OFFLINE", "LC_ALL", "PATH"]);
}
