//! What each project spent per month, kept in the context cache's store beside the cache, for
//! the monthly premium-request cap and `copilot-runner usage`.
//!
//! Every job writes one record of its own, `usage/{project}/{YYYY-MM}/{job}.json`, and a month's
//! spending is the sum of its records when read. No record is ever read, changed and written
//! back, so two jobs at once cannot lose each other's spending, whatever the store (a folder,
//! Azure Blob, S3 or GCS) offers for conditional writes.

use bytes::Bytes;
use chrono::{DateTime, Datelike as _, Utc};
use serde::{Deserialize, Serialize};

use super::cache::key_part;
use super::store::{CacheStore, StoreError};

/// Size cap on one record a reader accepts.
const RECORD_LIMIT: u64 = 64 * 1024;
const PREFIX: &str = "usage/";

/// One job's spending, as it keeps it in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpend {
    pub project: String,
    /// `YYYY-MM`, in UTC.
    pub month: String,
    /// The CI job's id (or another name unique to the job).
    pub job: String,
    pub premium_requests: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub agent_calls: u64,
    pub recorded_at: DateTime<Utc>,
}

/// A project's spending in one month: its records added up.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MonthSpend {
    pub project: String,
    pub month: String,
    pub jobs: u64,
    pub agent_calls: u64,
    pub premium_requests: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl MonthSpend {
    fn add(&mut self, record: &JobSpend) {
        self.jobs += 1;
        self.agent_calls += record.agent_calls;
        self.premium_requests += record.premium_requests;
        self.input_tokens += record.input_tokens;
        self.output_tokens += record.output_tokens;
    }
}

/// `YYYY-MM` of `time` in UTC: the month a record counts towards.
pub fn month_of(time: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", time.year(), time.month())
}

/// Whether `text` is a month as records name them (`2026-12`).
pub fn is_month(text: &str) -> bool {
    let Some((year, month)) = text.split_once('-') else { return false };
    year.len() == 4
        && month.len() == 2
        && year.bytes().all(|byte| byte.is_ascii_digit())
        && month.parse::<u8>().is_ok_and(|month| (1..=12).contains(&month))
}

/// The records of every job's spending in one store.
#[derive(Debug)]
pub struct SpendLedger {
    store: CacheStore,
}

impl SpendLedger {
    pub fn new(store: CacheStore) -> Self {
        Self { store }
    }

    /// The store's URL without credentials.
    pub fn description(&self) -> &str {
        self.store.description()
    }

    /// Writes `record` as its job's own object (a job writing again replaces only its own).
    pub async fn record(&self, record: &JobSpend) -> Result<(), StoreError> {
        let key =
            format!("{PREFIX}{}/{}/{}.json", key_part(&record.project), key_part(&record.month), key_part(&record.job));
        let json = serde_json::to_vec_pretty(record).map_err(|error| StoreError::Config(error.to_string()))?;
        self.store.put(&key, Bytes::from(json)).await
    }

    /// What `project` spent in `month`.
    pub async fn month(&self, project: &str, month: &str) -> Result<MonthSpend, StoreError> {
        let totals = self.totals(Some(project), Some(month)).await?;
        Ok(totals.into_iter().next().unwrap_or_else(|| MonthSpend {
            project: project.to_owned(),
            month: month.to_owned(),
            ..MonthSpend::default()
        }))
    }

    /// Every project's spending per month, or only `project`'s, or only `month`'s; sorted by
    /// project, then month.
    pub async fn totals(&self, project: Option<&str>, month: Option<&str>) -> Result<Vec<MonthSpend>, StoreError> {
        let prefix = match (project, month) {
            (Some(project), Some(month)) => format!("{PREFIX}{}/{}/", key_part(project), key_part(month)),
            (Some(project), None) => format!("{PREFIX}{}/", key_part(project)),
            (None, _) => PREFIX.to_owned(),
        };
        let mut totals: Vec<MonthSpend> = Vec::new();
        for object in self.store.list(&prefix).await? {
            let Some(bytes) = self.store.get(&object.key, RECORD_LIMIT).await? else { continue };
            let Ok(record) = serde_json::from_slice::<JobSpend>(&bytes) else {
                tracing::warn!(key = %object.key, "a spending record is unreadable; not counted");
                continue;
            };
            if month.is_some_and(|month| month != record.month) {
                continue;
            }
            match totals.iter_mut().find(|total| total.project == record.project && total.month == record.month) {
                Some(total) => total.add(&record),
                None => {
                    let mut total = MonthSpend {
                        project: record.project.clone(),
                        month: record.month.clone(),
                        ..MonthSpend::default()
                    };
                    total.add(&record);
                    totals.push(total);
                }
            }
        }
        totals.sort_by(|a, b| (&a.project, &a.month).cmp(&(&b.project, &b.month)));
        Ok(totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(project: &str, month: &str, job: &str, premium_requests: f64) -> JobSpend {
        JobSpend {
            project: project.to_owned(),
            month: month.to_owned(),
            job: job.to_owned(),
            premium_requests,
            input_tokens: 1000,
            output_tokens: 100,
            agent_calls: 2,
            recorded_at: Utc::now(),
        }
    }

    #[test]
    fn months_are_years_and_months() {
        let time = DateTime::parse_from_rfc3339("2026-03-31T23:59:59Z").unwrap().with_timezone(&Utc);
        assert_eq!(month_of(time), "2026-03");
        assert!(is_month("2026-12") && is_month("2027-01"));
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", "december", "2026-00"] {
            assert!(!is_month(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn jobs_at_once_each_keep_their_own_record_and_a_month_is_their_sum() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SpendLedger::new(CacheStore::local(dir.path()).unwrap());
        let writes = (1..=8).map(|job| {
            let ledger = &ledger;
            async move { ledger.record(&record("7", "2026-12", &job.to_string(), 1.5)).await }
        });
        for written in futures_util::future::join_all(writes).await {
            written.unwrap();
        }
        ledger.record(&record("7", "2026-11", "old", 100.0)).await.unwrap();
        ledger.record(&record("8", "2026-12", "other", 3.0)).await.unwrap();

        let december = ledger.month("7", "2026-12").await.unwrap();
        assert_eq!((december.jobs, december.premium_requests, december.input_tokens), (8, 12.0, 8000));
        let empty = ledger.month("9", "2026-12").await.unwrap();
        assert_eq!((empty.jobs, empty.premium_requests), (0, 0.0));

        let all = ledger.totals(None, None).await.unwrap();
        let rows: Vec<(&str, &str, f64)> =
            all.iter().map(|total| (total.project.as_str(), total.month.as_str(), total.premium_requests)).collect();
        assert_eq!(rows, [("7", "2026-11", 100.0), ("7", "2026-12", 12.0), ("8", "2026-12", 3.0)]);
        let december = ledger.totals(None, Some("2026-12")).await.unwrap();
        assert_eq!(december.len(), 2);
    }

    #[tokio::test]
    async fn a_job_that_records_again_replaces_its_own_record() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SpendLedger::new(CacheStore::local(dir.path()).unwrap());
        ledger.record(&record("7", "2026-12", "41", 1.0)).await.unwrap();
        ledger.record(&record("7", "2026-12", "41", 2.5)).await.unwrap();
        let month = ledger.month("7", "2026-12").await.unwrap();
        assert_eq!((month.jobs, month.premium_requests), (1, 2.5));
    }
}
