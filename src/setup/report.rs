//! What `setup` did, step by step, as people read it: one line per step and subject with what
//! changed (or would change in a dry run), a `fix:` line under each failure, and a last line
//! that says plainly when nothing changed.

use std::fmt::Write as _;

use crate::exit::Code;

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    /// Already as wanted: nothing was written.
    Unchanged,
    /// Dry run: would be created.
    WouldCreate,
    /// Dry run: would be updated.
    WouldUpdate,
    /// Needs a fix; setup goes on with what does not depend on it.
    Failed,
    /// GitLab could not be reached.
    Unreachable,
    /// Worth knowing, but not a failure of setup (e.g. no runner online yet).
    Warning,
    /// Not attempted, because what it needs failed first.
    Skipped,
}

impl Change {
    fn label(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
            Change::WouldCreate => "would create",
            Change::WouldUpdate => "would update",
            Change::Failed => "FAILED",
            Change::Unreachable => "UNREACHABLE",
            Change::Warning => "warning",
            Change::Skipped => "skipped",
        }
    }

    /// Whether GitLab was (or would be) changed.
    pub fn is_change(self) -> bool {
        matches!(self, Change::Created | Change::Updated | Change::WouldCreate | Change::WouldUpdate)
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Which step: `agent project`, `ci file`, `webhook`, …
    pub name: &'static str,
    /// What it is about: a project, a variable, a hook URL.
    pub subject: String,
    pub change: Change,
    pub detail: String,
    /// What to do about a failure or a warning.
    pub fix: Option<String>,
}

impl Step {
    pub fn new(name: &'static str, subject: impl Into<String>, change: Change, detail: impl Into<String>) -> Self {
        Self { name, subject: subject.into(), change, detail: detail.into(), fix: None }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// Every step, in the order they ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub steps: Vec<Step>,
    /// What to do next, printed after the steps.
    pub notes: Vec<String>,
}

impl Report {
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// The steps named `name`.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Step> + 'a {
        self.steps.iter().filter(move |step| step.name == name)
    }

    fn count(&self, change: Change) -> usize {
        self.steps.iter().filter(|step| step.change == change).count()
    }

    /// 3 when GitLab was unreachable, 2 when a step failed, else 0.
    pub fn exit_code(&self) -> Code {
        if self.count(Change::Unreachable) > 0 {
            Code::Unreachable
        } else if self.count(Change::Failed) > 0 {
            Code::Usage
        } else {
            Code::Done
        }
    }

    /// The report as people read it.
    pub fn render(&self) -> String {
        let width = self.steps.iter().map(|step| step.change.label().len()).max().unwrap_or(0);
        let mut text = String::new();
        for step in &self.steps {
            let _ = writeln!(text, "{:<width$}  {} {}: {}", step.change.label(), step.name, step.subject, step.detail);
            if let Some(fix) = &step.fix {
                let _ = writeln!(text, "{:<width$}  fix: {fix}", "");
            }
        }
        for note in &self.notes {
            text.push_str(note);
            text.push('\n');
        }
        text.push_str(&self.summary());
        text.push('\n');
        text
    }

    /// The last line: what changed, or that nothing did.
    pub fn summary(&self) -> String {
        let failed = self.count(Change::Failed) + self.count(Change::Unreachable);
        let would = self.count(Change::WouldCreate) + self.count(Change::WouldUpdate);
        let (created, updated) = (self.count(Change::Created), self.count(Change::Updated));
        let mut parts = Vec::new();
        if would > 0 {
            parts.push(format!("dry run: {would} change(s) would be made, none was"));
        } else if created + updated == 0 {
            parts.push("no change: GitLab was already set up as asked".to_owned());
        } else {
            parts.push(format!("{created} created, {updated} updated"));
        }
        if failed > 0 {
            parts.push(format!("{failed} step(s) failed; see the fixes above"));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_run_says_so_and_exits_0() {
        let mut report = Report::default();
        report.push(Step::new("agent project", "tools/agent", Change::Unchanged, "exists (id 7)"));
        report.push(Step::new("runner", "copilot-agent", Change::Warning, "none online").with_fix("register one"));
        let text = report.render();
        assert!(text.contains("unchanged  agent project tools/agent: exists (id 7)\n"), "{text}");
        assert!(
            text.contains("warning    runner copilot-agent: none online\n           fix: register one\n"),
            "{text}"
        );
        assert!(text.ends_with("no change: GitLab was already set up as asked\n"), "{text}");
        assert_eq!(report.exit_code(), Code::Done);
    }

    #[test]
    fn failures_and_dry_runs_are_counted_in_the_summary() {
        let mut report = Report::default();
        report.push(Step::new("ci file", ".gitlab-ci.yml", Change::WouldCreate, "would commit"));
        report.push(Step::new("webhook", "acme", Change::Failed, "refused").with_fix("ask an owner"));
        assert_eq!(
            report.summary(),
            "dry run: 1 change(s) would be made, none was; 1 step(s) failed; see the fixes above"
        );
        assert_eq!(report.exit_code(), Code::Usage);
        report.push(Step::new("runner", "x", Change::Unreachable, "down"));
        assert_eq!(report.exit_code(), Code::Unreachable);
    }
}
