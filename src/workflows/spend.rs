//! A job's spending as the projects' monthly ledger sees it: before work starts, the project's
//! spending this month against `COPILOT_MONTHLY_PREMIUM_REQUESTS`; when the job ends, its own
//! record (every agent call it made, added up), which later jobs and `copilot-runner usage` read.

use anyhow::Context as _;

use super::Job;
use crate::context::spend_ledger::{JobSpend, SpendLedger, month_of};
use crate::context::store::CacheStore;
use crate::env_vars;
use crate::gitlab::UserBasic;
use crate::prompts::message::MonthlyCapNote;
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

    /// Writes this job's record of what it spent on `project_id` (nothing when it made no agent
    /// call). A store that refuses is logged, not fatal: the work is done by then.
    pub(super) async fn record_spend(&self, project_id: u64) {
        let records = self.spend.records();
        if records.is_empty() {
            return;
        }
        let total = self.spend.total();
        let now = chrono::Utc::now();
        let job = self
            .env
            .get(env_vars::ci::CI_JOB_ID)
            .map_or_else(|| format!("run-{}-{}", now.format("%Y%m%dT%H%M%S%.6f"), std::process::id()), str::to_owned);
        let record = JobSpend {
            project: project_id.to_string(),
            month: month_of(now),
            job,
            premium_requests: total.premium_requests,
            input_tokens: total.input_tokens,
            output_tokens: total.output_tokens,
            agent_calls: u64::try_from(records.len()).unwrap_or(u64::MAX),
            recorded_at: now,
        };
        let written = match self.spend_ledger() {
            Ok(ledger) => ledger.record(&record).await.map_err(anyhow::Error::new),
            Err(error) => Err(error),
        };
        match written {
            Ok(()) => {
                tracing::info!(month = %record.month, premium_requests = record.premium_requests, "spending recorded");
            }
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "cannot record this job's spending; the monthly total misses it");
            }
        }
    }
}
