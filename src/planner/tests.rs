//! Table tests of the planner in every prompt language: categories, acceptance criteria,
//! mentioned paths, complexity and the stages that follow.

use super::*;

fn tested_project() -> ProjectTraits {
    ProjectTraits {
        has_test_framework: true,
        test_command: Some("cargo test".to_owned()),
        languages: vec!["Rust".to_owned()],
        frameworks: vec!["axum".to_owned()],
        test_frameworks: vec!["cargo test".to_owned()],
        files: 40,
    }
}

fn stage_names(plan: &Plan) -> Vec<&'static str> {
    plan.stages.iter().map(|planned| planned.stage.as_str()).collect()
}

const ORCHESTRATED: PlanOptions = PlanOptions::issue(true);

#[test]
fn a_one_line_fix_is_two_stages_in_every_language() {
    let cases = [
        ("en", "Fix typo in README.md: 'recieve' should be 'receive'."),
        ("zh", "修复 README.md 中的错别字：recieve 应为 receive。"),
        ("ja", "README.md の誤字を修正してください：recieve → receive"),
        ("ko", "README.md의 오타 수정: recieve를 receive로"),
        ("hi", "README.md में टाइपो ठीक करें: recieve को receive करें"),
        ("th", "แก้คำผิดใน README.md: recieve ควรเป็น receive"),
    ];
    for (lang, task) in cases {
        let plan = plan(task, &tested_project(), &ORCHESTRATED);
        assert_eq!(plan.complexity, Complexity::Small, "{lang}: {:?}", plan.reasons);
        assert_eq!(stage_names(&plan), ["analysis", "implementation"], "{lang}: {plan:#?}");
        assert_eq!(plan.mentioned_paths, ["README.md"], "{lang}");
    }
}

#[test]
fn categories_are_found_in_every_language() {
    use Category::{Api, Database, Performance, Security, Ui};
    let cases: &[(&str, &str, &[Category])] = &[
        ("en", "Add a REST endpoint that stores orders in the database", &[Api, Database]),
        ("zh", "新增一个接口，把订单写入数据库", &[Api, Database]),
        ("ja", "注文をデータベースに保存するエンドポイントを追加する", &[Api, Database]),
        ("ko", "주문을 데이터베이스에 저장하는 엔드포인트 추가", &[Api, Database]),
        ("hi", "ऑर्डर को डेटाबेस में सहेजने के लिए एंडपॉइंट जोड़ें", &[Api, Database]),
        ("th", "เพิ่มเอนด์พอยต์สำหรับบันทึกคำสั่งซื้อลงฐานข้อมูล", &[Api, Database]),
        ("en", "The login page is slow", &[Ui, Security, Performance]),
        ("zh", "登录页面加载很慢", &[Ui, Security, Performance]),
        ("ja", "ログイン画面の表示が遅い", &[Ui, Security, Performance]),
        ("ko", "로그인 화면이 느린 문제", &[Ui, Security, Performance]),
        ("hi", "लॉगिन पेज बहुत धीमा है", &[Ui, Security, Performance]),
        ("th", "หน้าจอเข้าสู่ระบบโหลดช้า", &[Ui, Security, Performance]),
        ("en", "Add a migration for the new schema column", &[Database]),
        ("en", "Escape user input to prevent XSS", &[Security]),
        ("en", "Update the build script format and the capital letters", &[]),
        ("en", "Rework the author list", &[]),
    ];
    for (lang, task, expected) in cases {
        let plan = plan(task, &ProjectTraits::default(), &ORCHESTRATED);
        assert_eq!(&plan.categories, expected, "{lang}: {task}");
    }
}

#[test]
fn acceptance_criteria_are_found_in_every_language() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "en",
            "Add CSV export.\n\n## Acceptance criteria\n- CSV export works\n- Large files stream\n\n## Notes\nNone\n\n\
             Done when: reviewers approve",
            &["CSV export works", "Large files stream", "reviewers approve"],
        ),
        ("zh", "增加导出功能。\n\n### 验收标准\n1. 支持 CSV\n2. 大文件流式处理\n", &["支持 CSV", "大文件流式处理"]),
        (
            "ja",
            "CSV 出力を追加する。\n\n**受け入れ基準**\n- CSV で出力できる\n- [ ] テストが通る\n",
            &["CSV で出力できる", "テストが通る"],
        ),
        (
            "ko",
            "CSV 내보내기 추가\n\n인수 조건:\n- CSV 내보내기\n- 대용량 파일 스트리밍\n",
            &["CSV 내보내기", "대용량 파일 스트리밍"],
        ),
        (
            "hi",
            "CSV निर्यात जोड़ें\n\n## स्वीकृति मानदंड\n- CSV निर्यात काम करे\n- बड़ी फ़ाइलें स्ट्रीम हों\n",
            &["CSV निर्यात काम करे", "बड़ी फ़ाइलें स्ट्रीम हों"],
        ),
        ("th", "เพิ่มการส่งออก CSV\n\nเสร็จเมื่อ: ส่งออก CSV ได้\n- [x] มีการทดสอบ\n", &["ส่งออก CSV ได้", "มีการทดสอบ"]),
        ("en", "Steps:\n- [ ] first\n- [X] second\n```\n- [ ] not a criterion, code\n```\n", &["first", "second"]),
        ("en", "Done when the moon is full (a sentence, not a heading)", &[]),
    ];
    for (lang, task, expected) in cases {
        let plan = plan(task, &ProjectTraits::default(), &ORCHESTRATED);
        assert_eq!(&plan.acceptance_criteria, expected, "{lang}: {task}");
    }
}

#[test]
fn mentioned_paths_skip_routes_urls_and_words_with_slashes() {
    let cases: &[(&str, &[&str])] = &[
        (
            "Change src/api/users.rs and `web/src/App.tsx`, see https://example.com/a/b.html and route /users/1; \
             and/or read/write the Cargo.toml.",
            &["src/api/users.rs", "web/src/App.tsx", "Cargo.toml"],
        ),
        ("修改src/main.rs中的函数，并更新docs/目录", &["src/main.rs", "docs/"]),
        ("`.github/workflows/ci.yml` と `.gitlab-ci.yml` を直す", &[".github/workflows/ci.yml", ".gitlab-ci.yml"]),
        ("Bump to v1.2.3, e.g. in the TCP/IP stack", &[]),
    ];
    for (task, expected) in cases {
        let plan = plan(task, &ProjectTraits::default(), &ORCHESTRATED);
        assert_eq!(&plan.mentioned_paths, expected, "{task}");
    }
}

const LARGE_TASK: &str = "Rebuild the orders service.\n\nWe need a new REST API for orders backed by a Postgres \
database migration, an admin page to manage them, login with permissions, and caching so the list is not slow.\n\n\
Files: src/orders/api.rs, src/orders/db.rs, src/orders/cache.rs, web/src/Orders.tsx, migrations/0004_orders.sql\n\n\
## Acceptance criteria\n- Orders can be created\n- Orders can be listed with paging\n- Only admins can delete\n\
- The list answers within 100 ms\n- Migration runs forward and back\n";

#[test]
fn complexity_and_stages_follow_the_task_in_every_language() {
    struct Case {
        name: &'static str,
        task: &'static str,
        traits: ProjectTraits,
        complexity: Complexity,
        stages: &'static [&'static str],
    }
    let cases = [
        Case {
            name: "large task with tests",
            task: LARGE_TASK,
            traits: tested_project(),
            complexity: Complexity::Large,
            stages: &["analysis", "architecture", "implementation", "tests", "docs"],
        },
        Case {
            name: "large task without a test framework",
            task: LARGE_TASK,
            traits: ProjectTraits::default(),
            complexity: Complexity::Large,
            stages: &["analysis", "architecture", "implementation", "docs"],
        },
        Case {
            name: "en refactor",
            task: "Refactor the config loader into smaller functions",
            traits: tested_project(),
            complexity: Complexity::Medium,
            stages: &["analysis", "architecture", "implementation", "tests"],
        },
        Case {
            name: "zh refactor",
            task: "重构配置加载模块",
            traits: tested_project(),
            complexity: Complexity::Medium,
            stages: &["analysis", "architecture", "implementation", "tests"],
        },
        Case {
            name: "ja refactor",
            task: "設定ローダーをリファクタリングする",
            traits: tested_project(),
            complexity: Complexity::Medium,
            stages: &["analysis", "architecture", "implementation", "tests"],
        },
        Case {
            name: "ko refactor",
            task: "설정 로더 리팩토링",
            traits: tested_project(),
            complexity: Complexity::Medium,
            stages: &["analysis", "architecture", "implementation", "tests"],
        },
        Case {
            name: "hi refactor",
            task: "कॉन्फ़िग लोडर को रीफैक्टर करें",
            traits: tested_project(),
            complexity: Complexity::Medium,
            stages: &["analysis", "architecture", "implementation", "tests"],
        },
        Case {
            name: "th refactor",
            task: "ปรับโครงสร้างโมดูลโหลดการตั้งค่า",
            traits: tested_project(),
            complexity: Complexity::Medium,
            stages: &["analysis", "architecture", "implementation", "tests"],
        },
        Case {
            name: "small API change designs, tests and documents the interface",
            task: "Add a `limit` parameter to the users endpoint",
            traits: tested_project(),
            complexity: Complexity::Small,
            stages: &["analysis", "architecture", "implementation", "tests", "docs"],
        },
        Case {
            name: "small API change in a project without tests",
            task: "Add a `limit` parameter to the users endpoint",
            traits: ProjectTraits::default(),
            complexity: Complexity::Small,
            stages: &["analysis", "architecture", "implementation", "docs"],
        },
        Case {
            name: "small database change designs first",
            task: "添加一个数据库字段 nickname",
            traits: tested_project(),
            complexity: Complexity::Small,
            stages: &["analysis", "architecture", "implementation", "tests"],
        },
        Case {
            name: "small UI change is tested",
            task: "Make the save button blue",
            traits: tested_project(),
            complexity: Complexity::Small,
            stages: &["analysis", "implementation", "tests"],
        },
        Case {
            name: "small fix folds its tests into implementation",
            task: "The greeting says Helo instead of Hello",
            traits: tested_project(),
            complexity: Complexity::Small,
            stages: &["analysis", "implementation"],
        },
    ];
    for case in cases {
        let plan = plan(case.task, &case.traits, &ORCHESTRATED);
        assert_eq!(plan.complexity, case.complexity, "{}: {:?}", case.name, plan.reasons);
        assert_eq!(stage_names(&plan), case.stages, "{}: {:?}", case.name, plan.reasons);
        let verdict = format!(": {}", case.complexity.as_str());
        assert!(plan.reasons.iter().any(|r| r.starts_with("score ") && r.ends_with(&verdict)), "{}", case.name);
    }
}

#[test]
fn without_orchestration_the_plan_is_one_implementation_stage() {
    let plan = plan(LARGE_TASK, &tested_project(), &PlanOptions::issue(false));
    assert_eq!(plan.complexity, Complexity::Large);
    assert_eq!(stage_names(&plan), ["implementation"]);
    assert!(plan.stages[0].reason.contains("USE_ORCHESTRATED_ISSUE=false"));
}

#[test]
fn without_orchestration_a_merge_request_note_is_one_mr_note_stage() {
    let plan = plan(LARGE_TASK, &tested_project(), &PlanOptions::merge_request_note(false));
    assert_eq!(plan.complexity, Complexity::Large);
    assert_eq!(stage_names(&plan), ["mr_note"]);
    assert!(plan.stages[0].reason.contains("USE_ORCHESTRATED_MR_NOTE=false"), "{:?}", plan.stages);
}

#[test]
fn with_orchestration_a_merge_request_note_plans_like_an_issue() {
    let note = plan(LARGE_TASK, &tested_project(), &PlanOptions::merge_request_note(true));
    assert_eq!(note, plan(LARGE_TASK, &tested_project(), &ORCHESTRATED));
    assert!(!note.has_stage(Stage::MrNote));
}

#[test]
fn large_task_reasons_name_every_signal() {
    let plan = plan(LARGE_TASK, &tested_project(), &ORCHESTRATED);
    assert_eq!(plan.mentioned_paths.len(), 5);
    assert_eq!(plan.acceptance_criteria.len(), 5);
    assert_eq!(
        plan.categories,
        [Category::Api, Category::Database, Category::Ui, Category::Security, Category::Performance]
    );
    let reasons = plan.reasons.join("\n");
    for part in [
        "5 paths mentioned (+1)",
        "5 acceptance criteria (+1)",
        "categories: api, database, ui, security, performance (+2)",
    ] {
        assert!(reasons.contains(part), "{part} in {reasons}");
    }
}

#[test]
fn code_blocks_do_not_make_a_task_bigger() {
    let trace = "at frame\n".repeat(500);
    let task = format!("Fix the panic when the list is empty\n\n```\n{trace}```\n");
    let plan = plan(&task, &tested_project(), &ORCHESTRATED);
    assert_eq!(plan.complexity, Complexity::Small, "{:?}", plan.reasons);
}

#[test]
fn stage_names_are_the_prompt_template_names() {
    let names: Vec<&str> = Stage::PLANNED.iter().map(|stage| stage.as_str()).collect();
    assert_eq!(names, ["analysis", "architecture", "implementation", "tests", "docs", "mr_note"]);
    for stage in Stage::PLANNED {
        let json = serde_json::to_string(&stage).expect("json");
        assert_eq!(json, format!("\"{}\"", stage.as_str()));
    }
}
