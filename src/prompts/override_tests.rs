//! Template overrides: a folder of templates replaces the embedded ones file by file, and a
//! broken or incomplete override is an error that names its file.

use super::markers::Marker;
use super::message::*;
use super::tests::stage_prompt;
use super::*;
use crate::untrusted::{MarkdownCodeSpan, Username};

#[test]
fn an_override_file_replaces_the_embedded_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ja")).unwrap();
    std::fs::write(
        dir.path().join("ja/refusal_note.md.tera"),
        "@{{ actor }} カスタム: {{ required_role }} が必要です。",
    )
    .unwrap();
    let prompts = Prompts::new(Some(dir.path())).unwrap();
    let note = RefusalNote { actor: Username::new("guest"), required_role: "Developer".to_owned() };
    assert_eq!(prompts.render_message(Language::Ja, &note).unwrap(), "@guest カスタム: Developer が必要です。\n");
    // Other languages and templates keep the embedded text.
    assert!(prompts.render_message(Language::En, &note).unwrap().contains("I cannot start work for you"));
}

#[test]
fn a_broken_override_is_an_error_naming_its_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ko")).unwrap();
    let broken = dir.path().join("ko/status_note.md.tera");
    std::fs::write(&broken, "{% for item in checklist %}never closed").unwrap();
    let error = Prompts::new(Some(dir.path())).unwrap_err();
    assert!(matches!(error, PromptError::InvalidTemplate { .. }), "{error:?}");
    assert!(error.to_string().contains(&broken.display().to_string()), "{error}");
}

#[test]
fn an_override_folder_without_a_file_for_a_template_keeps_the_embedded_one() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = Prompts::new(Some(dir.path())).unwrap();
    let rendered = prompts.render_stage(Language::En, &stage_prompt(Stage::Tests)).unwrap();
    assert!(rendered.starts_with("copilot-runner-stage: tests\n"));
}

#[test]
fn an_override_that_renders_an_unknown_variable_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("en")).unwrap();
    let path = dir.path().join("en/final_note.md.tera");
    std::fs::write(&path, "{{ no_such_value }}").unwrap();
    let prompts = Prompts::new(Some(dir.path())).unwrap();
    let note = FinalNote {
        marker: Marker::status("issue-1"),
        merge_request_reference: "!1".to_owned(),
        merge_request_url: "https://gitlab.example.com/a/b/-/merge_requests/1".to_owned(),
        branch: MarkdownCodeSpan::new("copilot/issue-1"),
        stats: RunStats { stages: 1, agent_calls: 1, premium_requests: 0.0, duration_secs: 5 },
        usage: UsageTable { stages: Vec::new(), total: UsageFigures::default() },
    };
    let error = prompts.render_message(Language::En, &note).unwrap_err();
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");
}

#[test]
fn an_override_stage_prompt_without_its_stage_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("th")).unwrap();
    let path = dir.path().join("th/implementation.md.tera");
    std::fs::write(&path, "Implement the task.\n").unwrap();
    let error = Prompts::new(Some(dir.path())).unwrap_err();
    assert!(error.is_configuration());
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("`copilot-runner-stage: implementation`"), "{message}");
}

#[test]
fn a_broken_override_exits_as_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("en")).unwrap();
    std::fs::write(dir.path().join("en/final_note.md.tera"), "{{ unclosed").unwrap();
    let error = anyhow::Error::new(Prompts::new(Some(dir.path())).unwrap_err()).context("while loading prompts");
    assert_eq!(
        crate::exit::Classify::exit_code(error.downcast_ref::<PromptError>().unwrap()),
        crate::exit::Code::Usage
    );
}
