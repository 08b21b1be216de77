//! What a key allows is worded by each language's note: no English phrase is left in the others.

use super::fixtures;
use crate::config::Language;
use crate::prompts::Prompts;

/// The English wording of the kinds, every phrase of which a translation must replace.
const ENGLISH: &[&str] = &[
    "allowed is",
    " or ",
    "valid YAML",
    "a mapping of",
    "always run",
    "agent project",
    "servers",
    "no name",
    "default branch",
    "not found",
    "command line",
    "premium requests",
    "whole number",
    "a list of",
    "relative paths",
    "file patterns",
    "plan approval",
    "turned this stage off",
    "more serious",
    "or fewer",
    "or less",
    "threshold",
    "limit",
    "cap)",
];

#[test]
fn every_kind_is_worded_in_every_language_without_english() {
    let prompts = Prompts::new(None).unwrap();
    let english = prompts.render_message(Language::En, &fixtures::note()).unwrap();
    for phrase in ENGLISH {
        assert!(english.contains(phrase), "`{phrase}` is not an English phrase of the note:\n{english}");
    }
    for language in Language::ALL.into_iter().filter(|language| *language != Language::En) {
        let note = prompts.render_message(language, &fixtures::note()).unwrap();
        let problems: Vec<&str> = note.lines().filter(|line| line.starts_with("- ")).collect();
        assert_eq!(problems.len(), fixtures::every_kind().len(), "{language}: one line per problem\n{note}");
        for line in problems {
            let prose = line.split('`').step_by(2).collect::<String>();
            assert!(!prose.trim_end().ends_with(':') && !prose.trim_end().ends_with('：'), "{language}: {line}");
            for phrase in ENGLISH {
                assert!(!prose.contains(phrase), "{language} keeps the English `{phrase}`: {line}");
            }
        }
    }
}

#[test]
fn the_values_and_keys_a_kind_names_stay_code_spans_in_every_language() {
    let prompts = Prompts::new(None).unwrap();
    for language in Language::ALL {
        let note = prompts.render_message(language, &fixtures::note()).unwrap();
        for span in [
            "`architecture`",
            "`critical`",
            "`info`",
            "`github`",
            "`sentry`",
            "`docs/style.md`",
            "`minor`",
            "`true`",
            "`false`",
        ] {
            assert!(note.contains(span), "{language} lacks {span}:\n{note}");
        }
        assert!(note.contains(" 10") && note.contains(" 20.5"), "{language} lacks the limit or the cap:\n{note}");
    }
}
