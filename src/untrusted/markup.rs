//! Markdown and HTML that GitLab renders out of sight: reference-style comments
//! (`[//]: # (…)`), the collapsed body of `<details>`, and elements hidden by an attribute or a
//! style (`<div hidden>`, `style="display:none"`), as well as `<script>`, `<style>`, `<template>`
//! and `<noscript>`, whose text is never shown. A person reading the issue does not see such text,
//! so it is removed before the model reads it: it could carry instructions nobody reviewed.
//!
//! The scan is deliberately simple and errs towards removing: an element left open runs to the
//! end of the text, as a browser would render it.

/// Elements whose content a reader never sees as text.
const INVISIBLE_ELEMENTS: [&str; 5] = ["script", "style", "template", "noscript", "details"];

/// A start tag longer than this is taken for text: it keeps the scan linear on text full of `<`.
const MAX_TAG_BYTES: usize = 1024;

/// Elements without content: hiding one removes only its tag.
const VOID_ELEMENTS: [&str; 14] =
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"];

/// Style declarations that hide an element (compared without whitespace, lowercased).
const HIDING_STYLES: [&str; 8] = [
    "display:none",
    "visibility:hidden",
    "visibility:collapse",
    "font-size:0",
    "opacity:0",
    "max-height:0",
    "height:0",
    "clip-path:inset(100%)",
];

/// Removes hidden HTML elements (keeping the `<summary>` line of a `<details>`) and markdown
/// reference comments.
pub(super) fn strip_hidden_markup(text: &str) -> String {
    strip_reference_comments(&strip_hidden_elements(text))
}

/// Removes every element that hides its content; see the module comment.
fn strip_hidden_elements(text: &str) -> String {
    // Lowercased once: ASCII lowercasing keeps every byte offset, so both are indexed alike.
    let lower = text.to_ascii_lowercase();
    let mut kept = String::with_capacity(text.len());
    let mut pos = 0;
    // The next `>` at or after the `<` under scan: a `<` with none near is text, found in O(1).
    let mut next_gt = 0;
    while let Some(found) = text[pos..].find('<') {
        let at = pos + found;
        kept.push_str(&text[pos..at]);
        if next_gt < at {
            match text[at..].find('>') {
                Some(gt) => next_gt = at + gt,
                None => {
                    pos = at;
                    break;
                }
            }
        }
        let near = next_gt - at <= MAX_TAG_BYTES;
        let Some(tag) = near.then(|| StartTag::parse(&text[at..])).flatten() else {
            kept.push('<');
            pos = at + 1;
            continue;
        };
        let after_tag = at + tag.len;
        if !tag.hides() {
            kept.push_str(&text[at..after_tag]);
            pos = after_tag;
            continue;
        }
        if tag.self_closing || VOID_ELEMENTS.contains(&tag.name.as_str()) {
            pos = after_tag;
            continue;
        }
        let (content_end, after) = match element_end(&lower[after_tag..], &tag.name) {
            Some((content_end, after)) => (after_tag + content_end, after_tag + after),
            None => (text.len(), text.len()),
        };
        if tag.name == "details"
            && let Some(summary) = summary_text(&text[after_tag..content_end])
        {
            kept.push_str(&summary);
            kept.push('\n');
        }
        pos = after;
    }
    kept.push_str(&text[pos..]);
    kept
}

/// An HTML start tag at the beginning of a text.
struct StartTag {
    /// Lowercased.
    name: String,
    /// Bytes up to and including the closing `>`.
    len: usize,
    self_closing: bool,
    hidden_attribute: bool,
    hiding_style: bool,
}

impl StartTag {
    /// Reads `<name attr=value …>` at the start of `text`; `None` when it is not a start tag.
    fn parse(text: &str) -> Option<Self> {
        let body = text.strip_prefix('<')?;
        let name_len = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(body.len());
        if name_len == 0 || !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return None;
        }
        let name = body[..name_len].to_ascii_lowercase();
        let mut tag = Self { name, len: 0, self_closing: false, hidden_attribute: false, hiding_style: false };
        let mut chars = body[name_len..].char_indices().peekable();
        loop {
            let (at, c) = chars.next()?;
            if at > MAX_TAG_BYTES {
                return None;
            }
            match c {
                '>' => {
                    tag.len = 1 + name_len + at + 1;
                    return Some(tag);
                }
                '/' if chars.peek().is_some_and(|(_, next)| *next == '>') => tag.self_closing = true,
                c if c.is_whitespace() || c == '/' => {}
                _ => {
                    let mut attribute = String::from(c);
                    while let Some((_, next)) =
                        chars.next_if(|(_, next)| !(next.is_whitespace() || "=>/".contains(*next)))
                    {
                        attribute.push(next);
                    }
                    while chars.next_if(|(_, next)| next.is_whitespace()).is_some() {}
                    let value = if chars.next_if(|(_, next)| *next == '=').is_some() {
                        while chars.next_if(|(_, next)| next.is_whitespace()).is_some() {}
                        read_value(&mut chars)
                    } else {
                        String::new()
                    };
                    tag.note_attribute(&attribute.to_ascii_lowercase(), &value);
                }
            }
        }
    }

    fn note_attribute(&mut self, name: &str, value: &str) {
        match name {
            "hidden" => self.hidden_attribute = true,
            "style" => {
                let style: String = value.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
                self.hiding_style = style.split(';').any(|declaration| {
                    let declaration = declaration.trim_end_matches("!important");
                    HIDING_STYLES.iter().any(|hiding| {
                        declaration == *hiding
                            || declaration.strip_prefix(hiding).is_some_and(|unit| {
                                hiding.ends_with('0') && unit.chars().all(|c| c.is_ascii_alphabetic() || c == '%')
                            })
                    })
                });
            }
            _ => {}
        }
    }

    fn hides(&self) -> bool {
        self.hidden_attribute || self.hiding_style || INVISIBLE_ELEMENTS.contains(&self.name.as_str())
    }
}

/// An attribute value: quoted with `"` or `'`, or up to whitespace or `>`.
fn read_value(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> String {
    let mut value = String::new();
    match chars.next_if(|(_, c)| *c == '"' || *c == '\'') {
        Some((_, quote)) => {
            for (_, c) in chars.by_ref() {
                if c == quote {
                    break;
                }
                value.push(c);
            }
        }
        None => {
            while let Some((_, c)) = chars.next_if(|(_, c)| !(c.is_whitespace() || *c == '>')) {
                value.push(c);
            }
        }
    }
    value
}

/// Where the element `name` whose content starts `lower` (lowercased) ends: (the content's
/// length, the offset after its end tag). Nested elements of the same name are counted.
fn element_end(lower: &str, name: &str) -> Option<(usize, usize)> {
    let open = format!("<{name}");
    let close = format!("</{name}");
    let mut depth = 1_usize;
    let mut at = 0;
    loop {
        let next_close = lower[at..].find(&close).map(|found| at + found)?;
        match lower[at..next_close].find(&open).map(|found| at + found) {
            Some(opened) => {
                if ends_name(&lower[opened + open.len()..]) {
                    depth += 1;
                }
                at = opened + open.len();
            }
            None if !ends_name(&lower[next_close + close.len()..]) => at = next_close + close.len(),
            None => {
                depth -= 1;
                let after = lower[next_close..].find('>').map_or(lower.len(), |gt| next_close + gt + 1);
                if depth == 0 {
                    return Some((next_close, after));
                }
                at = after;
            }
        }
    }
}

/// Whether a tag name is complete before `rest` (`<div` in `<div>` but not in `<divider>`).
fn ends_name(rest: &str) -> bool {
    rest.chars().next().is_none_or(|c| c.is_whitespace() || c == '>' || c == '/')
}

/// The text of the first `<summary>` in a `<details>` element's content, which GitLab shows.
fn summary_text(content: &str) -> Option<String> {
    let lower = content.to_ascii_lowercase();
    let start = lower.find("<summary")?;
    let tag = StartTag::parse(&content[start..])?;
    let inner_at = start + tag.len;
    let inner = &content[inner_at..];
    let end = element_end(&lower[inner_at..], "summary").map_or(inner.len(), |(end, _)| end);
    let text = strip_hidden_elements(&inner[..end]);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Removes markdown link reference definitions that render as nothing and hold text: the
/// `[//]: # (comment)` idiom and its variants (`[comment]: #`, `[//]: <> "comment"`, any label,
/// any quote), and any definition with a title, which GitLab shows at most as a tooltip. A title
/// continued on later lines is removed up to its closing quote or the next blank line.
fn strip_reference_comments(text: &str) -> String {
    let mut kept = Vec::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        match reference_definition(line) {
            Some(Definition { hidden: true, open_title }) => {
                if let Some(closer) = open_title {
                    for continued in lines.by_ref() {
                        if continued.trim().is_empty() || continued.trim_end().ends_with(closer) {
                            break;
                        }
                    }
                }
            }
            _ => kept.push(line),
        }
    }
    kept.join("\n")
}

/// What a link reference definition line holds.
struct Definition {
    /// Whether it renders as nothing while carrying text (a `#`/`<>` destination or a title).
    hidden: bool,
    /// The closing character of a title that continues on the next line.
    open_title: Option<char>,
}

/// Reads `   [label]: destination "title"`; `None` when `line` is not a definition.
fn reference_definition(line: &str) -> Option<Definition> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = line[indent..].strip_prefix('[')?;
    let label_end = rest.find("]:")?;
    if label_end == 0 || rest[..label_end].contains(['[', ']']) {
        return None;
    }
    let rest = rest[label_end + 2..].trim_start();
    let (destination, rest) = match rest.strip_prefix('<') {
        Some(inner) => {
            let end = inner.find('>')?;
            (&inner[..end], &inner[end + 1..])
        }
        None => rest.split_at(rest.find(char::is_whitespace).unwrap_or(rest.len())),
    };
    let title = rest.trim();
    let closer = match title.chars().next() {
        None => None,
        Some('"') => Some('"'),
        Some('\'') => Some('\''),
        Some('(') => Some(')'),
        Some(_) => return None,
    };
    let open_title = closer.filter(|closer| title.len() == 1 || !title.ends_with(*closer));
    let empty_destination = destination.is_empty() || destination == "#";
    Some(Definition { hidden: empty_destination || closer.is_some(), open_title })
}
