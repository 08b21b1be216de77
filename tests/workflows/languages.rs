//! `COPILOT_LANGUAGE`: per language, an assignment, a note on an issue and a note on a merge
//! request, whose notes on GitLab and prompts to the agent are all in that language. The expected
//! phrases are read from the language's own templates.

use copilot_runner::config::Language;
use copilot_runner_testkit::ci_job::text;

use copilot_runner_testkit::fake_gitlab::Noteable;

use super::rig::{PROJECT, Rig, greeting_script, status_notes};

/// Line `line` (1-based) of a template of `language`.
fn template_line(language: Language, template: &str, line: usize) -> String {
    let path = format!("{}/prompts/{}/{template}.md.tera", env!("CARGO_MANIFEST_DIR"), language.code());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    text.lines().nth(line - 1).unwrap_or_else(|| panic!("{path} has no line {line}")).to_owned()
}

async fn an_assignment_speaks(language: Language) {
    let mut rig = Rig::start(greeting_script).await;
    rig.job.set("COPILOT_LANGUAGE", language.code()).set("USE_ORCHESTRATED_ISSUE", "false");
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.assign(iid, "alice");

    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{language:?}: {}", text(&out.stderr));

    let notes = rig.agent_notes(rig.on_issue(iid));
    let heading = template_line(language, "status_note", 1);
    let status = status_notes(&notes);
    assert_eq!(status.len(), 1, "{notes:#?}");
    assert!(status[0].starts_with(&heading), "{language:?}: `{heading}` not in {}", status[0]);
    let done = template_line(language, "final_note", 1);
    assert!(notes.iter().any(|body| body.starts_with(&done)), "{language:?}: no `{done}` in {notes:#?}");
    let stage_heading = template_line(language, "implementation", 2);
    assert!(rig.model.saw(&stage_heading), "{language:?}: the prompt was not in the language");
}

/// A note on an issue and then one on the merge request it opened, both answered in `language`:
/// the status note's heading and the final note's, and the stage prompt, come from its templates.
async fn notes_are_answered_in(language: Language) {
    let mut rig = Rig::start(greeting_script).await;
    rig.job.set("COPILOT_LANGUAGE", language.code()).set("USE_ORCHESTRATED_ISSUE", "false");
    let iid = rig.issue("alice", "Add a greeting file", "Please add greeting.txt.");
    rig.comment_on_issue(iid, "alice", "@copilot-agent please add greeting.txt");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{language:?} issue_note: {}", text(&out.stderr));
    let heading = template_line(language, "status_note", 1);
    let done = template_line(language, "final_note", 1);
    let notes = rig.agent_notes(rig.on_issue(iid));
    assert!(status_notes(&notes).iter().any(|body| body.starts_with(&heading)), "{language:?}: {notes:#?}");
    assert!(notes.iter().any(|body| body.starts_with(&done)), "{language:?}: no `{done}` in {notes:#?}");

    let mr_iid = rig.gitlab.merge_requests(PROJECT)[0].iid;
    rig.comment_on_merge_request(mr_iid, "alice", "@copilot-agent please add greeting.txt again");
    let out = rig.run().await;
    assert_eq!(out.status.code(), Some(0), "{language:?} mr_note: {}", text(&out.stderr));
    let on = Noteable::MergeRequest { project_id: rig.project_id, iid: mr_iid };
    let notes = rig.agent_notes(on);
    assert!(status_notes(&notes).iter().any(|body| body.starts_with(&heading)), "{language:?}: {notes:#?}");
    // The one mr_note stage's prompt; the script changes nothing there, which is said in kind.
    assert!(rig.model.saw(&template_line(language, "mr_note", 2)), "{language:?}: the prompt was not in the language");
    let nothing = template_line(language, "nothing_changed_note", 1);
    assert!(notes.iter().any(|body| body.starts_with(&nothing)), "{language:?}: no `{nothing}` in {notes:#?}");
}

#[tokio::test]
async fn english() {
    an_assignment_speaks(Language::En).await;
    notes_are_answered_in(Language::En).await;
}

#[tokio::test]
async fn chinese() {
    an_assignment_speaks(Language::Zh).await;
    notes_are_answered_in(Language::Zh).await;
}

#[tokio::test]
async fn japanese() {
    an_assignment_speaks(Language::Ja).await;
    notes_are_answered_in(Language::Ja).await;
}

#[tokio::test]
async fn korean() {
    an_assignment_speaks(Language::Ko).await;
    notes_are_answered_in(Language::Ko).await;
}

#[tokio::test]
async fn hindi() {
    an_assignment_speaks(Language::Hi).await;
    notes_are_answered_in(Language::Hi).await;
}

#[tokio::test]
async fn thai() {
    an_assignment_speaks(Language::Th).await;
    notes_are_answered_in(Language::Th).await;
}
