//! The outer step of `sandbox-exec`: supervise one agent call so that nothing it started
//! outlives it.
//!
//! The supervisor makes itself the child subreaper, so every process the agent starts stays its
//! descendant even after a `setsid` or a double fork. It starts the inner step (which confines
//! itself and execs the agent) and waits with its signals blocked, reaping as it goes. When the
//! agent's main process has exited, it kills every descendant that is left, reaps them, and
//! exits with the agent's status. A SIGTERM (the runner's deadline) is passed on to every
//! descendant, and what is still there after the grace period is killed. The supervisor runs
//! outside the sandbox (it must see `/proc` to find the escaped) and holds only the agent's own
//! environment. It dies with the runner (`PR_SET_PDEATHSIG`), cleaning up as for a SIGTERM.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::Policy;
use crate::process;

/// How often the kill sweep looks again for descendants that were still forking.
const SWEEP_ROUNDS: usize = 200;
const SWEEP_PAUSE: Duration = Duration::from_millis(5);

/// Runs `program args` through the inner step of `launcher sandbox-exec` under `policy`, and
/// returns the exit code to leave with once every descendant is gone.
pub fn supervise(launcher: &Path, policy: &Policy, policy_json: &str, program: &Path, args: &[OsString]) -> ExitCode {
    let me = Pid::this();
    if let Err(error) = nix::sys::prctl::set_child_subreaper(true) {
        return fail(&format!("cannot become the child subreaper: {error}"));
    }
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGALRM] {
        signals.add(signal);
    }
    if let Err(error) = signals.thread_block() {
        return fail(&format!("cannot block signals: {error}"));
    }
    // The runner's death is a SIGTERM (the runner starts agents from its runtime's worker
    // threads, which live as long as it does); if it died before this line, stop at once.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    if nix::unistd::getppid() == Pid::from_raw(1) {
        return fail("the runner is gone");
    }

    let mut inner_args: Vec<OsString> =
        vec![super::SUBCOMMAND.into(), "--inner".into(), "--policy".into(), policy_json.into()];
    inner_args.push("--".into());
    inner_args.push(program.into());
    inner_args.extend(args.iter().cloned());
    let child = match process::spawn_inheriting(launcher, &inner_args) {
        Ok(child) => child,
        Err(error) => return fail(&format!("cannot start `{}`: {error}", launcher.display())),
    };
    let main = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    // The child is reaped below with waitpid; std's handle must not try again.
    drop(child);

    let mut main_status: Option<WaitStatus> = None;
    while main_status.is_none() {
        let signal = match signals.wait() {
            Ok(signal) => signal,
            Err(error) => return fail(&format!("waiting for signals failed: {error}")),
        };
        match signal {
            Signal::SIGCHLD => main_status = reap(main).or(main_status),
            Signal::SIGALRM => signal_descendants(me, Signal::SIGKILL),
            _ => {
                signal_descendants(me, Signal::SIGTERM);
                let grace = u32::try_from(policy.grace_ms.div_ceil(1000)).unwrap_or(u32::MAX).max(1);
                nix::unistd::alarm::set(grace);
            }
        }
    }
    end_descendants(me);
    match main_status {
        Some(WaitStatus::Exited(_, code)) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Some(WaitStatus::Signaled(_, signal, _)) => {
            // Leave as the agent did, so the runner sees the same signal.
            let mut own = SigSet::empty();
            own.add(signal);
            let _ = own.thread_unblock();
            let _ = nix::sys::signal::raise(signal);
            ExitCode::from(128 + u8::try_from(signal as i32).unwrap_or(0))
        }
        _ => ExitCode::from(1),
    }
}

/// Reaps every child that has ended; returns the main process's status when it was among them.
fn reap(main: Pid) -> Option<WaitStatus> {
    let mut found = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return found,
            Ok(status) => {
                if status.pid() == Some(main) && matches!(status, WaitStatus::Exited(..) | WaitStatus::Signaled(..)) {
                    found = Some(status);
                }
            }
        }
    }
}

/// Kills every descendant until none is left (a process still forking is caught on a later
/// round), then reaps them all.
fn end_descendants(me: Pid) {
    for _ in 0..SWEEP_ROUNDS {
        let living = descendants(me);
        if living.is_empty() {
            break;
        }
        for pid in living {
            let _ = kill(pid, Signal::SIGKILL);
        }
        let _ = reap(me);
        std::thread::sleep(SWEEP_PAUSE);
    }
    let _ = reap(me);
}

fn signal_descendants(me: Pid, signal: Signal) {
    for pid in descendants(me) {
        let _ = kill(pid, signal);
    }
}

/// Every living (not yet zombie) descendant of `root`, read from `/proc/<pid>/stat`.
fn descendants(root: Pid) -> Vec<Pid> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut children: HashMap<i32, Vec<(i32, bool)>> = HashMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so read after the last `)`.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let mut fields = rest.split_whitespace();
        let zombie = fields.next() == Some("Z");
        let Some(ppid) = fields.next().and_then(|ppid| ppid.parse::<i32>().ok()) else { continue };
        children.entry(ppid).or_default().push((pid, zombie));
    }
    let mut found = Vec::new();
    let mut queue = vec![root.as_raw()];
    while let Some(parent) = queue.pop() {
        for &(pid, zombie) in children.get(&parent).map(Vec::as_slice).unwrap_or_default() {
            if !zombie {
                found.push(Pid::from_raw(pid));
            }
            queue.push(pid);
        }
    }
    found
}

fn fail(message: &str) -> ExitCode {
    super::say(message);
    ExitCode::from(super::EXIT_SANDBOX_FAILED)
}
