//! The findings the review stage writes (`findings.json`), checked before anything is posted,
//! and the findings earlier reviews already posted.
//!
//! The agent's JSON is untrusted output: every problem with it is collected into one message
//! written to be quoted back to the agent in a single retry, and the valid findings survive even
//! when others are broken. Each finding gets a fingerprint that does not depend on its line
//! number, carried as a hidden marker in its discussion, so a re-review after a push (which moves
//! lines) recognises what it already said and never says it twice.

use serde_json::{Map, Value};
use sha1::{Digest, Sha1};

use crate::gitlab::types::{Discussion, Note};
use crate::prompts::markers::{Marker, reviewed_head};
use crate::prompts::message::Severity;
use crate::prompts::stage::KnownFinding;
use crate::untrusted::{UntrustedLine, is_hidden_char};

use super::diff::Side;

/// How many lines above the commented line a GitLab suggestion may replace (and below).
pub const MAX_SUGGESTION_LINES_AROUND: u32 = 100;

/// Characters kept of a finding's title; a longer one is refused so the agent shortens it.
pub const MAX_TITLE_CHARS: usize = 200;

/// What kind of problem a finding names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Security,
    Performance,
    Correctness,
    Maintainability,
    Style,
}

impl Category {
    pub const ALL: [Self; 5] =
        [Self::Security, Self::Performance, Self::Correctness, Self::Maintainability, Self::Style];

    pub fn name(self) -> &'static str {
        match self {
            Self::Security => "security",
            Self::Performance => "performance",
            Self::Correctness => "correctness",
            Self::Maintainability => "maintainability",
            Self::Style => "style",
        }
    }

    /// The category named `name` (as [`Self::name`] writes it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|category| category.name() == name)
    }
}

/// One valid finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The path in the new version (the old one for a deleted file), without a leading `./`.
    pub file: String,
    /// The first line the finding is about, counted in the `side` version.
    pub line: u32,
    /// The last line of a multi-line finding (`end_line` in the JSON); `None` for one line.
    pub end_line: Option<u32>,
    pub side: Side,
    pub severity: Severity,
    pub category: Category,
    pub title: String,
    pub body: String,
    /// The exact new text for the lines `line..=end_line`, offered as a committable suggestion.
    pub replacement: Option<String>,
}

impl Finding {
    /// The last line the finding covers.
    pub fn last_line(&self) -> u32 {
        self.end_line.unwrap_or(self.line)
    }

    /// The fingerprint of this finding (see [`Fingerprint`]).
    pub fn fingerprint(&self) -> Fingerprint {
        let mut hash = Sha1::new();
        for part in [self.file.as_str(), self.side.name(), self.category.name(), &normalized_title(&self.title)] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        Fingerprint(hex::encode(&hash.finalize()[..8]))
    }
}

/// A stable name of a finding: file, side, category and title (case, punctuation and spacing
/// ignored), but not the line number, which moves when someone pushes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

const FINGERPRINT_PREFIX: &str = "<!-- copilot-runner:finding ";
const MARKER_SUFFIX: &str = " -->";

impl Fingerprint {
    /// 16 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hidden line a discussion body carries: `<!-- copilot-runner:finding <hex> -->`.
    pub fn marker(&self) -> Marker {
        Marker::finding(&self.0)
    }

    /// The fingerprint a body's marker line carries.
    pub fn find_in(body: &str) -> Option<Self> {
        body.lines().find_map(|line| {
            let hex = line.trim().strip_prefix(FINGERPRINT_PREFIX)?.strip_suffix(MARKER_SUFFIX)?;
            (hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| Self(hex.to_ascii_lowercase()))
        })
    }
}

/// Lowercase letters and digits of a title, words separated by one space: the markdown escapes
/// a posted title went through and small rewordings of punctuation do not change it.
pub fn normalized_title(title: &str) -> String {
    title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What `findings.json` held: the valid findings, and one line per problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedFindings {
    pub findings: Vec<Finding>,
    pub problems: Vec<String>,
}

impl ParsedFindings {
    /// The message that asks the agent, once, to fix the file; `None` when nothing is wrong.
    pub fn retry_request(&self, output_path: &str) -> Option<String> {
        let intro = format!(
            "The findings file `{output_path}` is not valid. Fix these problems and write the whole file again \
             (one JSON array, nothing around it):"
        );
        retry_message(&intro, &self.problems)
    }
}

/// `intro` and one line per problem: what asks the agent, once, to write a file again; `None`
/// when there is no problem.
pub(super) fn retry_message(intro: &str, problems: &[String]) -> Option<String> {
    if problems.is_empty() {
        return None;
    }
    let mut message = format!("{intro}\n");
    for problem in problems {
        message.push_str("- ");
        message.push_str(problem);
        message.push('\n');
    }
    Some(message)
}

/// Reads the findings JSON the agent wrote, keeping every valid finding and describing every
/// problem (by the finding's position in the array and the key).
pub fn parse_findings(text: &str) -> ParsedFindings {
    let text = text.trim_start_matches('\u{FEFF}').trim();
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => {
            return ParsedFindings {
                findings: Vec::new(),
                problems: vec![format!("the file is not valid JSON: {error}")],
            };
        }
    };
    let Value::Array(items) = value else {
        return ParsedFindings {
            findings: Vec::new(),
            problems: vec![format!("the file must hold one JSON array, found {}", kind_of(&value))],
        };
    };
    let mut parsed = ParsedFindings::default();
    for (index, item) in items.iter().enumerate() {
        let label = format!("finding {} (index {index})", index + 1);
        let Value::Object(object) = item else {
            parsed.problems.push(format!("{label}: must be an object, found {}", kind_of(item)));
            continue;
        };
        let mut problems = Vec::new();
        if let Some(finding) = finding_from_object(object, &mut problems) {
            parsed.findings.push(finding);
        }
        parsed.problems.extend(problems.into_iter().map(|problem| format!("{label}: {problem}")));
    }
    parsed
}

const KEYS: [&str; 9] = ["file", "line", "end_line", "side", "severity", "category", "title", "body", "replacement"];

fn finding_from_object(object: &Map<String, Value>, problems: &mut Vec<String>) -> Option<Finding> {
    for key in object.keys() {
        if !KEYS.contains(&key.as_str()) {
            problems.push(format!(
                "unknown key `{key}`; the keys are `file`, `line`, `end_line`, `side`, `severity`, `category`, `title`, `body` and `replacement`"
            ));
        }
    }
    let file = required_text(object, "file", problems).map(|file| file.trim_start_matches("./").to_owned());
    let file = file.filter(|file| {
        let names_a_file = !file.trim().is_empty();
        if !names_a_file {
            problems.push("`file` must name a file of the diff, not only `./`".to_owned());
        }
        names_a_file
    });
    let line = positive_integer(object, "line", true, problems);
    let end_line = positive_integer(object, "end_line", false, problems);
    let side = match object.get("side") {
        None | Some(Value::Null) => Some(Side::New),
        Some(Value::String(side)) if side == "new" => Some(Side::New),
        Some(Value::String(side)) if side == "old" => Some(Side::Old),
        Some(other) => {
            problems.push(format!("`side` must be \"new\" or \"old\", found {}", shown(other)));
            None
        }
    };
    let severity = one_of(object, "severity", &Severity::ALL.map(|s| (s.name(), s)), problems);
    let category = one_of(object, "category", &Category::ALL.map(|c| (c.name(), c)), problems);
    let title = required_text(object, "title", problems).map(str::trim).map(str::to_owned);
    if let Some(title) = &title {
        if title.contains('\n') {
            problems.push("`title` must be one line".to_owned());
        } else if title.chars().count() > MAX_TITLE_CHARS {
            problems.push(format!("`title` must be at most {MAX_TITLE_CHARS} characters"));
        }
    }
    let body = required_text(object, "body", problems).map(str::to_owned);
    let replacement = match object.get("replacement") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.chars().any(|c| is_hidden_char(c) && c != '\r') => {
            problems.push("`replacement` contains invisible or bidirectional-control characters".to_owned());
            None
        }
        Some(Value::String(text)) => Some(text.replace("\r\n", "\n")),
        Some(other) => {
            problems.push(format!("`replacement` must be a string, found {}", shown(other)));
            None
        }
    };
    if let (Some(line), Some(end)) = (line, end_line) {
        if end < line {
            problems.push(format!("`end_line` ({end}) must not be before `line` ({line})"));
        } else if end - line > MAX_SUGGESTION_LINES_AROUND {
            problems.push(format!(
                "a finding may span at most {} lines (`line` {line} to `end_line` {end})",
                MAX_SUGGESTION_LINES_AROUND + 1
            ));
        }
    }
    if !problems.is_empty() {
        return None;
    }
    Some(Finding {
        file: file?,
        line: line?,
        end_line: end_line.filter(|end| Some(*end) != line),
        side: side?,
        severity: severity?,
        category: category?,
        title: title?,
        body: body?,
        replacement,
    })
}

fn required_text<'a>(object: &'a Map<String, Value>, key: &str, problems: &mut Vec<String>) -> Option<&'a str> {
    match object.get(key) {
        Some(Value::String(text)) if !text.trim().is_empty() => Some(text),
        Some(Value::String(_)) => {
            problems.push(format!("`{key}` must not be empty"));
            None
        }
        None | Some(Value::Null) => {
            problems.push(format!("`{key}` is missing"));
            None
        }
        Some(other) => {
            problems.push(format!("`{key}` must be a string, found {}", shown(other)));
            None
        }
    }
}

fn positive_integer(object: &Map<String, Value>, key: &str, required: bool, problems: &mut Vec<String>) -> Option<u32> {
    match object.get(key) {
        None | Some(Value::Null) => {
            if required {
                problems.push(format!("`{key}` is missing"));
            }
            None
        }
        Some(value) => match value.as_u64().and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0) {
            Some(n) => Some(n),
            None => {
                problems.push(format!("`{key}` must be a line number (an integer from 1), found {}", shown(value)));
                None
            }
        },
    }
}

fn one_of<T: Copy>(
    object: &Map<String, Value>,
    key: &str,
    choices: &[(&str, T)],
    problems: &mut Vec<String>,
) -> Option<T> {
    let found = object.get(key);
    if let Some(Value::String(text)) = found
        && let Some((_, value)) = choices.iter().find(|(name, _)| name == text)
    {
        return Some(*value);
    }
    let names = choices.iter().map(|(name, _)| format!("\"{name}\"")).collect::<Vec<_>>().join(", ");
    match found {
        None | Some(Value::Null) => problems.push(format!("`{key}` is missing; it must be one of {names}")),
        Some(other) => problems.push(format!("`{key}` must be one of {names}, found {}", shown(other))),
    }
    None
}

pub(super) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short rendering of a wrong value for a problem line.
pub(super) fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 { format!("{}…", text.chars().take(40).collect::<String>()) } else { text }
}

/// A finding an earlier review posted as a discussion, as far as it can be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedFinding {
    pub file: String,
    /// The line the discussion sits on (new side when it has one).
    pub line: Option<u32>,
    /// The title as read from the discussion's first line, escapes removed.
    pub title: Option<String>,
    pub fingerprint: Option<Fingerprint>,
    pub resolved: bool,
    /// Severity and category as read from the discussion's first line.
    pub kind: Option<(Severity, Category)>,
}

/// The findings the agent user posted among `discussions`: diff discussions whose first note
/// the agent wrote (a marker in anyone else's note is not believed).
pub fn posted_findings(discussions: &[Discussion], agent_user_id: u64) -> Vec<PostedFinding> {
    discussions
        .iter()
        .filter_map(|discussion| {
            let note = discussion.notes.first()?;
            let position = note.position.as_ref()?;
            if note.author_id() != Some(agent_user_id) {
                return None;
            }
            let file = position.new_path.clone().or_else(|| position.old_path.clone())?;
            Some(PostedFinding {
                file,
                line: position.new_line.or(position.old_line),
                title: title_of_body(&note.body),
                fingerprint: Fingerprint::find_in(&note.body),
                resolved: note.resolved.unwrap_or(false),
                kind: kind_of_body(&note.body),
            })
        })
        .collect()
}

/// Separates the parts of a discussion's first line: `<badge> · <category> · **<title>**` (see
/// the `review_finding` templates).
const HEADER_SEPARATOR: &str = " · ";

/// The title in the first line of a discussion body rendered by [`super::post::render_body`].
pub(super) fn title_of_body(body: &str) -> Option<String> {
    let first = body.lines().next()?;
    let title = first.splitn(3, HEADER_SEPARATOR).nth(2)?;
    let title = title.trim().strip_prefix("**")?.strip_suffix("**")?;
    Some(unescape_markdown(title))
}

/// Severity and category in the first line of a discussion body: the severity by its badge's
/// emoji (the word next to it is translated), the category by its name.
pub(super) fn kind_of_body(body: &str) -> Option<(Severity, Category)> {
    let mut parts = body.lines().next()?.splitn(3, HEADER_SEPARATOR);
    let badge = parts.next()?;
    let severity =
        [("🔴", Severity::Critical), ("🟠", Severity::Major), ("🟡", Severity::Minor), ("🔵", Severity::Info)]
            .into_iter()
            .find_map(|(emoji, severity)| badge.contains(emoji).then_some(severity))?;
    let name = parts.next()?.trim();
    let category = Category::from_name(name)?;
    Some((severity, category))
}

/// Undoes [`crate::untrusted::escape_markdown`]: drops the backslash before ASCII punctuation.
fn unescape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(next) = chars.next_if(char::is_ascii_punctuation)
        {
            out.push(next);
            continue;
        }
        out.push(c);
    }
    out
}

/// Whether an earlier review already posted `finding`: the same fingerprint, or the same file,
/// line and title.
pub fn is_posted(finding: &Finding, posted: &[PostedFinding]) -> bool {
    let fingerprint = finding.fingerprint();
    let title = normalized_title(&finding.title);
    let line = Some(finding.last_line());
    posted.iter().any(|earlier| {
        earlier.fingerprint.as_ref() == Some(&fingerprint)
            || (earlier.file == finding.file
                && (earlier.line == line || earlier.line == Some(finding.line))
                && earlier.title.as_deref().map(normalized_title).as_deref() == Some(title.as_str()))
    })
}

/// The posted findings as the review prompt lists them, so the agent does not report them again.
pub fn known_findings(posted: &[PostedFinding]) -> Vec<KnownFinding> {
    posted
        .iter()
        .filter_map(|finding| {
            Some(KnownFinding {
                file: UntrustedLine::new(&finding.file),
                line: finding.line?,
                title: UntrustedLine::new(finding.title.as_deref()?),
            })
        })
        .collect()
}

/// The head the agent's latest review summary says it covered: the next review looks only at
/// what changed since. Notes by anyone else are not believed.
pub fn previous_review_head(notes: &[Note], agent_user_id: u64) -> Option<String> {
    notes
        .iter()
        .filter(|note| note.author_id() == Some(agent_user_id) && !note.system)
        .filter_map(|note| Some((note.created_at.clone().unwrap_or_default(), note.id, reviewed_head(&note.body)?)))
        .max_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)))
        .map(|(_, _, head)| head.to_owned())
}

#[cfg(test)]
#[path = "findings_tests.rs"]
pub(super) mod tests;
