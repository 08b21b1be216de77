//! `copilot-runner usage`: what the jobs spent, per project and month, added up from the records
//! each job keeps in the context cache's store (`CONTEXT_CACHE_URL`), and the monthly cap
//! (`COPILOT_MONTHLY_PREMIUM_REQUESTS`) they count against. Like `cache`, it fails when the store
//! is unusable: that is what it is asked about.

use std::fmt::Write as _;

use anyhow::Context as _;
use tokio::io::AsyncWriteExt as _;

use crate::config::{Env, Settings};
use crate::context::spend_ledger::{MonthSpend, SpendLedger, is_month};
use crate::context::store::CacheStore;
use crate::exit::{self, Code};

#[derive(Debug, clap::Args)]
pub(crate) struct UsageArgs {
    /// Only this project (its numeric id)
    #[arg(long, value_name = "ID")]
    project: Option<String>,
    /// Only this month, in UTC
    #[arg(long, value_name = "YYYY-MM")]
    month: Option<String>,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: UsageArgs, settings: Settings, env: Env) -> anyhow::Result<Code> {
    if let Some(month) = args.month.as_deref().filter(|month| !is_month(month)) {
        return Err(exit::Usage(format!("`--month {month}` is not a month: use `YYYY-MM`, e.g. `2026-12`")).into());
    }
    let store = CacheStore::from_settings(&settings.cache, &env).context("while opening the context cache's store")?;
    let ledger = SpendLedger::new(store);
    let totals = ledger
        .totals(args.project.as_deref(), args.month.as_deref())
        .await
        .with_context(|| format!("while reading the spending records in `{}`", ledger.description()))?;
    let cap = settings.spend.monthly_premium_requests;
    let output = if args.json {
        let json = serde_json::json!({ "monthly_cap": cap, "months": totals });
        let mut text = serde_json::to_string_pretty(&json).context("while writing JSON")?;
        text.push('\n');
        text
    } else {
        table(&totals, cap)
    };
    let mut stdout = tokio::io::stdout();
    stdout.write_all(output.as_bytes()).await.context("while printing the usage")?;
    stdout.flush().await.context("while printing the usage")?;
    Ok(Code::Done)
}

/// The totals as a table, one line per project and month, then the sum of the lines.
fn table(totals: &[MonthSpend], cap: Option<f64>) -> String {
    if totals.is_empty() {
        return "no spending recorded\n".to_owned();
    }
    let header = ["project", "month", "jobs", "agent calls", "premium requests", "input tokens", "output tokens"];
    let row = |total: &MonthSpend, project: &str, month: &str| {
        [
            project.to_owned(),
            month.to_owned(),
            total.jobs.to_string(),
            total.agent_calls.to_string(),
            premium_requests(total.premium_requests),
            total.input_tokens.to_string(),
            total.output_tokens.to_string(),
        ]
    };
    let mut sum = MonthSpend::default();
    let mut rows: Vec<[String; 7]> = Vec::new();
    for total in totals {
        sum.jobs += total.jobs;
        sum.agent_calls += total.agent_calls;
        sum.premium_requests += total.premium_requests;
        sum.input_tokens += total.input_tokens;
        sum.output_tokens += total.output_tokens;
        rows.push(row(total, &total.project, &total.month));
    }
    rows.push(row(&sum, "total", ""));
    let widths: Vec<usize> = (0..header.len())
        .map(|column| rows.iter().map(|row| row[column].len()).chain([header[column].len()]).max().unwrap_or_default())
        .collect();
    let mut text = String::new();
    let header = header.map(str::to_owned);
    for line in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(
                |(column, (cell, width))| {
                    if column < 2 { format!("{cell:<width$}") } else { format!("{cell:>width$}") }
                },
            )
            .collect();
        let _ = writeln!(text, "{}", cells.join("  ").trim_end());
    }
    if let Some(cap) = cap {
        let _ = writeln!(text, "monthly cap per project: {} premium requests", premium_requests(cap));
    }
    text
}

/// Premium requests with at most two decimals, as the notes show them.
fn premium_requests(count: f64) -> String {
    let text = format!("{count:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(project: &str, month: &str, jobs: u64, premium_requests: f64) -> MonthSpend {
        MonthSpend {
            project: project.to_owned(),
            month: month.to_owned(),
            jobs,
            agent_calls: jobs * 3,
            premium_requests,
            input_tokens: jobs * 10_000,
            output_tokens: jobs * 700,
        }
    }

    #[test]
    fn the_table_has_a_line_per_project_and_month_and_their_sum() {
        let totals =
            [month("7", "2026-11", 2, 12.5), month("7", "2026-12", 1, 0.33), month("42", "2026-12", 10, 100.0)];
        insta::assert_snapshot!(table(&totals, Some(300.0)), @r"
        project  month    jobs  agent calls  premium requests  input tokens  output tokens
        7        2026-11     2            6              12.5         20000           1400
        7        2026-12     1            3              0.33         10000            700
        42       2026-12    10           30               100        100000           7000
        total               13           39            112.83        130000           9100
        monthly cap per project: 300 premium requests
        ");
        assert_eq!(table(&[], None), "no spending recorded\n");
    }
}
