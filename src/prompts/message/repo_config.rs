//! The note on the bad keys and values of a repository's `.gitlab/copilot-agent.yml`, and what
//! each key allows as typed data, so that every language's template words it.

use serde::Serialize;

use super::Message;
use crate::prompts::MessageContext;
use crate::prompts::markers::Marker;
use crate::untrusted::MarkdownCodeSpan;

/// The note on the bad keys and values of a repository's `.gitlab/copilot-agent.yml`: each one's
/// line and what it allows; the work went on with the agent project's settings for those keys.
#[derive(Debug, Clone, Serialize)]
pub struct RepoConfigNote {
    /// [`Marker::repo_config`]: a re-run edits this note instead of posting another.
    pub marker: Marker,
    pub file: MarkdownCodeSpan,
    /// The default branch the file was read from.
    pub branch: MarkdownCodeSpan,
    pub problems: Vec<RepoConfigProblem>,
}

/// One bad key or value of a [`RepoConfigNote`].
#[derive(Debug, Clone, Serialize)]
pub struct RepoConfigProblem {
    pub line: usize,
    pub key: MarkdownCodeSpan,
    pub allowed: Allowed,
}

impl MessageContext for RepoConfigNote {
    fn message(&self) -> Message {
        Message::RepoConfigNote
    }
}

/// What a key of the file allows. Each template words every kind in its language; key names and
/// literal values stay code spans (`names`, `severity`), so they read the same in all of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Allowed {
    /// The file is not YAML: a YAML mapping of these keys.
    Yaml { names: Vec<MarkdownCodeSpan> },
    /// An unknown key: one of these keys.
    Keys { names: Vec<MarkdownCodeSpan> },
    /// An unknown stage: one of these optional stages (analysis and implementation always run).
    Stages { names: Vec<MarkdownCodeSpan> },
    /// A group written as something else: a mapping of these keys.
    Mapping { names: Vec<MarkdownCodeSpan> },
    /// One of these literal values.
    Values { names: Vec<MarkdownCodeSpan> },
    /// Names among the MCP servers the agent project offers (none offered: no name at all).
    AgentServers { names: Vec<MarkdownCodeSpan> },
    /// Paths of files on the default branch; these were not found there.
    MissingFiles { names: Vec<MarkdownCodeSpan> },
    /// `true` or `false`.
    Boolean,
    /// A command line, as text.
    CommandLine,
    /// A number of premium requests above 0.
    PremiumRequests,
    /// A whole number, 0 or more.
    WholeNumber,
    /// A list of names (letters, digits, `-`, `_`, `.`).
    Names,
    /// A list of relative paths in the repository, without `..`.
    RepoPaths,
    /// A list of file patterns.
    FilePatterns,
    /// Only `true`: the agent project requires plan approval.
    PlanApprovalOn,
    /// Only `false`: the agent project turned this stage off.
    StageOff,
    /// This severity or a more serious one (the agent project's threshold).
    SeverityAtLeast { severity: MarkdownCodeSpan },
    /// This many or fewer (the agent project's limit).
    CountAtMost { limit: usize },
    /// This many premium requests or less (the agent project's cap).
    CapAtMost {
        #[serde(serialize_with = "super::two_decimals")]
        cap: f64,
    },
}

impl Allowed {
    /// `names` as code spans, for the kinds that list keys, values or servers.
    pub fn spans(names: &[&str]) -> Vec<MarkdownCodeSpan> {
        names.iter().map(|name| MarkdownCodeSpan::new(name)).collect()
    }
}

#[cfg(test)]
pub(in crate::prompts) mod fixtures {
    //! A note with one problem of every kind, for the snapshot and language tests.

    use super::*;

    /// Every [`Allowed`] kind, each with a key it is found on.
    pub(in crate::prompts) fn every_kind() -> Vec<(&'static str, Allowed)> {
        let spans = Allowed::spans;
        vec![
            ("(file)", Allowed::Yaml { names: spans(&["language", "stages", "review"]) }),
            ("langauge", Allowed::Keys { names: spans(&["language", "stages", "review"]) }),
            ("stages.implementation", Allowed::Stages { names: spans(&["architecture", "tests", "docs"]) }),
            ("review", Allowed::Mapping { names: spans(&["exclude", "min_severity"]) }),
            ("review.min_severity", Allowed::Values { names: spans(&["critical", "major", "minor", "info"]) }),
            ("mcp_servers", Allowed::AgentServers { names: spans(&["github", "sentry"]) }),
            ("mcp_servers", Allowed::AgentServers { names: Vec::new() }),
            ("instructions", Allowed::MissingFiles { names: spans(&["docs/agent.md", "docs/style.md"]) }),
            ("stages.docs", Allowed::Boolean),
            ("test_command", Allowed::CommandLine),
            ("monthly_premium_requests", Allowed::PremiumRequests),
            ("review.max_inline_comments", Allowed::WholeNumber),
            ("mcp_servers", Allowed::Names),
            ("instructions", Allowed::RepoPaths),
            ("review.exclude", Allowed::FilePatterns),
            ("plan_approval", Allowed::PlanApprovalOn),
            ("stages.architecture", Allowed::StageOff),
            ("review.min_severity", Allowed::SeverityAtLeast { severity: MarkdownCodeSpan::new("minor") }),
            ("review.max_inline_comments", Allowed::CountAtMost { limit: 10 }),
            ("max_premium_requests", Allowed::CapAtMost { cap: 20.5 }),
        ]
    }

    /// A note naming every kind, one problem a line.
    pub(in crate::prompts) fn note() -> RepoConfigNote {
        RepoConfigNote {
            marker: Marker::repo_config("mr-3"),
            file: MarkdownCodeSpan::new(".gitlab/copilot-agent.yml"),
            branch: MarkdownCodeSpan::new("main"),
            problems: every_kind()
                .into_iter()
                .enumerate()
                .map(|(index, (key, allowed))| RepoConfigProblem {
                    line: index + 1,
                    key: MarkdownCodeSpan::new(key),
                    allowed,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
