//! The short commands in notes, end to end: `stop` ends a running job within a poll of its
//! pipeline with nothing pushed, `retry` runs the last failed request again, `help` lists the
//! commands in the project's language.

use std::time::{Duration, Instant};

use copilot_runner_testkit::ci_job::{AGENT_PROJECT, text};
use copilot_runner_testkit::fake_gitlab::{Fault, Noteable};
use copilot_runner_testkit::mock_model::{Reply, Script};

use super::rig::{PROJECT, Rig, WAIT, greeting_script, status_notes};

/// Gives the job a pipeline of its own in the agent project, as a new trigger would.
async fn new_pipeline(rig: &mut Rig) -> u64 {
    let pipeline = rig.gitlab.start_triggered_pipeline(AGENT_PROJECT, &[], &[]).await.unwrap();
    rig.gitlab.hold_running(pipeline);
    rig.job.set("CI_PIPELINE_ID", pipeline.to_string());
    pipeline
}

/// Waits until `done` holds, or fails after [`WAIT`] saying `what`.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < WAIT, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn stop_ends_a_running_job_within_a_poll_and_nothing_is_pushed() {
    // The agent hangs in its one stage: only a stop (or the 120 s stage timeout) ends it.
    let mut rig = Rig::start(|_| Script::new().fallback(Reply::Hang)).await;
    rig.job.set("USE_ORCHESTRATED_ISSUE", "false").set("RETRY_INTERVAL_TIME", "1");
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");
    let running_pipeline: u64 =
        rig.job.vars().iter().find(|(name, _)| name == "CI_PIPELINE_ID").unwrap().1.parse().unwrap();
    let mut running = rig.job.spawn();
    until("the agent is working", || !rig.model.completions().is_empty()).await;

    // Control: without a stop the job goes on working.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(running.try_wait().unwrap().is_none(), "the job ended by itself");

    rig.comment_on_issue(iid, "alice", "@copilot-agent stop");
    let stop_pipeline = new_pipeline(&mut rig).await;
    assert_ne!(stop_pipeline, running_pipeline);
    let stopping = rig.job.spawn();
    until("the running job's pipeline is cancelled", || {
        rig.gitlab.pipeline_status(running_pipeline).as_deref() == Some("canceled")
    })
    .await;
    let cancelled = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(20), running.wait()).await;
    let ended = ended.expect("the stopped job still runs 20 s after its pipeline was cancelled").unwrap();
    tracing::info!(after = ?cancelled.elapsed(), "the stopped job ended");
    assert!(cancelled.elapsed() < Duration::from_secs(10), "ended {:?} after the cancel", cancelled.elapsed());
    assert_eq!(ended.code(), Some(0));
    let stopped = stopping.wait_with_output().await.unwrap();
    assert_eq!(stopped.status.code(), Some(0));
    assert_ne!(rig.gitlab.pipeline_status(stop_pipeline).as_deref(), Some("canceled"), "the stop cancelled itself");

    assert_eq!(rig.gitlab.branch_head(PROJECT, "copilot/issue-2").await, None, "pushed after the stop");
    assert!(rig.gitlab.merge_requests(PROJECT).is_empty());
    let notes = rig.agent_notes(rig.on_issue(iid));
    let status = status_notes(&notes);
    assert_eq!(status.len(), 1, "{notes:#?}");
    assert!(status[0].starts_with("⏹️ **Stopped** by @alice at "), "{}", status[0]);
    assert!(notes.iter().any(|note| note.contains("@alice Stopped: I cancelled")), "{notes:#?}");

    // Nothing runs any more: a second stop says so.
    rig.comment_on_issue(iid, "alice", "@copilot-agent stop");
    new_pipeline(&mut rig).await;
    let again = rig.run().await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let notes = rig.agent_notes(rig.on_issue(iid));
    assert!(notes.last().unwrap().contains("nothing to stop"), "{notes:#?}");
}

#[tokio::test]
async fn retry_runs_the_last_failed_request_again() {
    let mut rig = Rig::start(greeting_script).await;
    rig.job.set("USE_ORCHESTRATED_ISSUE", "false");
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");

    // Nothing failed yet: nothing to retry.
    rig.comment_on_issue(iid, "alice", "@copilot-agent retry");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(rig.agent_notes(rig.on_issue(iid)).last().unwrap().contains("nothing to retry"));

    // The assignment fails at its merge request.
    rig.gitlab.inject(Fault::on("POST", "/projects/*/merge_requests").status(403).times(1));
    rig.assign(iid, "alice");
    new_pipeline(&mut rig).await;
    let failed = rig.run().await;
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stderr));
    assert!(rig.gitlab.merge_requests(PROJECT).is_empty());

    rig.comment_on_issue(iid, "dave", "@copilot-agent retry please");
    new_pipeline(&mut rig).await;
    let retried = rig.run().await;
    assert_eq!(retried.status.code(), Some(0), "{}", text(&retried.stderr));
    let mrs = rig.gitlab.merge_requests(PROJECT);
    assert_eq!(mrs.len(), 1, "{mrs:#?}");
    let notes = rig.agent_notes(rig.on_issue(iid));
    assert!(notes.iter().any(|note| note.contains("@dave Running the request that failed again.")), "{notes:#?}");
    // The re-run edited its status and outcome notes: one of each, now a success.
    assert_eq!(status_notes(&notes).len(), 1, "{notes:#?}");
    assert!(!notes.iter().any(|note| note.contains("The work failed")), "{notes:#?}");
}

#[tokio::test]
async fn help_lists_the_commands_in_the_projects_language() {
    let mut rig = Rig::start(|_| Script::new()).await;
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.comment_on_issue(iid, "alice", "@copilot-agent help");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let help = rig.agent_notes(rig.on_issue(iid)).last().cloned().unwrap();
    assert!(help.contains("| `stop` |") && help.contains("| `retry` |"), "{help}");
    assert!(!help.contains("| `review` |"), "the merge request commands are not for issues: {help}");

    let mr = rig.open_merge_request("alice", "feature/greet", &[("greet.txt", Some("hi\n"))]).await;
    rig.job.set("COPILOT_LANGUAGE", "zh");
    rig.comment_on_merge_request(mr, "alice", "@copilot-agent 帮助");
    new_pipeline(&mut rig).await;
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let on = Noteable::MergeRequest { project_id: rig.project_id, iid: mr };
    let help = rig.agent_notes(on).last().cloned().unwrap();
    assert!(help.contains("| `评审` |") && help.contains("| `停止` |"), "{help}");

    // The project's own `.gitlab/copilot-agent.yml` names its language: that one, over the admin's.
    let rules = [(".gitlab/copilot-agent.yml", Some("language: ko\n"))];
    rig.gitlab.push_files(PROJECT, "main", &rules, "Agent rules", "alice").await.unwrap();
    rig.job.set("COPILOT_LANGUAGE", "en");
    rig.comment_on_issue(iid, "alice", "@copilot-agent help");
    new_pipeline(&mut rig).await;
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let help = rig.agent_notes(rig.on_issue(iid)).last().cloned().unwrap();
    assert!(help.contains("다음 명령 중 하나와 함께"), "{help}");
    assert!(rig.model.completions().is_empty(), "help asked the model");
}

/// One language's command words, and what its answers say.
struct Words {
    language: &'static str,
    stop: &'static str,
    retry: &'static str,
    help: &'static str,
    plan: &'static str,
    proceed: &'static str,
    nothing_to_stop: &'static str,
    nothing_to_retry: &'static str,
    help_heading: &'static str,
    plan_note: &'static str,
}

const LANGUAGES: [Words; 6] = [
    Words {
        language: "en",
        help_heading: "Mention me with one of these commands",
        stop: "stop",
        retry: "retry",
        help: "help",
        plan: "plan first",
        proceed: "proceed",
        nothing_to_stop: "nothing to stop",
        nothing_to_retry: "nothing to retry",
        plan_note: "Here is my plan",
    },
    Words {
        language: "zh",
        help_heading: "提及我并附上以下命令之一",
        stop: "停止",
        retry: "重试",
        help: "帮助",
        plan: "先出个计划",
        proceed: "继续",
        nothing_to_stop: "无需停止",
        nothing_to_retry: "无需重试",
        plan_note: "这是我的计划",
    },
    Words {
        language: "ja",
        help_heading: "次のいずれかのコマンドを付けてメンション",
        stop: "停止してください",
        retry: "再試行してください",
        help: "ヘルプ",
        plan: "計画を立ててください",
        proceed: "続行してください",
        nothing_to_stop: "停止するものはありません",
        nothing_to_retry: "再試行するものはありません",
        plan_note: "計画は次のとおりです",
    },
    Words {
        language: "ko",
        help_heading: "다음 명령 중 하나와 함께",
        stop: "중지해 주세요",
        retry: "재시도해 주세요",
        help: "도움말",
        plan: "계획을 세워 주세요",
        proceed: "진행해 주세요",
        nothing_to_stop: "중지할 것이 없습니다",
        nothing_to_retry: "재시도할 것이 없습니다",
        plan_note: "제 계획은",
    },
    Words {
        language: "hi",
        help_heading: "इनमें से किसी एक कमांड के साथ",
        stop: "रोकें",
        retry: "दोबारा चलाएं",
        help: "मदद",
        plan: "पहले योजना बनाएं",
        proceed: "आगे बढ़ें",
        nothing_to_stop: "रोकने को कुछ नहीं है",
        nothing_to_retry: "दोबारा चलाने को कुछ नहीं है",
        plan_note: "यह मेरी योजना है",
    },
    Words {
        language: "th",
        help_heading: "กล่าวถึงฉันพร้อมคำสั่งใดคำสั่งหนึ่ง",
        stop: "หยุด",
        retry: "ลองใหม่",
        help: "คำสั่ง",
        plan: "วางแผนก่อน",
        proceed: "ดำเนินการต่อ",
        nothing_to_stop: "ไม่มีอะไรให้หยุด",
        nothing_to_retry: "ไม่มีอะไรให้ลองใหม่",
        plan_note: "นี่คือแผนของฉัน",
    },
];

#[tokio::test]
async fn the_commands_work_in_every_prompt_language() {
    let mut rig = Rig::start(greeting_script).await;
    for (index, words) in LANGUAGES.iter().enumerate() {
        rig.job.set("COPILOT_LANGUAGE", words.language);
        let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
        let ask = async |rig: &mut Rig, command: &str| {
            rig.comment_on_issue(iid, "alice", &format!("@copilot-agent {command}"));
            new_pipeline(rig).await;
            let out = rig.run().await;
            assert_eq!(out.status.code(), Some(0), "{}: {command}: {}", words.language, text(&out.stderr));
            rig.agent_notes(rig.on_issue(iid))
        };
        let said = |notes: &[String], what: &str| notes.iter().any(|note| note.contains(what));
        let notes = ask(&mut rig, words.stop).await;
        assert!(said(&notes, words.nothing_to_stop), "{}: {notes:#?}", words.language);
        let notes = ask(&mut rig, words.retry).await;
        assert!(said(&notes, words.nothing_to_retry), "{}: {notes:#?}", words.language);
        let notes = ask(&mut rig, words.help).await;
        assert!(said(&notes, words.help_heading), "{}: {notes:#?}", words.language);
        assert_eq!(notes.len(), 3, "{}: one answer per command: {notes:#?}", words.language);
        let notes = ask(&mut rig, words.plan).await;
        assert!(said(&notes, words.plan_note), "{}: {notes:#?}", words.language);
        ask(&mut rig, words.proceed).await;
        assert_eq!(rig.gitlab.merge_requests(PROJECT).len(), index + 1, "{}: proceed opened no MR", words.language);
    }
}
