//! The shipped images, built and run for real: `scripts/image build` makes the agent and webhook
//! images with buildah, then a triggered job runs inside the agent image, as its unprivileged
//! user, against the standalone `fake-gitlab` and `mock-model` servers on this machine's
//! loopback, and the job's effect is visible through the fake's REST API: one Draft MR.
//!
//! Heavy (a release build and a Debian system), so it is ignored by the ordinary suite and run on
//! purpose: `scripts/image test`, which CI runs after `scripts/test`. Once started it never skips
//! itself: a missing tool or a failed build fails it.
#![expect(clippy::disallowed_methods, reason = "the test runs scripts/image, buildah and the built binaries")]

use std::path::Path;
use std::process::{Command, Output};

use copilot_runner_testkit::fake_gitlab::AGENT;
use copilot_runner_testkit::standalone::IssueJobServers;

const AGENT_IMAGE: &str = "localhost/copilot-runner:dev";
const WEBHOOK_IMAGE: &str = "localhost/copilot-runner-webhook:dev";
/// The job user of the image (`USER 10001:10001`).
const JOB_USER: &str = "10001:10001";
/// Where the job's scratch folder is mounted inside the container.
const JOB_DIR: &str = "/job";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A working container of `image`, removed on drop.
struct Container {
    id: String,
}

impl Container {
    fn from(image: &str) -> Self {
        let output = Command::new("buildah").args(["from", "--quiet", image]).output().expect("buildah runs");
        assert!(output.status.success(), "buildah from {image} failed:\n{}", text(&output));
        Self { id: String::from_utf8_lossy(&output.stdout).trim().to_owned() }
    }

    /// `command` in the container as the job user, on the host's network (the servers listen on
    /// its loopback), with `volumes` mounted and only `env` added to the image's environment.
    fn run(&self, volumes: &[String], env: &[(&str, &str)], command: &[&str]) -> Output {
        let mut buildah = Command::new("buildah");
        buildah.args(["run", "--isolation", "chroot", "--network", "host", "--user", JOB_USER]);
        for volume in volumes {
            buildah.arg("--volume").arg(volume);
        }
        for (name, value) in env {
            buildah.arg("--env").arg(format!("{name}={value}"));
        }
        buildah.arg(&self.id).arg("--").args(command).output().expect("buildah runs")
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("buildah").args(["rm", &self.id]).output();
    }
}

/// One test, so the images are built once and never by two builds at a time.
#[test]
#[ignore = "heavy: builds the container images; run by `scripts/image test`"]
fn both_images_build_and_the_agent_image_runs_a_triggered_job_that_opens_a_draft_mr() {
    let build = Command::new(repo().join("scripts/image")).arg("build").current_dir(repo()).output().expect("runs");
    assert!(build.status.success(), "scripts/image build failed:\n{}", text(&build));
    for image in [AGENT_IMAGE, WEBHOOK_IMAGE] {
        let inspect = Command::new("buildah").args(["inspect", "--type", "image", image]).output().expect("runs");
        assert!(inspect.status.success(), "{image} was not built:\n{}", text(&inspect));
    }
    webhook_image_holds_only_the_binary_and_serves_as_its_unprivileged_user();
    agent_image_runs_a_triggered_job_that_opens_a_draft_mr_as_its_unprivileged_user();
}

fn agent_image_runs_a_triggered_job_that_opens_a_draft_mr_as_its_unprivileged_user() {
    let agent = Container::from(AGENT_IMAGE);
    let version = agent.run(&[], &[], &["copilot-runner", "--version"]);
    assert!(version.status.success(), "copilot-runner --version failed:\n{}", text(&version));
    assert!(text(&version).starts_with("copilot-runner "), "{}", text(&version));
    let cli = agent.run(&[], &[], &["copilot", "--version"]);
    assert!(cli.status.success(), "copilot --version failed:\n{}", text(&cli));
    assert!(text(&cli).contains("GitHub Copilot CLI"), "{}", text(&cli));
    let whoami = agent.run(&[], &[], &["id", "-u"]);
    assert_eq!(text(&whoami).trim(), "10001", "the job runs as the image's user");
    let sandbox = agent.run(&[], &[], &["printenv", "COPILOT_SANDBOX"]);
    assert_eq!(text(&sandbox).trim(), "require", "the image requires the agent sandbox");

    // The job's folder: artifacts and work area, writable by the job user only through its mode
    // (the test runs as root, the job does not).
    let scratch = tempfile::tempdir().expect("a scratch folder");
    // The agent project's checkout (`CI_PROJECT_DIR`, artifacts in it) and the work area beside
    // it, as in a real job: the agent may never reach the checkout.
    let job = scratch.path().join("job");
    std::fs::create_dir_all(job.join("agent-project")).expect("test setup");
    let chmod =
        Command::new("chmod").arg("0777").arg(&job).arg(job.join("agent-project")).output().expect("chmod runs");
    assert!(chmod.status.success(), "{}", text(&chmod));

    // The model's tool calls name paths as the job sees them, inside the container.
    let servers = IssueJobServers::start(
        |name| copilot_runner_testkit::testkit_bin!(name),
        scratch.path(),
        &Path::new(JOB_DIR).join("work"),
    );
    let world = &servers.world;
    let project_id = world.target_project_id();

    let (project_id_text, agent_token) = (project_id.to_string(), world.token(AGENT));
    // The job's own pipeline, triggered with inputs as the webhook service triggers it: `run`
    // checks its variables first.
    let inputs = [("inputs[trigger_type]", "issue_assignee"), ("inputs[target_project_id]", project_id_text.as_str())];
    let pipeline_id =
        world.trigger_agent_pipeline(&inputs.map(|(name, value)| (name.to_owned(), value.to_owned()))).to_string();
    let agent_project_id = world.agent_project_id().to_string();
    let volumes = [format!("{}:{JOB_DIR}", job.display())];
    let env = [
        ("CI", "true"),
        ("CI_PIPELINE_SOURCE", "trigger"),
        ("CI_PROJECT_DIR", "/job/agent-project"),
        ("CI_SERVER_URL", world.url()),
        ("CI_PROJECT_ID", agent_project_id.as_str()),
        ("CI_PIPELINE_ID", pipeline_id.as_str()),
        ("TRIGGER_TYPE", "issue_assignee"),
        ("TARGET_PROJECT_ID", project_id_text.as_str()),
        ("TARGET_ISSUE_IID", "1"),
        ("GITLAB_API_BASE", world.url()),
        ("GITLAB_TOKEN", agent_token.as_str()),
        ("COPILOT_ARTIFACTS_DIR", "/job/agent-project/copilot-artifacts"),
        ("COPILOT_WORK_DIR", "/job/work"),
        ("COPILOT_OFFLINE", "true"),
        ("COPILOT_PROVIDER_BASE_URL", servers.model.ready.as_str()),
        ("COPILOT_MODEL", "gpt-4.1"),
        ("COPILOT_STAGE_TIMEOUT", "180"),
    ];
    let output = agent.run(&volumes, &env, &["copilot-runner", "run"]);
    let log = text(&output);
    assert!(output.status.success(), "the job failed inside the agent image:\n{log}");
    assert!(!log.contains(&agent_token), "the GitLab token reached the job log");
    assert!(
        job.join("agent-project/copilot-artifacts/copilot-runner.log").is_file(),
        "the job wrote its log artifact:\n{log}"
    );

    servers.only_draft_mr(&log);
}

fn webhook_image_holds_only_the_binary_and_serves_as_its_unprivileged_user() {
    let webhook = Container::from(WEBHOOK_IMAGE);
    let version = webhook.run(&[], &[], &["/usr/local/bin/copilot-runner", "--version"]);
    assert!(version.status.success(), "copilot-runner --version failed:\n{}", text(&version));
    for absent in ["/bin/sh", "/usr/bin/git", "/usr/bin/node"] {
        let output = webhook.run(&[], &[], &[absent, "--version"]);
        assert!(!output.status.success(), "the webhook image should not carry {absent}");
    }
    let config = Command::new("buildah")
        .args(["inspect", "--type", "image", "--format", "{{.OCIv1.Config.User}} {{.OCIv1.Config.Cmd}}", WEBHOOK_IMAGE])
        .output()
        .expect("buildah runs");
    assert_eq!(text(&config).trim(), "10001:10001 [/usr/local/bin/copilot-runner serve]");
}
