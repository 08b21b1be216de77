//! Turns one raw line of a GitLab job log into the text a reader of the log page sees.
//!
//! The runner writes terminal output verbatim: ANSI colour and erase sequences, `\r` progress
//! updates that overwrite the line in place, and the collapsible-section markers
//! (`\e[0Ksection_start:<ts>:<name>[collapsed=true]\r\e[0K<header>`, `\e[0Ksection_end:<ts>:<name>\r\e[0K`).
//! None of that means anything to a model; all of it costs budget. Working on bytes keeps this
//! independent of the log's encoding and cheap enough to run on every line of a 100 MB log.

use memchr::memrchr;

const ESCAPE: u8 = 0x1b;
const BELL: u8 = 0x07;

/// Whether a raw line shows anything once cleaned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Visibility {
    /// A line of the log, possibly blank.
    Line,
    /// Only section markers and control sequences: not a line of the log page at all.
    MarkerOnly,
}

/// Writes into `out` (cleared first) the visible text of `raw`, a line without its `\n`.
///
/// Of the `\r`-separated segments the last one that shows anything wins, as on a terminal where
/// each `\r` starts overwriting the line; a trailing `\r` (CRLF) is no segment.
pub(super) fn visible_text(raw: &[u8], out: &mut Vec<u8>) -> Visibility {
    let mut end = raw.len();
    while end > 0 && raw[end - 1] == b'\r' {
        end -= 1;
    }
    let raw = &raw[..end];
    let mut saw_marker = false;
    loop {
        let start = memrchr(b'\r', &raw[..end]).map_or(0, |at| at + 1);
        out.clear();
        strip_controls(&raw[start..end], out);
        let had_marker = strip_section_markers(out);
        saw_marker |= had_marker;
        let only_segment = start == 0 && end == raw.len();
        if (only_segment && !had_marker) || !is_blank(out) {
            return Visibility::Line;
        }
        if start == 0 {
            out.clear();
            return if saw_marker { Visibility::MarkerOnly } else { Visibility::Line };
        }
        end = start - 1;
    }
}

fn is_blank(text: &[u8]) -> bool {
    text.iter().all(u8::is_ascii_whitespace)
}

/// Copies `raw` into `out` without escape sequences and control characters (tabs stay).
fn strip_controls(raw: &[u8], out: &mut Vec<u8>) {
    let mut span_start = 0;
    let mut at = 0;
    while at < raw.len() {
        let byte = raw[at];
        if byte >= 0x20 && byte != 0x7f || byte == b'\t' {
            at += 1;
            continue;
        }
        out.extend_from_slice(&raw[span_start..at]);
        at = if byte == ESCAPE { skip_escape(raw, at) } else { at + 1 };
        span_start = at;
    }
    out.extend_from_slice(&raw[span_start..]);
}

/// Returns the index just past the escape sequence that starts at `at`.
fn skip_escape(raw: &[u8], at: usize) -> usize {
    match raw.get(at + 1) {
        // CSI: parameters and intermediates, then one final byte.
        Some(b'[') => {
            let mut next = at + 2;
            while next < raw.len() && (0x20..=0x3f).contains(&raw[next]) {
                next += 1;
            }
            if next < raw.len() && (0x40..=0x7e).contains(&raw[next]) {
                next += 1;
            }
            next
        }
        // OSC (hyperlinks, titles): up to BEL or ESC `\`.
        Some(b']') => {
            let mut next = at + 2;
            while next < raw.len() {
                match raw[next] {
                    BELL => return next + 1,
                    ESCAPE if raw.get(next + 1) == Some(&b'\\') => return next + 2,
                    _ => next += 1,
                }
            }
            next
        }
        Some(_) => at + 2,
        None => at + 1,
    }
}

/// Removes the section markers that open `text`; tells whether there were any.
fn strip_section_markers(text: &mut Vec<u8>) -> bool {
    let mut removed = 0;
    while let Some(length) = section_marker_len(&text[removed..]) {
        removed += length;
    }
    text.drain(..removed);
    removed > 0
}

/// The length of the `section_start:<ts>:<name>[options]` or `section_end:<ts>:<name>` at the
/// start of `text`.
fn section_marker_len(text: &[u8]) -> Option<usize> {
    let rest = text.strip_prefix(b"section_start:").or_else(|| text.strip_prefix(b"section_end:"))?;
    let mut at = text.len() - rest.len();
    let digits = text[at..].iter().take_while(|byte| byte.is_ascii_digit()).count();
    if digits == 0 || text.get(at + digits) != Some(&b':') {
        return None;
    }
    at += digits + 1;
    let name =
        text[at..].iter().take_while(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-')).count();
    if name == 0 {
        return None;
    }
    at += name;
    if text.get(at) == Some(&b'[')
        && let Some(close) = text[at..].iter().position(|&byte| byte == b']')
    {
        at += close + 1;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(raw: &[u8]) -> (Visibility, String) {
        let mut out = Vec::new();
        let visibility = visible_text(raw, &mut out);
        (visibility, String::from_utf8(out).unwrap())
    }

    #[test]
    fn colours_and_erase_sequences_are_removed() {
        let raw =
            b"\x1b[32;1mChecking out 1a2b3c as detached HEAD\x1b[0;m \x1b[0K\x1b]8;;https://x\x07link\x1b]8;;\x1b\\";
        assert_eq!(clean(raw), (Visibility::Line, "Checking out 1a2b3c as detached HEAD link".into()));
    }

    #[test]
    fn a_section_start_shows_its_header_and_a_section_end_is_no_line() {
        let start = b"\x1b[0Ksection_start:1732370000:step_script[collapsed=true]\r\x1b[0K\x1b[0;33mExecuting \"step_script\"\x1b[0;m";
        assert_eq!(clean(start), (Visibility::Line, "Executing \"step_script\"".into()));
        assert_eq!(
            clean(b"\x1b[0Ksection_end:1732370001:step_script\r\x1b[0K"),
            (Visibility::MarkerOnly, String::new())
        );
        assert_eq!(clean(b"section_start:1:prepare\r"), (Visibility::MarkerOnly, String::new()));
    }

    #[test]
    fn progress_updates_show_their_last_state_and_blank_lines_stay() {
        assert_eq!(
            clean(b"Downloading 10%\rDownloading 55%\rDownloading 100%\r"),
            (Visibility::Line, "Downloading 100%".into())
        );
        assert_eq!(clean(b"done\r\x1b[K   \r"), (Visibility::Line, "done".into()));
        assert_eq!(clean(b""), (Visibility::Line, String::new()));
        assert_eq!(clean(b"  \r\r"), (Visibility::Line, "  ".into()));
    }

    #[test]
    fn text_that_only_looks_like_a_marker_is_kept() {
        assert_eq!(clean(b"section_start: not a marker"), (Visibility::Line, "section_start: not a marker".into()));
        assert_eq!(clean(b"section_end:12:"), (Visibility::Line, "section_end:12:".into()));
    }

    #[test]
    fn control_characters_go_and_tabs_and_utf8_stay() {
        assert_eq!(clean(b"a\x08b\tc \xe2\x9c\x95 d\x1b"), (Visibility::Line, "ab\tc \u{2715} d".into()));
    }
}
