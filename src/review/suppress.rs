//! Learning from feedback: what people said about the agent's findings, and the rules that keep
//! findings they called wrong out of later reviews.
//!
//! Feedback is read from the agent's own finding threads on the merge request under review: the
//! award emoji on the thread's first note (👍 `thumbsup`, 👎 `thumbsdown`) and replies by people
//! that call the finding wrong ([`crate::request::feedback`]). The agent's own awards and
//! replies, and bots', are never feedback.
//!
//! A 👎 or a "false positive" reply teaches a [`Rule`]: the finding's category, the shape of its
//! title and a pattern of the files it holds for. A later finding matches when all three do:
//!
//! - the same category;
//! - the same title shape: the title with every quoted or backticked name replaced by one
//!   placeholder, every file path (a word with a `/`, or a `name.ext`) by another, every run of
//!   digits by a third, then lowercased with punctuation dropped, so "Unused variable `x`" and
//!   "unused variable `y`" match and "Unused import `x`" does not;
//! - a file in the same folder with the same extension (`src/lib.rs` teaches `src/*.rs`, which
//!   holds for `src/greet.rs` but not `src/net/tcp.rs`, `tests/lib.rs` or `src/lib.py`); a file
//!   without an extension teaches only its own path.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::gitlab::types::{AwardEmoji, Discussion};

use super::findings::{Category, Finding, Fingerprint, kind_of_body, title_of_body};

/// The award a person gives a finding they agree with.
pub const THUMBS_UP: &str = "thumbsup";
/// The award a person gives a finding they call wrong.
pub const THUMBS_DOWN: &str = "thumbsdown";

/// What a suppression holds back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub category: Category,
    /// [`title_shape`] of the title.
    pub title_shape: String,
    /// [`path_pattern`] of the file.
    pub path_pattern: String,
}

impl Rule {
    /// The rule a finding of `category` titled `title` in `file` teaches.
    pub fn of(category: Category, title: &str, file: &str) -> Self {
        Self { category, title_shape: title_shape(title), path_pattern: path_pattern(file) }
    }

    /// Whether `finding` is of the kind this rule holds back.
    pub fn matches(&self, finding: &Finding) -> bool {
        finding.category == self.category
            && title_shape(&finding.title) == self.title_shape
            && path_matches(&self.path_pattern, &finding.file)
    }
}

/// A title as rules compare it: quoted names, paths and numbers replaced, case and punctuation
/// dropped (see the module comment).
pub fn title_shape(title: &str) -> String {
    let chars: Vec<char> = title.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut at = 0;
    while at < chars.len() {
        if let Some(end) = quoted_span_end(&chars, at) {
            shape_word(&std::mem::take(&mut word), &mut words);
            words.push("{name}".to_owned());
            at = end + 1;
            continue;
        }
        if chars[at].is_whitespace() {
            shape_word(&std::mem::take(&mut word), &mut words);
        } else {
            word.push(chars[at]);
        }
        at += 1;
    }
    shape_word(&word, &mut words);
    words.join(" ")
}

/// The index of the quote closing a quoted span that opens at `at`, if one does. An apostrophe
/// opens a span only at the start of a word and closes one only at the end of a word, so
/// "doesn't" stays a word.
fn quoted_span_end(chars: &[char], at: usize) -> Option<usize> {
    const PAIRS: [(char, char); 7] =
        [('`', '`'), ('"', '"'), ('“', '”'), ('‘', '’'), ('「', '」'), ('『', '』'), ('\'', '\'')];
    let open = chars[at];
    let (_, close) = PAIRS.into_iter().find(|(pair_open, _)| *pair_open == open)?;
    let alphanumeric_at =
        |index: Option<usize>| index.and_then(|index| chars.get(index)).is_some_and(|c| c.is_alphanumeric());
    if open == '\'' && alphanumeric_at(at.checked_sub(1)) {
        return None;
    }
    let end =
        (at + 1..chars.len()).find(|end| chars[*end] == close && (open != '\'' || !alphanumeric_at(Some(end + 1))))?;
    (end > at + 1).then_some(end)
}

/// Adds the shape of one whitespace-separated word of a title to `words`.
fn shape_word(word: &str, words: &mut Vec<String>) {
    let trimmed = word.trim_matches(|c: char| !c.is_alphanumeric());
    if trimmed.is_empty() {
        return;
    }
    if trimmed.contains(['/', '\\']) || is_file_name(trimmed) {
        words.push("{path}".to_owned());
        return;
    }
    let mut shaped = String::new();
    let mut in_number = false;
    for c in trimmed.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                shaped.push_str("{n}");
            }
            in_number = true;
            continue;
        }
        in_number = false;
        if c.is_alphanumeric() {
            shaped.extend(c.to_lowercase());
        } else {
            shaped.push(' ');
        }
    }
    words.extend(shaped.split_whitespace().map(str::to_owned));
}

/// `name.ext`: a stem that is not a number and an extension of one to five ASCII letters or digits, one a letter.
fn is_file_name(word: &str) -> bool {
    let Some((stem, extension)) = word.rsplit_once('.') else { return false };
    !stem.is_empty()
        && !stem.chars().all(|c| c.is_ascii_digit() || c == '.')
        && (1..=5).contains(&extension.len())
        && extension.chars().all(|c| c.is_ascii_alphanumeric())
        && extension.chars().any(|c| c.is_ascii_alphabetic())
}

/// The files a suppression learned on `file` holds for: `folder/*.ext`, or the path itself when
/// the file has no extension.
pub fn path_pattern(file: &str) -> String {
    let (folder, name) = split_path(file);
    match extension(name) {
        Some(extension) => format!("{folder}*.{extension}"),
        None => file.to_owned(),
    }
}

/// Whether `file` is one of the files `pattern` (from [`path_pattern`]) names.
pub fn path_matches(pattern: &str, file: &str) -> bool {
    let (pattern_folder, pattern_name) = split_path(pattern);
    match pattern_name.strip_prefix("*.") {
        Some(wanted) => {
            let (folder, name) = split_path(file);
            folder == pattern_folder && extension(name) == Some(wanted)
        }
        None => pattern == file,
    }
}

/// `src/net/`, `tcp.rs`: the folder with its slash, and the name.
fn split_path(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(at) => path.split_at(at + 1),
        None => ("", path),
    }
}

/// The extension of a file name; a leading dot (`.gitignore`) starts no extension.
fn extension(name: &str) -> Option<&str> {
    let (stem, extension) = name.rsplit_once('.')?;
    (!stem.is_empty() && !extension.is_empty()).then_some(extension)
}

/// `findings` less those a rule holds back, and how many it held back.
pub fn hold_back_suppressed(findings: Vec<Finding>, rules: &[Rule]) -> (Vec<Finding>, Vec<Finding>) {
    findings.into_iter().partition(|finding| !rules.iter().any(|rule| rule.matches(finding)))
}

/// One of the agent's finding threads, as feedback is read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingThread {
    pub discussion_id: String,
    /// The first note: the finding, which people award.
    pub note_id: u64,
    pub category: Category,
    pub rule: Rule,
}

/// The agent's finding threads among `discussions`: diff discussions whose first note the agent
/// user wrote, with a finding marker, a category and a title (resolved ones too: feedback given
/// before a thread was resolved still counts).
pub fn finding_threads(discussions: &[Discussion], agent_user_id: u64) -> Vec<FindingThread> {
    discussions
        .iter()
        .filter_map(|discussion| {
            let first = discussion.notes.first()?;
            if first.author_id() != Some(agent_user_id) {
                return None;
            }
            let position = first.position.as_ref()?;
            Fingerprint::find_in(&first.body)?;
            let file = position.new_path.as_deref().or(position.old_path.as_deref())?;
            let (_, category) = kind_of_body(&first.body)?;
            let title = title_of_body(&first.body)?;
            Some(FindingThread {
                discussion_id: discussion.id.clone(),
                note_id: first.id,
                category,
                rule: Rule::of(category, &title, file),
            })
        })
        .collect()
}

/// What a person said about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    ThumbsUp,
    ThumbsDown,
    /// A reply calling the finding wrong.
    FalsePositive,
}

impl Reaction {
    pub fn name(self) -> &'static str {
        match self {
            Self::ThumbsUp => "thumbs_up",
            Self::ThumbsDown => "thumbs_down",
            Self::FalsePositive => "false_positive",
        }
    }

    /// Whether it calls the finding wrong.
    pub fn suppresses(self) -> bool {
        self != Self::ThumbsUp
    }
}

/// One piece of feedback on one finding thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    /// `award-<id>` or `note-<id>`: the same feedback read twice has the same name.
    pub id: String,
    pub reaction: Reaction,
    /// When it was given, as GitLab says (`None` when GitLab did not say).
    pub at: Option<String>,
    pub thread: FindingThread,
}

/// The feedback on `threads`: awards on each first note (`awards`, by note id) and replies
/// among `discussions`, by anyone but the agent user and bots.
pub fn read_feedback(
    threads: &[FindingThread],
    discussions: &[Discussion],
    awards: &HashMap<u64, Vec<AwardEmoji>>,
    agent: (u64, &str),
) -> Vec<Feedback> {
    let (agent_user_id, agent_username) = agent;
    let person = |id: u64, username: &str| id != agent_user_id && !crate::request::actor::is_bot(username);
    let mut feedback = Vec::new();
    for thread in threads {
        for award in awards.get(&thread.note_id).into_iter().flatten() {
            let reaction = match award.name.as_str() {
                THUMBS_UP => Reaction::ThumbsUp,
                THUMBS_DOWN => Reaction::ThumbsDown,
                _ => continue,
            };
            if person(award.user.id, &award.user.username) {
                feedback.push(Feedback {
                    id: format!("award-{}", award.id),
                    reaction,
                    at: award.created_at.clone(),
                    thread: thread.clone(),
                });
            }
        }
        let Some(discussion) = discussions.iter().find(|discussion| discussion.id == thread.discussion_id) else {
            continue;
        };
        for reply in discussion.notes.iter().skip(1) {
            let Some(author) = reply.author.as_ref() else { continue };
            if reply.system
                || !person(author.id, &author.username)
                || !crate::request::feedback::says_finding_is_wrong(&reply.body, agent_username)
            {
                continue;
            }
            feedback.push(Feedback {
                id: format!("note-{}", reply.id),
                reaction: Reaction::FalsePositive,
                at: reply.created_at.clone(),
                thread: thread.clone(),
            });
        }
    }
    feedback
}

/// How one category's findings were received on the merge request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CategoryAcceptance {
    /// The agent's finding threads of the category.
    pub threads: u32,
    pub thumbs_up: u32,
    pub thumbs_down: u32,
    pub false_positive_replies: u32,
}

/// Acceptance per category name, for every category the agent has threads of.
pub fn acceptance(threads: &[FindingThread], feedback: &[Feedback]) -> BTreeMap<&'static str, CategoryAcceptance> {
    let mut by_category: BTreeMap<&'static str, CategoryAcceptance> = BTreeMap::new();
    for thread in threads {
        by_category.entry(thread.category.name()).or_default().threads += 1;
    }
    for item in feedback {
        let entry = by_category.entry(item.thread.category.name()).or_default();
        match item.reaction {
            Reaction::ThumbsUp => entry.thumbs_up += 1,
            Reaction::ThumbsDown => entry.thumbs_down += 1,
            Reaction::FalsePositive => entry.false_positive_replies += 1,
        }
    }
    by_category
}

#[cfg(test)]
#[path = "suppress_tests.rs"]
mod tests;
