//! The words that put a task into a category or say how big it is, in each prompt language.
//!
//! Every list is checked whatever the configured language is: people mix languages (a Hindi
//! issue says "API", a Japanese one says "migration"). ASCII words match at a word start; words
//! of four letters or fewer must be the whole word (an `s` plural allowed), so `ui` does not
//! match `build` and `form` does not match `format`. Other scripts match as substrings, since
//! Chinese, Japanese and Thai do not separate words with spaces.

use super::Category;

/// One category's words, by language.
pub(super) struct Words {
    pub(super) category: Category,
    pub(super) en: &'static [&'static str],
    pub(super) zh: &'static [&'static str],
    pub(super) ja: &'static [&'static str],
    pub(super) ko: &'static [&'static str],
    pub(super) hi: &'static [&'static str],
    pub(super) th: &'static [&'static str],
}

impl Words {
    pub(super) fn all(&self) -> impl Iterator<Item = &'static str> {
        [self.en, self.zh, self.ja, self.ko, self.hi, self.th].into_iter().flatten().copied()
    }
}

pub(super) const CATEGORIES: &[Words] = &[
    Words {
        category: Category::Api,
        en: &[
            "api",
            "endpoint",
            "rest",
            "graphql",
            "grpc",
            "webhook",
            "route",
            "routing",
            "http",
            "openapi",
            "swagger",
            "status code",
            "request handler",
            "response body",
            "query parameter",
        ],
        zh: &["接口", "端点", "路由", "请求", "响应", "状态码"],
        ja: &["エンドポイント", "ルーティング", "リクエスト", "レスポンス", "ステータスコード"],
        ko: &["엔드포인트", "라우트", "라우팅", "요청", "응답", "상태 코드"],
        hi: &["एपीआई", "एंडपॉइंट", "अनुरोध", "प्रतिक्रिया", "रूट"],
        th: &["เอพีไอ", "เอนด์พอยต์", "คำขอ", "การตอบกลับ", "เส้นทาง"],
    },
    Words {
        category: Category::Database,
        en: &[
            "database",
            "db",
            "sql",
            "migration",
            "migrate",
            "schema",
            "table",
            "orm",
            "postgres",
            "mysql",
            "sqlite",
            "mongodb",
            "redis",
            "column",
            "transaction",
            "foreign key",
        ],
        zh: &["数据库", "迁移", "表结构", "数据表", "查询", "字段", "索引", "事务"],
        ja: &["データベース", "マイグレーション", "スキーマ", "テーブル", "クエリ", "カラム", "トランザクション"],
        ko: &["데이터베이스", "마이그레이션", "스키마", "테이블", "쿼리", "컬럼", "트랜잭션"],
        hi: &["डेटाबेस", "माइग्रेशन", "स्कीमा", "तालिका", "टेबल", "क्वेरी", "कॉलम"],
        th: &["ฐานข้อมูล", "ตาราง", "สคีมา", "คิวรี", "การย้ายข้อมูล", "คอลัมน์"],
    },
    Words {
        category: Category::Ui,
        en: &[
            "ui",
            "ux",
            "frontend",
            "front-end",
            "button",
            "page",
            "component",
            "css",
            "style",
            "layout",
            "modal",
            "dialog",
            "form",
            "screen",
            "dark mode",
            "responsive",
            "icon",
            "tooltip",
            "menu",
        ],
        zh: &["界面", "前端", "按钮", "页面", "组件", "样式", "布局", "弹窗", "表单", "菜单"],
        ja: &[
            "画面",
            "フロントエンド",
            "ボタン",
            "ページ",
            "コンポーネント",
            "スタイル",
            "レイアウト",
            "ダイアログ",
            "フォーム",
            "メニュー",
        ],
        ko: &["화면", "프론트엔드", "버튼", "페이지", "컴포넌트", "스타일", "레이아웃", "대화상자", "메뉴"],
        hi: &["यूआई", "बटन", "पेज", "पृष्ठ", "फ्रंटएंड", "लेआउट", "फ़ॉर्म", "मेनू", "स्क्रीन"],
        th: &["หน้าจอ", "ปุ่ม", "หน้าเว็บ", "ส่วนติดต่อผู้ใช้", "เลย์เอาต์", "ฟอร์ม", "คอมโพเนนต์", "เมนู"],
    },
    Words {
        category: Category::Security,
        en: &[
            "security",
            "secure",
            "vulnerability",
            "vulnerabilities",
            "auth",
            "authentication",
            "authorization",
            "login",
            "password",
            "token",
            "secret",
            "permission",
            "xss",
            "csrf",
            "injection",
            "sanitize",
            "encrypt",
            "tls",
            "ssl",
            "cve",
            "jwt",
            "oauth",
            "rbac",
            "access control",
        ],
        zh: &["安全", "漏洞", "认证", "鉴权", "授权", "登录", "密码", "令牌", "权限", "加密", "注入"],
        ja: &[
            "セキュリティ",
            "脆弱性",
            "認証",
            "認可",
            "ログイン",
            "パスワード",
            "トークン",
            "権限",
            "暗号化",
            "インジェクション",
        ],
        ko: &["보안", "취약점", "인증", "인가", "로그인", "비밀번호", "토큰", "권한", "암호화", "인젝션"],
        hi: &["सुरक्षा", "भेद्यता", "प्रमाणीकरण", "लॉगिन", "पासवर्ड", "टोकन", "अनुमति", "एन्क्रिप्शन"],
        th: &["ความปลอดภัย", "ช่องโหว่", "ยืนยันตัวตน", "เข้าสู่ระบบ", "รหัสผ่าน", "โทเค็น", "สิทธิ์", "เข้ารหัส"],
    },
    Words {
        category: Category::Performance,
        en: &[
            "performance",
            "slow",
            "slowness",
            "latency",
            "speed up",
            "faster",
            "optimize",
            "optimise",
            "optimization",
            "memory leak",
            "cpu",
            "throughput",
            "cache",
            "caching",
            "bottleneck",
            "profiling",
            "n+1",
        ],
        zh: &["性能", "慢", "延迟", "优化", "内存泄漏", "吞吐", "缓存", "瓶颈", "加速"],
        ja: &[
            "パフォーマンス",
            "性能",
            "遅い",
            "遅延",
            "最適化",
            "メモリリーク",
            "スループット",
            "キャッシュ",
            "ボトルネック",
            "高速化",
        ],
        ko: &["성능", "느림", "느린", "지연", "최적화", "메모리 누수", "처리량", "캐시", "병목"],
        hi: &["प्रदर्शन", "धीमा", "धीमी", "विलंब", "अनुकूलन", "कैश", "मेमोरी लीक"],
        th: &["ประสิทธิภาพ", "ทำงานช้า", "โหลดช้า", "ช้าลง", "ช้ามาก", "ความหน่วง", "แคช", "หน่วยความจำรั่ว", "คอขวด"],
    },
];

/// Words that say a task reaches across the code: it is at least medium.
pub(super) const BROAD_SCOPE: &[&str] = &[
    // en
    "refactor",
    "rewrite",
    "redesign",
    "overhaul",
    "architecture",
    "across the codebase",
    "entire",
    "every module",
    // zh
    "重构",
    "重写",
    "重新设计",
    "架构",
    "整个",
    // ja
    "リファクタ",
    "書き直",
    "再設計",
    "アーキテクチャ",
    "全体",
    // ko
    "리팩터",
    "리팩토링",
    "재작성",
    "재설계",
    "아키텍처",
    "전체",
    // hi
    "रीफैक्टर",
    "पुनर्लेखन",
    "पुनः डिज़ाइन",
    "आर्किटेक्चर",
    "पूरे",
    // th
    "รีแฟกเตอร์",
    "ปรับโครงสร้าง",
    "เขียนใหม่",
    "ออกแบบใหม่",
    "สถาปัตยกรรม",
    "ทั้งระบบ",
];

/// Words that say a task is a trivial edit (a typo, one line, a rename).
pub(super) const TRIVIAL: &[&str] = &[
    // en
    "typo",
    "one-line",
    "one line",
    "single line",
    "spelling",
    "rename",
    "misspelled",
    "wording",
    // zh
    "错别字",
    "拼写",
    "一行",
    "重命名",
    "笔误",
    // ja
    "誤字",
    "タイポ",
    "1行",
    "一行",
    "名前を変更",
    "スペルミス",
    // ko
    "오타",
    "한 줄",
    "이름 변경",
    "철자",
    // hi
    "टाइपो",
    "वर्तनी",
    "एक पंक्ति",
    "एक लाइन",
    // th
    "คำผิด",
    "สะกดผิด",
    "บรรทัดเดียว",
    "พิมพ์ผิด",
];

/// Headings that open a list of acceptance criteria.
pub(super) const CRITERIA_HEADINGS: &[&str] = &[
    // en
    "acceptance criteria",
    "done when",
    "definition of done",
    "success criteria",
    // zh
    "验收标准",
    "验收条件",
    "完成标准",
    "完成条件",
    // ja
    "受け入れ基準",
    "受入基準",
    "受け入れ条件",
    "完了条件",
    "完了の定義",
    // ko
    "인수 조건",
    "인수 기준",
    "수용 기준",
    "승인 기준",
    "완료 조건",
    "완료 기준",
    // hi
    "स्वीकृति मानदंड",
    "स्वीकार्यता मानदंड",
    "पूरा होने की शर्तें",
    "पूर्ण तब",
    // th
    "เกณฑ์การยอมรับ",
    "เงื่อนไขการยอมรับ",
    "เสร็จเมื่อ",
    "เงื่อนไขความสำเร็จ",
];

/// Whether `word` occurs in `text` (already lowercased) under the rules above.
pub(super) fn contains(text: &str, word: &str) -> bool {
    if !word.is_ascii() {
        return text.contains(word);
    }
    let bytes = text.as_bytes();
    let whole_word = word.len() <= 4;
    text.match_indices(word).any(|(start, _)| {
        let end = start + word.len();
        let starts_word = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let ends_word = match bytes.get(end) {
            None => true,
            Some(b's') => bytes.get(end + 1).is_none_or(|next| !next.is_ascii_alphanumeric()),
            Some(next) => !next.is_ascii_alphanumeric(),
        };
        starts_word && (!whole_word || ends_word)
    })
}
