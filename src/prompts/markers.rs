//! Machine-readable markers inside what we render, and the code that finds them again.
//!
//! A stage prompt starts with a stage line so the mock model in tests (and anyone reading a
//! transcript) can tell the stages apart. GitLab notes carry a hidden HTML comment so a re-run
//! finds and edits its status note instead of posting another, and so a review knows which head
//! it covered. Only notes written by the agent user may be trusted to carry them: anyone can type
//! the same comment into a note, so callers check the author before believing a marker.

use serde::{Serialize, Serializer};

use super::Stage;

/// The first line of every stage prompt is this prefix followed by the stage name, e.g.
/// `copilot-runner-stage: implementation`.
pub const STAGE_LINE_PREFIX: &str = "copilot-runner-stage: ";

const STATUS_PREFIX: &str = "<!-- copilot-runner:status ";
const OUTCOME_PREFIX: &str = "<!-- copilot-runner:outcome ";
const REVIEW_PREFIX: &str = "<!-- copilot-runner:review head=";
const PIPELINE_FIX_PREFIX: &str = "<!-- copilot-runner:pipeline-fix ";
const PIPELINE_FIX_STATE_PREFIX: &str = "<!-- copilot-runner:pipeline-fix-state ";
const FINDING_PREFIX: &str = "<!-- copilot-runner:finding ";
const RESOLUTION: &str = "<!-- copilot-runner:resolution -->";
const ADDRESSED_PREFIX: &str = "<!-- copilot-runner:addressed ";
const RUN_PREFIX: &str = "<!-- copilot-runner:run ";
const FAILED_PREFIX: &str = "<!-- copilot-runner:failed ";
const STOPPED: &str = "<!-- copilot-runner:stopped -->";
const PLAN_PREFIX: &str = "<!-- copilot-runner:plan sha256=";
const PLAN_DATA_PREFIX: &str = "<!-- copilot-runner:plan-data ";
const REPO_CONFIG_PREFIX: &str = "<!-- copilot-runner:repo-config ";
const SUFFIX: &str = " -->";

/// The stage line of `stage`: `copilot-runner-stage: <name>`.
pub fn stage_line(stage: Stage) -> String {
    format!("{STAGE_LINE_PREFIX}{}", stage.as_str())
}

/// The stage a prompt was rendered for, from the first stage line anywhere in it (the Copilot CLI
/// puts its own lines before the prompt).
pub fn find_stage(prompt: &str) -> Option<Stage> {
    prompt
        .lines()
        .find_map(|line| line.trim().strip_prefix(STAGE_LINE_PREFIX))
        .and_then(|name| Stage::ALL.into_iter().find(|stage| stage.as_str() == name.trim()))
}

/// A hidden marker line of a GitLab note, built only from values the runner controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker(String);

impl Marker {
    /// Marks the status note about `subject` (`issue-12`, `mr-34`):
    /// `<!-- copilot-runner:status issue-12 -->`.
    pub fn status(subject: &str) -> Self {
        Self(format!("{STATUS_PREFIX}{}{SUFFIX}", token(subject)))
    }

    /// Marks the outcome note (final, failure, nothing changed) of the work about `subject`
    /// (`issue-12`, `mr-34-note-56`): `<!-- copilot-runner:outcome issue-12 -->`. A re-run of the
    /// same work edits that note instead of posting a second one.
    pub fn outcome(subject: &str) -> Self {
        Self(format!("{OUTCOME_PREFIX}{}{SUFFIX}", token(subject)))
    }

    /// Marks a review summary with the head it reviewed:
    /// `<!-- copilot-runner:review head=<sha> -->`.
    pub fn review(head_sha: &str) -> Self {
        Self(format!("{REVIEW_PREFIX}{}{SUFFIX}", token(head_sha)))
    }

    /// Marks the note of the pipeline-fix loop on `subject`:
    /// `<!-- copilot-runner:pipeline-fix mr-34 -->`.
    pub fn pipeline_fix(subject: &str) -> Self {
        Self(format!("{PIPELINE_FIX_PREFIX}{}{SUFFIX}", token(subject)))
    }

    /// Carries the pipeline-fix loop's state on `subject` as `key=value` fields, so a later job
    /// continues where an earlier one stopped:
    /// `<!-- copilot-runner:pipeline-fix-state mr-34 fixes=2 acted=105 -->`.
    pub fn pipeline_fix_state(subject: &str, fields: &[(&str, String)]) -> Self {
        let fields: Vec<String> =
            fields.iter().map(|(key, value)| format!("{}={}", token(key), value_token(value))).collect();
        Self(format!("{PIPELINE_FIX_STATE_PREFIX}{} {}{SUFFIX}", token(subject), fields.join(" ")))
    }

    /// Marks a review discussion with its finding's fingerprint:
    /// `<!-- copilot-runner:finding <hex> -->`.
    pub fn finding(fingerprint: &str) -> Self {
        Self(format!("{FINDING_PREFIX}{}{SUFFIX}", token(fingerprint)))
    }

    /// Marks the agent's reply in one of its own threads that it resolves:
    /// `<!-- copilot-runner:resolution -->`.
    pub fn resolution() -> Self {
        Self(RESOLUTION.to_owned())
    }

    /// Marks the agent's reply in a thread it addressed for the request `subject`
    /// (`mr-3-note-41`), with what it did: `<!-- copilot-runner:addressed mr-3-note-41 fixed -->`.
    pub fn addressed(subject: &str, outcome: &str) -> Self {
        Self(format!("{ADDRESSED_PREFIX}{} {}{SUFFIX}", token(subject), token(outcome)))
    }

    /// Names the pipeline a status note's work runs in, so a stop request finds it:
    /// `<!-- copilot-runner:run project=7 pipeline=123 -->`.
    pub fn run(project_id: u64, pipeline_id: u64) -> Self {
        Self(format!("{RUN_PREFIX}project={project_id} pipeline={pipeline_id}{SUFFIX}"))
    }

    /// Marks the note that says how the request about `subject` (`issue-12-note-56`) failed, so
    /// a retry finds the request: `<!-- copilot-runner:failed issue-12-note-56 -->`.
    pub fn failed(subject: &str) -> Self {
        Self(format!("{FAILED_PREFIX}{}{SUFFIX}", token(subject)))
    }

    /// Marks the line a stop request puts atop the status note of the work it stopped.
    pub fn stopped() -> Self {
        Self(STOPPED.to_owned())
    }

    /// Marks a plan note with the SHA-256 of the plan it stores:
    /// `<!-- copilot-runner:plan sha256=<hex> -->`.
    pub fn plan(sha256: &str) -> Self {
        Self(format!("{PLAN_PREFIX}{}{SUFFIX}", token(sha256)))
    }

    /// Carries the stored plan itself, URL-safe base64 without padding:
    /// `<!-- copilot-runner:plan-data <base64> -->`.
    pub fn plan_data(base64: &str) -> Self {
        Self(format!("{PLAN_DATA_PREFIX}{}{SUFFIX}", token(base64)))
    }

    /// Marks the note on the problems of the repository's agent file, on `subject` (`mr-34`,
    /// `issue-12`): `<!-- copilot-runner:repo-config mr-34 -->`.
    pub fn repo_config(subject: &str) -> Self {
        Self(format!("{REPO_CONFIG_PREFIX}{}{SUFFIX}", token(subject)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `body` carries this marker on a line of its own.
    pub fn is_in(&self, body: &str) -> bool {
        body.lines().any(|line| line.trim() == self.0)
    }
}

impl Serialize for Marker {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// The head SHA a review summary note says it reviewed.
pub fn reviewed_head(body: &str) -> Option<&str> {
    body.lines().find_map(|line| line.trim().strip_prefix(REVIEW_PREFIX)?.strip_suffix(SUFFIX))
}

/// What the reply `body` says the agent did for the request `subject`, when it carries an
/// [`Marker::addressed`] line about it.
pub fn addressed_outcome<'a>(body: &'a str, subject: &str) -> Option<&'a str> {
    let subject = token(subject);
    body.lines().find_map(|line| {
        let rest = line.trim().strip_prefix(ADDRESSED_PREFIX)?.strip_suffix(SUFFIX)?;
        let (about, outcome) = rest.split_once(' ')?;
        (about == subject).then_some(outcome)
    })
}

/// The fields of the pipeline-fix state marker about `subject` in `body`, if it carries one.
pub fn pipeline_fix_state<'a>(body: &'a str, subject: &str) -> Option<Vec<(&'a str, &'a str)>> {
    let subject = token(subject);
    body.lines().find_map(|line| {
        let rest = line.trim().strip_prefix(PIPELINE_FIX_STATE_PREFIX)?.strip_suffix(SUFFIX)?;
        let mut words = rest.split(' ').filter(|word| !word.is_empty());
        (words.next()? == subject).then(|| words.filter_map(|word| word.split_once('=')).collect())
    })
}

/// The agent project and pipeline a status note's [`Marker::run`] names.
pub fn run_pipeline(body: &str) -> Option<(u64, u64)> {
    body.lines().find_map(|line| {
        let rest = line.trim().strip_prefix(RUN_PREFIX)?.strip_suffix(SUFFIX)?;
        let (project, pipeline) = rest.split_once(' ')?;
        Some((project.strip_prefix("project=")?.parse().ok()?, pipeline.strip_prefix("pipeline=")?.parse().ok()?))
    })
}

/// The subject of the request a [`Marker::failed`] in `body` names.
pub fn failed_subject(body: &str) -> Option<&str> {
    body.lines().find_map(|line| line.trim().strip_prefix(FAILED_PREFIX)?.strip_suffix(SUFFIX))
}

/// The hash a plan note's [`Marker::plan`] states, and the data its [`Marker::plan_data`] carries.
pub fn plan(body: &str) -> Option<(&str, &str)> {
    let find = |prefix: &str| body.lines().find_map(|line| line.trim().strip_prefix(prefix)?.strip_suffix(SUFFIX));
    Some((find(PLAN_PREFIX)?, find(PLAN_DATA_PREFIX)?))
}

/// A state value: like [`token`], also allowing `,` to separate list items.
fn value_token(value: &str) -> String {
    value.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ',')).collect()
}

/// Keeps a marker value to ASCII letters, digits, `-`, `_` and `.`, so it cannot end the comment.
fn token(value: &str) -> String {
    value.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_value_cannot_close_the_comment() {
        assert_eq!(Marker::status("issue-1 --> @all").as_str(), "<!-- copilot-runner:status issue-1--all -->");
    }

    #[test]
    fn the_reviewed_head_is_read_back() {
        let body = format!("## Review\n\ntext\n{}\n", Marker::review("0123abcd").as_str());
        assert_eq!(reviewed_head(&body), Some("0123abcd"));
        assert!(Marker::review("0123abcd").is_in(&body));
        assert_eq!(reviewed_head("no marker"), None);
    }

    #[test]
    fn the_pipeline_fix_state_is_read_back_for_its_subject_only() {
        let marker =
            Marker::pipeline_fix_state("mr-34", &[("fixes", "2".into()), ("rows", "1.failed,2.passed -->".into())]);
        assert_eq!(
            marker.as_str(),
            "<!-- copilot-runner:pipeline-fix-state mr-34 fixes=2 rows=1.failed,2.passed-- -->"
        );
        let body = format!("### note\n\n{}\n", marker.as_str());
        assert_eq!(pipeline_fix_state(&body, "mr-34"), Some(vec![("fixes", "2"), ("rows", "1.failed,2.passed--")]));
        assert_eq!(pipeline_fix_state(&body, "mr-3"), None);
        assert_eq!(pipeline_fix_state("no marker", "mr-34"), None);
    }

    #[test]
    fn what_an_addressed_thread_got_is_read_back_for_its_request_only() {
        let marker = Marker::addressed("mr-3-note-41", "fixed");
        assert_eq!(marker.as_str(), "<!-- copilot-runner:addressed mr-3-note-41 fixed -->");
        let body = format!("✅ Fixed.\n\n{}\n", marker.as_str());
        assert_eq!(addressed_outcome(&body, "mr-3-note-41"), Some("fixed"));
        assert_eq!(addressed_outcome(&body, "mr-3-note-4"), None);
        assert_eq!(addressed_outcome("no marker", "mr-3-note-41"), None);
    }

    #[test]
    fn the_run_and_the_failed_request_are_read_back() {
        let body = format!("status\n{}\n{}\n", Marker::run(7, 123).as_str(), Marker::failed("issue-4-note-9").as_str());
        assert_eq!(run_pipeline(&body), Some((7, 123)));
        assert_eq!(failed_subject(&body), Some("issue-4-note-9"));
        assert_eq!(run_pipeline("<!-- copilot-runner:run project=x pipeline=1 -->"), None);
        assert_eq!(failed_subject("no marker"), None);
    }

    #[test]
    fn the_stage_is_found_after_lines_the_cli_adds() {
        let sent =
            "<current_datetime>2026-11-23T10:28:57Z</current_datetime>\n\ncopilot-runner-stage: tests\nWrite tests";
        assert_eq!(find_stage(sent), Some(Stage::Tests));
        assert_eq!(find_stage("nothing"), None);
    }
}
