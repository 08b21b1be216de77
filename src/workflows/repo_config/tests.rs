//! Parsing `.gitlab/copilot-agent.yml`, the lines its problems name, and narrowing.

use super::*;

fn admin() -> Effective {
    Effective {
        language: Language::En,
        require_plan_approval: false,
        stages: Stages::default(),
        test_command: None,
        review: ReviewRules {
            exclude: vec!["generated/**".to_owned()],
            min_severity: Severity::Minor,
            max_inline_comments: Some(10),
        },
        max_premium_requests: Some(20.0),
        monthly_premium_requests: None,
        mcp_servers: vec!["github".to_owned(), "sentry".to_owned(), "tickets".to_owned()],
        instructions: Vec::new(),
        instruction_files: Vec::new(),
    }
}

fn load(admin: &Effective, text: &str) -> (Effective, Vec<Problem>) {
    let (file, mut problems) = parse(text);
    (narrow(admin, file, &mut problems), problems)
}

#[test]
fn every_key_is_read() {
    let text = "language: zh\nplan_approval: true\nstages: {architecture: false, tests: true, docs: false}\n\
                test_command: \"cargo nextest run\"\nreview:\n  exclude: [\"vendor/**\", \"*.lock\"]\n  \
                min_severity: major\n  max_inline_comments: 3\nmax_premium_requests: 5\nmonthly_premium_requests: 100\n\
                mcp_servers: [github, sentry]\ninstructions: [docs/agent.md]\n";
    let (effective, problems) = load(&admin(), text);
    assert_eq!(problems, []);
    assert_eq!(effective.language, Language::Zh);
    assert!(effective.require_plan_approval);
    assert_eq!(effective.stages, Stages { architecture: false, tests: true, docs: false });
    assert_eq!(effective.test_command.as_deref(), Some("cargo nextest run"));
    assert_eq!(effective.review.exclude, ["generated/**", "vendor/**", "*.lock"]);
    assert_eq!(effective.review.min_severity, Severity::Major);
    assert_eq!(effective.review.max_inline_comments, Some(3));
    assert_eq!(effective.max_premium_requests, Some(5.0));
    assert_eq!(effective.monthly_premium_requests, Some(100.0));
    assert_eq!(effective.mcp_servers, ["github", "sentry"]);
    assert_eq!(effective.instructions, ["docs/agent.md"]);
}

#[test]
fn a_repository_picks_among_the_admins_mcp_servers_and_cannot_add_one() {
    let (effective, problems) = load(&admin(), "language: ja\nmcp_servers: [tickets, own-server]\n");
    assert_eq!(effective.mcp_servers, ["tickets"]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!((problems[0].line, problems[0].key.as_str()), (2, "mcp_servers"));
    assert_eq!(problems[0].allowed, Allowed::AgentServers { names: Allowed::spans(&["github", "sentry", "tickets"]) });
    // An empty pick turns every server off; no key keeps them all; a bad list keeps them too.
    assert_eq!(load(&admin(), "mcp_servers: []\n").0.mcp_servers, Vec::<String>::new());
    assert_eq!(load(&admin(), "language: en\n").0.mcp_servers, admin().mcp_servers);
    assert_eq!(load(&admin(), "mcp_servers: [\"a b\"]\n").0.mcp_servers, admin().mcp_servers);
}

#[test]
fn no_keys_keep_the_admins_settings() {
    assert_eq!(load(&admin(), ""), (admin(), Vec::new()));
    assert_eq!(load(&admin(), "# nothing yet\n"), (admin(), Vec::new()));
}

#[test]
fn bad_keys_and_values_name_their_lines_and_keep_the_rest() {
    let text = "language: zh\nlangauge: ja\nreview:\n  min_severity: loud\n  max_inline_comments: 2\n  \
                colour: red\nstages: {implementation: false}\nmcp_servers: [\"a b\"]\ninstructions: [../etc/passwd]\n";
    let (effective, problems) = load(&admin(), text);
    let found: Vec<(usize, &str)> = problems.iter().map(|p| (p.line, p.key.as_str())).collect();
    assert_eq!(
        found,
        [
            (2, "langauge"),
            (4, "review.min_severity"),
            (6, "review.colour"),
            (7, "stages.implementation"),
            (8, "mcp_servers"),
            (9, "instructions"),
        ]
    );
    let names = |allowed: &Allowed| match allowed {
        Allowed::Keys { names } | Allowed::Values { names } | Allowed::Stages { names } => {
            names.iter().map(crate::untrusted::MarkdownCodeSpan::span).collect::<Vec<_>>()
        }
        other => panic!("no names in {other:?}"),
    };
    assert!(matches!(problems[0].allowed, Allowed::Keys { .. }), "{:?}", problems[0]);
    assert!(names(&problems[0].allowed).contains(&"`language`".to_owned()), "{:?}", problems[0]);
    assert_eq!(names(&problems[1].allowed), ["`critical`", "`major`", "`minor`", "`info`"]);
    assert!(matches!(problems[2].allowed, Allowed::Keys { .. }), "{:?}", problems[2]);
    assert_eq!(names(&problems[3].allowed), ["`architecture`", "`tests`", "`docs`"]);
    assert!(matches!(problems[3].allowed, Allowed::Stages { .. }), "{:?}", problems[3]);
    assert_eq!(problems[4].allowed, Allowed::Names);
    assert_eq!(problems[5].allowed, Allowed::RepoPaths);
    assert_eq!(effective.language, Language::Zh);
    assert_eq!(effective.review.max_inline_comments, Some(2));
    assert_eq!(effective.review.min_severity, Severity::Minor);
}

#[test]
fn a_file_that_is_not_yaml_is_one_problem_on_its_line() {
    let (effective, problems) = load(&admin(), "language: zh\nreview: [unclosed\n");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].key, "(file)");
    assert!(problems[0].line >= 2, "{problems:?}");
    assert_eq!(effective, admin());
}

#[test]
fn values_that_loosen_are_refused_on_their_lines() {
    let mut strict = admin();
    strict.require_plan_approval = true;
    strict.stages.docs = false;
    let text = "plan_approval: false\nstages:\n  docs: true\nreview:\n  min_severity: info\n  \
                max_inline_comments: 50\nmax_premium_requests: 30\n";
    let (effective, problems) = load(&strict, text);
    let found: Vec<(usize, &str)> = problems.iter().map(|p| (p.line, p.key.as_str())).collect();
    assert_eq!(
        found,
        [
            (1, "plan_approval"),
            (3, "stages.docs"),
            (5, "review.min_severity"),
            (6, "review.max_inline_comments"),
            (7, "max_premium_requests"),
        ]
    );
    let allowed: Vec<&Allowed> = problems.iter().map(|problem| &problem.allowed).collect();
    let severity = crate::untrusted::MarkdownCodeSpan::new("minor");
    assert_eq!(
        allowed,
        [
            &Allowed::PlanApprovalOn,
            &Allowed::StageOff,
            &Allowed::SeverityAtLeast { severity },
            &Allowed::CountAtMost { limit: 10 },
            &Allowed::CapAtMost { cap: 20.0 },
        ]
    );
    assert_eq!(effective, strict);
}

#[test]
fn values_that_narrow_are_kept() {
    let mut open = admin();
    open.max_premium_requests = None;
    open.review.max_inline_comments = None;
    let text = "plan_approval: true\nstages: {tests: false}\nreview: {min_severity: critical, max_inline_comments: 1}\n\
                max_premium_requests: 2.5\n";
    let (effective, problems) = load(&open, text);
    assert_eq!(problems, []);
    assert!(effective.require_plan_approval);
    assert!(!effective.stages.tests);
    assert_eq!(effective.review.min_severity, Severity::Critical);
    assert_eq!(effective.review.max_inline_comments, Some(1));
    assert_eq!(effective.max_premium_requests, Some(2.5));
}

#[test]
fn every_key_has_a_rule() {
    let keys: Vec<&str> = RULES.iter().map(|(key, _)| *key).collect();
    assert_eq!(keys.len(), 13);
    assert!(RULES.iter().any(|(key, rule)| *key == "review.exclude" && *rule == Rule::Adds));
}

#[test]
fn exclusions_match_folders_and_names() {
    let rules = ReviewRules {
        exclude: vec!["vendor/**".to_owned(), "*.lock".to_owned()],
        min_severity: Severity::Info,
        max_inline_comments: None,
    };
    assert!(rules.excludes("vendor/lib/a.rs"));
    assert!(rules.excludes("Cargo.lock"));
    assert!(rules.excludes("web/yarn.lock"));
    assert!(!rules.excludes("src/vendor.rs"));
    assert!(!rules.excludes("src/main.rs"));
}

/// The admin's settings resolved from `pairs`, as a job reads them.
fn admin_from(pairs: &[(&str, &str)]) -> Effective {
    let env = crate::config::Env::from_pairs(pairs.iter().copied());
    let settings = Settings::resolve(&env, &crate::config::Flags::default()).expect("valid settings");
    Effective::admin(&settings)
}

#[test]
fn a_stage_the_agent_project_turned_off_stays_off_and_asking_for_it_is_a_problem() {
    let off = admin_from(&[("COPILOT_DISABLED_STAGES", "docs, tests")]);
    assert_eq!(off.stages, Stages { architecture: true, tests: false, docs: false });
    let text = "stages:\n  architecture: false\n  docs: true\n";
    let (effective, problems) = load(&off, text);
    assert_eq!(problems, [Problem { line: 3, key: "stages.docs".to_owned(), allowed: Allowed::StageOff }]);
    assert_eq!(effective.stages, Stages { architecture: false, tests: false, docs: false });

    // Control: the agent project turned nothing off, so the same file is no problem.
    let on = admin_from(&[]);
    assert_eq!(on.stages, Stages::default());
    let (effective, problems) = load(&on, text);
    assert_eq!(problems, []);
    assert_eq!(effective.stages, Stages { architecture: false, tests: true, docs: true });
}
