//! A job's spending as the projects' monthly ledger sees it: before work starts, the project's
//! spending this month against `COPILOT_MONTHLY_PREMIUM_REQUESTS`; while it runs, its own record
//! (every agent call it made so far, added up), written again after each call and once more when
//! it ends, which later jobs and `copilot-runner usage` read.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use tokio::sync::Notify;

use super::Job;
use crate::context::spend_ledger::{JobSpend, SpendLedger, month_of};
use crate::context::store::CacheStore;
use crate::env_vars;
use crate::gitlab::UserBasic;
use crate::prompts::message::MonthlyCapNote;
use crate::stages::Spend;
use crate::stages::spend::Totals;
use crate::untrusted::Username;

impl Job {
    fn spend_ledger(&self) -> anyhow::Result<SpendLedger> {
        let store = CacheStore::from_settings(&self.settings.cache, &self.env)
            .context("while opening the context cache's store, which keeps the monthly spending")?;
        Ok(SpendLedger::new(store))
    }

    /// The note refusing `actor`'s request when project `project_id` has used its monthly cap
    /// (`cap`: the admin's, or the repository's lower one); `None` under the cap or without one. A ledger that cannot be read refuses too (an error):
    /// spending that cannot be counted is not allowed past a cap.
    pub(crate) async fn monthly_cap_reached(
        &self,
        project_id: u64,
        actor: &UserBasic,
        cap: Option<f64>,
    ) -> anyhow::Result<Option<MonthlyCapNote>> {
        let Some(cap) = cap else { return Ok(None) };
        let month = month_of(chrono::Utc::now());
        let spent = self.spend_ledger()?.month(&project_id.to_string(), &month).await.with_context(|| {
            format!(
                "while reading the project's spending in {month} (`{}`)",
                env_vars::COPILOT_MONTHLY_PREMIUM_REQUESTS
            )
        })?;
        if spent.premium_requests < cap {
            tracing::info!(%month, used = spent.premium_requests, cap, "under the monthly premium-request cap");
            return Ok(None);
        }
        tracing::warn!(%month, used = spent.premium_requests, cap, "refused: the project used its monthly premium requests");
        Ok(Some(MonthlyCapNote {
            actor: Some(Username::new(&actor.username)),
            month,
            cap,
            used: spent.premium_requests,
        }))
    }

    /// The writer of this job's record of what it spends on `project_id`, named and dated now.
    pub(super) fn spend_recorder(
        &self,
        project_id: u64,
    ) -> SpendRecorder<'_, impl Fn() -> anyhow::Result<SpendLedger> + '_> {
        let now = chrono::Utc::now();
        let name = self
            .env
            .get(env_vars::ci::CI_JOB_ID)
            .map_or_else(|| format!("run-{}-{}", now.format("%Y%m%dT%H%M%S%.6f"), std::process::id()), str::to_owned);
        SpendRecorder::new(&self.spend, JobKey { project: project_id.to_string(), month: month_of(now), name }, || {
            self.spend_ledger()
        })
    }
}

/// Where a job's record sits in the ledger: fixed when the job starts, so it stays one object.
#[derive(Debug, Clone)]
pub(super) struct JobKey {
    project: String,
    /// The month the job started in.
    month: String,
    /// The CI job's id, or a name made unique to this run.
    name: String,
}

/// Keeps one job's record in the ledger as its spending grows: written again after each agent
/// call, so a job killed mid-way (a timeout, a cancelled pipeline, an evicted pod) has still
/// recorded every call that ended. The record is the job's own object, so writing it again only
/// replaces itself.
pub(super) struct SpendRecorder<'a, Open> {
    spend: &'a Spend,
    key: JobKey,
    /// Opens the ledger, at the first write: a job without agent calls never touches the store.
    open: Open,
    /// `None` when the store cannot be opened (said once).
    ledger: OnceLock<Option<SpendLedger>>,
    /// How many calls the record in the store covers.
    written: AtomicUsize,
}

impl<'a, Open: Fn() -> anyhow::Result<SpendLedger>> SpendRecorder<'a, Open> {
    fn new(spend: &'a Spend, key: JobKey, open: Open) -> Self {
        Self { spend, key, open, ledger: OnceLock::new(), written: AtomicUsize::new(0) }
    }

    /// Runs `work`, writing the record again whenever calls were counted meanwhile: calls counted
    /// during a write are covered by one next write. The calls never wait for the store, and a
    /// write under way when `work` ends is finished first, so no older one lands after
    /// [`Self::flush`].
    pub(super) async fn alongside<T>(&self, work: impl Future<Output = T>) -> T {
        let finished = Notify::new();
        // Subscribed before `work` first runs, and marked changed: calls counted before that are
        // written too.
        let mut counted = self.spend.counted();
        counted.mark_changed();
        let work = async {
            let done = work.await;
            finished.notify_one();
            done
        };
        let follow = async {
            loop {
                tokio::select! {
                    biased;
                    () = finished.notified() => break,
                    changed = counted.changed() => match changed {
                        Ok(()) => self.write().await,
                        Err(_) => break,
                    },
                }
            }
        };
        let (done, ()) = tokio::join!(work, follow);
        done
    }

    /// Writes what the record in the store does not cover yet (nothing when the job made no agent
    /// call, or nothing since the last write).
    pub(super) async fn flush(&self) {
        self.write().await;
    }

    /// Writes the record of every call so far, unless the store has it already. A store that
    /// refuses is logged, not fatal: the work goes on, and the next write tries again.
    async fn write(&self) {
        let records = self.spend.records();
        if records.len() == self.written.load(Ordering::Acquire) {
            return;
        }
        let Some(ledger) = self.ledger() else { return };
        let total = Totals::of(&records);
        let record = JobSpend {
            project: self.key.project.clone(),
            month: self.key.month.clone(),
            job: self.key.name.clone(),
            premium_requests: total.premium_requests,
            input_tokens: total.input_tokens,
            output_tokens: total.output_tokens,
            agent_calls: u64::try_from(records.len()).unwrap_or(u64::MAX),
            recorded_at: chrono::Utc::now(),
        };
        match ledger.record(&record).await {
            Ok(()) => {
                self.written.store(records.len(), Ordering::Release);
                tracing::info!(
                    month = %record.month,
                    agent_calls = record.agent_calls,
                    premium_requests = record.premium_requests,
                    "spending recorded"
                );
            }
            Err(error) => not_recorded(&anyhow::Error::new(error)),
        }
    }

    fn ledger(&self) -> Option<&SpendLedger> {
        let ledger = self.ledger.get_or_init(|| (self.open)().inspect_err(not_recorded).ok());
        ledger.as_ref()
    }
}

fn not_recorded(error: &anyhow::Error) {
    tracing::error!(error = %format!("{error:#}"), "cannot record this job's spending; the monthly total misses it");
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::agent::AgentOutcome;

    fn call(premium_requests: f64) -> AgentOutcome {
        AgentOutcome { premium_requests: Some(premium_requests), ..AgentOutcome::default() }
    }

    fn key() -> JobKey {
        JobKey { project: "7".to_owned(), month: "2026-12".to_owned(), name: "41".to_owned() }
    }

    /// Waits (yielding to the writer) until the store's record of the job covers `calls` calls.
    async fn recorded(ledger: &SpendLedger, calls: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let month = ledger.month("7", "2026-12").await.unwrap();
            if month.agent_calls == calls {
                assert_eq!(month.jobs, 1, "one record per job, rewritten: {month:?}");
                return;
            }
            assert!(Instant::now() < deadline, "the record covers {} calls, not {calls}", month.agent_calls);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn the_record_follows_each_counted_call_while_the_work_runs() {
        let dir = tempfile::tempdir().unwrap();
        let open = || Ok(SpendLedger::new(CacheStore::local(dir.path())?));
        let reader = open().unwrap();
        let spend = Spend::new(None);
        let recorder = SpendRecorder::new(&spend, key(), open);

        recorder
            .alongside(async {
                spend.record("analysis", &call(1.0));
                recorded(&reader, 1).await;
                spend.record("implementation", &call(0.5));
                spend.record("implementation", &call(0.25));
                recorded(&reader, 3).await;
            })
            .await;
        spend.record("review", &call(2.0));
        recorder.flush().await;

        let month = reader.month("7", "2026-12").await.unwrap();
        assert_eq!((month.jobs, month.agent_calls, month.premium_requests), (1, 4, 3.75));
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_opened_leaves_the_work_going() {
        let spend = Spend::new(None);
        let recorder = SpendRecorder::new(&spend, key(), || Err(anyhow::anyhow!("no store")));
        let done = recorder
            .alongside(async {
                spend.record("analysis", &call(1.0));
                tokio::task::yield_now().await;
                "done"
            })
            .await;
        recorder.flush().await;
        assert_eq!(done, "done");
    }

    #[tokio::test]
    async fn a_job_without_agent_calls_opens_no_store() {
        let spend = Spend::new(None);
        let recorder =
            SpendRecorder::new(&spend, key(), || -> anyhow::Result<SpendLedger> { panic!("the store was opened") });
        recorder.alongside(async {}).await;
        recorder.flush().await;
    }
}
