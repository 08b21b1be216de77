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
            chosen = Some(rule.kind.clone());
        }
    }
    chosen
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
}
