//! The monthly spending records in the context cache's real stores: jobs that record at once
//! each keep their own record, and a month reads back as their sum, on a folder, Azurite and moto.

use copilot_runner::config::Env;
use copilot_runner::context::spend_ledger::{JobSpend, SpendLedger};
use copilot_runner::context::store::CacheStore;

use super::{azurite_store, runtime_test, s3_store};

fn record(job: u32, month: &str, premium_requests: f64) -> JobSpend {
    JobSpend {
        project: "42".to_owned(),
        month: month.to_owned(),
        job: job.to_string(),
        premium_requests,
        input_tokens: 1_000,
        output_tokens: 50,
        agent_calls: 3,
        recorded_at: chrono::Utc::now(),
    }
}

/// Twelve jobs record at once; none is lost, and another month and project stay apart.
async fn exercise(store: CacheStore) {
    let ledger = SpendLedger::new(store);
    let jobs = (1..=12).map(|job| {
        let ledger = &ledger;
        async move { ledger.record(&record(job, "2026-12", 0.5)).await }
    });
    for written in futures_util::future::join_all(jobs).await {
        written.expect("record");
    }
    ledger.record(&record(99, "2026-11", 40.0)).await.expect("record");

    let december = ledger.month("42", "2026-12").await.expect("read");
    assert_eq!((december.jobs, december.premium_requests, december.input_tokens), (12, 6.0, 12_000));
    assert_eq!(december.agent_calls, 36);
    let other = ledger.month("43", "2026-12").await.expect("read");
    assert_eq!((other.jobs, other.premium_requests), (0, 0.0));
    let months: Vec<(String, u64)> = ledger
        .totals(Some("42"), None)
        .await
        .expect("read")
        .into_iter()
        .map(|total| (total.month, total.jobs))
        .collect();
    assert_eq!(months, [("2026-11".to_owned(), 1), ("2026-12".to_owned(), 12)]);
}

#[test]
fn concurrent_jobs_keep_their_spending_on_a_local_folder() {
    runtime_test(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}", dir.path().join("cache").display());
        exercise(CacheStore::open(&url, None, &Env::from_pairs::<String, String>([])).expect("open")).await;
    });
}

#[test]
fn concurrent_jobs_keep_their_spending_on_azurite() {
    runtime_test(async {
        let (_server, store) = azurite_store().await;
        exercise(store).await;
    });
}

#[test]
fn concurrent_jobs_keep_their_spending_on_s3() {
    runtime_test(async {
        let (_server, store) = s3_store().await;
        exercise(store).await;
    });
}
