//! Reading `.gitlab/copilot-agent.yml` into what the repository asks for, key by key, each bad
//! key or value a [`Problem`] on its line; the other keys are kept.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Allowed, Problem};
use crate::config::{KeyLines, Language, Severity};

/// What the repository asks for; `None` or empty: the key is not set (or was bad).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepoFile {
    pub language: Option<Language>,
    pub plan_approval: Option<bool>,
    pub architecture: Option<bool>,
    pub tests: Option<bool>,
    pub docs: Option<bool>,
    pub test_command: Option<String>,
    pub review_exclude: Vec<String>,
    pub min_severity: Option<Severity>,
    pub max_inline_comments: Option<usize>,
    pub max_premium_requests: Option<f64>,
    pub monthly_premium_requests: Option<f64>,
    /// The MCP servers picked, when the key is set (`[]`: none).
    pub mcp_servers: Option<Vec<String>>,
    pub instructions: Vec<String>,
    /// The line of each key read (`review.min_severity`), for problems found when narrowing.
    pub lines: BTreeMap<String, usize>,
}

const TOP_KEYS: &[&str] = &[
    "language",
    "plan_approval",
    "stages",
    "test_command",
    "review",
    "max_premium_requests",
    "monthly_premium_requests",
    "mcp_servers",
    "instructions",
];
const STAGE_KEYS: &[&str] = &["architecture", "tests", "docs"];
const REVIEW_KEYS: &[&str] = &["exclude", "min_severity", "max_inline_comments"];

/// What a group's key allows: one of its keys (the stages say analysis and implementation
/// always run).
fn group_keys(group: &str) -> Allowed {
    match group {
        "stages" => Allowed::Stages { names: Allowed::spans(STAGE_KEYS) },
        "review" => Allowed::Keys { names: Allowed::spans(REVIEW_KEYS) },
        _ => Allowed::Keys { names: Allowed::spans(TOP_KEYS) },
    }
}

/// Parses the file's text. A file that is not a YAML mapping is one problem and no rules.
pub fn parse(text: &str) -> (RepoFile, Vec<Problem>) {
    let mut reader = Reader { lines: KeyLines::scan(text), problems: Vec::new() };
    let mut file = RepoFile::default();
    let root: BTreeMap<String, Value> = if text.trim().is_empty() {
        BTreeMap::new()
    } else {
        match serde_saphyr::from_str(text) {
            Ok(root) => root,
            Err(error) => {
                let line = error.location().map_or(1, |at| usize::try_from(at.line()).unwrap_or(1));
                reader.problems.push(Problem {
                    line,
                    key: "(file)".to_owned(),
                    allowed: Allowed::Yaml { names: Allowed::spans(TOP_KEYS) },
                });
                return (file, reader.problems);
            }
        }
    };
    for (key, value) in &root {
        let at = Some(key.as_str());
        file.lines.insert(key.clone(), reader.line(None, key));
        if let Value::Object(children) = value {
            for child in children.keys() {
                file.lines.insert(format!("{key}.{child}"), reader.line(at, child));
            }
        }
        match key.as_str() {
            "language" => {
                let codes: Vec<&str> = Language::ALL.iter().map(|language| language.code()).collect();
                file.language = reader.parsed(None, key, value, Allowed::Values { names: Allowed::spans(&codes) });
            }
            "plan_approval" => file.plan_approval = reader.boolean(None, key, value),
            "test_command" => {
                file.test_command = reader.text(None, key, value, Allowed::CommandLine);
            }
            "max_premium_requests" => file.max_premium_requests = reader.cap(None, key, value),
            "monthly_premium_requests" => file.monthly_premium_requests = reader.cap(None, key, value),
            "mcp_servers" => {
                let known = reader.problems.len();
                let names = reader.list(None, key, value, is_name, Allowed::Names);
                // A bad list picks nothing: the agent project's servers stay as they are.
                file.mcp_servers = (reader.problems.len() == known).then_some(names);
            }
            "instructions" => file.instructions = reader.list(None, key, value, is_repo_path, Allowed::RepoPaths),
            "stages" => {
                for (child, value) in reader.children(key, value, STAGE_KEYS) {
                    match child.as_str() {
                        "architecture" => file.architecture = reader.boolean(at, &child, &value),
                        "tests" => file.tests = reader.boolean(at, &child, &value),
                        "docs" => file.docs = reader.boolean(at, &child, &value),
                        _ => reader.problem(at, &child, group_keys(key)),
                    }
                }
            }
            "review" => {
                for (child, value) in reader.children(key, value, REVIEW_KEYS) {
                    match child.as_str() {
                        "exclude" => {
                            file.review_exclude = reader.list(at, &child, &value, is_glob, Allowed::FilePatterns);
                        }
                        "min_severity" => {
                            let names: Vec<&str> = Severity::ALL.iter().map(|severity| severity.name()).collect();
                            let allowed = Allowed::Values { names: Allowed::spans(&names) };
                            file.min_severity = reader.parsed(at, &child, &value, allowed);
                        }
                        "max_inline_comments" => {
                            let count = value.as_u64().and_then(|count| usize::try_from(count).ok());
                            if count.is_none() {
                                reader.problem(at, &child, Allowed::WholeNumber);
                            }
                            file.max_inline_comments = count;
                        }
                        _ => reader.problem(at, &child, group_keys(key)),
                    }
                }
            }
            _ => reader.problem(None, key, group_keys("")),
        }
    }
    reader.problems.sort_by_key(|problem| problem.line);
    (file, reader.problems)
}

/// The key lines and the problems found so far.
struct Reader {
    lines: KeyLines,
    problems: Vec<Problem>,
}

impl Reader {
    /// `group.key`'s line; a key written inline (`stages: {tests: false}`) is on its group's line.
    fn line(&self, group: Option<&str>, key: &str) -> usize {
        self.lines.find(group, key).or_else(|| group.and_then(|group| self.lines.find(None, group))).unwrap_or(1)
    }

    fn problem(&mut self, group: Option<&str>, key: &str, allowed: Allowed) {
        let line = self.line(group, key);
        let key = group.map_or_else(|| key.to_owned(), |group| format!("{group}.{key}"));
        self.problems.push(Problem { line, key, allowed });
    }

    fn children(&mut self, key: &str, value: &Value, keys: &[&str]) -> Vec<(String, Value)> {
        match value {
            Value::Object(children) => children.clone().into_iter().collect(),
            _ => {
                self.problem(None, key, Allowed::Mapping { names: Allowed::spans(keys) });
                Vec::new()
            }
        }
    }

    fn boolean(&mut self, group: Option<&str>, key: &str, value: &Value) -> Option<bool> {
        let flag = value.as_bool();
        if flag.is_none() {
            self.problem(group, key, Allowed::Boolean);
        }
        flag
    }

    fn text(&mut self, group: Option<&str>, key: &str, value: &Value, allowed: Allowed) -> Option<String> {
        match value.as_str().map(str::trim) {
            Some(text) if !text.is_empty() && !text.contains('\n') => Some(text.to_owned()),
            _ => {
                self.problem(group, key, allowed);
                None
            }
        }
    }

    fn parsed<T: std::str::FromStr>(
        &mut self,
        group: Option<&str>,
        key: &str,
        value: &Value,
        allowed: Allowed,
    ) -> Option<T> {
        let parsed = value.as_str().and_then(|text| text.parse().ok());
        if parsed.is_none() {
            self.problem(group, key, allowed);
        }
        parsed
    }

    fn cap(&mut self, group: Option<&str>, key: &str, value: &Value) -> Option<f64> {
        let cap = value.as_f64().filter(|cap| cap.is_finite() && *cap > 0.0);
        if cap.is_none() {
            self.problem(group, key, Allowed::PremiumRequests);
        }
        cap
    }

    /// A list of text items that each pass `valid`; one bad item makes the whole key bad.
    fn list(
        &mut self,
        group: Option<&str>,
        key: &str,
        value: &Value,
        valid: fn(&str) -> bool,
        allowed: Allowed,
    ) -> Vec<String> {
        let items: Option<Vec<String>> = value.as_array().and_then(|items| {
            items.iter().map(|item| item.as_str().filter(|text| valid(text)).map(str::to_owned)).collect()
        });
        match items {
            Some(items) => items,
            None => {
                self.problem(group, key, allowed);
                Vec::new()
            }
        }
    }
}

fn is_name(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn is_repo_path(text: &str) -> bool {
    !text.is_empty() && !text.starts_with('/') && !text.contains('\\') && text.split('/').all(|part| part != "..")
}

fn is_glob(text: &str) -> bool {
    !text.trim().is_empty() && globset::Glob::new(text).is_ok()
}
