//! `COPILOT_LANGUAGE`: one run per language, whose notes on GitLab and prompts to the agent are
//! all in that language. The expected phrases are read from the language's own templates.

use copilot_runner::config::Language;
use copilot_runner_testkit::ci_job::text;

use super::rig::{Rig, greeting_script, status_notes};

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

#[tokio::test]
async fn english() {
    an_assignment_speaks(Language::En).await;
}

#[tokio::test]
async fn chinese() {
    an_assignment_speaks(Language::Zh).await;
}

#[tokio::test]
async fn japanese() {
    an_assignment_speaks(Language::Ja).await;
}

#[tokio::test]
async fn korean() {
    an_assignment_speaks(Language::Ko).await;
}

#[tokio::test]
async fn hindi() {
    an_assignment_speaks(Language::Hi).await;
}

#[tokio::test]
async fn thai() {
    an_assignment_speaks(Language::Th).await;
}
