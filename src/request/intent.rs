//! What a note on a merge request asks for: a review, a fix of the red pipeline, leave to change
//! tests while fixing it, or (anything else) a change.
//!
//! A command is recognised by its shape, not by keywords found anywhere: in languages that space
//! their words, the note's instruction (polite and filler words aside) must begin with the
//! command's words (`fix the pipeline`, `please allow test changes`, `make CI green`) and say
//! little else; a long instruction that happens to say "review" or "fix the build" is a change
//! request, and the change stages read it whole. Languages written without spaces match the
//! command's words anywhere in a short instruction.
//!
//! Each language has its own words, in one table; a test holds every language of the prompts to
//! having all of them.

use super::instruction::instruction;
use crate::config::Language;

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
    /// Change the code as the note says.
    Change,
}

/// The words of one language that mark an intent.
#[derive(Debug)]
struct Words {
    #[cfg_attr(not(test), expect(dead_code, reason = "the completeness test reads it"))]
    language: Language,
    /// Whether the language separates words with spaces: then commands are read word by word
    /// from the start; otherwise a word matches anywhere in the text.
    spaced: bool,
    review: &'static [&'static str],
    /// A fix request names CI with one of `ci` and asks with one of `fix`.
    ci: &'static [&'static str],
    fix: &'static [&'static str],
    /// "allow test changes": one of `allow`, then one of `tests`.
    allow: &'static [&'static str],
    tests: &'static [&'static str],
    /// One request of each kind in this language, for the completeness test.
    #[cfg_attr(not(test), expect(dead_code, reason = "the completeness test reads it"))]
    examples: [&'static str; 3],
}

const WORDS: &[Words] = &[
    Words {
        language: Language::En,
        spaced: true,
        review: &["review", "rereview", "re"],
        ci: &["pipeline", "pipelines", "ci", "build", "job", "jobs"],
        fix: &["fix", "repair", "debug", "unbreak"],
        allow: &["allow", "permit"],
        tests: &["test", "tests"],
        examples: ["review this", "please fix the pipeline", "allow test changes"],
    },
    Words {
        language: Language::Zh,
        spaced: false,
        review: &["评审", "审查", "審查"],
        ci: &["流水线"],
        fix: &["修复"],
        allow: &["允许"],
        tests: &["测试"],
        examples: ["评审一下", "修复流水线", "允许修改测试"],
    },
    Words {
        language: Language::Ja,
        spaced: false,
        review: &["レビュー"],
        ci: &["パイプライン"],
        fix: &["修正", "直して"],
        allow: &["許可"],
        tests: &["テスト"],
        examples: ["レビューしてください", "パイプラインを修正して", "テストの変更を許可します"],
    },
    Words {
        language: Language::Ko,
        spaced: false,
        review: &["리뷰"],
        ci: &["파이프라인"],
        fix: &["수정", "고쳐"],
        allow: &["허용"],
        tests: &["테스트"],
        examples: ["리뷰해 주세요", "파이프라인을 수정해 주세요", "테스트 변경을 허용합니다"],
    },
    Words {
        language: Language::Hi,
        spaced: false,
        review: &["समीक्षा"],
        ci: &["पाइपलाइन"],
        fix: &["ठीक"],
        allow: &["अनुमति"],
        tests: &["टेस्ट"],
        examples: ["समीक्षा करें", "पाइपलाइन ठीक करें", "टेस्ट बदलने की अनुमति है"],
    },
    Words {
        language: Language::Th,
        spaced: false,
        review: &["รีวิว"],
        ci: &["ไปป์ไลน์"],
        fix: &["แก้"],
        allow: &["อนุญาต"],
        tests: &["ทดสอบ"],
        examples: ["รีวิวหน่อย", "แก้ไขไปป์ไลน์", "อนุญาตให้แก้การทดสอบ"],
    },
];

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
    let command: Vec<&str> = words.iter().copied().filter(|word| !FILLER.contains(word)).collect();
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
            let [review, fix, allow] = words.examples;
            assert_eq!(of(review), Intent::Review, "{}: {review}", language.code());
            assert_eq!(of(fix), Intent::FixPipeline, "{}: {fix}", language.code());
            assert_eq!(of(allow), Intent::AllowTestChanges, "{}: {allow}", language.code());
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
}
