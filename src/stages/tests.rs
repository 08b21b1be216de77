//! The premium-request cap in the stage loop: a stage whose call crosses the cap finishes, and
//! nothing starts after it; a stage whose output was rejected is not asked again past the cap.

use std::sync::Mutex;

use super::*;
use crate::planner::{Complexity, PlannedStage};

/// An agent that answers every call at once, each call costing `cost` premium requests; the JSON
/// outputs it writes are `{}`, which the analysis and architecture stages always reject.
#[derive(Debug)]
struct CostingAgent {
    cost: f64,
    stages: Mutex<Vec<String>>,
}

impl Agent for CostingAgent {
    async fn run_stage(&self, request: StageRequest) -> Result<AgentOutcome, AgentError> {
        self.stages.lock().unwrap().push(request.stage.clone());
        for file in ["analysis.json", "architecture.json"] {
            let _ = std::fs::write(request.scratch_dir.join(file), "{}");
        }
        Ok(AgentOutcome {
            final_message: Some("Done.".to_owned()),
            premium_requests: Some(self.cost),
            ..AgentOutcome::default()
        })
    }
}

fn plan(stages: &[Stage]) -> Plan {
    Plan {
        complexity: Complexity::Small,
        categories: Vec::new(),
        mentioned_paths: Vec::new(),
        acceptance_criteria: Vec::new(),
        stages: stages.iter().map(|stage| PlannedStage { stage: *stage, reason: String::new() }).collect(),
        reasons: Vec::new(),
    }
}

fn input() -> StageInput {
    StageInput {
        task: Task::local("Add a greeting"),
        request: None,
        project: ProjectContext::new(None, None, &[]),
        branch: "copilot/greeting".to_owned(),
    }
}

/// Runs `plan` with calls costing `cost` under `cap`; returns the stages the agent was called
/// for, the outcome, and what was spent.
async fn run(stages: &[Stage], cost: f64, cap: f64) -> (Vec<String>, Result<Summary, PlanStopped>, spend::Totals) {
    let dir = tempfile::tempdir().unwrap();
    let agent = CostingAgent { cost, stages: Mutex::new(Vec::new()) };
    let prompts = Prompts::new(None).unwrap();
    let spend = Spend::new(Some(cap));
    let runner = StageRunner {
        agent: &agent,
        prompts: &prompts,
        language: Language::En,
        repo_dir: dir.path().join("repo"),
        artifacts_dir: dir.path().join("artifacts"),
        work_dir: dir.path().join("work"),
        stage_timeout: Duration::from_secs(60),
        deadline: None,
        spend: &spend,
        stop: None,
    };
    let ran = runner.run_plan(&plan(stages), &input(), None, &mut ()).await;
    let called = agent.stages.lock().unwrap().clone();
    (called, ran, spend.total())
}

fn cap_reached_at(ran: &Result<Summary, PlanStopped>) -> Option<&'static str> {
    match ran {
        Err(stopped) => match stopped.error.downcast_ref::<StageError>() {
            Some(StageError::CapReached { stage, .. }) => Some(stage),
            _ => None,
        },
        Ok(_) => None,
    }
}

#[tokio::test]
async fn the_stage_that_reaches_the_cap_finishes_and_no_later_stage_starts() {
    let stages = [Stage::Implementation, Stage::Tests, Stage::Docs];
    let (called, ran, spent) = run(&stages, 1.0, 2.0).await;
    assert_eq!(called, ["implementation", "tests"]);
    assert_eq!(cap_reached_at(&ran), Some("docs"));
    let stopped = ran.unwrap_err();
    let done: Vec<Stage> = stopped.summary.stages.iter().map(|report| report.stage).collect();
    assert_eq!(done, [Stage::Implementation, Stage::Tests], "both stages before the cap are whole");
    assert_eq!(spent.premium_requests, 2.0);
    let report = stopped.summary.spend.unwrap();
    assert!(report.cap_reached);
    assert_eq!(report.calls.len(), 2);
}

#[tokio::test]
async fn a_call_that_crosses_the_cap_is_counted_whole() {
    let (called, ran, spent) = run(&[Stage::Implementation, Stage::Tests], 1.5, 1.0).await;
    assert_eq!(called, ["implementation"]);
    assert_eq!(cap_reached_at(&ran), Some("tests"));
    assert_eq!(spent.premium_requests, 1.5);
}

#[tokio::test]
async fn a_rejected_output_is_not_asked_for_again_past_the_cap() {
    let (called, ran, _) = run(&[Stage::Analysis, Stage::Implementation], 1.0, 1.0).await;
    assert_eq!(called, ["analysis"], "the retry would have been a second call");
    assert_eq!(cap_reached_at(&ran), Some("analysis"));
    let Err(stopped) = ran else { panic!("the plan stopped") };
    assert!(stopped.summary.stages.is_empty(), "the half-done stage is not reported as done");
    let Some(StageError::CapReached { usage, .. }) = stopped.error.downcast_ref::<StageError>() else {
        panic!("{:#}", stopped.error)
    };
    assert_eq!((usage.agent_calls, usage.premium_requests), (1, 1.0));
}

#[tokio::test]
async fn under_the_cap_every_stage_runs() {
    let (called, ran, spent) = run(&[Stage::Implementation, Stage::Tests], 1.0, 10.0).await;
    assert_eq!(called, ["implementation", "tests"]);
    let summary = ran.unwrap();
    assert_eq!(summary.spend.unwrap().total.premium_requests, spent.premium_requests);
}
