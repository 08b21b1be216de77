//! What people told the review is wrong, kept per project in the context cache's store beside
//! the cache and the spending records, so every later review of the project holds such findings
//! back.
//!
//! Like the spending records, nothing here is ever read, changed and written back. Each piece of
//! feedback (a 👎 on a finding, a "false positive" reply) is one record of its own,
//! `suppressions/{project}/feedback/{feedback}.json`, named after the award or note: reading the
//! same feedback twice writes the same object, so it makes one suppression. Forgetting the
//! suppressions is a record too, `suppressions/{project}/cleared/{note}.json`, holding when the
//! request was made: feedback given before the latest one no longer counts. Two jobs at once
//! cannot lose each other's records, whatever the store offers for conditional writes.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cache::key_part;
use super::store::{CacheStore, StoreError};

/// Size cap on one record a reader accepts.
const RECORD_LIMIT: u64 = 64 * 1024;
const PREFIX: &str = "suppressions/";

/// One piece of feedback that calls a finding wrong, and the rule it teaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionRecord {
    pub project: String,
    /// The feedback's own name (`award-<id>`, `note-<id>`): one record per piece of feedback.
    pub feedback: String,
    /// `thumbs_down` or `false_positive`.
    pub reaction: String,
    pub merge_request: u64,
    pub discussion_id: String,
    /// The finding's category name (`maintainability`).
    pub category: String,
    /// The finding's title with numbers, quoted names and paths replaced (see `review::suppress`).
    pub title_shape: String,
    /// The files it holds for (`src/*.rs`).
    pub path_pattern: String,
    /// When the person gave the feedback, by GitLab's clock.
    pub feedback_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

/// A request to forget the project's suppressions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearRecord {
    pub project: String,
    /// The note that asked.
    pub note_id: u64,
    /// Who asked.
    pub by: String,
    /// When the note was written, by GitLab's clock: feedback before it is forgotten.
    pub cleared_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

/// A project's suppression records as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suppressions {
    pub records: Vec<SuppressionRecord>,
    /// Every request to forget.
    pub clears: Vec<ClearRecord>,
}

impl Suppressions {
    /// When the latest request to forget was made, if one was.
    pub fn cleared_at(&self) -> Option<DateTime<Utc>> {
        self.clears.iter().map(|clear| clear.cleared_at).max()
    }

    /// The records that still hold: given after the latest request to forget, one per rule
    /// (category, title shape, path pattern), oldest first.
    pub fn active(&self) -> Vec<&SuppressionRecord> {
        let mut active: Vec<&SuppressionRecord> = Vec::new();
        let cleared_at = self.cleared_at();
        let mut records: Vec<&SuppressionRecord> =
            self.records.iter().filter(|record| cleared_at.is_none_or(|at| record.feedback_at > at)).collect();
        records.sort_by(|a, b| (a.feedback_at, &a.feedback).cmp(&(b.feedback_at, &b.feedback)));
        for record in records {
            let same = |other: &&SuppressionRecord| {
                (&other.category, &other.title_shape, &other.path_pattern)
                    == (&record.category, &record.title_shape, &record.path_pattern)
            };
            if !active.iter().any(same) {
                active.push(record);
            }
        }
        active
    }

    /// Whether the feedback named `feedback` was recorded already (whether or not it still holds).
    pub fn knows(&self, feedback: &str) -> bool {
        self.records.iter().any(|record| record.feedback == feedback)
    }
}

/// The suppression records of every project in one store.
#[derive(Debug)]
pub struct SuppressionLedger {
    store: CacheStore,
}

impl SuppressionLedger {
    pub fn new(store: CacheStore) -> Self {
        Self { store }
    }

    /// The store's URL without credentials.
    pub fn description(&self) -> &str {
        self.store.description()
    }

    /// Writes `record` as its feedback's own object.
    pub async fn record(&self, record: &SuppressionRecord) -> Result<(), StoreError> {
        let key = format!("{PREFIX}{}/feedback/{}.json", key_part(&record.project), key_part(&record.feedback));
        self.put(&key, record).await
    }

    /// Writes `record` as its note's own object.
    pub async fn clear(&self, record: &ClearRecord) -> Result<(), StoreError> {
        let key = format!("{PREFIX}{}/cleared/{}.json", key_part(&record.project), record.note_id);
        self.put(&key, record).await
    }

    async fn put(&self, key: &str, record: &impl Serialize) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(record).map_err(|error| StoreError::Config(error.to_string()))?;
        self.store.put(key, Bytes::from(json)).await
    }

    /// Every record of `project`; an unreadable one is logged and left out.
    pub async fn read(&self, project: &str) -> Result<Suppressions, StoreError> {
        let prefix = format!("{PREFIX}{}/", key_part(project));
        let mut suppressions = Suppressions::default();
        for object in self.store.list(&prefix).await? {
            let Some(bytes) = self.store.get(&object.key, RECORD_LIMIT).await? else { continue };
            let rest = object.key.strip_prefix(&prefix).unwrap_or_default();
            if rest.starts_with("cleared/") {
                match serde_json::from_slice::<ClearRecord>(&bytes) {
                    Ok(clear) => suppressions.clears.push(clear),
                    Err(_) => tracing::warn!(key = %object.key, "a request to forget suppressions is unreadable"),
                }
            } else if rest.starts_with("feedback/") {
                match serde_json::from_slice::<SuppressionRecord>(&bytes) {
                    Ok(record) => suppressions.records.push(record),
                    Err(_) => tracing::warn!(key = %object.key, "a suppression record is unreadable; not applied"),
                }
            }
        }
        Ok(suppressions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn record(feedback: &str, title_shape: &str, feedback_at: &str) -> SuppressionRecord {
        SuppressionRecord {
            project: "7".to_owned(),
            feedback: feedback.to_owned(),
            reaction: "thumbs_down".to_owned(),
            merge_request: 1,
            discussion_id: "d1".to_owned(),
            category: "maintainability".to_owned(),
            title_shape: title_shape.to_owned(),
            path_pattern: "src/*.rs".to_owned(),
            feedback_at: at(feedback_at),
            recorded_at: Utc::now(),
        }
    }

    fn clear(note_id: u64, cleared_at: &str) -> ClearRecord {
        ClearRecord {
            project: "7".to_owned(),
            note_id,
            by: "alice".to_owned(),
            cleared_at: at(cleared_at),
            recorded_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn jobs_at_once_keep_every_record_and_the_same_feedback_twice_is_one() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SuppressionLedger::new(CacheStore::local(dir.path()).unwrap());
        let writes =
            (1..=6).map(|n| {
                let ledger = &ledger;
                async move {
                    ledger.record(&record(&format!("award-{n}"), &format!("shape {n}"), "2026-12-01T10:00:00Z")).await
                }
            });
        for written in futures_util::future::join_all(writes).await {
            written.unwrap();
        }
        ledger.record(&record("award-3", "shape 3", "2026-12-01T10:00:00Z")).await.unwrap();
        // Another project's record is not this one's.
        let mut other = record("award-9", "shape 9", "2026-12-01T10:00:00Z");
        other.project = "8".to_owned();
        ledger.record(&other).await.unwrap();

        let read = ledger.read("7").await.unwrap();
        assert_eq!(read.records.len(), 6);
        assert_eq!(read.active().len(), 6);
        assert!(read.knows("award-3") && !read.knows("award-9"));
    }

    #[tokio::test]
    async fn forgetting_drops_earlier_feedback_and_keeps_later_feedback() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SuppressionLedger::new(CacheStore::local(dir.path()).unwrap());
        ledger.record(&record("award-1", "unused variable {code}", "2026-12-01T10:00:00Z")).await.unwrap();
        ledger.record(&record("note-2", "needless clone", "2026-12-01T11:00:00Z")).await.unwrap();
        ledger.clear(&clear(30, "2026-12-01T12:00:00Z")).await.unwrap();
        ledger.clear(&clear(20, "2026-12-01T09:00:00Z")).await.unwrap();
        let read = ledger.read("7").await.unwrap();
        assert_eq!(read.cleared_at(), Some(at("2026-12-01T12:00:00Z")), "the latest request counts");
        assert!(read.active().is_empty());
        assert!(read.knows("award-1"), "forgotten feedback is still known, so it is not recorded again");

        ledger.record(&record("award-4", "unused variable {code}", "2026-12-01T13:00:00Z")).await.unwrap();
        let read = ledger.read("7").await.unwrap();
        let active: Vec<&str> = read.active().iter().map(|record| record.feedback.as_str()).collect();
        assert_eq!(active, ["award-4"]);
    }

    #[test]
    fn two_pieces_of_feedback_on_one_rule_are_one_suppression() {
        let suppressions = Suppressions {
            records: vec![
                record("award-2", "unused variable {code}", "2026-12-01T10:00:00Z"),
                record("note-1", "unused variable {code}", "2026-12-01T09:00:00Z"),
                record("note-5", "needless clone", "2026-12-01T09:30:00Z"),
            ],
            clears: Vec::new(),
        };
        let active: Vec<&str> = suppressions.active().iter().map(|record| record.feedback.as_str()).collect();
        assert_eq!(active, ["note-1", "note-5"]);
    }
}
