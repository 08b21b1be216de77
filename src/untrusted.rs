//! Text that people outside the runner wrote: issue bodies, notes, diffs, job traces.
//!
//! Such text reaches two audiences, and each needs its own protection. The model reads it inside
//! a prompt, where hidden instructions (an HTML comment GitLab does not display, a markdown
//! reference comment, a collapsed `<details>` body or an element hidden by an attribute or a
//! style, bidirectional overrides, zero-width or tag characters) could steer it: [`UntrustedText`]
//! strips what a person reviewing the issue cannot see, bounds the length and fences the text as
//! data. Text people read as source, not rendered (a diff), loses only the hidden characters:
//! its reviewer sees every markup character, and removing markup there could hide code.
//! GitLab renders what we post back: [`MarkdownText`] escapes text we quote in a comment so a
//! title cannot close our formatting, open a link or mention `@all`.

use serde::{Serialize, Serializer};

mod markup;

/// Characters kept from one untrusted text unless a caller asks for another bound.
pub const DEFAULT_MAX_CHARS: usize = 20_000;

/// Characters kept from a one-line value (a title, a job name, a path) in a prompt or comment.
pub const LINE_MAX_CHARS: usize = 300;

/// The info string of every fenced block of untrusted text; prompts name it when they say that
/// such blocks are data.
pub const DATA_FENCE_LABEL: &str = "untrusted-data";

/// Whether `c` is invisible or reorders text when displayed, so a reader cannot see it.
pub fn is_hidden_char(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                      // soft hyphen
        | '\u{034F}'                    // combining grapheme joiner
        | '\u{061C}'                    // arabic letter mark
        | '\u{115F}' | '\u{1160}'       // hangul fillers
        | '\u{17B4}' | '\u{17B5}'       // khmer inherent vowels
        | '\u{180B}'..='\u{180F}'       // mongolian variation selectors and vowel separator
        | '\u{200B}'..='\u{200F}'       // zero-width space, joiners, marks
        | '\u{202A}'..='\u{202E}'       // bidirectional embeddings and overrides
        | '\u{2060}'..='\u{2064}'       // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}'       // bidirectional isolates, deprecated format characters
        | '\u{3164}'                    // hangul filler
        | '\u{FE00}'..='\u{FE0F}'       // variation selectors
        | '\u{FEFF}'                    // byte order mark, zero-width no-break space
        | '\u{FFA0}'                    // halfwidth hangul filler
        | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotations
        | '\u{1BCA0}'..='\u{1BCA3}'     // shorthand format controls
        | '\u{1D173}'..='\u{1D17A}'     // musical format controls
        | '\u{E0000}'..='\u{E007F}'     // tag characters
        | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
    ) || (c.is_control() && c != '\n' && c != '\t')
}

/// Removes what GitLab's rendering hides: hidden characters, HTML comments, markdown reference
/// comments, `<details>` bodies (their summary stays) and hidden HTML elements; normalises line
/// endings to `\n`.
///
/// Hidden characters go first, so one placed inside `<!--` cannot keep a comment from being
/// recognised; a comment or hidden element left open runs to the end of the text, as it does
/// when GitLab renders it.
pub fn sanitize(text: &str) -> String {
    markup::strip_hidden_markup(&strip_html_comments(&visible_chars(text)))
}

/// Removes hidden characters and normalises line endings to `\n`, and nothing else: for text
/// shown as source.
pub fn visible_chars(text: &str) -> String {
    let mut visible = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                visible.push('\n');
            }
            '\u{0085}' | '\u{2028}' | '\u{2029}' => visible.push('\n'),
            c if is_hidden_char(c) => {}
            c => visible.push(c),
        }
    }
    visible
}

/// Removes `<!-- … -->` comments, including the abrupt `<!-->` / `<!--->` forms, the `--!>`
/// closer, and an unterminated comment (removed to the end).
fn strip_html_comments(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        kept.push_str(&rest[..start]);
        let body = &rest[start + 4..];
        if let Some(after) = body.strip_prefix('>').or_else(|| body.strip_prefix("->")) {
            rest = after;
            continue;
        }
        let end = [body.find("-->").map(|at| at + 3), body.find("--!>").map(|at| at + 4)].into_iter().flatten().min();
        match end {
            Some(end) => rest = &body[end..],
            None => return kept,
        }
    }
    kept.push_str(rest);
    kept
}

/// Cuts `text` to at most `max_chars` characters; returns (characters kept, characters before).
fn bound(text: &mut String, max_chars: usize) -> (usize, usize) {
    let total = text.chars().count();
    if total > max_chars {
        let cut_at = text.char_indices().nth(max_chars).map_or(text.len(), |(at, _)| at);
        text.truncate(cut_at);
        (max_chars, total)
    } else {
        (total, total)
    }
}

/// The longest run of `marker` characters in `text`.
fn longest_run(text: &str, marker: char) -> usize {
    let (mut longest, mut current) = (0, 0);
    for c in text.chars() {
        current = if c == marker { current + 1 } else { 0 };
        longest = longest.max(current);
    }
    longest
}

/// A block of text from GitLab users or the repository, cleaned and bounded, that a prompt shows
/// to the model as data.
///
/// It serializes as the fenced block itself, so a template cannot show the text unfenced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntrustedText {
    text: String,
    kept_chars: usize,
    total_chars: usize,
}

impl UntrustedText {
    /// Cleans `raw` (see [`sanitize`]) and keeps at most `max_chars` characters of it.
    pub fn new(raw: &str, max_chars: usize) -> Self {
        let mut text = sanitize(raw);
        let (kept_chars, total_chars) = bound(&mut text, max_chars);
        Self { text, kept_chars, total_chars }
    }

    /// Text read as source rather than rendered (a diff): only hidden characters go (see
    /// [`visible_chars`]), and at most `max_chars` characters are kept.
    pub fn source(raw: &str, max_chars: usize) -> Self {
        let mut text = visible_chars(raw);
        let (kept_chars, total_chars) = bound(&mut text, max_chars);
        Self { text, kept_chars, total_chars }
    }

    /// Like [`UntrustedText::new`] with [`DEFAULT_MAX_CHARS`].
    pub fn bounded(raw: &str) -> Self {
        Self::new(raw, DEFAULT_MAX_CHARS)
    }

    /// The cleaned text, without fence.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the text was longer than its bound and was cut.
    pub fn is_cut(&self) -> bool {
        self.kept_chars < self.total_chars
    }

    /// Whether nothing visible is left.
    pub fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// The text inside a code fence labelled [`DATA_FENCE_LABEL`], whose backtick run is longer
    /// than any inside the text, so nothing in the text can close it. A cut text ends with a line
    /// saying how much was kept.
    pub fn fenced(&self) -> String {
        let fence = "`".repeat(longest_run(&self.text, '`').max(2) + 1);
        let mut block = format!("{fence}{DATA_FENCE_LABEL}\n{}", self.text);
        if !block.ends_with('\n') {
            block.push('\n');
        }
        if self.is_cut() {
            block.push_str(&format!(
                "[cut by copilot-runner: {} of {} characters kept]\n",
                self.kept_chars, self.total_chars
            ));
        }
        block.push_str(&fence);
        block
    }
}

impl Serialize for UntrustedText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.fenced())
    }
}

/// Reduces untrusted text to one bounded line without backticks, for a value a prompt shows
/// inline (a job name, a path): hidden characters and comments go, whitespace runs become one
/// space, and a cut line ends with `…`.
pub fn one_line(raw: &str, max_chars: usize) -> String {
    let clean = sanitize(raw).replace('`', "'");
    let mut line = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    let (kept, total) = bound(&mut line, max_chars);
    if kept < total {
        line.push('…');
    }
    line
}

/// A one-line untrusted value shown inline in a prompt (see [`one_line`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct UntrustedLine(String);

impl UntrustedLine {
    pub fn new(raw: &str) -> Self {
        Self(one_line(raw, LINE_MAX_CHARS))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Escapes text for GitLab Flavored Markdown so it renders as the same plain text.
///
/// ASCII punctuation with a meaning in GitLab markdown is backslash-escaped: emphasis, code
/// spans, links and images, HTML, headings, tables, list markers at the start of a line
/// (`-`, `+`, `1.`, setext `=`), and GitLab references
/// (`@user`, `#issue`, `!mr`, `~label`, `%milestone`, `$snippet`, `&epic`), which GitLab leaves
/// unlinked when escaped. Line breaks stay line breaks; hidden characters and HTML comments go.
pub fn escape_markdown(raw: &str) -> String {
    let clean = sanitize(raw);
    let mut escaped = String::with_capacity(clean.len() + clean.len() / 8);
    // Only spaces and digits so far on this line: a list marker or heading could still start.
    let mut line_start = true;
    for c in clean.chars() {
        let always = matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '{'
                | '}'
                | '['
                | ']'
                | '('
                | ')'
                | '<'
                | '>'
                | '#'
                | '!'
                | '|'
                | '~'
                | '@'
                | '$'
                | '%'
                | '&'
        );
        if always || (line_start && matches!(c, '-' | '+' | '=' | '.')) {
            escaped.push('\\');
        }
        escaped.push(c);
        line_start = c == '\n' || (line_start && (c == ' ' || c.is_ascii_digit()));
    }
    escaped
}

/// Untrusted text placed into a GitLab comment; serializes escaped (see [`escape_markdown`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkdownText {
    raw: String,
}

impl MarkdownText {
    /// Text that may span lines (a summary paragraph), bounded to [`DEFAULT_MAX_CHARS`].
    pub fn new(raw: &str) -> Self {
        let mut raw = sanitize(raw);
        bound(&mut raw, DEFAULT_MAX_CHARS);
        Self { raw }
    }

    /// A title or name: one line, bounded to [`LINE_MAX_CHARS`].
    pub fn line(raw: &str) -> Self {
        let clean = sanitize(raw);
        let mut line = clean.split_whitespace().collect::<Vec<_>>().join(" ");
        let (kept, total) = bound(&mut line, LINE_MAX_CHARS);
        if kept < total {
            line.push('…');
        }
        Self { raw: line }
    }

    /// The escaped form as it goes into the comment.
    pub fn escaped(&self) -> String {
        escape_markdown(&self.raw)
    }
}

impl Serialize for MarkdownText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.escaped())
    }
}

/// Untrusted text shown verbatim in a GitLab comment inside a fenced code block (an error
/// message, a log excerpt): inside a fence markdown means nothing, and the fence is longer than
/// any backtick or tilde run in the text so the text cannot close it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkdownCode {
    raw: String,
}

impl MarkdownCode {
    pub fn new(raw: &str, max_chars: usize) -> Self {
        let mut raw = sanitize(raw);
        bound(&mut raw, max_chars);
        Self { raw }
    }

    /// The fenced block as it goes into the comment.
    pub fn fenced(&self) -> String {
        let fence = "`".repeat(longest_run(&self.raw, '`').max(2) + 1);
        let body = self.raw.trim_end_matches('\n');
        format!("{fence}text\n{body}\n{fence}")
    }
}

impl Serialize for MarkdownCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.fenced())
    }
}

/// Untrusted one-line text shown as an inline code span in a GitLab comment (a path, a job or
/// branch name): inside a code span markdown and references mean nothing, and the span's
/// backtick run is longer than any inside the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkdownCodeSpan {
    raw: String,
}

impl MarkdownCodeSpan {
    pub fn new(raw: &str) -> Self {
        let clean = sanitize(raw);
        let mut line = clean.split_whitespace().collect::<Vec<_>>().join(" ");
        bound(&mut line, LINE_MAX_CHARS);
        Self { raw: line }
    }

    /// The code span as it goes into the comment.
    pub fn span(&self) -> String {
        let ticks = "`".repeat(longest_run(&self.raw, '`') + 1);
        // A space keeps a leading or trailing backtick of the text apart from the delimiters.
        let pad = if self.raw.starts_with('`') || self.raw.ends_with('`') { " " } else { "" };
        format!("{ticks}{pad}{}{pad}{ticks}", self.raw)
    }
}

impl Serialize for MarkdownCodeSpan {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.span())
    }
}

/// A GitLab username, kept to the characters GitLab allows so that `@{username}` in a message
/// mentions exactly that person and nobody else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Keeps ASCII letters, digits, `_`, `-` and `.` of `raw` (a leading `@` is dropped).
    pub fn new(raw: &str) -> Self {
        Self(raw.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests;
