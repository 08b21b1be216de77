//! The answers the address-threads stage writes (`answers.json`): for each open review thread it
//! was given, whether the agent fixed it or left it, and a short reason. The runner replies on
//! each thread with its answer and resolves only the fixed ones, so the file is checked strictly
//! before anything is posted: every problem (not JSON, a thread it was not given, a thread
//! answered twice, a thread not answered) is collected into one message to quote back to the
//! agent in a single retry. Whatever stays valid after that is used; a thread still without an
//! answer is replied to as left without one.
//!
//! The answers also travel in the commit the stage makes ([`commit_lines`], [`from_commit`]), so
//! that a job stopped after its push and run again replies from the commit instead of asking the
//! agent a second time.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::findings::{kind_of, retry_message, shown};

/// Characters a reason may have; a longer one is refused so the agent shortens it.
pub const MAX_REASON_CHARS: usize = 300;

/// What the agent did about one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It changed the code as the thread asked.
    Fixed,
    /// It left the thread as it is (it disagrees, the thread asks a question, it needs a person).
    Left,
}

impl Outcome {
    /// The word in the file, the commit and the reply's marker.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Left => "left",
        }
    }

    /// The outcome a word names.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Fixed, Self::Left].into_iter().find(|outcome| outcome.name() == name)
    }
}

/// The agent's answer about one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub outcome: Outcome,
    /// One line, at most [`MAX_REASON_CHARS`] characters.
    pub reason: String,
}

/// What `answers.json` held: the valid answers by thread id, and one line per problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedAnswers {
    pub answers: BTreeMap<String, Answer>,
    pub problems: Vec<String>,
}

impl ParsedAnswers {
    /// The message that asks the agent, once, to fix the file; `None` when nothing is wrong.
    pub fn retry_request(&self, output_path: &str) -> Option<String> {
        let intro = format!(
            "The answers file `{output_path}` is not valid. Fix these problems and write the whole file again \
             (one JSON array with one object per thread, nothing around it):"
        );
        retry_message(&intro, &self.problems)
    }
}

const KEYS: [&str; 3] = ["thread", "outcome", "reason"];

/// Reads the answers the agent wrote about `threads` (the ids it was given), keeping every valid
/// answer and describing every problem by the entry's position and key.
pub fn parse_answers(text: &str, threads: &[&str]) -> ParsedAnswers {
    let text = text.trim_start_matches('\u{FEFF}').trim();
    let mut parsed = ParsedAnswers::default();
    let items = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        Ok(other) => {
            parsed.problems.push(format!("the file must hold one JSON array, found {}", kind_of(&other)));
            Vec::new()
        }
        Err(error) => {
            parsed.problems.push(format!("the file is not valid JSON: {error}"));
            Vec::new()
        }
    };
    for (index, item) in items.iter().enumerate() {
        let label = format!("answer {} (index {index})", index + 1);
        let Value::Object(object) = item else {
            parsed.problems.push(format!("{label}: must be an object, found {}", kind_of(item)));
            continue;
        };
        let mut problems = Vec::new();
        if let Some((thread, answer)) = answer_from_object(object, threads, &mut problems) {
            match parsed.answers.entry(thread) {
                std::collections::btree_map::Entry::Occupied(earlier) => {
                    problems.push(format!("thread `{}` is answered twice; answer each thread once", earlier.key()));
                }
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(answer);
                }
            }
        }
        parsed.problems.extend(problems.into_iter().map(|problem| format!("{label}: {problem}")));
    }
    let missing: Vec<String> =
        threads.iter().filter(|id| !parsed.answers.contains_key(**id)).map(|id| format!("`{id}`")).collect();
    if !missing.is_empty() && parsed.problems.iter().all(|problem| !problem.starts_with("the file")) {
        parsed.problems.push(format!("no answer for thread(s) {}; answer every thread", missing.join(", ")));
    }
    parsed
}

fn answer_from_object(
    object: &Map<String, Value>,
    threads: &[&str],
    problems: &mut Vec<String>,
) -> Option<(String, Answer)> {
    for key in object.keys().filter(|key| !KEYS.contains(&key.as_str())) {
        problems.push(format!("unknown key `{key}`; the keys are `thread`, `outcome` and `reason`"));
    }
    let thread = match object.get("thread") {
        Some(Value::String(id)) if threads.contains(&id.trim()) => Some(id.trim().to_owned()),
        Some(Value::String(id)) => {
            problems.push(format!("`thread` {} is not one of the threads listed in the prompt", shown_text(id)));
            None
        }
        None | Some(Value::Null) => {
            problems.push("`thread` is missing".to_owned());
            None
        }
        Some(other) => {
            problems.push(format!("`thread` must be a string, found {}", kind_of(other)));
            None
        }
    };
    let outcome = match object.get("outcome") {
        Some(Value::String(name)) if Outcome::from_name(name).is_some() => Outcome::from_name(name),
        None | Some(Value::Null) => {
            problems.push("`outcome` is missing; it must be \"fixed\" or \"left\"".to_owned());
            None
        }
        Some(other) => {
            problems.push(format!("`outcome` must be \"fixed\" or \"left\", found {}", shown(other)));
            None
        }
    };
    let reason = match object.get("reason") {
        Some(Value::String(reason)) if reason.trim().is_empty() => {
            problems.push("`reason` must not be empty".to_owned());
            None
        }
        Some(Value::String(reason)) if reason.trim().contains('\n') => {
            problems.push("`reason` must be one line".to_owned());
            None
        }
        Some(Value::String(reason)) if reason.trim().chars().count() > MAX_REASON_CHARS => {
            problems.push(format!("`reason` must be at most {MAX_REASON_CHARS} characters"));
            None
        }
        Some(Value::String(reason)) => Some(reason.trim().to_owned()),
        None | Some(Value::Null) => {
            problems.push("`reason` is missing".to_owned());
            None
        }
        Some(other) => {
            problems.push(format!("`reason` must be a string, found {}", kind_of(other)));
            None
        }
    };
    if !problems.is_empty() {
        return None;
    }
    Some((thread?, Answer { outcome: outcome?, reason: reason? }))
}

/// The prefix of the commit body lines that carry the answers: `Thread <id> <outcome>: <reason>`.
const COMMIT_LINE_PREFIX: &str = "Thread ";

/// The lines of a commit body that carry `answers`, one per thread, in id order.
pub fn commit_lines(answers: &BTreeMap<String, Answer>) -> Vec<String> {
    answers
        .iter()
        .map(|(id, answer)| format!("{COMMIT_LINE_PREFIX}{id} {}: {}", answer.outcome.name(), one_line(&answer.reason)))
        .collect()
}

/// The answers a commit body made by [`commit_lines`] carries.
pub fn from_commit(message: &str) -> BTreeMap<String, Answer> {
    message
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(COMMIT_LINE_PREFIX)?;
            let (head, reason) = rest.split_once(": ")?;
            let (id, outcome) = head.split_once(' ')?;
            let valid_id = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            let outcome = Outcome::from_name(outcome).filter(|_| valid_id)?;
            Some((id.to_owned(), Answer { outcome, reason: reason.trim().to_owned() }))
        })
        .collect()
}

/// `text` with its whitespace runs (line breaks too) as single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shown_text(text: &str) -> String {
    shown(&Value::String(text.to_owned()))
}

#[cfg(test)]
#[path = "answers_tests.rs"]
mod tests;
