//! Whether a person's reply in one of the agent's finding threads says the finding is wrong
//! ("false positive", "not an issue"), so the review learns not to report its kind again.
//!
//! A reply is a verdict by its shape, not by words found anywhere: its first sentence, after the
//! agent's mention and a short lead-in ("this is", "这是"), must begin with one of the phrases
//! and must not be a question. "Is this a false positive?" and "I don't think this is a false
//! positive" discuss; "False positive: `x` is read by the macro" decides. English phrases count
//! in every language, since people mix them in.
//!
//! Each language has its own phrases, in one table; a test holds every prompt language to
//! having them.

use crate::config::Language;

/// The phrases of one language that call a finding wrong.
#[derive(Debug)]
struct Phrases {
    #[cfg_attr(not(test), expect(dead_code, reason = "the completeness test reads it"))]
    language: Language,
    /// Lead-ins a verdict may start with ("this is"), lowercase.
    lead_ins: &'static [&'static str],
    /// The verdicts, lowercase.
    wrong: &'static [&'static str],
    /// One verdict and one reply that only discusses, for the completeness test.
    #[cfg_attr(not(test), expect(dead_code, reason = "the completeness test reads it"))]
    examples: [&'static str; 2],
}

const PHRASES: &[Phrases] = &[
    Phrases {
        language: Language::En,
        lead_ins: &["this is ", "this is a ", "it's ", "it is ", "that's ", "that is ", "looks like ", "i think "],
        wrong: &[
            "false positive",
            "a false positive",
            "false alarm",
            "not an issue",
            "not a problem",
            "not a bug",
            "no issue",
            "wrong finding",
            "this finding is wrong",
        ],
        examples: ["False positive: `x` is read by the macro.", "Is this a false positive? Let me check."],
    },
    Phrases {
        language: Language::Zh,
        lead_ins: &["这是", "这个是", "这里是", "这不是", "这个"],
        wrong: &["误报", "不是问题", "没有问题", "这不是问题"],
        examples: ["误报，这个变量在宏里用到了。", "这是误报吗？我看一下。"],
    },
    Phrases {
        language: Language::Ja,
        lead_ins: &["これは", "それは", "この指摘は"],
        wrong: &["誤検知", "誤検出", "問題ありません", "問題ない", "問題なし"],
        examples: ["誤検知です。マクロで使われています。", "これは誤検知でしょうか？確認します。"],
    },
    Phrases {
        language: Language::Ko,
        lead_ins: &["이건 ", "이것은 ", "이 지적은 "],
        wrong: &["오탐", "문제 없음", "문제없음", "문제가 아닙니다", "문제 없습니다", "문제없습니다"],
        examples: ["오탐입니다. 매크로에서 사용됩니다.", "이건 오탐인가요? 확인해 볼게요."],
    },
    Phrases {
        language: Language::Hi,
        lead_ins: &["यह ", "ये "],
        wrong: &["गलत चेतावनी", "ग़लत चेतावनी", "कोई समस्या नहीं", "समस्या नहीं है", "गलत पहचान"],
        examples: ["गलत चेतावनी: यह चर मैक्रो में पढ़ा जाता है।", "क्या यह गलत चेतावनी है? मैं देखता हूँ।"],
    },
    Phrases {
        language: Language::Th,
        lead_ins: &["นี่คือ", "นี่เป็น", "อันนี้", "อันนี้เป็น"],
        wrong: &["ผลบวกลวง", "แจ้งเตือนผิด", "ไม่ใช่ปัญหา", "ไม่มีปัญหา"],
        examples: ["ผลบวกลวง ตัวแปรนี้ถูกใช้ในมาโคร", "นี่คือผลบวกลวงหรือเปล่า? ขอตรวจสอบก่อน"],
    },
];

/// Characters that end a sentence, in every prompt language.
const SENTENCE_ENDS: &[char] = &['.', '!', '?', ':', ';', '\n', '。', '！', '？', '：', '；', '।', '，', ','];

/// Whether `body`, a reply to one of the agent's findings, says the finding is wrong.
pub fn says_finding_is_wrong(body: &str, agent_username: &str) -> bool {
    let text = super::instruction::instruction(body, agent_username).to_lowercase();
    let text = text.trim_start_matches(|c: char| !c.is_alphanumeric());
    let end = text.find(SENTENCE_ENDS).unwrap_or(text.len());
    let first = &text[..end];
    // "Is this a false positive?", "误报吗？": a question discusses.
    let question = text[end..].starts_with(['?', '？']) || first.trim_end().ends_with(['吗', 'か', '까']);
    if question || first.is_empty() {
        return false;
    }
    PHRASES.iter().any(|lang| {
        let starts = |text: &str| lang.wrong.iter().any(|phrase| text.starts_with(phrase));
        starts(first) || lang.lead_ins.iter().any(|lead| first.strip_prefix(lead).is_some_and(starts))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrong(text: &str) -> bool {
        says_finding_is_wrong(text, "copilot-agent")
    }

    #[test]
    fn every_language_has_verdicts_that_count_and_discussion_that_does_not() {
        for language in Language::ALL {
            let lang = PHRASES.iter().find(|lang| lang.language == language).unwrap();
            assert!(!lang.wrong.is_empty(), "{language}");
            let [verdict, discussion] = lang.examples;
            assert!(wrong(verdict), "{language}: {verdict}");
            assert!(!wrong(discussion), "{language}: {discussion}");
        }
        assert_eq!(PHRASES.len(), Language::ALL.len(), "one table entry per language");
    }

    #[test]
    fn a_verdict_leads_the_reply_and_a_mention_or_lead_in_does_not_hide_it() {
        for verdict in [
            "false positive",
            "False positive.",
            "@copilot-agent false positive, the value is checked above",
            "Not an issue: the caller checks it.",
            "This is a false positive; `d` is used below.",
            "👎 not a bug",
            "这是误报",
            "これは誤検知です",
            "이건 오탐입니다",
            "यह गलत चेतावनी है",
            "อันนี้ไม่ใช่ปัญหา",
        ] {
            assert!(wrong(verdict), "{verdict}");
        }
    }

    #[test]
    fn replies_that_discuss_are_not_verdicts() {
        for discussion in [
            "Is this a false positive?",
            "I don't think this is a false positive.",
            "Good catch, fixing it. Not an issue for the release though.",
            "Could be a false positive, will check",
            "Why is this flagged? It looks fine to me",
            "这是误报吗？",
            "これは誤検知ですか？",
            "",
            "@copilot-agent",
        ] {
            assert!(!wrong(discussion), "{discussion}");
        }
    }
}
