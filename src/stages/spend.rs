//! What a job spends on the model, and its cap.
//!
//! Every agent call leaves one [`UsageRecord`]: the premium requests and tokens the Copilot CLI
//! reported for it (its `result` event and `--usage-output-file`). The notes and `summary.json`
//! show these records added up per stage and in total, so the total a note shows is always the
//! sum of the records behind it.
//!
//! `COPILOT_MAX_PREMIUM_REQUESTS` caps a job: [`Spend::reached`] is asked before every agent call
//! starts, and each call is counted as soon as it ends. A call that crosses the cap is not cut
//! short (the CLI reports its cost only at its end), but no call starts after it.
//!
//! Each counted call also moves [`Spend::counted`], which the job's monthly ledger record follows
//! (`workflows::spend`), so a job killed mid-way has still recorded every call that ended.

use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::agent::AgentOutcome;
use crate::prompts::message::{Step, UsageFigures, UsageLine, UsageTable};
use crate::prompts::stage::Stage;

/// The cost of one agent call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// The call's stage (`analysis`, `understanding`, `review`, …).
    pub call: String,
    pub premium_requests: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Premium requests and tokens added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub premium_requests: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Totals {
    /// `records` added up.
    pub fn of(records: &[UsageRecord]) -> Self {
        let mut total = Self::default();
        for record in records {
            total.add(record);
        }
        total
    }

    fn add(&mut self, record: &UsageRecord) {
        self.premium_requests += record.premium_requests;
        self.input_tokens += record.input_tokens;
        self.output_tokens += record.output_tokens;
    }

    fn figures(self) -> UsageFigures {
        UsageFigures {
            premium_requests: self.premium_requests,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
        }
    }
}

/// What a job's spending looks like in `summary.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SpendReport {
    /// `COPILOT_MAX_PREMIUM_REQUESTS`, when set.
    pub cap: Option<f64>,
    pub cap_reached: bool,
    pub total: Totals,
    /// Every agent call, in order.
    pub calls: Vec<UsageRecord>,
}

impl super::Summary {
    /// Keeps `report` under `spend`, its total as the summary's top-level premium requests and
    /// tokens: those figures predate the per-call records and must tell the same story, also
    /// counting the calls outside the plan's stages (the project understanding's, a review's).
    pub fn set_spend(&mut self, report: SpendReport) {
        self.premium_requests = report.total.premium_requests;
        self.input_tokens = report.total.input_tokens;
        self.output_tokens = report.total.output_tokens;
        self.spend = Some(report);
    }
}

/// A job's agent calls so far and its cap; shared by every call of the job.
#[derive(Debug)]
pub struct Spend {
    cap: Mutex<Option<f64>>,
    records: Mutex<Vec<UsageRecord>>,
    /// How many calls were counted, for whoever follows the spending as it grows.
    counted: tokio::sync::watch::Sender<usize>,
}

impl Default for Spend {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Spend {
    /// Nothing spent yet, under `cap` premium requests (`None`: no cap).
    pub fn new(cap: Option<f64>) -> Self {
        Self { cap: Mutex::new(cap), records: Mutex::new(Vec::new()), counted: tokio::sync::watch::Sender::new(0) }
    }

    /// How many calls were counted so far; it changes as soon as another call is counted.
    pub fn counted(&self) -> tokio::sync::watch::Receiver<usize> {
        self.counted.subscribe()
    }

    /// The cap in premium requests, when there is one.
    pub fn cap(&self) -> Option<f64> {
        *self.cap.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Lowers the cap to `cap` (a repository's own, below the admin's); never raises it.
    pub fn lower_cap(&self, cap: f64) {
        let mut current = self.cap.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = Some(current.map_or(cap, |current| current.min(cap)));
    }

    /// Counts one finished agent call of `call`.
    pub fn record(&self, call: &str, outcome: &AgentOutcome) {
        let usage = outcome.usage.as_ref();
        let record = UsageRecord {
            call: call.to_owned(),
            premium_requests: outcome.premium_requests.unwrap_or(0.0),
            input_tokens: usage.map_or(0, |usage| usage.input_tokens),
            output_tokens: usage.map_or(0, |usage| usage.output_tokens),
        };
        tracing::info!(
            call,
            premium_requests = record.premium_requests,
            input_tokens = record.input_tokens,
            output_tokens = record.output_tokens,
            "agent call counted"
        );
        let count = {
            let mut records = self.lock();
            records.push(record);
            records.len()
        };
        self.counted.send_replace(count);
    }

    /// Every call so far, in order.
    pub fn records(&self) -> Vec<UsageRecord> {
        self.lock().clone()
    }

    /// Everything so far, added up.
    pub fn total(&self) -> Totals {
        Totals::of(&self.lock())
    }

    /// Whether the job has used its cap: no agent call may start any more.
    pub fn reached(&self) -> bool {
        self.cap().is_some_and(|cap| self.total().premium_requests >= cap)
    }

    /// The records added up per stage, in the order the stages first ran, and in total.
    pub fn table(&self) -> UsageTable {
        let mut stages: Vec<(String, Totals)> = Vec::new();
        let mut total = Totals::default();
        for record in self.lock().iter() {
            total.add(record);
            match stages.iter_mut().find(|(call, _)| *call == record.call) {
                Some((_, totals)) => totals.add(record),
                None => {
                    let mut totals = Totals::default();
                    totals.add(record);
                    stages.push((record.call.clone(), totals));
                }
            }
        }
        let stages = stages
            .into_iter()
            .filter_map(|(call, totals)| {
                let stage = Stage::ALL.into_iter().find(|stage| stage.as_str() == call)?;
                Some(UsageLine { step: Step::Stage(stage), figures: totals.figures() })
            })
            .collect();
        UsageTable { stages, total: total.figures() }
    }

    /// The report `summary.json` keeps.
    pub fn report(&self) -> SpendReport {
        SpendReport { cap: self.cap(), cap_reached: self.reached(), total: self.total(), calls: self.records() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<UsageRecord>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::TokenUsage;

    fn call(premium_requests: f64, input_tokens: u64) -> AgentOutcome {
        AgentOutcome {
            premium_requests: Some(premium_requests),
            usage: Some(TokenUsage { input_tokens, output_tokens: input_tokens / 10, ..TokenUsage::default() }),
            ..AgentOutcome::default()
        }
    }

    #[test]
    fn the_cap_is_reached_when_the_calls_add_up_to_it() {
        let spend = Spend::new(Some(2.0));
        spend.record("analysis", &call(1.0, 100));
        assert!(!spend.reached());
        spend.record("implementation", &call(1.0, 300));
        assert!(spend.reached());
    }

    #[test]
    fn no_cap_is_never_reached() {
        let spend = Spend::new(None);
        spend.record("analysis", &call(1000.0, 100));
        assert!(!spend.reached());
    }

    #[test]
    fn the_table_adds_up_per_stage_in_order_and_its_total_is_the_sum_of_the_records() {
        let spend = Spend::new(None);
        spend.record("understanding", &call(0.5, 100));
        spend.record("analysis", &call(1.0, 200));
        spend.record("analysis", &call(1.0, 300));
        spend.record("implementation", &call(0.33, 1000));
        let table = spend.table();
        let rows: Vec<(&str, f64, u64)> = table
            .stages
            .iter()
            .map(|line| (line.step.as_str(), line.figures.premium_requests, line.figures.input_tokens))
            .collect();
        assert_eq!(rows, [("understanding", 0.5, 100), ("analysis", 2.0, 500), ("implementation", 0.33, 1000)]);
        let records = spend.records();
        let sum: f64 = records.iter().map(|record| record.premium_requests).sum();
        assert!((table.total.premium_requests - sum).abs() < 1e-9);
        assert_eq!(table.total.input_tokens, 1600);
        assert_eq!(table.total.output_tokens, 160);
    }

    #[test]
    fn summary_json_gives_the_spend_total_at_its_top_level_also_without_stages() {
        let spend = Spend::new(None);
        spend.record("understanding", &call(0.5, 100));
        spend.record("review", &call(1.0, 200));
        // As a review writes it: no plan stage, only the spend report.
        let summary = crate::stages::Summary { spend: Some(spend.report()), ..crate::stages::Summary::default() };
        let dir = tempfile::tempdir().unwrap();
        summary.write(dir.path()).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
        assert_eq!(json["premium_requests"].as_f64(), Some(1.5), "{json:#}");
        assert_eq!((json["input_tokens"].as_u64(), json["output_tokens"].as_u64()), (Some(300), Some(30)), "{json:#}");
        assert_eq!(json["premium_requests"], json["spend"]["total"]["premium_requests"]);
    }
}
