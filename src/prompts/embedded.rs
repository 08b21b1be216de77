//! The templates compiled into the binary, one `include_str!` per language and template.
//!
//! A macro builds the table from the two lists below, so adding a template is one name here plus
//! one file per language, and a missing file fails the build instead of a job.

/// Templates other templates include; their names start with `_`.
pub(super) const PARTIALS: [&str; 5] = ["_rules", "_task", "_context", "_stage_names", "_usage"];

macro_rules! embed {
    ([$($lang:literal),*], $names:tt) => {
        [$(embed!(@one_language $lang, $names)),*]
    };
    (@one_language $lang:literal, [$($name:literal),*]) => {
        [$((
            concat!($lang, "/", $name, ".md.tera"),
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/prompts/", $lang, "/", $name, ".md.tera")),
        )),*]
    };
}

/// `(relative path, text)` of every embedded template, by language in `Language::ALL` order.
pub(super) const TEMPLATES: [[(&str, &str); 34]; 6] = embed!(
    ["en", "zh", "ja", "ko", "hi", "th"],
    [
        "_rules",
        "_task",
        "_context",
        "_stage_names",
        "_usage",
        "analysis",
        "architecture",
        "implementation",
        "tests",
        "docs",
        "mr_note",
        "review",
        "pipeline_fix",
        "address_threads",
        "understanding",
        "status_note",
        "final_note",
        "failure_note",
        "refusal_note",
        "nothing_changed_note",
        "mr_description",
        "review_summary",
        "review_finding",
        "review_resolution",
        "thread_answer",
        "push_conflict_note",
        "unsupported_note",
        "pipeline_fix_note",
        "spend_cap_note",
        "monthly_cap_note",
        "suppressions_forgotten",
        "repo_config_note",
        "command_note",
        "plan_note"
    ]
);
