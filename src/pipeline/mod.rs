//! The pure parts of the pipeline-fix loop: what the agent is shown of a failed CI job.
//!
//! A failed job's log can be hundreds of megabytes of coloured, sectioned, progress-bar-laden
//! output, of which a handful of lines say why it failed. [`trace`] reads such a log as a stream
//! and keeps only those lines, the end of the log and a little context, within a byte budget and
//! with secrets masked, so that the prompt built from it is small, readable and safe to post.

pub mod trace;
