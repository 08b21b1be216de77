//! Drops duplicate deliveries within one replica: GitLab's resends (same `Idempotency-Key`),
//! the same event delivered by two hooks (same `X-Gitlab-Event-UUID`), and the same request
//! reaching us twice under different ids (same trigger type, project and note/pipeline/object).
//!
//! Bounded and in memory: entries expire after a window and the oldest go first when full, and a
//! released key leaves nothing behind, so memory stays within the capacity whatever the mix of
//! accepted and failed deliveries. A claim is held while the delivery is acted on; only a
//! decision that stands (a trigger GitLab accepted, a denial) is remembered as done. A claim
//! dropped without [`Claim::done`] (the trigger failed, or another replica holds the 👀) is
//! released, so GitLab's resend is judged afresh. Across replicas, the 👀 award is the
//! test-and-set, held as a lease (see `act`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Entry {
    at: Instant,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// The same keys by generation, oldest first: what expiry and eviction take from.
    order: BTreeMap<u64, String>,
    next_generation: u64,
}

impl State {
    fn remove(&mut self, generation: u64) {
        if let Some(key) = self.order.remove(&generation) {
            self.entries.remove(&key);
        }
    }
}

/// The set of recently seen deliveries and objects.
#[derive(Debug, Clone)]
pub struct Dedup {
    state: Arc<Mutex<State>>,
    window: Duration,
    capacity: usize,
}

/// Whether a delivery may go ahead.
#[derive(Debug)]
pub enum Outcome {
    /// First sighting: go ahead, and call [`Claim::done`] once GitLab accepted the trigger.
    Fresh(Claim),
    /// Seen within the window (done or still in flight): do nothing.
    Duplicate,
}

/// Holds the keys of one delivery; releases them on drop unless [`Claim::done`] was called.
#[derive(Debug)]
pub struct Claim {
    dedup: Dedup,
    keys: Vec<(u64, String)>,
    done: bool,
}

impl Claim {
    /// The trigger was accepted: keep the keys for the rest of the window.
    pub fn done(mut self) {
        self.done = true;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = self.dedup.lock();
        for (generation, _) in &self.keys {
            state.remove(*generation);
        }
    }
}

impl Dedup {
    /// GitLab's manual resend is available for two days, but resends come within minutes in
    /// practice and every run is idempotent anyway; ten minutes covers double deliveries.
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(600);
    pub const DEFAULT_CAPACITY: usize = 100_000;

    pub fn new(window: Duration, capacity: usize) -> Self {
        Self { state: Arc::default(), window, capacity: capacity.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims every key (empty ones are skipped), or reports a duplicate when any is known.
    pub fn claim<I, S>(&self, keys: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let keys: Vec<String> = keys.into_iter().map(Into::into).filter(|key| !key.is_empty()).collect();
        let now = Instant::now();
        let mut state = self.lock();
        self.expire(&mut state, now);
        if keys.iter().any(|key| state.entries.contains_key(key)) {
            return Outcome::Duplicate;
        }
        let mut claimed = Vec::with_capacity(keys.len());
        for key in keys {
            let generation = state.next_generation;
            state.next_generation += 1;
            state.entries.insert(key.clone(), Entry { at: now });
            state.order.insert(generation, key.clone());
            claimed.push((generation, key));
        }
        while state.entries.len() > self.capacity {
            let Some((&oldest, _)) = state.order.first_key_value() else { break };
            state.remove(oldest);
        }
        drop(state);
        Outcome::Fresh(Claim { dedup: self.clone(), keys: claimed, done: false })
    }

    fn expire(&self, state: &mut State, now: Instant) {
        while let Some((&generation, key)) = state.order.first_key_value() {
            let fresh = state.entries.get(key).is_some_and(|entry| now.duration_since(entry.at) < self.window);
            if fresh {
                break;
            }
            state.remove(generation);
        }
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// How many keys occupy memory, counting every index: what the capacity bounds (a metric).
    pub fn footprint(&self) -> usize {
        let state = self.lock();
        state.entries.len().max(state.order.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(outcome: Outcome) -> Claim {
        match outcome {
            Outcome::Fresh(claim) => claim,
            Outcome::Duplicate => panic!("unexpected duplicate"),
        }
    }

    #[test]
    fn a_done_claim_makes_any_shared_key_a_duplicate() {
        let dedup = Dedup::new(Dedup::DEFAULT_WINDOW, 100);
        fresh(dedup.claim(["delivery-1", "issue_note/5/note:1"])).done();
        assert!(matches!(dedup.claim(["delivery-1", "other"]), Outcome::Duplicate), "resend");
        assert!(matches!(dedup.claim(["delivery-2", "issue_note/5/note:1"]), Outcome::Duplicate), "double delivery");
        assert!(matches!(dedup.claim(["delivery-3", "issue_note/5/note:2"]), Outcome::Fresh(_)));
    }

    #[test]
    fn an_in_flight_claim_blocks_and_a_failed_one_is_released() {
        let dedup = Dedup::new(Dedup::DEFAULT_WINDOW, 100);
        let claim = fresh(dedup.claim(["delivery-1"]));
        assert!(matches!(dedup.claim(["delivery-1"]), Outcome::Duplicate), "still in flight");
        drop(claim);
        assert!(dedup.is_empty(), "a failed trigger forgets its keys");
        fresh(dedup.claim(["delivery-1"])).done();
    }

    #[test]
    fn entries_expire_after_the_window() {
        let dedup = Dedup::new(Duration::ZERO, 100);
        fresh(dedup.claim(["delivery-1"])).done();
        fresh(dedup.claim(["delivery-1"])).done();
    }

    #[test]
    fn memory_is_bounded_by_evicting_the_oldest() {
        let dedup = Dedup::new(Dedup::DEFAULT_WINDOW, 3);
        for index in 0..10 {
            fresh(dedup.claim([format!("delivery-{index}")])).done();
        }
        assert_eq!(dedup.len(), 3);
        assert!(matches!(dedup.claim(["delivery-9"]), Outcome::Duplicate));
        assert!(matches!(dedup.claim(["delivery-0"]), Outcome::Fresh(_)));
    }

    #[test]
    fn released_claims_leave_nothing_behind() {
        let dedup = Dedup::new(Dedup::DEFAULT_WINDOW, 10);
        for index in 0..1_000 {
            drop(fresh(dedup.claim([format!("delivery-{index}"), format!("event-{index}")])));
        }
        assert_eq!(dedup.footprint(), 0, "failed deliveries are forgotten entirely");
        for index in 0..1_000 {
            fresh(dedup.claim([format!("delivery-{index}")])).done();
        }
        assert_eq!(dedup.footprint(), 10);
    }

    #[test]
    fn empty_keys_are_ignored() {
        let dedup = Dedup::new(Dedup::DEFAULT_WINDOW, 3);
        fresh(dedup.claim(["", "a"])).done();
        assert!(matches!(dedup.claim([""]), Outcome::Fresh(_)));
    }
}
