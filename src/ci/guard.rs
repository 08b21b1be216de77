//! The guard against "fixing" CI by weakening it.
//!
//! A model asked to make a red pipeline green can take the short way: delete the failing test,
//! mark it skipped or expected to fail, assert a constant, or tell CI to ignore the job. After each
//! fix stage the runner reads the fix's diff and rejects such a change, naming each line, before
//! anything is pushed. The rules read lines, not syntax trees, so they cover the common test
//! frameworks of every language alike (cargo, pytest, unittest, go, jest, mocha, JUnit, RSpec) and
//! GitLab's CI configuration. A person can allow test changes on a merge request with a command.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

/// What a rejected line does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A test file was deleted.
    DeletesTestFile,
    /// A test function or case was removed (and not added back elsewhere in the change).
    RemovesTest,
    /// A skip, ignore or expected-failure marker was added.
    SkipsTest,
    /// An assertion was replaced by one that always holds, or assertions were removed.
    LoosensAssertion,
    /// CI was told to tolerate a failure (`allow_failure`, `|| true`) or a job was commented out.
    WeakensCi,
}

impl Rule {
    fn describe(self) -> &'static str {
        match self {
            Self::DeletesTestFile => "deletes a test file",
            Self::RemovesTest => "removes a test",
            Self::SkipsTest => "skips a test or expects it to fail",
            Self::LoosensAssertion => "loosens an assertion",
            Self::WeakensCi => "makes CI tolerate a failure",
        }
    }
}

/// One rejected line of a fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weakening {
    pub rule: Rule,
    pub path: String,
    /// The line number: in the new file for an added line, in the old one for a removed line
    /// (0 for a deleted file).
    pub line: u32,
    pub added: bool,
    /// The line's text, trimmed (empty for a deleted file).
    pub text: String,
}

impl Weakening {
    /// `tests/greet.rs:12: removes a test: -#[test]`.
    pub fn describe(&self) -> String {
        if self.text.is_empty() {
            return format!("{}: {}", self.path, self.rule.describe());
        }
        let sign = if self.added { '+' } else { '-' };
        let mut text = self.text.clone();
        if text.chars().count() > 120 {
            text = text.chars().take(120).chain(['…']).collect();
        }
        format!("{}:{}: {}: {sign}{text}", self.path, self.line, self.rule.describe())
    }
}

/// A line of a changed file.
#[derive(Debug)]
struct Line {
    path: String,
    number: u32,
    text: String,
}

/// A test function or case being declared.
static TEST_DECLARATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^\s*#\[(?:tokio::|async_std::|rstest|test_case|proptest)?test\b",
        r"|^\s*(?:pub\s+)?(?:async\s+)?fn\s+test_\w*\s*\(",
        r"|^\s*(?:async\s+)?def\s+test\w*\s*\(",
        r"|^\s*func\s+Test\w*\s*\(",
        r"|^\s*@(?:Test|ParameterizedTest)\b",
        r#"|^\s*(?:it|test|specify|scenario)\s*\(\s*['"`]"#,
    ))
    .unwrap_or_else(|error| unreachable!("valid: {error}"))
});

/// A marker that skips a test or expects it to fail.
static SKIP_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"#\[ignore\b|@pytest\.mark\.(?:skip|skipif|xfail)\b|@unittest\.(?:skip|expectedFailure)",
        r"|\bpytest\.(?:skip|xfail)\s*\(|\.skip\s*\(|\bx(?:it|describe|test)\s*\(|\b(?:it|test)\.todo\s*\(",
        r"|@(?:Disabled|Ignore)\b|\bt\.Skip(?:Now|f)?\s*\(|\bskip\s*\(\s*['\x22]|\bpending\s*\(",
    ))
    .unwrap_or_else(|error| unreachable!("valid: {error}"))
});

/// An assertion that always holds.
static CONSTANT_ASSERTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:debug_)?assert!?\s*\(\s*(?:true|1|!false)\s*[,)]",
        r"|^\s*assert\s+(?:True|1|not\s+False)\s*(?:,|$|#)",
        r"|\bassert(?:True|That)?\s*\(\s*(?:true|True|1)\s*\)",
        r"|\bexpect\s*\(\s*(?:true|1)\s*\)\s*\.\s*to(?:Be|Equal|BeTruthy)\s*\(",
        r"|\bassert\.(?:ok|isTrue)\s*\(\s*true\s*\)",
    ))
    .unwrap_or_else(|error| unreachable!("valid: {error}"))
});

/// `assert_eq!(a, b)` and its kin, to see whether both sides are the same.
static EQUALITY_ASSERTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:assert_eq!|assertEqual|assertEquals|assert\.equal|assert\.strictEqual)\s*\(\s*(.+?)\s*,\s*(.+?)\s*\)\s*;?\s*$")
        .unwrap_or_else(|error| unreachable!("valid: {error}"))
});

/// A line that asserts something.
static ASSERTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bassert|\bexpect\s*\(|\.should\b|\brequire\.\w+\s*\(")
        .unwrap_or_else(|error| unreachable!("valid: {error}"))
});

/// A shell command made to succeed whatever happens.
static IGNORED_EXIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\|\|\s*(?:true|:|exit\s+0)\b|\ballow_failure\s*:\s*(?:true|\{|$)|\bset\s+\+e\b")
        .unwrap_or_else(|error| unreachable!("valid: {error}"))
});

/// Whether `path` holds tests.
pub fn is_test_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    let in_test_dir = lower.split('/').rev().skip(1).any(|dir| matches!(dir, "tests" | "test" | "spec" | "__tests__"));
    in_test_dir
        || name.starts_with("test_")
        || ["_test.go", "_test.py", "_spec.rb", "test.java", "tests.java", "test.kt", "tests.cs", "_test.rs"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        || [".test.", ".spec."].iter().any(|infix| name.contains(infix))
}

/// Whether `path` is GitLab CI configuration (the main file or a local include).
pub fn is_ci_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == ".gitlab-ci.yml"
        || name.ends_with(".gitlab-ci.yml")
        || (path.starts_with(".gitlab/") && (name.ends_with(".yml") || name.ends_with(".yaml")))
}

/// The weakenings in `diff`, a unified diff (`git diff` of the fix), in diff order.
pub fn inspect(diff: &str) -> Vec<Weakening> {
    let parsed = parse(diff);
    let mut found = Vec::new();
    let weakening = |rule, line: &Line, added| Weakening {
        rule,
        path: line.path.clone(),
        line: line.number,
        added,
        text: line.text.trim().to_owned(),
    };
    for path in &parsed.deleted {
        if is_test_path(path) {
            found.push(Weakening {
                rule: Rule::DeletesTestFile,
                path: path.clone(),
                line: 0,
                added: false,
                text: String::new(),
            });
        }
    }
    let added_texts: HashMap<&str, usize> = parsed.added.iter().fold(HashMap::new(), |mut counts, line| {
        *counts.entry(line.text.trim()).or_default() += 1;
        counts
    });
    for line in parsed.removed.iter().filter(|line| !parsed.deleted.contains(&line.path)) {
        if TEST_DECLARATION.is_match(&line.text) && !added_texts.contains_key(line.text.trim()) {
            found.push(weakening(Rule::RemovesTest, line, false));
        }
    }
    for line in &parsed.added {
        let text = line.text.as_str();
        if SKIP_MARKER.is_match(text) && !is_ci_path(&line.path) {
            found.push(weakening(Rule::SkipsTest, line, true));
        } else if CONSTANT_ASSERTION.is_match(text) || same_sides(text) {
            found.push(weakening(Rule::LoosensAssertion, line, true));
        } else if is_ci_path(&line.path) && (IGNORED_EXIT.is_match(text) || commented_out(text, &parsed.removed)) {
            found.push(weakening(Rule::WeakensCi, line, true));
        }
    }
    // Assertions removed from a test file and not replaced by as many.
    let mut removed_assertions: HashMap<&str, Vec<&Line>> = HashMap::new();
    for line in parsed.removed.iter().filter(|line| is_test_path(&line.path) && !parsed.deleted.contains(&line.path)) {
        if ASSERTION.is_match(&line.text) && !added_texts.contains_key(line.text.trim()) {
            removed_assertions.entry(line.path.as_str()).or_default().push(line);
        }
    }
    for (path, removed) in removed_assertions {
        let added = parsed.added.iter().filter(|line| line.path == path && ASSERTION.is_match(&line.text)).count();
        for line in removed.iter().skip(added) {
            found.push(weakening(Rule::LoosensAssertion, line, false));
        }
    }
    found.sort_by(|a, b| (&a.path, a.line, a.added).cmp(&(&b.path, b.line, b.added)));
    found
}

/// Whether an equality assertion compares a thing with itself.
fn same_sides(text: &str) -> bool {
    EQUALITY_ASSERTION.captures(text).is_some_and(|captures| captures[1] == captures[2])
}

/// Whether the added `text` is a comment holding a removed line: a job or script commented out.
fn commented_out(text: &str, removed: &[Line]) -> bool {
    let Some(inner) = text.trim_start().strip_prefix('#') else { return false };
    let inner = inner.trim();
    !inner.is_empty() && removed.iter().any(|line| line.text.trim() == inner)
}

#[derive(Debug, Default)]
struct Parsed {
    added: Vec<Line>,
    removed: Vec<Line>,
    deleted: Vec<String>,
}

/// The added and removed lines of a unified diff, with their paths and numbers.
fn parse(diff: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let (mut old_path, mut new_path) = (String::new(), String::new());
    let (mut old_line, mut new_line) = (0u32, 0u32);
    let mut in_hunk = false;
    for line in diff.lines() {
        if line.starts_with("diff --git ") {
            in_hunk = false;
            continue;
        }
        if !in_hunk {
            if let Some(path) = line.strip_prefix("--- ") {
                old_path = strip_prefix(path);
            } else if let Some(path) = line.strip_prefix("+++ ") {
                new_path = strip_prefix(path);
                if new_path.is_empty() && !old_path.is_empty() {
                    parsed.deleted.push(old_path.clone());
                }
            }
        }
        if let Some(header) = line.strip_prefix("@@ ") {
            let mut ranges = header.split(' ');
            old_line = range_start(ranges.next().unwrap_or_default());
            new_line = range_start(ranges.next().unwrap_or_default());
            in_hunk = true;
            continue;
        }
        if !in_hunk {
            continue;
        }
        if let Some(text) = line.strip_prefix('+') {
            parsed.added.push(Line { path: new_path.clone(), number: new_line, text: text.to_owned() });
            new_line += 1;
        } else if let Some(text) = line.strip_prefix('-') {
            let path = if old_path.is_empty() { new_path.clone() } else { old_path.clone() };
            parsed.removed.push(Line { path, number: old_line, text: text.to_owned() });
            old_line += 1;
        } else if line.starts_with('\\') {
            // "\ No newline at end of file"
        } else {
            old_line += 1;
            new_line += 1;
        }
    }
    parsed
}

/// `a/src/x.rs` → `src/x.rs`; `/dev/null` → empty.
fn strip_prefix(path: &str) -> String {
    let path = path.split('\t').next().unwrap_or(path);
    if path == "/dev/null" {
        return String::new();
    }
    path.strip_prefix("a/").or_else(|| path.strip_prefix("b/")).unwrap_or(path).to_owned()
}

/// `-12,4` or `+7` → 12 or 7.
fn range_start(range: &str) -> u32 {
    range[1.min(range.len())..].split(',').next().and_then(|start| start.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests;
