//! "@copilot-agent address the review comments": the agent reads every unresolved thread (two by
//! people, one of its own), changes the code in exactly one commit on the merge request's branch,
//! replies on each thread, resolves exactly the ones the model fixed, and leaves a resolved
//! thread alone; run again (also after a job stopped between its push and its replies, or
//! between a reply and its resolve) it makes no second commit, reply or resolve.

use copilot_runner::gitlab::types::Position;
use copilot_runner::gitlab::{Client, ClientOptions};
use copilot_runner_testkit::fake_gitlab::{AGENT, Fault, Note, access};
use copilot_runner_testkit::mock_model::{MockModel, Reply, Rule, Script};
use copilot_runner_testkit::soak;
use secrecy::SecretString;
use serde_json::json;

use super::{NEW_LIB_RS, PROJECT, Rig, run_ok};

const BRANCH: &str = "feature/address";
const STAGE: &str = "copilot-runner-stage: address_threads";
const TEMPORARY: &str = "    let d = a - b;\n    d\n";
const RENAMED: &str = "    let diff = a - b;\n    diff\n";

/// The merge request and its threads: alice's and the agent's (both fixed by the model), dave's
/// general question (left) and one alice resolved herself before anyone asked.
struct World {
    rig: Rig,
    mr_iid: u64,
    alice: String,
    agent: String,
    dave: String,
    resolved: String,
}

/// `user` starts a thread on new line `line` of `src/lib.rs` at the latest version.
async fn diff_thread(rig: &Rig, mr_iid: u64, user: &str, line: u32, body: &str) -> String {
    let client = client(rig, user);
    let refs = client.merge_request_versions(PROJECT, mr_iid).await.unwrap()[0].diff_refs();
    let position: Position = serde_json::from_value(json!({
        "position_type": "text", "base_sha": refs.base_sha, "start_sha": refs.start_sha, "head_sha": refs.head_sha,
        "old_path": "src/lib.rs", "new_path": "src/lib.rs", "new_line": line,
    }))
    .unwrap();
    client.create_diff_discussion(PROJECT, mr_iid, body, &position).await.unwrap().id
}

fn client(rig: &Rig, user: &str) -> Client {
    let token = SecretString::from(rig.gitlab.token(user));
    Client::with_options(&rig.gitlab.api_url(), &token, &ClientOptions::default()).unwrap()
}

async fn world() -> World {
    let rig = Rig::new().await;
    let mr_iid = rig.open_mr(BRANCH, &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    let alice = diff_thread(&rig, mr_iid, "alice", 8, "Name the temporary `diff`, please.").await;
    let finding = "🟡 Minor · maintainability · **The temporary is needless**\n\nReturn it directly.\n\n\
                   <!-- copilot-runner:finding 0123456789abcdef -->";
    let agent = diff_thread(&rig, mr_iid, AGENT, 9, finding).await;
    let dave = rig.gitlab.add_mr_thread(PROJECT, mr_iid, "dave", "Should `mul` saturate instead?");
    let resolved = diff_thread(&rig, mr_iid, "alice", 9, "Typo in the doc comment.").await;
    client(&rig, "alice").resolve_discussion(PROJECT, mr_iid, &resolved).await.unwrap();
    World { rig, mr_iid, alice, agent, dave, resolved }
}

/// The world, the model answering its script, and a job for a new request.
async fn started() -> (World, MockModel, copilot_runner_testkit::ci_job::CiJob) {
    let world = world().await;
    let model = MockModel::start(world.script()).await.unwrap();
    let job = world.job(&model).await;
    (world, model, job)
}

impl World {
    /// Where the stage writes its answers.
    fn answers_path(&self) -> String {
        self.rig.dir.path().join("work/stages/1-address_threads/scratch/answers.json").display().to_string()
    }

    /// The file in the job's clone of the project.
    fn in_clone(&self, file: &str) -> String {
        let project_id = self.rig.gitlab.project_id(PROJECT);
        self.rig.dir.path().join(format!("work/project-{project_id}/{file}")).display().to_string()
    }

    /// The model renames the temporary, fixing alice's and the agent's threads, and leaves dave's.
    fn script(&self) -> Script {
        let answers = json!([
            {"thread": self.alice, "outcome": "fixed", "reason": "Renamed `d` to `diff`."},
            {"thread": self.agent, "outcome": "fixed", "reason": "The rename makes the temporary say what it holds."},
            {"thread": self.dave, "outcome": "left", "reason": "Saturating changes the API; the author should decide."},
        ]);
        Script::new().rule(
            Rule::when(STAGE)
                .then(Reply::edit(&self.in_clone("src/lib.rs"), TEMPORARY, RENAMED))
                .then(Reply::create(&self.answers_path(), &answers.to_string()))
                .then(Reply::text("Renamed the temporary; left the question about `mul`.")),
        )
    }

    /// The request note and a job for it.
    async fn job(&self, model: &MockModel) -> copilot_runner_testkit::ci_job::CiJob {
        self.job_asking(model, "address the review comments").await
    }

    /// Alice's note asking `request` of the agent, and a job for it.
    async fn job_asking(&self, model: &MockModel, request: &str) -> copilot_runner_testkit::ci_job::CiJob {
        let note_id = self.rig.gitlab.add_mr_note(PROJECT, self.mr_iid, "alice", &format!("@{AGENT} {request}"));
        self.rig.note_job(model, self.mr_iid, note_id).await
    }

    fn thread(&self, id: &str) -> Vec<Note> {
        let discussions = self.rig.gitlab.discussions(PROJECT, self.mr_iid);
        discussions.into_iter().find(|(found, _)| found == id).unwrap().1
    }

    fn agent_replies(&self, id: &str) -> Vec<Note> {
        let agent = self.rig.gitlab.user_id(AGENT);
        self.thread(id).into_iter().skip(1).filter(|note| note.author_id == agent).collect()
    }

    async fn head(&self) -> String {
        self.rig.gitlab.branch_head(PROJECT, BRANCH).await.unwrap()
    }

    /// Every unresolved thread has one reply; alice's and the agent's are resolved by the agent,
    /// dave's stays open, and the thread alice resolved is as she left it.
    fn assert_addressed(&self, commit: &str) {
        let agent = self.rig.gitlab.user_id(AGENT);
        for fixed in [&self.alice, &self.agent] {
            let replies = self.agent_replies(fixed);
            assert_eq!(replies.len(), 1, "{:#?}", self.thread(fixed));
            assert!(replies[0].body.contains(&format!("Fixed in `{commit}`")), "{}", replies[0].body);
            let notes = self.thread(fixed);
            assert!(notes.iter().all(|note| note.resolved && note.resolved_by == Some(agent)), "{notes:#?}");
        }
        let replies = self.agent_replies(&self.dave);
        assert_eq!(replies.len(), 1, "{:#?}", self.thread(&self.dave));
        assert!(replies[0].body.contains("Left as it is: Saturating changes the API"), "{}", replies[0].body);
        assert!(self.thread(&self.dave).iter().all(|note| !note.resolved), "a thread it left stays open");
        let resolved = self.thread(&self.resolved);
        assert_eq!(resolved.len(), 1, "the resolved thread got a reply: {resolved:#?}");
        assert_eq!(resolved[0].resolved_by, Some(self.rig.gitlab.user_id("alice")), "{resolved:#?}");
    }

    /// How many address-threads prompts the model got.
    fn stage_calls(model: &MockModel) -> usize {
        model.completions().iter().filter(|request| request.json().to_string().contains(STAGE)).count()
    }
}

#[tokio::test]
async fn addressing_the_threads_makes_one_commit_replies_on_each_and_resolves_only_the_fixed_ones() {
    let (world, model, job) = started().await;
    let before = world.head().await;

    run_ok(&job).await;
    let head = world.head().await;
    let commit = world.rig.gitlab.commit(PROJECT, &head).await.unwrap();
    assert_eq!(commit.parent_ids, [before], "exactly one commit on the branch");
    assert!(commit.message.contains("Copilot-Request: mr-"), "{}", commit.message);
    let lib = world.rig.gitlab.read_file(PROJECT, &head, "src/lib.rs").await.unwrap();
    assert!(lib.contains(RENAMED), "{lib}");
    world.assert_addressed(&head);
    let prompt = model.completions().into_iter().find(|request| request.json().to_string().contains(STAGE)).unwrap();
    let prompt = prompt.json().to_string();
    for id in [&world.alice, &world.agent, &world.dave] {
        assert!(prompt.contains(id.as_str()), "the prompt lists thread {id}");
    }
    assert!(!prompt.contains(&world.resolved), "a resolved thread is not the agent's to address");

    // The same job again: no commit, no reply, no resolve, no second question to the model.
    let calls = World::stage_calls(&model);
    world.rig.gitlab.clear_requests();
    run_ok(&job).await;
    assert_eq!(world.head().await, head);
    world.assert_addressed(&head);
    assert!(world.rig.gitlab.requests_to("PUT /projects/*/merge_requests/*/discussions/*").is_empty());
    assert!(world.rig.gitlab.requests_to("POST /projects/*/merge_requests/*/discussions/*/notes").is_empty());
    assert_eq!(World::stage_calls(&model), calls);
}

#[tokio::test]
async fn a_job_stopped_after_its_push_replies_from_its_commit_when_run_again() {
    let (world, model, job) = started().await;
    let before = world.head().await;

    // GitLab refuses every reply: the change is pushed, no thread is answered or resolved.
    world.rig.gitlab.inject(Fault::on("POST", "/projects/*/merge_requests/*/discussions/*/notes").status(403));
    run_ok(&job).await;
    let head = world.head().await;
    assert_ne!(head, before);
    assert!(world.agent_replies(&world.alice).is_empty());
    assert!(world.thread(&world.alice).iter().all(|note| !note.resolved));

    // Run again: the answers come from the commit, the model is not asked, nothing is committed.
    world.rig.gitlab.clear_faults();
    let calls = World::stage_calls(&model);
    run_ok(&job).await;
    assert_eq!(world.head().await, head, "no second commit");
    assert_eq!(World::stage_calls(&model), calls, "the model was not asked again");
    world.assert_addressed(&head);
}

#[tokio::test]
async fn a_job_stopped_between_a_reply_and_its_resolve_resolves_without_replying_again() {
    let (world, _model, job) = started().await;

    world.rig.gitlab.inject(Fault::on("PUT", "/projects/*/merge_requests/*/discussions/*").status(403));
    run_ok(&job).await;
    let head = world.head().await;
    assert_eq!(world.agent_replies(&world.alice).len(), 1);
    assert!(world.thread(&world.alice).iter().all(|note| !note.resolved));

    world.rig.gitlab.clear_faults();
    world.rig.gitlab.clear_requests();
    run_ok(&job).await;
    assert_eq!(world.head().await, head);
    world.assert_addressed(&head);
    let resolves = world.rig.gitlab.requests_to("PUT /projects/*/merge_requests/*/discussions/*");
    assert_eq!(resolves.len(), 2, "alice's and the agent's threads, once each");
}

/// A request's job killed with SIGKILL (its whole process tree) at a moment `seed` picks, then
/// run again: one commit, one reply per thread, the fixed threads resolved, whatever the moment.
async fn killed_and_run_again(seed: u64, whole: std::time::Duration) -> Option<i32> {
    let (world, _model, job) = started().await;
    let before = world.head().await;
    let at = whole.mul_f64(0.2 + 0.8 * soak::unit(seed));
    let first = soak::run_killed(&job, at).await.unwrap();
    run_ok(&job).await;
    let head = world.head().await;
    let commit = world.rig.gitlab.commit(PROJECT, &head).await.unwrap();
    assert_eq!(commit.parent_ids, [before], "seed {seed} (killed after {at:?}): one commit");
    world.assert_addressed(&head);
    first
}

#[tokio::test]
async fn a_request_killed_at_random_commits_replies_and_resolves_once_when_run_again() {
    // One whole run first: how long a job takes.
    let (_world, _model, job) = started().await;
    let started = std::time::Instant::now();
    run_ok(&job).await;
    let whole = started.elapsed();

    let mut killed = 0;
    for seed in [4, 13, 27] {
        killed += usize::from(killed_and_run_again(seed, whole).await.is_none());
    }
    assert!(killed > 0, "every job ended before its kill: the test killed nothing");
}

#[tokio::test]
async fn a_request_killed_between_its_replies_replies_to_no_thread_twice() {
    let (world, _model, job) = started().await;
    let replies = || world.rig.gitlab.requests_to("POST /projects/*/merge_requests/*/discussions/*/notes").len();
    let first = soak::run_killed_when(&job, std::time::Duration::from_secs(120), || replies() >= 1).await.unwrap();
    assert_eq!(first, None, "the job was killed after its first reply");
    run_ok(&job).await;
    world.assert_addressed(&world.head().await);
}

#[tokio::test]
async fn a_requester_who_may_not_push_gets_the_fix_in_a_follow_up_and_no_thread_is_resolved() {
    let (world, _model, job) = started().await;
    world.rig.gitlab.protect_branch(PROJECT, BRANCH, access::MAINTAINER, &[]);
    let before = world.head().await;
    run_ok(&job).await;

    assert_eq!(world.head().await, before, "the protected source branch is untouched");
    let follow_up = world.rig.gitlab.merge_requests(PROJECT).into_iter().find(|mr| mr.target_branch == BRANCH);
    let follow_up = follow_up.expect("a follow-up merge request into the source branch");
    let head = world.rig.gitlab.branch_head(PROJECT, &follow_up.source_branch).await.unwrap();
    let commit = world.rig.gitlab.commit(PROJECT, &head).await.unwrap();
    assert_eq!(commit.parent_ids, [before], "one commit on the follow-up branch");
    for fixed in [&world.alice, &world.agent] {
        let replies = world.agent_replies(fixed);
        assert_eq!(replies.len(), 1, "{:#?}", world.thread(fixed));
        let expected = format!("on the follow-up merge request !{}", follow_up.iid);
        assert!(replies[0].body.contains(&expected), "{}", replies[0].body);
    }
    for id in [&world.alice, &world.agent, &world.dave] {
        assert!(world.thread(id).iter().all(|note| !note.resolved), "nothing merged yet: {:#?}", world.thread(id));
    }
}

#[tokio::test]
async fn the_request_and_the_replies_speak_each_of_the_six_languages() {
    // Each language's request, and its reply on the thread the model left.
    let expected = [
        ("en", "address the threads", "➖ Left as it is: "),
        ("zh", "处理评审意见", "➖ 保持原样："),
        ("ja", "レビューコメントに対応して", "➖ そのままにしました："),
        ("ko", "리뷰 코멘트를 반영해 주세요", "➖ 그대로 둠: "),
        ("hi", "टिप्पणियों को संबोधित करें", "➖ जैसा था वैसा छोड़ा गया: "),
        ("th", "แก้ตามความคิดเห็นรีวิว", "➖ ปล่อยไว้ตามเดิม: "),
    ];
    for (language, request, left) in expected {
        let world = world().await;
        let model = MockModel::start(world.script()).await.unwrap();
        let mut job = world.job_asking(&model, request).await;
        job.set("COPILOT_LANGUAGE", language);
        run_ok(&job).await;
        let replies = world.agent_replies(&world.dave);
        assert_eq!(replies.len(), 1, "{language}: {:#?}", world.thread(&world.dave));
        assert!(replies[0].body.starts_with(left), "{language}: {}", replies[0].body);
        assert!(world.thread(&world.alice).iter().all(|note| note.resolved), "{language}");
    }
}

#[tokio::test]
async fn a_request_at_the_premium_request_cap_gets_the_spend_cap_note_and_changes_nothing() {
    let (world, model, mut job) = started().await;
    let before = world.head().await;
    // A self-hosted model costs no premium requests, so a cap of 0 is the one this model reaches.
    job.set("COPILOT_MAX_PREMIUM_REQUESTS", "0");

    let out = job.run().await;
    assert_eq!(out.status.code(), Some(1), "{}", copilot_runner_testkit::ci_job::text(&out.stderr));
    assert_eq!(World::stage_calls(&model), 0, "no agent call starts at the cap");
    assert_eq!(world.head().await, before, "nothing is pushed");
    let agent = world.rig.gitlab.user_id(AGENT);
    let notes: Vec<String> = world
        .rig
        .gitlab
        .mr_notes(PROJECT, world.mr_iid)
        .into_iter()
        .filter(|note| note.author_id == agent && !note.system)
        .map(|note| note.body)
        .collect();
    let cap_note = notes
        .iter()
        .find(|note| note.contains("`COPILOT_MAX_PREMIUM_REQUESTS`"))
        .unwrap_or_else(|| panic!("the note says the cap was reached: {notes:#?}"));
    assert!(cap_note.contains("nothing was committed or pushed"), "{cap_note}");
    assert!(!notes.iter().any(|note| note.contains("copilot-runner:status failure")), "{notes:#?}");
    assert!(world.agent_replies(&world.alice).is_empty(), "no thread is answered");
}
