//! How the repository's file narrows the admin's settings: one rule per key, in [`RULES`]. A value
//! that would loosen the admin's setting is a [`Problem`], and the admin's value is kept.

use super::{Allowed, Effective, Problem, RepoFile};

/// How one key of the file may change the admin's setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Any allowed value: the key does not loosen anything.
    Any,
    /// May be turned on; not off when the admin turned it on.
    OnOnly,
    /// May be turned off; not on when the admin turned it off.
    OffOnly,
    /// May only be lower than the admin's (or set when the admin set none).
    LowerOnly,
    /// May only be more serious than the admin's threshold.
    StricterOnly,
    /// Adds to the admin's list.
    Adds,
    /// Picks among the admin's list.
    Picks,
}

/// Every key and its rule; `docs/repository-config.md` lists the same.
pub const RULES: &[(&str, Rule)] = &[
    ("language", Rule::Any),
    ("plan_approval", Rule::OnOnly),
    ("stages.architecture", Rule::OffOnly),
    ("stages.tests", Rule::OffOnly),
    ("stages.docs", Rule::OffOnly),
    ("test_command", Rule::Any),
    ("review.exclude", Rule::Adds),
    ("review.min_severity", Rule::StricterOnly),
    ("review.max_inline_comments", Rule::LowerOnly),
    ("max_premium_requests", Rule::LowerOnly),
    ("monthly_premium_requests", Rule::LowerOnly),
    ("mcp_servers", Rule::Picks),
    ("instructions", Rule::Any),
];

/// The admin's settings narrowed by `file`; each loosening value adds a problem on its line and
/// keeps the admin's value.
pub fn narrow(admin: &Effective, file: RepoFile, problems: &mut Vec<Problem>) -> Effective {
    let mut refuse = Refusals { problems, lines: file.lines.clone() };
    let mut effective = admin.clone();
    if let Some(language) = file.language {
        effective.language = language;
    }
    if let Some(on) = file.plan_approval {
        if on || !admin.require_plan_approval {
            effective.require_plan_approval = on;
        } else {
            refuse.push("plan_approval", Allowed::PlanApprovalOn);
        }
    }
    for (key, asked, admin_on, slot) in [
        ("stages.architecture", file.architecture, admin.stages.architecture, &mut effective.stages.architecture),
        ("stages.tests", file.tests, admin.stages.tests, &mut effective.stages.tests),
        ("stages.docs", file.docs, admin.stages.docs, &mut effective.stages.docs),
    ] {
        match asked {
            Some(true) if !admin_on => {
                refuse.push(key, Allowed::StageOff);
            }
            Some(on) => *slot = on,
            None => {}
        }
    }
    if file.test_command.is_some() {
        effective.test_command = file.test_command;
    }
    effective.review.exclude.extend(file.review_exclude);
    if let Some(severity) = file.min_severity {
        if severity <= admin.review.min_severity {
            effective.review.min_severity = severity;
        } else {
            let severity = crate::untrusted::MarkdownCodeSpan::new(admin.review.min_severity.name());
            refuse.push("review.min_severity", Allowed::SeverityAtLeast { severity });
        }
    }
    if let Some(limit) = file.max_inline_comments {
        match admin.review.max_inline_comments {
            Some(admin_limit) if limit > admin_limit => {
                refuse.push("review.max_inline_comments", Allowed::CountAtMost { limit: admin_limit });
            }
            _ => effective.review.max_inline_comments = Some(limit),
        }
    }
    for (key, asked, admin_cap, slot) in [
        (
            "max_premium_requests",
            file.max_premium_requests,
            admin.max_premium_requests,
            &mut effective.max_premium_requests,
        ),
        (
            "monthly_premium_requests",
            file.monthly_premium_requests,
            admin.monthly_premium_requests,
            &mut effective.monthly_premium_requests,
        ),
    ] {
        match (asked, admin_cap) {
            (Some(cap), Some(admin_cap)) if cap > admin_cap => {
                refuse.push(key, Allowed::CapAtMost { cap: admin_cap });
            }
            (Some(cap), _) => *slot = Some(cap),
            (None, _) => {}
        }
    }
    if let Some(picked) = file.mcp_servers {
        let (known, unknown): (Vec<_>, Vec<_>) = picked.into_iter().partition(|name| admin.mcp_servers.contains(name));
        if !unknown.is_empty() {
            let offered: Vec<&str> = admin.mcp_servers.iter().map(String::as_str).collect();
            refuse.push("mcp_servers", Allowed::AgentServers { names: Allowed::spans(&offered) });
        }
        effective.mcp_servers = known;
    }
    effective.instructions = file.instructions;
    refuse.problems.sort_by_key(|problem| problem.line);
    effective
}

/// Loosening values found by [`narrow`], added to the problems on their keys' lines.
struct Refusals<'p> {
    problems: &'p mut Vec<Problem>,
    lines: std::collections::BTreeMap<String, usize>,
}

impl Refusals<'_> {
    fn push(&mut self, key: &str, allowed: Allowed) {
        let line = self.lines.get(key).copied().unwrap_or(1);
        self.problems.push(Problem { line, key: key.to_owned(), allowed });
    }
}
