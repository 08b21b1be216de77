//! The pure core of merge request review: what a diff says about each line, what the agent
//! found, and where on GitLab each finding goes.
//!
//! Review bots lose their readers when comments land on the wrong line, suggestions replace the
//! wrong text, or a second review repeats the first. Everything that decides those things lives
//! here without IO, so it can be tested against generated diffs and exact rendered bodies:
//! [`diff`] turns unified diffs into a [`diff::LineMap`], [`findings`] validates the agent's JSON
//! and recognises findings already posted, [`post`] computes GitLab positions and renders the
//! discussion bodies, [`noise`] keeps pre-existing, minor and surplus findings out of the diff,
//! [`drafts`] matches the agent's pending draft notes with a review's inline findings,
//! [`resolve`] picks the agent's own threads a re-review resolves as fixed or no longer applying,
//! [`suppress`] learns from people's 👍, 👎 and "false positive" replies which kinds of finding to
//! hold back, [`answers`] reads what the agent says it did about each open thread it was asked to
//! address, [`quality`] writes the Code Quality report, and [`chunks`] splits a large
//! merge request into prompts that each fit a budget.

pub mod answers;
pub mod chunks;
pub mod diff;
pub mod drafts;
pub mod findings;
pub mod noise;
pub mod post;
pub mod quality;
pub mod resolve;
pub mod suppress;
