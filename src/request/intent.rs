//! What a note on a merge request asks for: a review, a fix of the red pipeline, or (anything
//! else) a change. Short requests only: a long instruction that happens to say "review" or "fix
//! the build" is a change request, and the change stages read it whole.
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
    /// Change the code as the note says.
    Change,
}

/// The words of one language that mark an intent.
#[derive(Debug)]
struct Words {
    #[cfg_attr(not(test), expect(dead_code, reason = "the completeness test reads it"))]
    language: Language,
    /// Whether the language separates words with spaces: then a word must match whole (and a
    /// review word must come early); otherwise a word matches anywhere in the text.
    spaced: bool,
    review: &'static [&'static str],
    /// A fix request names CI with one of `ci` and asks with one of `fix`.
    ci: &'static [&'static str],
    fix: &'static [&'static str],
    /// One request of each kind in this language, for the completeness test.
    #[cfg_attr(not(test), expect(dead_code, reason = "the completeness test reads it"))]
    examples: [&'static str; 2],
}

const WORDS: &[Words] = &[
    Words {
        language: Language::En,
        spaced: true,
        review: &["review", "rereview", "re"],
        ci: &["pipeline", "pipelines", "ci", "build", "job", "jobs"],
        fix: &["fix", "repair", "green", "debug", "unbreak"],
        examples: ["review this", "please fix the pipeline"],
    },
    Words {
        language: Language::Zh,
        spaced: false,
        review: &["评审", "审查", "審查"],
        ci: &["流水线"],
        fix: &["修复"],
        examples: ["评审一下", "修复流水线"],
    },
    Words {
        language: Language::Ja,
        spaced: false,
        review: &["レビュー"],
        ci: &["パイプライン"],
        fix: &["修正", "直して"],
        examples: ["レビューしてください", "パイプラインを修正して"],
    },
    Words {
        language: Language::Ko,
        spaced: false,
        review: &["리뷰"],
        ci: &["파이프라인"],
        fix: &["수정", "고쳐"],
        examples: ["리뷰해 주세요", "파이프라인을 수정해 주세요"],
    },
    Words {
        language: Language::Hi,
        spaced: false,
        review: &["समीक्षा"],
        ci: &["पाइपलाइन"],
        fix: &["ठीक"],
        examples: ["समीक्षा करें", "पाइपलाइन ठीक करें"],
    },
    Words {
        language: Language::Th,
        spaced: false,
        review: &["รีวิว"],
        ci: &["ไปป์ไลน์"],
        fix: &["แก้"],
        examples: ["รีวิวหน่อย", "แก้ไขไปป์ไลน์"],
    },
];

/// A review request has at most this many words.
const MAX_REVIEW_WORDS: usize = 6;
/// A fix request has at most this many words.
const MAX_FIX_WORDS: usize = 8;
/// A review word counts among this many first words (spaced languages).
const REVIEW_WORD_WITHIN: usize = 3;

/// What `body`, a note that mentions `agent_username`, asks for.
pub fn intent(body: &str, agent_username: &str) -> Intent {
    let text = instruction(body, agent_username).to_lowercase();
    let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).collect();
    let has = |spaced: bool, list: &[&str], within: usize| {
        if spaced {
            words.iter().take(within).any(|word| list.contains(word))
        } else {
            list.iter().any(|word| text.contains(word))
        }
    };
    let review = WORDS.iter().any(|lang| has(lang.spaced, lang.review, REVIEW_WORD_WITHIN));
    if review && words.len() <= MAX_REVIEW_WORDS {
        return Intent::Review;
    }
    let fix = WORDS.iter().any(|lang| has(lang.spaced, lang.ci, usize::MAX) && has(lang.spaced, lang.fix, usize::MAX));
    if fix && words.len() <= MAX_FIX_WORDS {
        return Intent::FixPipeline;
    }
    Intent::Change
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
            let [review, fix] = words.examples;
            assert_eq!(of(review), Intent::Review, "{}: {review}", language.code());
            assert_eq!(of(fix), Intent::FixPipeline, "{}: {fix}", language.code());
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
    }
}
