//! The words of each prompt language that mark a command, in one table. A test in the parent
//! module holds every language to having every command, with an example it must recognise.

use super::Intent;
use crate::config::Language;

/// One way of saying a command: its positions separated by ` + `, each position's words by `|`
/// (`"forget|clear + suppressions"`). In a spaced language the positions are the command's first
/// words, in order (filler aside); otherwise each position must occur somewhere in a short note.
pub(super) type Phrase = &'static str;

/// The words of one language that mark an intent.
#[derive(Debug)]
pub(super) struct Words {
    #[cfg_attr(not(test), expect(dead_code, reason = "the completeness test reads it"))]
    pub language: Language,
    /// Whether the language separates words with spaces: then commands are read word by word
    /// from the start; otherwise a word matches anywhere in the text.
    pub spaced: bool,
    /// Commands that say one thing and little else, tried before all others, in this order.
    pub commands: &'static [(Intent, &'static [Phrase])],
    pub review: &'static [&'static str],
    /// A fix request names CI with one of `ci` and asks with one of `fix`.
    pub ci: &'static [&'static str],
    pub fix: &'static [&'static str],
    /// "allow test changes": one of `allow`, then one of `tests`.
    pub allow: &'static [&'static str],
    pub tests: &'static [&'static str],
    /// One request of each intent but [`Intent::Change`] in this language, for the completeness
    /// test.
    #[cfg_attr(not(test), expect(dead_code, reason = "the completeness test reads it"))]
    pub examples: &'static [(Intent, &'static str)],
}

pub(super) const WORDS: &[Words] = &[
    Words {
        language: Language::En,
        spaced: true,
        commands: &[
            (Intent::Help, &["help", "commands"]),
            (Intent::Proceed, &["proceed", "continue", "approve|approved"]),
            (Intent::Plan, &["plan", "make|write|draft|post|propose|show + plan"]),
            (Intent::Stop, &["stop", "cancel", "abort", "halt"]),
            (Intent::Retry, &["retry", "rerun", "re + run"]),
            (Intent::ForgetSuppressions, &["forget|clear|reset|drop + suppressions|suppression"]),
            (
                Intent::AddressThreads,
                &[
                    "address|handle|apply|resolve|fix + review|reviews|comments|comment|threads|thread|feedback|discussions|suggestions",
                ],
            ),
        ],
        review: &["review", "rereview", "re"],
        ci: &["pipeline", "pipelines", "ci", "build", "job", "jobs"],
        fix: &["fix", "repair", "debug", "unbreak"],
        allow: &["allow", "permit"],
        tests: &["test", "tests"],
        examples: &[
            (Intent::Review, "review this"),
            (Intent::FixPipeline, "please fix the pipeline"),
            (Intent::AllowTestChanges, "allow test changes"),
            (Intent::Plan, "plan first"),
            (Intent::Proceed, "proceed"),
            (Intent::Stop, "stop"),
            (Intent::Retry, "retry please"),
            (Intent::Help, "help"),
            (Intent::ForgetSuppressions, "forget suppressions"),
            (Intent::AddressThreads, "address the review comments"),
        ],
    },
    Words {
        language: Language::Zh,
        spaced: false,
        commands: &[
            (Intent::Help, &["帮助", "命令"]),
            (Intent::Proceed, &["继续|执行"]),
            (Intent::Plan, &["计划|方案"]),
            (Intent::Stop, &["停止|取消|停下"]),
            (Intent::Retry, &["重试|再试"]),
            (Intent::ForgetSuppressions, &["忘记|清除|清空 + 抑制|屏蔽"]),
            (Intent::AddressThreads, &["处理|解决|落实 + 意见|评论"]),
        ],
        review: &["评审", "审查", "審查"],
        ci: &["流水线"],
        fix: &["修复"],
        allow: &["允许"],
        tests: &["测试"],
        examples: &[
            (Intent::Review, "评审一下"),
            (Intent::FixPipeline, "修复流水线"),
            (Intent::AllowTestChanges, "允许修改测试"),
            (Intent::Plan, "先出个计划"),
            (Intent::Proceed, "继续"),
            (Intent::Stop, "停止"),
            (Intent::Retry, "重试"),
            (Intent::Help, "帮助"),
            (Intent::ForgetSuppressions, "清除抑制"),
            (Intent::AddressThreads, "处理评审意见"),
        ],
    },
    Words {
        language: Language::Ja,
        spaced: false,
        commands: &[
            (Intent::Help, &["ヘルプ", "コマンド"]),
            (Intent::Proceed, &["続行|進めて|実行"]),
            (Intent::Plan, &["計画|プラン"]),
            (Intent::Stop, &["停止|中止|止めて"]),
            (Intent::Retry, &["再試行|リトライ|やり直"]),
            (Intent::ForgetSuppressions, &["忘れ|消去|クリア|解除 + 抑制"]),
            (Intent::AddressThreads, &["対応|反映 + コメント|指摘"]),
        ],
        review: &["レビュー"],
        ci: &["パイプライン"],
        fix: &["修正", "直して"],
        allow: &["許可"],
        tests: &["テスト"],
        examples: &[
            (Intent::Review, "レビューしてください"),
            (Intent::FixPipeline, "パイプラインを修正して"),
            (Intent::AllowTestChanges, "テストの変更を許可します"),
            (Intent::Plan, "計画を立ててください"),
            (Intent::Proceed, "続行してください"),
            (Intent::Stop, "停止してください"),
            (Intent::Retry, "再試行してください"),
            (Intent::Help, "ヘルプ"),
            (Intent::ForgetSuppressions, "抑制を解除して"),
            (Intent::AddressThreads, "レビューコメントに対応して"),
        ],
    },
    Words {
        language: Language::Ko,
        spaced: false,
        commands: &[
            (Intent::Help, &["도움말", "명령어"]),
            (Intent::Proceed, &["진행|계속"]),
            (Intent::Plan, &["계획"]),
            (Intent::Stop, &["중지|멈춰|취소"]),
            (Intent::Retry, &["재시도|다시 시도"]),
            (Intent::ForgetSuppressions, &["잊어|삭제|초기화|지워 + 억제"]),
            (Intent::AddressThreads, &["반영|처리|해결 + 코멘트|의견|댓글"]),
        ],
        review: &["리뷰"],
        ci: &["파이프라인"],
        fix: &["수정", "고쳐"],
        allow: &["허용"],
        tests: &["테스트"],
        examples: &[
            (Intent::Review, "리뷰해 주세요"),
            (Intent::FixPipeline, "파이프라인을 수정해 주세요"),
            (Intent::AllowTestChanges, "테스트 변경을 허용합니다"),
            (Intent::Plan, "계획을 세워 주세요"),
            (Intent::Proceed, "진행해 주세요"),
            (Intent::Stop, "중지해 주세요"),
            (Intent::Retry, "재시도해 주세요"),
            (Intent::Help, "도움말"),
            (Intent::ForgetSuppressions, "억제를 초기화해 주세요"),
            (Intent::AddressThreads, "리뷰 코멘트를 반영해 주세요"),
        ],
    },
    Words {
        language: Language::Hi,
        spaced: false,
        commands: &[
            (Intent::Help, &["मदद|सहायता"]),
            (Intent::Proceed, &["आगे बढ़|जारी रखें"]),
            (Intent::Plan, &["योजना"]),
            (Intent::Stop, &["रोकें|रोको|रद्द"]),
            (Intent::Retry, &["दोबारा|फिर से"]),
            (Intent::ForgetSuppressions, &["भूल|हटा|साफ + दमन|दबाए"]),
            (Intent::AddressThreads, &["संबोधित|हल|लागू + टिप्पणि|टिप्पणी"]),
        ],
        review: &["समीक्षा"],
        ci: &["पाइपलाइन"],
        fix: &["ठीक"],
        allow: &["अनुमति"],
        tests: &["टेस्ट"],
        examples: &[
            (Intent::Review, "समीक्षा करें"),
            (Intent::FixPipeline, "पाइपलाइन ठीक करें"),
            (Intent::AllowTestChanges, "टेस्ट बदलने की अनुमति है"),
            (Intent::Plan, "पहले योजना बनाएं"),
            (Intent::Proceed, "आगे बढ़ें"),
            (Intent::Stop, "रोकें"),
            (Intent::Retry, "दोबारा चलाएं"),
            (Intent::Help, "मदद"),
            (Intent::ForgetSuppressions, "दमन भूल जाओ"),
            (Intent::AddressThreads, "टिप्पणियों को संबोधित करें"),
        ],
    },
    Words {
        language: Language::Th,
        spaced: false,
        commands: &[
            (Intent::Help, &["ช่วยเหลือ|คำสั่ง"]),
            (Intent::Proceed, &["ดำเนินการต่อ|ทำต่อ"]),
            (Intent::Plan, &["แผน"]),
            (Intent::Stop, &["หยุด|ยกเลิก"]),
            (Intent::Retry, &["ลองใหม่|ลองอีกครั้ง"]),
            (Intent::ForgetSuppressions, &["ลืม|ล้าง + ระงับ"]),
            (Intent::AddressThreads, &["แก้ตาม|จัดการ + ความคิดเห็น|คอมเมนต์"]),
        ],
        review: &["รีวิว"],
        ci: &["ไปป์ไลน์"],
        fix: &["แก้"],
        allow: &["อนุญาต"],
        tests: &["ทดสอบ"],
        examples: &[
            (Intent::Review, "รีวิวหน่อย"),
            (Intent::FixPipeline, "แก้ไขไปป์ไลน์"),
            (Intent::AllowTestChanges, "อนุญาตให้แก้การทดสอบ"),
            (Intent::Plan, "วางแผนก่อน"),
            (Intent::Proceed, "ดำเนินการต่อ"),
            (Intent::Stop, "หยุด"),
            (Intent::Retry, "ลองใหม่"),
            (Intent::Help, "คำสั่ง"),
            (Intent::ForgetSuppressions, "ล้างการระงับ"),
            (Intent::AddressThreads, "แก้ตามความคิดเห็นรีวิว"),
        ],
    },
];
