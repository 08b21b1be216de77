//! What a note to the agent asks for: one of its commands (plan, proceed, stop, retry, help,
//! forget suppressions, address the review threads), a review, a fix of the red pipeline, leave to
//! change tests while fixing it, or (anything else) a change.
//!
//! A command is recognised by its shape, not by keywords found anywhere: in languages that space
//! their words, the note's instruction (polite and filler words aside) must begin with the
//! command's words (`fix the pipeline`, `please allow test changes`, `make CI green`) and say
//! little else; a long instruction that happens to say "review" or "fix the build" is a change
//! request, and the change stages read it whole. Languages written without spaces match the
//! command's words anywhere in a short instruction.
//!
//! The short commands are stricter still: in a spaced language only the words of the command and
//! a few that name what it acts on ("stop the job", "proceed with the plan") may follow it; in the
//! others a note may hold little besides the command's words, and no Latin letters or digits, so
//! "停止使用unwrap" (stop using unwrap) stays a change request.
//!
//! Each language has its own words, in one table (`words.rs`); a test holds every language of the
//! prompts to having all of them.

mod words;

use super::instruction::instruction;
#[cfg(test)]
use crate::config::Language;
use words::{Phrase, WORDS, Words};

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Review the merge request ("@agent review this").
    Review,
    /// Fix the failed pipeline ("@agent fix the pipeline", "make CI green").
    FixPipeline,
    /// Fix the failed pipeline, and let the fix change tests and CI configuration in ways the
    /// guard would otherwise reject ("@agent allow test changes").
    AllowTestChanges,
    /// Post a plan and push nothing ("@agent plan").
    Plan,
    /// Run the stored plan ("@agent proceed").
    Proceed,
    /// Cancel the running job's pipeline ("@agent stop").
    Stop,
    /// Run the last failed request on this issue or merge request again ("@agent retry").
    Retry,
    /// List the commands ("@agent help").
    Help,
    /// Clear the project's review suppressions ("@agent forget suppressions").
    ForgetSuppressions,
    /// Work through the merge request's unresolved threads ("@agent address the review comments").
    AddressThreads,
    /// Change the code as the note says.
    Change,
}

impl Intent {
    /// Every intent a note can carry.
    pub const ALL: [Intent; 11] = [
        Self::Review,
        Self::FixPipeline,
        Self::AllowTestChanges,
        Self::Plan,
        Self::Proceed,
        Self::Stop,
        Self::Retry,
        Self::Help,
        Self::ForgetSuppressions,
        Self::AddressThreads,
        Self::Change,
    ];
}

/// Words a spaced command may carry besides its own: politeness, articles, pronouns.
const FILLER: &[&str] = &[
    "please", "pls", "plz", "kindly", "can", "could", "would", "will", "you", "hey", "hi", "the", "this", "that", "a",
    "an", "my", "our", "its", "mr", "again", "now", "just", "go", "ahead", "and", "for", "me", "us", "thanks", "thank",
    "failing", "failed", "broken", "red", "to",
];
/// "make the pipeline green": a leading verb and a closing word that ask for a fix too.
const MAKE: &[&str] = &["make", "get"];
const GREEN: &[&str] = &["green", "pass", "passing", "work", "working"];
/// Words after "allow test" that name the change.
const CHANGES: &[&str] = &["change", "changes", "changing", "edit", "edits", "modification", "modifications"];

/// Words that may follow a short command in a spaced language, besides the command's own: what it
/// acts on.
const COMMAND_OBJECTS: &[&str] = &[
    "job", "jobs", "run", "request", "last", "it", "work", "first", "here", "with", "plan", "one", "on", "in", "issue",
    "list", "of", "from",
];
/// Words that may stand anywhere in a short command without counting: "address all open threads".
const QUALIFIERS: &[&str] = &["all", "open", "unresolved", "current", "remaining", "outstanding", "every", "each"];
/// Of those, a short command carries at most this many.
const MAX_COMMAND_OBJECTS: usize = 3;
/// In a language written without spaces, a short command's note holds at most this many characters
/// besides the command's words (whitespace and punctuation aside).
const MAX_UNSPACED_REST: usize = 12;

/// A review request has at most this many words.
const MAX_REVIEW_WORDS: usize = 6;
/// A fix request (or an allowance) has at most this many words.
const MAX_FIX_WORDS: usize = 8;
/// A review word counts among this many first words (spaced languages).
const REVIEW_WORD_WITHIN: usize = 3;
/// Words a spaced command may carry after its own, filler aside.
const MAX_TRAILING_WORDS: usize = 2;

/// What `body`, a note that mentions `agent_username`, asks for.
pub fn intent(body: &str, agent_username: &str) -> Intent {
    let text = instruction(body, agent_username).to_lowercase();
    let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).collect();
    let command: Vec<&str> = words.iter().copied().filter(|word| !FILLER.contains(word)).collect();
    if let Some(intent) = WORDS.iter().find_map(|lang| short_command(&text, &command, lang)) {
        return intent;
    }
    let review = WORDS.iter().any(|lang| {
        if lang.spaced {
            words.iter().take(REVIEW_WORD_WITHIN).any(|word| lang.review.contains(word))
        } else {
            lang.review.iter().any(|word| text.contains(word))
        }
    });
    if review && words.len() <= MAX_REVIEW_WORDS {
        return Intent::Review;
    }
    if words.len() > MAX_FIX_WORDS {
        return Intent::Change;
    }
    let contains = |list: &[&str]| list.iter().any(|word| text.contains(word));
    for lang in WORDS {
        let (allow, fix) = if lang.spaced {
            (allowance(&command, lang), fix_request(&command, lang))
        } else {
            (contains(lang.allow) && contains(lang.tests), contains(lang.ci) && contains(lang.fix))
        };
        if allow {
            return Intent::AllowTestChanges;
        }
        if fix {
            return Intent::FixPipeline;
        }
    }
    Intent::Change
}

/// The first of `lang`'s short commands that `text` (its words `command`, filler aside) says.
fn short_command(text: &str, command: &[&str], lang: &Words) -> Option<Intent> {
    let said = |phrase: &Phrase| {
        let positions: Vec<Vec<&str>> = phrase.split(" + ").map(|words| words.split('|').collect()).collect();
        if lang.spaced {
            let command: Vec<&str> = command.iter().copied().filter(|word| !QUALIFIERS.contains(word)).collect();
            let own = |word: &&str| positions.iter().any(|alternatives| alternatives.contains(word));
            command.len() >= positions.len()
                && positions.iter().zip(&command).all(|(alternatives, word)| alternatives.contains(word))
                && command[positions.len()..].iter().all(|word| own(word) || COMMAND_OBJECTS.contains(word))
                && command[positions.len()..].iter().filter(|word| !own(word)).count() <= MAX_COMMAND_OBJECTS
        } else {
            let mut rest = text.to_owned();
            for alternatives in &positions {
                let Some(word) = alternatives.iter().find(|word| rest.contains(**word)) else { return false };
                rest = rest.replacen(word, "", 1);
            }
            let rest: Vec<char> = rest.chars().filter(|c| c.is_alphanumeric() || is_combining(*c)).collect();
            rest.len() <= MAX_UNSPACED_REST && !rest.iter().any(char::is_ascii_alphanumeric)
        }
    };
    lang.commands.iter().find(|(_, phrases)| phrases.iter().any(said)).map(|(intent, _)| *intent)
}

/// Vowel signs and viramas of the Indic and Thai scripts, which are not alphanumeric on their own
/// but are part of a word's letters.
fn is_combining(c: char) -> bool {
    matches!(c, '\u{0900}'..='\u{097F}' | '\u{0E00}'..='\u{0E7F}')
}

/// `allow test changes`, `permit tests`: the command's words first, little after.
fn allowance(command: &[&str], lang: &Words) -> bool {
    match command {
        [allow, tests, rest @ ..] if lang.allow.contains(allow) && lang.tests.contains(tests) => {
            let rest = match rest.first() {
                Some(word) if CHANGES.contains(word) => &rest[1..],
                _ => rest,
            };
            rest.len() <= MAX_TRAILING_WORDS
        }
        _ => false,
    }
}

/// `fix the pipeline`, `repair CI`, `make the pipeline green`: the command's words first.
fn fix_request(command: &[&str], lang: &Words) -> bool {
    match command {
        [fix, ci, rest @ ..] if lang.fix.contains(fix) && lang.ci.contains(ci) => rest.len() <= MAX_TRAILING_WORDS,
        [make, ci, green, rest @ ..] if MAKE.contains(make) && lang.ci.contains(ci) && GREEN.contains(green) => {
            rest.len() <= MAX_TRAILING_WORDS
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT: &str = "copilot-agent";

    fn of(text: &str) -> Intent {
        intent(&format!("@{AGENT} {text}"), AGENT)
    }

    #[test]
    fn every_language_has_every_intent() {
        for language in Language::ALL {
            let words = WORDS.iter().find(|words| words.language == language);
            let words = words.unwrap_or_else(|| panic!("no intent words for `{}`", language.code()));
            assert!(!words.review.is_empty() && !words.ci.is_empty() && !words.fix.is_empty(), "{}", language.code());
            for expected in Intent::ALL.into_iter().filter(|intent| *intent != Intent::Change) {
                let examples: Vec<_> = words.examples.iter().filter(|(intent, _)| *intent == expected).collect();
                assert!(!examples.is_empty(), "{}: no example of {expected:?}", language.code());
                for (_, example) in examples {
                    assert_eq!(of(example), expected, "{}: {example}", language.code());
                }
            }
        }
        assert_eq!(WORDS.len(), Language::ALL.len(), "one table entry per language");
    }

    #[test]
    fn review_requests_are_told_apart_from_change_requests() {
        assert_eq!(of("review this"), Intent::Review);
        assert_eq!(of("please review"), Intent::Review);
        assert_eq!(of("re-review please"), Intent::Review);
        assert_eq!(of("rename the review module to audit and update every caller"), Intent::Change);
        assert_eq!(of("add a --verbose flag"), Intent::Change);
    }

    #[test]
    fn requests_to_fix_the_pipeline_are_told_apart() {
        assert_eq!(of("fix the pipeline"), Intent::FixPipeline);
        assert_eq!(of("please fix CI"), Intent::FixPipeline);
        assert_eq!(of("make the pipeline green"), Intent::FixPipeline);
        assert_eq!(of("修复流水线"), Intent::FixPipeline);
        assert_eq!(of("修复登录"), Intent::Change);
        assert_eq!(of("fix the off-by-one in parse"), Intent::Change);
        assert_eq!(
            of("fix the build script so it also runs the integration tests on every push to main"),
            Intent::Change
        );
        // Keywords alone are not a command: the command leads the note.
        assert_eq!(of("the pipeline fix in !3 broke login"), Intent::Change);
        assert_eq!(of("why did ci fix nothing"), Intent::Change);
        assert_eq!(of("could you fix the failing pipeline please"), Intent::FixPipeline);
    }

    #[test]
    fn allowing_test_changes_is_a_command_of_its_own() {
        assert_eq!(of("allow test changes"), Intent::AllowTestChanges);
        assert_eq!(of("please allow test changes on this MR"), Intent::AllowTestChanges);
        assert_eq!(of("I allow the test changes"), Intent::Change);
        assert_eq!(of("allow tests to use the network and add a mock server for the payment API"), Intent::Change);
        assert_eq!(of("允许修改测试"), Intent::AllowTestChanges);
    }

    #[test]
    fn short_commands_say_little_else() {
        assert_eq!(of("stop"), Intent::Stop);
        assert_eq!(of("please stop the job now"), Intent::Stop);
        assert_eq!(of("stop using unwrap in the parser"), Intent::Change);
        assert_eq!(of("plan"), Intent::Plan);
        assert_eq!(of("make a plan first"), Intent::Plan);
        assert_eq!(of("plan the migration to tokio 2 and split the crate"), Intent::Change);
        assert_eq!(of("proceed with the plan"), Intent::Proceed);
        assert_eq!(of("continue the refactoring in parser.rs"), Intent::Change);
        assert_eq!(of("retry the last request"), Intent::Retry);
        assert_eq!(of("re-run"), Intent::Retry);
        assert_eq!(of("re-review"), Intent::Review);
        assert_eq!(of("help"), Intent::Help);
        assert_eq!(of("help me fix the login bug"), Intent::Change);
        assert_eq!(of("forget the suppressions"), Intent::ForgetSuppressions);
        assert_eq!(of("address the review comments"), Intent::AddressThreads);
        assert_eq!(of("please fix the open review threads"), Intent::AddressThreads);
        assert_eq!(of("address the review comments and also rename the crate"), Intent::Change);
        // The older commands keep their meaning.
        assert_eq!(of("fix the pipeline"), Intent::FixPipeline);
        assert_eq!(of("review this"), Intent::Review);
    }

    #[test]
    fn unspaced_commands_hold_little_besides_their_words() {
        assert_eq!(of("停止"), Intent::Stop);
        assert_eq!(of("停止使用unwrap"), Intent::Change);
        assert_eq!(of("取消登录按钮在移动端的禁用状态并补上测试"), Intent::Change);
        assert_eq!(of("按计划执行"), Intent::Proceed);
        assert_eq!(of("計画を実行してください"), Intent::Proceed);
        assert_eq!(of("रोकें"), Intent::Stop);
    }
}
