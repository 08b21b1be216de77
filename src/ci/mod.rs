//! CI pipelines of the target project, as the pipeline-fix loop sees them: watching one until it
//! ends (with backoff, and without waiting forever on one that is blocked or never picked up),
//! telling which failed jobs code can fix and which only need a retry (following bridges into
//! downstream pipelines), which branch commit a merged-results pipeline tested, and what the
//! agent is shown of a failed job.
//!
//! A failed job's log can be hundreds of megabytes of coloured, sectioned, progress-bar-laden
//! output, of which a handful of lines say why it failed. [`trace`] reads such a log as a stream
//! and keeps only those lines, the end of the log and a little context, within a byte budget and
//! with secrets masked, so that the prompt built from it is small, readable and safe to post.
//! The workflow that strings these together is `workflows::pipeline_fix`.

pub mod failures;
pub mod guard;
pub mod merged;
pub mod signature;
pub mod trace;
pub mod watch;
