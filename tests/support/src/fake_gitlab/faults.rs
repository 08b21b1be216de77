//! Fault injection per route: a rule names a method and a path pattern and says what goes wrong
//! (an error status with GitLab's headers and body, a delay, a hang until the test releases it,
//! a dropped connection, or a write that is applied before the connection drops) for the first
//! N matching calls or a fraction.
//!
//! Patterns match the request path with the `/api/v4` prefix removed, segment by segment, on
//! the raw (still URL-encoded) path: `*` is one segment, `**` any number, anything else is
//! literal. So `/projects/*/merge_requests/*/discussions` matches
//! `/api/v4/projects/acme%2Fwidgets/merge_requests/1/discussions`.

use std::time::Duration;

/// How often a rule fires among the calls it matches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// The first N matching calls.
    First(u32),
    /// Every matching call, for as long as the rule is installed.
    Always,
    /// Evenly spread, deterministic share of calls (0.5 = every second call, starting with the
    /// second).
    Fraction(f64),
    /// A share of calls picked by a seeded pseudo-random stream: the same seed faults the same
    /// calls, without the regular spacing of [`Budget::Fraction`].
    Seeded { share: f64, seed: u64 },
}

/// What the fake does instead of (or around) answering.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Answer with this status instead of handling the request.
    Status { code: u16, headers: Vec<(String, String)>, body: Option<String> },
    /// Wait, then handle the request normally.
    Delay(Duration),
    /// Hold the request unanswered until the test calls `FakeGitLab::release_hung`, then
    /// handle it normally: a GitLab that is stuck, for as long as the test needs.
    Hang,
    /// Close the connection without any response; nothing is applied.
    Reset,
    /// Handle the request (the write happens), then close the connection without sending the
    /// response: the client cannot know whether it worked.
    ApplyThenReset,
    /// One of these, picked per faulted call (by the seeded stream with [`Budget::Seeded`], in
    /// turn otherwise): a GitLab that misbehaves in every way at once.
    OneOf(Vec<FaultKind>),
}

/// One installed fault.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub method: Option<String>,
    pub pattern: String,
    pub kind: FaultKind,
    pub budget: Budget,
    /// Matching calls seen so far.
    pub seen: u32,
    /// Calls this rule has faulted.
    pub fired: u32,
}

/// Builds a [`FaultRule`]: `Fault::on("POST", "/projects/*/issues/*/notes").status(429).times(2)`.
#[derive(Debug, Clone)]
pub struct Fault {
    method: Option<String>,
    pattern: String,
    kind: FaultKind,
    budget: Budget,
}

impl Fault {
    /// A fault for `method` (`"*"` for any) on `pattern`; by default a 500 on every call.
    pub fn on(method: &str, pattern: &str) -> Self {
        Self {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            pattern: pattern.to_owned(),
            kind: FaultKind::Status { code: 500, headers: Vec::new(), body: None },
            budget: Budget::Always,
        }
    }

    /// Answer with `code` and GitLab's body for it (`Retry later` for 429, `{"message":…}`
    /// otherwise).
    pub fn status(mut self, code: u16) -> Self {
        let headers = match &self.kind {
            FaultKind::Status { headers, .. } => headers.clone(),
            _ => Vec::new(),
        };
        self.kind = FaultKind::Status { code, headers, body: None };
        self
    }

    /// Adds `Retry-After: <seconds>` to a status fault.
    pub fn retry_after(self, seconds: u64) -> Self {
        self.header("Retry-After", &seconds.to_string())
    }

    /// Adds `RateLimit-Reset: <unix time>` (and GitLab's companion headers) to a status fault.
    pub fn rate_limit_reset(self, unix_seconds: i64) -> Self {
        self.header("RateLimit-Limit", "600")
            .header("RateLimit-Observed", "601")
            .header("RateLimit-Remaining", "0")
            .header("RateLimit-Reset", &unix_seconds.to_string())
    }

    /// Adds any header to a status fault.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let FaultKind::Status { headers, .. } = &mut self.kind {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Replaces the body of a status fault.
    pub fn body(mut self, text: &str) -> Self {
        if let FaultKind::Status { body, .. } = &mut self.kind {
            *body = Some(text.to_owned());
        }
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.kind = FaultKind::Delay(delay);
        self
    }

    /// Hold matching calls until `FakeGitLab::release_hung` (nothing is applied before).
    pub fn hang(mut self) -> Self {
        self.kind = FaultKind::Hang;
        self
    }

    pub fn reset(mut self) -> Self {
        self.kind = FaultKind::Reset;
        self
    }

    pub fn apply_then_reset(mut self) -> Self {
        self.kind = FaultKind::ApplyThenReset;
        self
    }

    /// Only the first `n` matching calls.
    pub fn times(mut self, n: u32) -> Self {
        self.budget = Budget::First(n);
        self
    }

    /// A share of matching calls chosen by a stream seeded with `seed`.
    pub fn seeded(mut self, share: f64, seed: u64) -> Self {
        self.budget = Budget::Seeded { share: share.clamp(0.0, 1.0), seed };
        self
    }

    /// Each faulted call gets one of `kinds`.
    pub fn one_of(mut self, kinds: Vec<FaultKind>) -> Self {
        self.kind = FaultKind::OneOf(kinds);
        self
    }

    /// A deterministic share of matching calls.
    pub fn fraction(mut self, share: f64) -> Self {
        self.budget = Budget::Fraction(share.clamp(0.0, 1.0));
        self
    }

    pub(crate) fn into_rule(self) -> FaultRule {
        FaultRule {
            method: self.method,
            pattern: self.pattern,
            kind: self.kind,
            budget: self.budget,
            seen: 0,
            fired: 0,
        }
    }
}

impl FaultRule {
    fn matches(&self, method: &str, path: &str) -> bool {
        if self.method.as_deref().is_some_and(|m| !m.eq_ignore_ascii_case(method)) {
            return false;
        }
        path_matches(&self.pattern, path)
    }

    /// Counts a matching call and says whether this one is faulted.
    fn take(&mut self) -> bool {
        self.seen += 1;
        let fire = match self.budget {
            Budget::Always => true,
            Budget::First(n) => self.seen <= n,
            Budget::Fraction(share) => {
                let before = ((self.seen - 1) as f64 * share).floor();
                let after = (self.seen as f64 * share).floor();
                after > before
            }
            Budget::Seeded { share, seed } => unit(mix(seed, u64::from(self.seen))) < share,
        };
        if fire {
            self.fired += 1;
        }
        fire
    }
}

/// The first installed rule that fires for this call, if any. Every matching rule counts the
/// call, so budgets stay independent.
pub fn select(rules: &mut [FaultRule], method: &str, path: &str) -> Option<FaultKind> {
    let mut chosen = None;
    for rule in rules.iter_mut() {
        if rule.matches(method, path) && rule.take() && chosen.is_none() {
            chosen = Some(match &rule.kind {
                FaultKind::OneOf(kinds) if !kinds.is_empty() => {
                    let turn = match rule.budget {
                        Budget::Seeded { seed, .. } => mix(seed ^ 0x5eed, u64::from(rule.fired)),
                        _ => u64::from(rule.fired),
                    };
                    kinds[(turn % kinds.len() as u64) as usize].clone()
                }
                kind => kind.clone(),
            });
        }
    }
    chosen
}

/// SplitMix64 of `seed` and `n`: a well-spread, reproducible stream.
pub(crate) fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `x` as a number in `[0, 1)`.
pub(crate) fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// `path` without the API prefix, as patterns are written.
pub fn route_path(path: &str) -> &str {
    path.strip_prefix("/api/v4").filter(|rest| rest.starts_with('/')).unwrap_or(path)
}

/// Segment-wise glob: `*` one segment, `**` zero or more.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern = route_path(pattern);
    let path = route_path(path);
    let pattern: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_matches('/').split('/').collect();
    glob_segments(&pattern, &path)
}

fn glob_segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| glob_segments(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => (*first == "*" || first == segment) && glob_segments(rest, path_rest),
            None => false,
        },
    }
}

/// GitLab's body for an error status: rack-attack's plain `Retry later` for 429, Grape's JSON
/// `message` otherwise.
pub fn default_body(code: u16) -> (&'static str, String) {
    match code {
        429 => ("text/plain", "Retry later\n".to_owned()),
        502 => (
            "text/html",
            "<html><body><h1>502</h1><p>Whoops, GitLab is taking too much time to respond.</p></body></html>\n"
                .to_owned(),
        ),
        _ => {
            let reason =
                axum::http::StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
            ("application/json", serde_json::json!({ "message": format!("{code} {reason}") }).to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_by_segment_on_the_encoded_path() {
        assert!(path_matches("/projects/*/issues/*/notes", "/api/v4/projects/acme%2Fwidgets/issues/1/notes"));
        assert!(!path_matches("/projects/*/issues/*/notes", "/api/v4/projects/1/issues/1/notes/5"));
        assert!(path_matches("/projects/**", "/api/v4/projects/1/issues/1/notes/5"));
        assert!(path_matches("/acme/widgets.git/**", "/acme/widgets.git/info/refs"));
    }

    #[test]
    fn budgets_count_matching_calls() {
        let mut rules = vec![Fault::on("POST", "/x").status(429).times(2).into_rule()];
        let fired: Vec<bool> = (0..4).map(|_| select(&mut rules, "POST", "/api/v4/x").is_some()).collect();
        assert_eq!(fired, [true, true, false, false]);
        assert!(select(&mut rules, "GET", "/api/v4/x").is_none());

        let mut rules = vec![Fault::on("*", "/x").reset().fraction(0.5).into_rule()];
        let fired: Vec<bool> = (0..4).map(|_| select(&mut rules, "GET", "/x").is_some()).collect();
        assert_eq!(fired, [false, true, false, true]);
    }

    #[test]
    fn a_seeded_share_is_reproducible_and_near_its_share() {
        let kinds = vec![FaultKind::Reset, FaultKind::Status { code: 502, headers: Vec::new(), body: None }];
        let run = |seed| {
            let mut rules = vec![Fault::on("*", "/**").one_of(kinds.clone()).seeded(0.2, seed).into_rule()];
            (0..2000).map(|_| select(&mut rules, "GET", "/x")).collect::<Vec<_>>()
        };
        let first = run(7);
        assert_eq!(first, run(7));
        assert_ne!(first, run(8));
        let fired = first.iter().flatten().count();
        assert!((300..500).contains(&fired), "{fired} of 2000");
        assert!(first.iter().flatten().any(|kind| *kind == FaultKind::Reset));
        assert!(first.iter().flatten().any(|kind| matches!(kind, FaultKind::Status { code: 502, .. })));
    }
}
