//! The excerpt of a failed job's log that the pipeline-fix agent is shown.
//!
//! A log is read once, as a stream, and never held whole: [`Excerpter`] is a line-by-line state
//! machine fed with byte chunks in any split. Each line is cleaned ([`clean`]: ANSI sequences,
//! section markers and `\r` progress updates removed) and classified ([`patterns`]); the
//! excerpter remembers only the last lines (for the tail and for context before an error), the
//! lines after an error, and error lines, each bounded by the byte budget. The first error line
//! and its window are never forgotten: many tools print the cause early and a summary late, so a
//! long log's excerpt keeps its first error as well as its tail. The names of failing tests the
//! log reports are collected on the way, for the failure's signature. Secrets are masked
//! only in the few lines that may be shown. [`finish`] hands the
//! remembered lines to [`select`], which fits the most important of them into the budget.
//!
//! Memory stays bounded whatever the log: a line longer than [`RAW_LINE_CAP`] keeps its start
//! (or, for a `\r` progress line, its latest update) and counts the bytes it dropped; a line is
//! shown at most [`SHOWN_LINE_CAP`] bytes, a quarter of the raw cap, so that a secret cut in two
//! by the raw cap is never shown unless the line was mostly escape sequences.
//!
//! [`finish`]: Excerpter::finish

mod clean;
mod patterns;
mod select;

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};

use memchr::{memchr, memrchr};
use tokio::io::{AsyncRead, AsyncReadExt};

use self::clean::Visibility;
use self::select::{Candidate, Rank, TAIL_CORE_LINES};

/// Raw bytes of one line kept for cleaning; the rest of a longer line is counted, not kept.
pub const RAW_LINE_CAP: usize = 4096;
/// Bytes of one cleaned line shown in an excerpt.
pub const SHOWN_LINE_CAP: usize = 1024;
/// Size of the reads of [`excerpt`].
const READ_CHUNK: usize = 64 * 1024;
/// Context lines remembered beyond the ones that fit the budget, as a multiple of the budget: the
/// selection prefers other lines, so more than this could never be shown.
const CONTEXT_MEMORY_FACTOR: usize = 2;

/// How much of a log to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcerptOptions {
    /// Upper bound of [`Excerpt::text`] in bytes.
    pub budget_bytes: usize,
    /// Lines kept before and after each error line.
    pub context_lines: usize,
    /// Last lines of the log kept.
    pub tail_lines: usize,
}

impl Default for ExcerptOptions {
    fn default() -> Self {
        Self { budget_bytes: 16 * 1024, context_lines: 5, tail_lines: 40 }
    }
}

/// The part of a log worth showing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// The kept lines in log order, cleaned and masked, each followed by `\n`; every run of left
    /// out lines is one `[… N lines skipped …]` line. At most `budget_bytes` long.
    pub text: String,
    /// Error lines recognised in the whole log, shown or not.
    pub error_lines: usize,
    /// Bytes read.
    pub total_bytes: u64,
    /// Whether the text leaves out any line or part of one.
    pub truncated: bool,
    /// The first error line of the log, cleaned and masked.
    pub first_error: Option<String>,
    /// Names of the failing tests the log reports (cargo, pytest, go, jest, mocha, maven), in
    /// log order, each once, at most [`MAX_FAILED_TESTS`].
    pub failed_tests: Vec<String>,
}

/// Failing test names an excerpt collects at most.
pub const MAX_FAILED_TESTS: usize = 20;

/// Reads a log to its end and returns its excerpt.
pub async fn excerpt<R: AsyncRead + Unpin>(mut reader: R, options: &ExcerptOptions) -> std::io::Result<Excerpt> {
    let mut excerpter = Excerpter::new(options.clone());
    let mut buffer = vec![0; READ_CHUNK];
    loop {
        let read = reader.read(&mut buffer).await?;
        if read == 0 {
            return Ok(excerpter.finish());
        }
        excerpter.feed(&buffer[..read]);
    }
}

/// A recent line, cleaned but not yet masked (most lines are never shown).
#[derive(Debug)]
struct RecentLine {
    number: u64,
    text: Vec<u8>,
    dropped: u64,
    error: bool,
}

/// A line remembered for the excerpt, cleaned; masked only if it is shown.
#[derive(Debug)]
struct KeptLine {
    text: Vec<u8>,
    dropped: u64,
    /// `None` for an error line, else the distance to the nearest error line.
    context_distance: Option<u32>,
    /// The error line this line is nearest to.
    error_number: u64,
}

/// The streaming core of [`excerpt`]: feed chunks, then [`finish`](Self::finish).
#[derive(Debug)]
pub struct Excerpter {
    options: ExcerptOptions,
    /// The raw bytes of the line still being read.
    partial: Vec<u8>,
    partial_dropped: u64,
    /// The cleaned text of the line being classified.
    scratch: Vec<u8>,
    recent: VecDeque<RecentLine>,
    recent_capacity: usize,
    kept: BTreeMap<u64, KeptLine>,
    error_order: VecDeque<u64>,
    context_order: VecDeque<u64>,
    error_bytes: usize,
    context_bytes: usize,
    /// Lines still to keep after the last error line, and that line's number.
    following: usize,
    last_error: u64,
    lines: u64,
    error_lines: usize,
    total_bytes: u64,
    /// The number of the first error line; it and its window are never evicted.
    first_error: Option<u64>,
    failed_tests: Vec<String>,
}

impl Excerpter {
    pub fn new(options: ExcerptOptions) -> Self {
        let recent_capacity = options.tail_lines.max(options.context_lines);
        Self {
            options,
            partial: Vec::new(),
            partial_dropped: 0,
            scratch: Vec::new(),
            recent: VecDeque::with_capacity(recent_capacity),
            recent_capacity,
            kept: BTreeMap::new(),
            error_order: VecDeque::new(),
            context_order: VecDeque::new(),
            error_bytes: 0,
            context_bytes: 0,
            following: 0,
            last_error: 0,
            lines: 0,
            error_lines: 0,
            total_bytes: 0,
            first_error: None,
            failed_tests: Vec::new(),
        }
    }

    /// Reads the next bytes of the log.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        self.total_bytes += chunk.len() as u64;
        while let Some(newline) = memchr(b'\n', chunk) {
            let line = &chunk[..newline];
            chunk = &chunk[newline + 1..];
            if self.partial.is_empty() && self.partial_dropped == 0 && line.len() <= RAW_LINE_CAP {
                self.line(line, 0);
            } else {
                let mut partial = std::mem::take(&mut self.partial);
                append_capped(&mut partial, line, &mut self.partial_dropped);
                let dropped = std::mem::take(&mut self.partial_dropped);
                self.line(&partial, dropped);
                partial.clear();
                self.partial = partial;
            }
        }
        append_capped(&mut self.partial, chunk, &mut self.partial_dropped);
    }

    /// Ends the log and returns its excerpt.
    pub fn finish(mut self) -> Excerpt {
        if !self.partial.is_empty() || self.partial_dropped > 0 {
            let partial = std::mem::take(&mut self.partial);
            let dropped = self.partial_dropped;
            self.line(&partial, dropped);
        }
        let mut candidates: BTreeMap<u64, Candidate> = BTreeMap::new();
        let mut first_error = None;
        for (number, kept) in std::mem::take(&mut self.kept) {
            let of_first = Some(kept.error_number) == self.first_error;
            let rank = match kept.context_distance {
                None if of_first => Rank::FirstError,
                None => Rank::Error { newest_first: Reverse(number) },
                Some(distance) if of_first => Rank::FirstContext { distance },
                Some(distance) => Rank::Context { distance, newest_first: Reverse(kept.error_number) },
            };
            let (text, cut) = display(&kept.text, kept.dropped);
            if rank == Rank::FirstError {
                first_error = Some(text.clone());
            }
            candidates.insert(number, Candidate { number, text, cut, rank });
        }
        let tail_start = self.recent.len().saturating_sub(self.options.tail_lines);
        for recent in self.recent.range(tail_start..) {
            let from_end = self.lines - recent.number;
            let rank = if from_end < TAIL_CORE_LINES { Rank::TailCore { from_end } } else { Rank::Tail { from_end } };
            match candidates.get_mut(&recent.number) {
                Some(candidate) => candidate.rank = candidate.rank.min(rank),
                None => {
                    let (text, cut) = display(&recent.text, recent.dropped);
                    candidates.insert(recent.number, Candidate { number: recent.number, text, cut, rank });
                }
            }
        }
        let rendered = select::render(candidates.into_values().collect(), self.lines, self.options.budget_bytes);
        Excerpt {
            text: rendered.text,
            error_lines: self.error_lines,
            total_bytes: self.total_bytes,
            truncated: rendered.truncated,
            first_error,
            failed_tests: self.failed_tests,
        }
    }

    /// Takes in one complete raw line (without `\n`) that dropped `dropped` bytes.
    fn line(&mut self, raw: &[u8], dropped: u64) {
        if clean::visible_text(raw, &mut self.scratch) == Visibility::MarkerOnly {
            return;
        }
        self.lines += 1;
        let number = self.lines;
        let error = patterns::is_error_line(&self.scratch);
        if error {
            self.error_lines += 1;
            self.first_error.get_or_insert(number);
            if self.failed_tests.len() < MAX_FAILED_TESTS
                && let Some(name) = patterns::failed_test(&self.scratch)
                && !self.failed_tests.contains(&name)
            {
                self.failed_tests.push(name);
            }
            let before: Vec<(u64, u32)> = self
                .recent
                .iter()
                .rev()
                .take(self.options.context_lines)
                .zip(1..)
                .filter(|(recent, _)| !recent.error)
                .map(|(recent, distance)| (recent.number, distance))
                .collect();
            for (context, distance) in before {
                self.keep_context(context, distance, number);
            }
            self.keep_error(number, dropped);
            self.following = self.options.context_lines;
            self.last_error = number;
        } else if self.following > 0 {
            self.following -= 1;
            let distance = u32::try_from(number - self.last_error).unwrap_or(u32::MAX);
            self.insert_context(number, self.scratch.clone(), dropped, distance, self.last_error);
        }
        self.remember(number, dropped, error);
    }

    fn keep_error(&mut self, number: u64, dropped: u64) {
        let text = self.scratch.clone();
        let bytes = text.len() + 1;
        self.kept.insert(number, KeptLine { text, dropped, context_distance: None, error_number: number });
        if Some(number) == self.first_error {
            // Never evicted, and so not counted against the bound of the others.
            return;
        }
        self.error_bytes += bytes;
        self.error_order.push_back(number);
        // Older error lines than a budget's worth of newer ones can never be shown.
        while self.error_bytes > self.options.budget_bytes {
            let Some(oldest) = self.error_order.pop_front() else { break };
            if let Some(evicted) = self.kept.remove(&oldest) {
                self.error_bytes -= evicted.text.len() + 1;
            }
        }
    }

    /// Keeps a recent line as context of the error line `error_number`.
    fn keep_context(&mut self, number: u64, distance: u32, error_number: u64) {
        if let Some(kept) = self.kept.get_mut(&number) {
            if let Some(known) = kept.context_distance
                && distance <= known
            {
                kept.context_distance = Some(distance);
                kept.error_number = error_number;
            }
            return;
        }
        let Some(recent) = self.recent.iter().rev().find(|recent| recent.number == number) else { return };
        let (text, dropped) = (recent.text.clone(), recent.dropped);
        self.insert_context(number, text, dropped, distance, error_number);
    }

    fn insert_context(&mut self, number: u64, text: Vec<u8>, dropped: u64, distance: u32, error_number: u64) {
        if Some(error_number) == self.first_error {
            // The first error's window (at most twice `context_lines` lines) is never evicted.
            self.kept.insert(number, KeptLine { text, dropped, context_distance: Some(distance), error_number });
            return;
        }
        self.context_bytes += text.len() + 1;
        self.kept.insert(number, KeptLine { text, dropped, context_distance: Some(distance), error_number });
        self.context_order.push_back(number);
        while self.context_bytes > CONTEXT_MEMORY_FACTOR * self.options.budget_bytes {
            let Some(oldest) = self.context_order.pop_front() else { break };
            if let Some(evicted) = self.kept.remove(&oldest) {
                self.context_bytes -= evicted.text.len() + 1;
            }
        }
    }

    /// Moves the scratch line into the ring of recent lines, reusing the oldest one's buffer.
    fn remember(&mut self, number: u64, dropped: u64, error: bool) {
        if self.recent_capacity == 0 {
            return;
        }
        let buffer = if self.recent.len() == self.recent_capacity {
            self.recent.pop_front().map(|oldest| oldest.text).unwrap_or_default()
        } else {
            Vec::new()
        };
        let text = std::mem::replace(&mut self.scratch, buffer);
        self.recent.push_back(RecentLine { number, text, dropped, error });
    }
}

/// Appends `bytes` to a line's raw buffer without growing it past [`RAW_LINE_CAP`], counting
/// the bytes left out in `dropped`.
///
/// A line overflows mostly because it is a `\r` progress line, where only the latest update is
/// visible: the buffer then restarts at the latest `\r` (or the one before it when the latest
/// ends the bytes so far, so that a finished update is not lost to an update not yet read).
/// Overwritten updates are not counted as left out: the log page does not show them either.
fn append_capped(buffer: &mut Vec<u8>, mut bytes: &[u8], dropped: &mut u64) {
    let total = buffer.len() + bytes.len();
    if total > RAW_LINE_CAP {
        let carriage_return_before = |end: usize, buffer: &[u8]| {
            if end > buffer.len()
                && let Some(at) = memrchr(b'\r', &bytes[..end - buffer.len()])
            {
                return Some(buffer.len() + at);
            }
            memrchr(b'\r', &buffer[..end.min(buffer.len())])
        };
        let mut restart = carriage_return_before(total, buffer);
        if restart == Some(total - 1) {
            restart = carriage_return_before(total - 1, buffer);
        }
        match restart {
            Some(at) if at >= buffer.len() => {
                bytes = &bytes[at - buffer.len()..];
                buffer.clear();
            }
            Some(at) => {
                buffer.drain(..at);
            }
            None => {}
        }
    }
    let room = RAW_LINE_CAP.saturating_sub(buffer.len());
    let taken = room.min(bytes.len());
    buffer.extend_from_slice(&bytes[..taken]);
    *dropped += (bytes.len() - taken) as u64;
}

/// The display form of a cleaned line: masked, at most [`SHOWN_LINE_CAP`] bytes, and a note of
/// what was cut; tells whether anything was.
fn display(cleaned: &[u8], dropped: u64) -> (String, bool) {
    let masked = patterns::mask_secrets(&String::from_utf8_lossy(cleaned));
    let mut end = masked.len().min(SHOWN_LINE_CAP);
    while !masked.is_char_boundary(end) {
        end -= 1;
    }
    let cut = dropped + (masked.len() - end) as u64;
    if cut == 0 {
        return (masked, false);
    }
    (format!("{} [… {cut} bytes cut]", &masked[..end]), true)
}

#[cfg(test)]
mod tests;
