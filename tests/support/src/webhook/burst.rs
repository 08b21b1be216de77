//! A burst of webhook deliveries against several `serve` replicas that share one fake GitLab,
//! as one piece of code for the CI-sized test and the 20,000-delivery benchmark.
//!
//! [`Burst::plan`] sets the world up and builds the deliveries: a mix of the five events that
//! start the agent (issue assigned to it, a mention in an issue note and in an MR note, the agent
//! added as reviewer, a failed pipeline on an agent branch) and three that start nothing (a push,
//! a note without a mention, a failed pipeline on someone else's branch). Every distinct event is
//! delivered once and a tenth of them a second time with the same `Idempotency-Key` and
//! `X-Gitlab-Event-UUID`, shortly after the first so that both are often in flight at once.
//! Deliveries are spread over the replicas. The second delivery of an event that starts work
//! goes to the other replica, so only the agent's award on the fake GitLab (👀 on the note, the
//! issue or the MR, 🔧 on a failed pipeline's MR) can stop a second pipeline.
//!
//! [`Burst::send`] delivers with a fixed number of concurrent senders. GitLab itself does not
//! retry a failed delivery on its own; the sender here models its operator's (or a queue's)
//! resend: a `503` is sent again after its `Retry-After`. [`Burst::tally`] then counts what the
//! fake GitLab was asked to run, per event.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::delivery::{Delivery, try_deliver};
use super::{WIDGETS, payloads};
use crate::fake_gitlab::{AGENT, FakeGitLab, IssueSeed, TriggerCall};

/// The kinds of event in a burst, taking turns in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    IssueAssigned,
    IssueNoteMention,
    MrNoteMention,
    ReviewerAdded,
    PipelineFailed,
    Push,
    NoteWithoutMention,
    PipelineFailedElsewhere,
}

impl Kind {
    pub const ALL: [Self; 8] = [
        Self::IssueAssigned,
        Self::IssueNoteMention,
        Self::MrNoteMention,
        Self::ReviewerAdded,
        Self::PipelineFailed,
        Self::Push,
        Self::NoteWithoutMention,
        Self::PipelineFailedElsewhere,
    ];

    /// Whether the event should start the agent.
    pub fn starts_work(self) -> bool {
        matches!(
            self,
            Self::IssueAssigned
                | Self::IssueNoteMention
                | Self::MrNoteMention
                | Self::ReviewerAdded
                | Self::PipelineFailed
        )
    }

    /// Whether replicas agree on it through the agent's award, so that its second delivery may
    /// go to another replica: every event that starts work.
    pub fn leased(self) -> bool {
        self.starts_work()
    }
}

/// One distinct event and the delivery GitLab sends for it.
#[derive(Debug)]
pub struct Event {
    pub kind: Kind,
    /// `trigger_type:identifier` of the pipeline it must start (see [`trigger_key`]); `None` for
    /// an event that starts nothing.
    pub trigger_key: Option<String>,
    pub delivery: Delivery,
}

/// One delivery of an event to a replica.
#[derive(Debug, Clone, Copy)]
pub struct Send {
    pub event: usize,
    pub replica: usize,
    /// The event's second delivery.
    pub again: bool,
}

/// How one delivery ended, after any resends.
#[derive(Debug, Clone)]
pub struct Ended {
    /// The last answer's status; 0 when the service did not answer.
    pub status: u16,
    /// The last answer's `status` field, or why there was no answer.
    pub outcome: String,
    /// `503` answers before it.
    pub busy: u32,
    /// Of those, answers without a `Retry-After`.
    pub busy_without_retry_after: u32,
}

/// What [`Burst::send`] saw.
#[derive(Debug)]
pub struct Sent {
    /// In the order of [`Burst::sends`].
    pub ended: Vec<Ended>,
    /// The latency of every answer other than `503`, sorted.
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
}

impl Sent {
    /// `503` answers in all.
    pub fn busy(&self) -> u64 {
        self.ended.iter().map(|ended| u64::from(ended.busy)).sum()
    }

    /// Deliveries answered `503` at least once that ended answered `200`.
    pub fn recovered(&self) -> usize {
        self.ended.iter().filter(|ended| ended.busy > 0 && ended.status == 200).count()
    }

    /// Answered deliveries per second, resends not counted.
    pub fn per_second(&self) -> f64 {
        self.ended.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency below which `fraction` of the answers (other than `503`) came.
    pub fn percentile(&self, fraction: f64) -> Duration {
        let Some(last) = self.latencies.len().checked_sub(1) else { return Duration::ZERO };
        self.latencies[((last as f64 * fraction).round() as usize).min(last)]
    }
}

/// What the fake GitLab was asked to run for a burst, against what its events should start.
#[derive(Debug, Default)]
pub struct Tally {
    /// Events that should start the agent and started exactly one pipeline.
    pub triggered_once: usize,
    /// Events that should start the agent, with the number of pipelines when that is not one.
    pub not_once: Vec<(String, usize)>,
    /// Pipelines started for no event of the burst that should start one.
    pub unexpected: Vec<String>,
    /// Events whose deliveries were not answered as they should be: one `triggered` and
    /// otherwise `duplicate` for work, `ignored` for the rest, all with `200`.
    pub misanswered: Vec<String>,
}

/// A planned burst: the events, and their deliveries in sending order.
#[derive(Debug)]
pub struct Burst {
    pub events: Arc<Vec<Event>>,
    pub sends: Arc<Vec<Send>>,
    /// Trigger calls the fake had recorded before this burst.
    triggers_before: usize,
}

/// How far behind its first delivery an event's second one is sent.
const SECOND_DELIVERY_LAG: f64 = 16.5;

impl Burst {
    /// Sets up the objects of `deliveries` deliveries on `fake` (issues, notes, merge requests)
    /// and plans them over `replicas` replicas: ⌈deliveries / 1.1⌉ distinct events, the rest
    /// second deliveries.
    pub fn plan(fake: &FakeGitLab, deliveries: usize, replicas: usize) -> Self {
        let replicas = replicas.max(1);
        let distinct = (deliveries * 10).div_ceil(11);
        let twice = chosen(distinct, deliveries - distinct);
        let triggers_before = fake.trigger_calls().len();
        let noted_mr = fake.add_merge_request_record(WIDGETS, "feature/burst-notes", "alice");
        let events: Vec<Event> =
            (0..distinct).map(|index| event(fake, Kind::ALL[index % Kind::ALL.len()], noted_mr)).collect();
        let mut order: Vec<(f64, Send)> = Vec::with_capacity(deliveries);
        for (index, event) in events.iter().enumerate() {
            // Turn the replica with the round of kinds too, so each kind reaches every replica.
            let replica = (index + index / Kind::ALL.len()) % replicas;
            order.push((index as f64, Send { event: index, replica, again: false }));
            if twice.contains(&index) {
                let replica = if event.kind.leased() { (replica + 1) % replicas } else { replica };
                order.push((index as f64 + SECOND_DELIVERY_LAG, Send { event: index, replica, again: true }));
            }
        }
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        let sends = order.into_iter().map(|(_, send)| send).collect();
        Self { events: Arc::new(events), sends: Arc::new(sends), triggers_before }
    }

    /// Events that should start the agent.
    pub fn actionable(&self) -> usize {
        self.events.iter().filter(|event| event.kind.starts_work()).count()
    }

    /// Second deliveries, and of those the ones sent to another replica than the first.
    pub fn second_deliveries(&self) -> (usize, usize) {
        let mut first = BTreeMap::new();
        let (mut again, mut across) = (0, 0);
        for send in self.sends.iter() {
            if send.again {
                again += 1;
                across += usize::from(first.get(&send.event) != Some(&send.replica));
            } else {
                first.insert(send.event, send.replica);
            }
        }
        (again, across)
    }

    /// Delivers every send to `urls[send.replica]` with `senders` deliveries on the way at
    /// once, each `503` sent again after its `Retry-After` (at most `MAX_TRIES` times).
    pub async fn send(&self, urls: &[String], senders: usize) -> Sent {
        const MAX_TRIES: u32 = 100;
        // Already installed when this process built a GitLab client; not otherwise.
        let _ = rustls::crypto::ring::default_provider().install_default();
        #[expect(clippy::disallowed_methods, reason = "the burst plays GitLab with its own HTTP client")]
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(senders)
            .build()
            .expect("http client");
        let urls = Arc::new(urls.to_vec());
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..senders.max(1) {
            let (client, urls, next) = (client.clone(), Arc::clone(&urls), Arc::clone(&next));
            let (events, sends) = (Arc::clone(&self.events), Arc::clone(&self.sends));
            tasks.spawn(async move {
                let mut ended = Vec::new();
                let mut latencies = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(send) = sends.get(index) else { break };
                    let (url, delivery) = (&urls[send.replica], &events[send.event].delivery);
                    let mut end = Ended { status: 0, outcome: String::new(), busy: 0, busy_without_retry_after: 0 };
                    loop {
                        let sent = Instant::now();
                        match try_deliver(&client, url, delivery).await {
                            Ok(answer) if answer.status == 503 && end.busy < MAX_TRIES => {
                                end.busy += 1;
                                end.busy_without_retry_after += u32::from(answer.retry_after.is_none());
                                let wait = Duration::from_secs(answer.retry_after.unwrap_or(1));
                                tokio::time::sleep(wait).await;
                            }
                            Ok(answer) => {
                                latencies.push(sent.elapsed());
                                end.status = answer.status;
                                end.outcome = answer.outcome().to_owned();
                                break;
                            }
                            Err(error) => {
                                end.outcome = format!("no answer: {error}");
                                break;
                            }
                        }
                    }
                    ended.push((index, end));
                }
                (ended, latencies)
            });
        }
        let mut ended: Vec<Option<Ended>> = vec![None; self.sends.len()];
        let mut latencies = Vec::with_capacity(self.sends.len());
        while let Some(done) = tasks.join_next().await {
            let (some, times) = done.expect("a sender");
            for (index, end) in some {
                ended[index] = Some(end);
            }
            latencies.extend(times);
        }
        let elapsed = start.elapsed();
        latencies.sort();
        Sent { ended: ended.into_iter().map(|end| end.expect("every delivery sent")).collect(), latencies, elapsed }
    }

    /// Counts the pipelines the fake GitLab started since [`Burst::plan`], per event, and checks
    /// every delivery's answer against its event.
    pub fn tally(&self, fake: &FakeGitLab, sent: &Sent) -> Tally {
        let mut started: BTreeMap<String, usize> = BTreeMap::new();
        for call in fake.trigger_calls().iter().skip(self.triggers_before) {
            *started.entry(trigger_key(call)).or_default() += 1;
        }
        let mut answers: Vec<Vec<&Ended>> = vec![Vec::new(); self.events.len()];
        for (send, ended) in self.sends.iter().zip(&sent.ended) {
            answers[send.event].push(ended);
        }
        let mut tally = Tally::default();
        for (event, answers) in self.events.iter().zip(answers) {
            let outcomes: Vec<(u16, &str)> = answers.iter().map(|end| (end.status, end.outcome.as_str())).collect();
            let expected_ok = match &event.trigger_key {
                Some(key) => {
                    match started.remove(key).unwrap_or(0) {
                        1 => tally.triggered_once += 1,
                        count => tally.not_once.push((key.clone(), count)),
                    }
                    let triggered = outcomes.iter().filter(|answer| **answer == (200, "triggered")).count();
                    let duplicates = outcomes.iter().filter(|answer| **answer == (200, "duplicate")).count();
                    triggered == 1 && triggered + duplicates == outcomes.len()
                }
                None => outcomes.iter().all(|answer| *answer == (200, "ignored")),
            };
            if !expected_ok {
                tally.misanswered.push(format!("{:?}: {outcomes:?}", event.kind));
            }
        }
        tally.unexpected = started.into_keys().collect();
        tally
    }
}

/// What a trigger call is keyed by: its `trigger_type` and the identifier that makes the request
/// distinct (the note, issue, merge request or pipeline).
pub fn trigger_key(call: &TriggerCall) -> String {
    let value = |name: &str| {
        call.inputs
            .iter()
            .chain(&call.variables)
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map_or("?", |(_, value)| value.as_str())
    };
    let trigger_type = value("trigger_type");
    let id = match trigger_type {
        "issue_assignee" => value("target_issue_iid"),
        "issue_note" | "mr_note" => value("target_note_id"),
        "mr_reviewer" => value("target_mr_iid"),
        _ => value("target_pipeline_id"),
    };
    format!("{trigger_type}:{id}")
}

/// `count` of `0..len`, spread over the whole range and over every kind (a fixed stride would
/// meet only some kinds).
fn chosen(len: usize, count: usize) -> HashSet<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for last in (1..len).rev() {
        // splitmix64: deterministic, so a failing burst can be run again as it was.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = (state ^ (state >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^= mixed >> 31;
        order.swap(last, (mixed % (last as u64 + 1)) as usize);
    }
    order.into_iter().take(count).collect()
}

/// Pipeline ids no other burst in this process uses.
fn next_pipeline_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(7_000_000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Creates what `kind` of event is about on `fake` and builds its delivery.
fn event(fake: &FakeGitLab, kind: Kind, noted_mr: u64) -> Event {
    const MENTION: &str = "@copilot-agent please look at this";
    let (hook, payload, trigger_key) = match kind {
        Kind::IssueAssigned => {
            let seed = IssueSeed {
                title: "Burst".to_owned(),
                description: String::new(),
                author: "alice".to_owned(),
                assignees: Vec::new(),
                labels: Vec::new(),
                confidential: false,
            };
            let iid = fake.add_issue(WIDGETS, seed);
            let payload = payloads::issue_assignees(fake, "alice", iid, &[], &[AGENT]);
            ("Issue Hook", payload, Some(format!("issue_assignee:{iid}")))
        }
        Kind::IssueNoteMention => {
            let note = fake.add_issue_note(WIDGETS, 1, "alice", MENTION);
            ("Note Hook", payloads::issue_note(fake, "alice", 1, note, MENTION), Some(format!("issue_note:{note}")))
        }
        Kind::MrNoteMention => {
            let note = fake.add_mr_note(WIDGETS, noted_mr, "alice", MENTION);
            let payload = payloads::mr_note(fake, "alice", noted_mr, "feature/burst-notes", note, MENTION);
            ("Note Hook", payload, Some(format!("mr_note:{note}")))
        }
        Kind::ReviewerAdded => {
            let branch = format!("feature/burst-{}", next_pipeline_id());
            let iid = fake.add_merge_request_record(WIDGETS, &branch, "alice");
            let payload = payloads::mr_reviewers(fake, "alice", iid, &branch, &[], &[AGENT]);
            ("Merge Request Hook", payload, Some(format!("mr_reviewer:{iid}")))
        }
        Kind::PipelineFailed => {
            let id = next_pipeline_id();
            let branch = format!("copilot/burst-{id}");
            // The agent's branch has its MR, which the 🔧 lock goes on.
            fake.add_merge_request_record(WIDGETS, &branch, AGENT);
            let payload = payloads::pipeline(fake, "alice", id, &branch, "failed");
            ("Pipeline Hook", payload, Some(format!("pipeline_failed:{id}")))
        }
        Kind::Push => ("Push Hook", payloads::fixture("push.json"), None),
        Kind::NoteWithoutMention => {
            let text = "Looks good to me, thanks!";
            let note = fake.add_issue_note(WIDGETS, 1, "alice", text);
            ("Note Hook", payloads::issue_note(fake, "alice", 1, note, text), None)
        }
        Kind::PipelineFailedElsewhere => {
            let id = next_pipeline_id();
            ("Pipeline Hook", payloads::pipeline(fake, "alice", id, "feature/other", "failed"), None)
        }
    };
    Event { kind, trigger_key, delivery: Delivery::new(hook, &payload) }
}
