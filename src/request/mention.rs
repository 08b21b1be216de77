//! Whether a Markdown comment mentions a user, the way a reader sees it: a mention inside a code
//! span, a fenced or indented code block, a quote or an HTML comment is text about a mention,
//! not a request (people quote earlier comments and paste logs), so it does not count.
//!
//! Pure and line-based; it follows CommonMark for the constructs that hide text and treats
//! everything else as prose.

/// Whether `text` mentions `@username` outside code, quotes and HTML comments. Usernames compare
/// without regard to ASCII case, as GitLab resolves them; `@name-x` and `a@name` are not `@name`.
pub fn mentions(text: &str, username: &str) -> bool {
    let username = username.trim_start_matches('@');
    if username.is_empty() {
        return false;
    }
    let visible = without_html_comments(text);
    prose_paragraphs(&visible).iter().any(|paragraph| has_mention(&without_code_spans(paragraph), username))
}

fn without_html_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start + 4..].find("-->") {
            // Keep line structure so code blocks after the comment stay where they were.
            Some(end) => {
                out.extend(rest[start..start + 4 + end + 3].chars().filter(|&c| c == '\n'));
                rest = &rest[start + 4 + end + 3..];
            }
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// Leading indentation in columns (a tab counts to the next multiple of 4) and the rest.
fn indentation(line: &str) -> (usize, &str) {
    let mut columns = 0;
    for (index, c) in line.char_indices() {
        match c {
            ' ' => columns += 1,
            '\t' => columns += 4 - columns % 4,
            _ => return (columns, &line[index..]),
        }
    }
    (columns, "")
}

/// A fence opener: its character, its length, and whether an info string follows.
fn fence(rest: &str) -> Option<(char, usize)> {
    let marker = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let length = rest.chars().take_while(|c| *c == marker).count();
    // A backtick fence's info string may not contain backticks (that is an inline code span).
    let info = &rest[length..];
    (length >= 3 && !(marker == '`' && info.contains('`'))).then_some((marker, length))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Previous {
    Blank,
    Prose,
    Quote,
    IndentedCode,
}

/// The prose of `text`, one string per paragraph, with code blocks and quotes left out.
fn prose_paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    let mut open_fence: Option<(char, usize)> = None;
    let mut previous = Previous::Blank;
    for line in text.lines() {
        let (indent, rest) = indentation(line);
        if let Some((marker, length)) = open_fence {
            let closes = indent < 4
                && rest.chars().take_while(|c| *c == marker).count() >= length
                && rest.trim_start_matches(marker).trim().is_empty();
            if closes {
                open_fence = None;
            }
            previous = Previous::Blank;
            continue;
        }
        let blank = rest.trim().is_empty();
        let kind = if blank {
            Previous::Blank
        } else if indent >= 4 && matches!(previous, Previous::Blank | Previous::IndentedCode) {
            Previous::IndentedCode
        } else if indent < 4 && rest.starts_with('>') {
            Previous::Quote
        } else if previous == Previous::Quote {
            // A lazy continuation line belongs to the quote it follows.
            Previous::Quote
        } else if indent < 4 && fence(rest).is_some() {
            open_fence = fence(rest);
            Previous::Blank
        } else {
            Previous::Prose
        };
        if kind == Previous::Prose {
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(rest);
        } else if !current.is_empty() {
            paragraphs.push(std::mem::take(&mut current));
        }
        previous = kind;
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

/// Removes inline code spans: a run of N backticks up to the next run of exactly N. An
/// unmatched run stays as literal text, as CommonMark reads it.
fn without_code_spans(paragraph: &str) -> String {
    let bytes = paragraph.as_bytes();
    let mut out = String::with_capacity(paragraph.len());
    let mut index = 0;
    let mut copied_from = 0;
    while index < bytes.len() {
        if bytes[index] != b'`' {
            index += 1;
            continue;
        }
        let run_start = index;
        while index < bytes.len() && bytes[index] == b'`' {
            index += 1;
        }
        let length = index - run_start;
        let mut search = index;
        let mut closing = None;
        while search < bytes.len() {
            if bytes[search] == b'`' {
                let start = search;
                while search < bytes.len() && bytes[search] == b'`' {
                    search += 1;
                }
                if search - start == length {
                    closing = Some(search);
                    break;
                }
            } else {
                search += 1;
            }
        }
        if let Some(end) = closing {
            out.push_str(&paragraph[copied_from..run_start]);
            out.push(' ');
            copied_from = end;
            index = end;
        }
    }
    out.push_str(&paragraph[copied_from..]);
    out
}

fn is_username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'
}

fn has_mention(prose: &str, username: &str) -> bool {
    let mut from = 0;
    while let Some(offset) = prose[from..].find('@') {
        let at = from + offset;
        from = at + 1;
        // `name@host` is an address, not a mention.
        if prose[..at].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let candidate = &prose[at + 1..];
        let end = candidate.find(|c: char| !is_username_char(c)).unwrap_or(candidate.len());
        // A trailing dot ends the sentence, not the username.
        let name = candidate[..end].trim_end_matches('.');
        if name.eq_ignore_ascii_case(username) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT: &str = "copilot-agent";

    #[test]
    fn system_notes_name_whole_usernames() {
        assert!(mentions("assigned to @copilot-agent", AGENT));
        assert!(mentions("assigned to @copilot-agent and @bob", AGENT));
        assert!(!mentions("assigned to @copilot-agent-2", AGENT));
    }

    #[test]
    fn plain_mentions_count() {
        for text in [
            "@copilot-agent please fix this",
            "hey @copilot-agent, can you look?",
            "thanks @copilot-agent.",
            "(@copilot-agent)",
            "@Copilot-Agent do it",
            "first line\n@copilot-agent second line",
            "- [ ] @copilot-agent add tests",
        ] {
            assert!(mentions(text, AGENT), "{text:?}");
        }
    }

    #[test]
    fn other_users_and_addresses_do_not_count() {
        for text in [
            "@copilot-agent-x please",
            "@copilot-agent_2 please",
            "@copilot-agent.bot please",
            "mail bob@copilot-agent now",
            "copilot-agent without the at",
            "@ copilot-agent",
        ] {
            assert!(!mentions(text, AGENT), "{text:?}");
        }
    }

    #[test]
    fn code_spans_and_blocks_hide_mentions() {
        for text in [
            "use `@copilot-agent` to start it",
            "use ``a ` @copilot-agent`` to start it",
            "```\n@copilot-agent\n```",
            "~~~text\n@copilot-agent\n~~~",
            "````md\n```\n@copilot-agent\n```\n````",
            "log:\n\n    @copilot-agent failed\n",
            "\t@copilot-agent in a tab-indented block",
            "<!-- @copilot-agent -->",
            "`multi\nline @copilot-agent span`",
        ] {
            assert!(!mentions(text, AGENT), "{text:?}");
        }
    }

    #[test]
    fn quotes_hide_mentions() {
        for text in ["> @copilot-agent fix it", "  > > @copilot-agent", "> quoted\n@copilot-agent lazily continued"] {
            assert!(!mentions(text, AGENT), "{text:?}");
        }
    }

    #[test]
    fn prose_around_code_still_counts() {
        for text in [
            "```\ncode\n```\n@copilot-agent after the fence",
            "> quoted\n\n@copilot-agent after the quote",
            "`code` and @copilot-agent",
            "an unmatched ` backtick then @copilot-agent",
            "<!-- hidden -->\n@copilot-agent visible",
            "text\n    @copilot-agent indented continuation of a paragraph",
        ] {
            assert!(mentions(text, AGENT), "{text:?}");
        }
    }

    #[test]
    fn an_unclosed_fence_hides_the_rest() {
        assert!(!mentions("```\n@copilot-agent\nnever closed", AGENT));
    }
}
