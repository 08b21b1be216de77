//! The planner: from a task's text and a project's traits to the stages the agent runs. Pure
//! (no IO), so every decision is a table test, and the `plan` command can show exactly what a
//! job would do.
//!
//! Complexity is a score: the task's length (code blocks excluded; a Chinese, Japanese or Korean
//! character weighs two), how many paths and acceptance criteria it names, how many categories it
//! touches, and words that widen (refactor, rewrite) or narrow (typo, one line) its scope.
//!
//! Stages, as the design has them, with one deliberate saving: a small plain fix folds its tests
//! into the implementation stage (which runs the project's test command), so a one-line fix costs
//! exactly two agent calls.
//! - analysis: always;
//! - architecture: medium or large, or API or database work (unless a small trivial edit);
//! - implementation: always;
//! - tests: the project has a test framework, unless the change is small and either a trivial
//!   edit or outside every category (then implementation runs the tests itself);
//! - docs: an API changes (unless a small trivial edit) or the task is large.
//!
//! Without orchestration the plan is one stage: implementation for an issue
//! (`USE_ORCHESTRATED_ISSUE=false`), mr_note for a note on a merge request
//! (`USE_ORCHESTRATED_MR_NOTE=false`), whose prompt puts the note's requested change first.

mod keywords;
#[cfg(test)]
mod tests;
mod text;

use serde::{Deserialize, Serialize};

pub use crate::prompts::Stage;
pub use crate::prompts::message::Complexity;

/// What the planner needs to know about a project, derived by the context module from its analysis.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectTraits {
    pub has_test_framework: bool,
    /// The first test command found (the shallowest manifest's).
    pub test_command: Option<String>,
    /// Languages by bytes, largest first.
    pub languages: Vec<String>,
    pub frameworks: Vec<String>,
    pub test_frameworks: Vec<String>,
    pub files: u64,
}

/// What kind of work a task touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Api,
    Database,
    Ui,
    Security,
    Performance,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Database => "database",
            Self::Ui => "ui",
            Self::Security => "security",
            Self::Performance => "performance",
        }
    }
}

/// A stage in a plan, with why it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStage {
    pub stage: Stage,
    pub reason: String,
}

/// What the planner decided, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub complexity: Complexity,
    /// In the order of [`Category`].
    pub categories: Vec<Category>,
    /// File and directory paths the task names, in order of appearance.
    pub mentioned_paths: Vec<String>,
    /// Checkbox items and the items under an "Acceptance criteria" / "Done when" heading.
    pub acceptance_criteria: Vec<String>,
    pub stages: Vec<PlannedStage>,
    /// How the complexity was reached, one line per signal.
    pub reasons: Vec<String>,
}

impl Plan {
    pub fn has_stage(&self, stage: Stage) -> bool {
        self.stages.iter().any(|planned| planned.stage == stage)
    }
}

/// What asked for the work, which decides the one stage run without orchestration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// An issue (assigned, or a note on it): one implementation stage.
    #[default]
    Issue,
    /// A note on a merge request: one mr_note stage.
    MergeRequestNote,
}

/// Switches from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    /// `USE_ORCHESTRATED_ISSUE` or `USE_ORCHESTRATED_MR_NOTE`: several stages (true) or one (false).
    pub orchestrated: bool,
    pub origin: Origin,
}

impl PlanOptions {
    /// Work on an issue.
    pub const fn issue(orchestrated: bool) -> Self {
        Self { orchestrated, origin: Origin::Issue }
    }

    /// Work a note on a merge request asked for.
    pub const fn merge_request_note(orchestrated: bool) -> Self {
        Self { orchestrated, origin: Origin::MergeRequestNote }
    }
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self::issue(true)
    }
}

/// Task text at or above these weighted lengths adds one or two points.
const MEDIUM_TEXT: usize = 300;
const LARGE_TEXT: usize = 1200;
/// Scores at or above these are medium and large.
const MEDIUM_SCORE: i32 = 2;
const LARGE_SCORE: i32 = 4;

/// Plans `task` for a project with `traits`.
pub fn plan(task: &str, traits: &ProjectTraits, options: &PlanOptions) -> Plan {
    let lowered = task.to_lowercase();
    let prose = text::without_code_blocks(task);
    let categories: Vec<Category> = keywords::CATEGORIES
        .iter()
        .filter(|words| words.all().any(|word| keywords::contains(&lowered, word)))
        .map(|words| words.category)
        .collect();
    let mentioned_paths = text::mentioned_paths(&prose);
    let acceptance_criteria = text::acceptance_criteria(task);
    let broad = keywords::BROAD_SCOPE.iter().find(|word| keywords::contains(&lowered, word));
    let trivial = keywords::TRIVIAL.iter().find(|word| keywords::contains(&lowered, word));

    let mut reasons = Vec::new();
    let mut score = 0;
    let size = text::weighted_length(&prose);
    let size_points = if size >= LARGE_TEXT {
        2
    } else if size >= MEDIUM_TEXT {
        1
    } else {
        0
    };
    score += size_points;
    reasons.push(format!("task text: {size} characters (+{size_points})"));
    let count_points = |count: usize| match count {
        0..=2 => 0,
        3..=6 => 1,
        _ => 2,
    };
    if !mentioned_paths.is_empty() {
        let points = count_points(mentioned_paths.len());
        score += points;
        reasons.push(format!("{} mentioned (+{points})", counted(mentioned_paths.len(), "path", "paths")));
    }
    if !acceptance_criteria.is_empty() {
        let points = count_points(acceptance_criteria.len());
        score += points;
        let criteria = counted(acceptance_criteria.len(), "acceptance criterion", "acceptance criteria");
        reasons.push(format!("{criteria} (+{points})"));
    }
    if !categories.is_empty() {
        let points = match categories.len() {
            1 => 0,
            2 => 1,
            _ => 2,
        };
        score += points;
        let names: Vec<&str> = categories.iter().map(|c| c.as_str()).collect();
        reasons.push(format!("categories: {} (+{points})", names.join(", ")));
    }
    if let Some(word) = broad {
        score += 2;
        reasons.push(format!("broad scope: \u{201c}{word}\u{201d} (+2)"));
    }
    if let Some(word) = trivial {
        score -= 1;
        reasons.push(format!("trivial edit: \u{201c}{word}\u{201d} (-1)"));
    }
    let complexity = if score >= LARGE_SCORE {
        Complexity::Large
    } else if score >= MEDIUM_SCORE {
        Complexity::Medium
    } else {
        Complexity::Small
    };
    reasons.push(format!("score {score}: {}", complexity.as_str()));

    let folds_tests = complexity == Complexity::Small && (trivial.is_some() || categories.is_empty());
    if options.orchestrated && folds_tests && traits.has_test_framework {
        reasons.push("small plain fix: the implementation stage runs the tests itself (no tests stage)".to_owned());
    }
    let stages = if options.orchestrated {
        stages(complexity, &categories, trivial.is_some(), folds_tests, traits)
    } else {
        vec![single_stage(options.origin)]
    };
    Plan { complexity, categories, mentioned_paths, acceptance_criteria, stages, reasons }
}

/// The one stage of a plan without orchestration.
fn single_stage(origin: Origin) -> PlannedStage {
    let (stage, setting) = match origin {
        Origin::Issue => (Stage::Implementation, "USE_ORCHESTRATED_ISSUE"),
        Origin::MergeRequestNote => (Stage::MrNote, "USE_ORCHESTRATED_MR_NOTE"),
    };
    let reason = format!("orchestration is off ({setting}=false): one {} stage", stage.as_str());
    PlannedStage { stage, reason }
}

fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

fn stages(
    complexity: Complexity,
    categories: &[Category],
    trivial: bool,
    folds_tests: bool,
    traits: &ProjectTraits,
) -> Vec<PlannedStage> {
    let small_trivial = complexity == Complexity::Small && trivial;
    let api = categories.contains(&Category::Api);
    let database = categories.contains(&Category::Database);
    let mut stages =
        vec![PlannedStage { stage: Stage::Analysis, reason: "always: find the code to change".to_owned() }];

    let architecture = if complexity >= Complexity::Medium {
        Some(format!("{} change: design before editing", complexity.as_str()))
    } else if (api || database) && !small_trivial {
        let what = if api && database {
            "API and database"
        } else if api {
            "API"
        } else {
            "database"
        };
        Some(format!("{what} work: design the interface first"))
    } else {
        None
    };
    if let Some(reason) = architecture {
        stages.push(PlannedStage { stage: Stage::Architecture, reason });
    }

    stages.push(PlannedStage { stage: Stage::Implementation, reason: "always: make the change".to_owned() });

    if traits.has_test_framework && !folds_tests {
        let reason = match &traits.test_command {
            Some(command) => format!("the project has tests (`{command}`)"),
            None => "the project has a test framework".to_owned(),
        };
        stages.push(PlannedStage { stage: Stage::Tests, reason });
    }

    let docs = if complexity == Complexity::Large {
        Some("large change: update the docs".to_owned())
    } else if api && !small_trivial {
        Some("the API changes: document it".to_owned())
    } else {
        None
    };
    if let Some(reason) = docs {
        stages.push(PlannedStage { stage: Stage::Docs, reason });
    }
    stages
}
