//! The trigger contract between the webhook service, the pipeline and `copilot-runner run`.
//!
//! A triggered pipeline carries `TRIGGER_TYPE` and identifier-only `TARGET_*` values: never
//! text a person wrote (the job reads issues and notes from the API and checks the actor again).
//! They travel as pipeline inputs (`trigger_type`, `target_project_id`, …: the lowercase names
//! the CI template declares in `spec:inputs` and maps back to the variables), or as pipeline
//! variables on GitLab before 18.1. This module parses the job's variables into a typed
//! [`Trigger`] and renders a trigger back into inputs or variables, so both sides of the contract
//! share one definition. [`guard`] keeps a trigger from choosing settings; [`token`] finds the
//! agent's own trigger token for `serve` when none is configured.

use std::fmt;
use std::str::FromStr;

use crate::config::Env;
use crate::env_vars::trigger as var;
use crate::gitlab::TriggerParameters;

pub mod guard;
pub mod token;

pub use crate::config::TriggerWith;

/// The agent project's `workflow:name` (`ci-templates/examples/agent-project.gitlab-ci.yml`): a
/// triggered pipeline is named by its whole contract, so `serve` can find the pipeline a request
/// started through the API's `name` filter (GitLab's API does not show a pipeline's inputs).
pub const PIPELINE_NAME: &str =
    "copilot $TRIGGER_TYPE $TARGET_PROJECT_ID/$TARGET_ISSUE_IID/$TARGET_MR_IID/$TARGET_NOTE_ID/$TARGET_PIPELINE_ID";

/// Every variable of the contract, in the order the CI template declares them.
pub const CONTRACT: [&str; 8] = [
    var::TRIGGER_TYPE,
    var::TARGET_PROJECT_ID,
    var::TARGET_ISSUE_IID,
    var::TARGET_MR_IID,
    var::TARGET_NOTE_ID,
    var::TARGET_PIPELINE_ID,
    var::SOURCE_BRANCH,
    var::TARGET_BRANCH,
];

/// A trigger that names no workflow: the whole contract, every value empty. The CI template's
/// `workflow: rules` run only a trigger with a `TRIGGER_TYPE`, so GitLab creates no pipeline
/// for it; `doctor` sends it to prove the trigger token, the ref and the inputs without
/// starting any work.
pub fn empty_parameters(with: TriggerWith) -> TriggerParameters {
    as_parameters(with, CONTRACT.iter().map(|name| (*name, String::new())))
}

/// Contract values as the trigger API takes them: inputs, or variables on older GitLab.
fn as_parameters(with: TriggerWith, values: impl Iterator<Item = (&'static str, String)>) -> TriggerParameters {
    match with {
        TriggerWith::Inputs => {
            TriggerParameters::Inputs(values.map(|(name, value)| (input_name(name), value)).collect())
        }
        TriggerWith::Variables => {
            TriggerParameters::Variables(values.map(|(name, value)| (name.to_owned(), value)).collect())
        }
    }
}

/// The pipeline input that carries a trigger variable: its name in lowercase.
pub fn input_name(variable: &str) -> String {
    variable.to_ascii_lowercase()
}

/// Which workflow a pipeline was triggered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerType {
    IssueAssignee,
    IssueNote,
    MrNote,
    MrReviewer,
    PipelineFailed,
}

impl TriggerType {
    pub const ALL: [TriggerType; 5] =
        [Self::IssueAssignee, Self::IssueNote, Self::MrNote, Self::MrReviewer, Self::PipelineFailed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::IssueAssignee => "issue_assignee",
            Self::IssueNote => "issue_note",
            Self::MrNote => "mr_note",
            Self::MrReviewer => "mr_reviewer",
            Self::PipelineFailed => "pipeline_failed",
        }
    }
}

impl FromStr for TriggerType {
    type Err = TriggerError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value.trim())
            .ok_or_else(|| TriggerError::UnknownType(value.to_owned()))
    }
}

impl fmt::Display for TriggerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed trigger: the workflow and the identifiers it works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    IssueAssignee { project_id: u64, issue_iid: u64 },
    IssueNote { project_id: u64, issue_iid: u64, note_id: u64 },
    MrNote { project_id: u64, mr_iid: u64, note_id: u64, branches: Branches },
    MrReviewer { project_id: u64, mr_iid: u64, branches: Branches },
    PipelineFailed { project_id: u64, pipeline_id: u64, mr_iid: Option<u64>, branches: Branches },
}

/// MR branches where the sender knew them (informational; the job re-reads the MR).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branches {
    pub source: Option<String>,
    pub target: Option<String>,
}

/// Why the trigger variables could not be understood. Always a usage error (exit 2).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TriggerError {
    #[error(
        "`TRIGGER_TYPE` is not set: `run` works inside a pipeline triggered with `TRIGGER_TYPE` and `TARGET_*` \
         variables (see the trigger contract in the README)"
    )]
    Missing,
    #[error(
        "`TRIGGER_TYPE={0}` is not a known trigger: expected one of issue_assignee, issue_note, mr_note, \
         mr_reviewer, pipeline_failed"
    )]
    UnknownType(String),
    #[error("`TRIGGER_TYPE={kind}` needs `{variable}`")]
    MissingVariable { kind: TriggerType, variable: &'static str },
    #[error("`{variable}={value}` is not valid: expected a positive whole number")]
    NotAnId { variable: &'static str, value: String },
}

impl crate::exit::Classify for TriggerError {
    fn exit_code(&self) -> crate::exit::Code {
        crate::exit::Code::Usage
    }
}

impl Trigger {
    /// Reads the trigger from the job's environment.
    pub fn from_env(env: &Env) -> Result<Self, TriggerError> {
        let kind: TriggerType = env.get(var::TRIGGER_TYPE).ok_or(TriggerError::Missing)?.parse()?;
        let id = |variable: &'static str| -> Result<Option<u64>, TriggerError> {
            env.get(variable)
                .map(|value| {
                    value
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|id| *id > 0)
                        .ok_or_else(|| TriggerError::NotAnId { variable, value: value.to_owned() })
                })
                .transpose()
        };
        let required = |variable: &'static str| id(variable)?.ok_or(TriggerError::MissingVariable { kind, variable });
        let branches = Branches {
            source: env.get(var::SOURCE_BRANCH).map(str::to_owned),
            target: env.get(var::TARGET_BRANCH).map(str::to_owned),
        };
        let project_id = required(var::TARGET_PROJECT_ID)?;
        Ok(match kind {
            TriggerType::IssueAssignee => {
                Self::IssueAssignee { project_id, issue_iid: required(var::TARGET_ISSUE_IID)? }
            }
            TriggerType::IssueNote => Self::IssueNote {
                project_id,
                issue_iid: required(var::TARGET_ISSUE_IID)?,
                note_id: required(var::TARGET_NOTE_ID)?,
            },
            TriggerType::MrNote => Self::MrNote {
                project_id,
                mr_iid: required(var::TARGET_MR_IID)?,
                note_id: required(var::TARGET_NOTE_ID)?,
                branches,
            },
            TriggerType::MrReviewer => Self::MrReviewer { project_id, mr_iid: required(var::TARGET_MR_IID)?, branches },
            TriggerType::PipelineFailed => Self::PipelineFailed {
                project_id,
                pipeline_id: required(var::TARGET_PIPELINE_ID)?,
                mr_iid: id(var::TARGET_MR_IID)?,
                branches,
            },
        })
    }

    pub fn kind(&self) -> TriggerType {
        match self {
            Self::IssueAssignee { .. } => TriggerType::IssueAssignee,
            Self::IssueNote { .. } => TriggerType::IssueNote,
            Self::MrNote { .. } => TriggerType::MrNote,
            Self::MrReviewer { .. } => TriggerType::MrReviewer,
            Self::PipelineFailed { .. } => TriggerType::PipelineFailed,
        }
    }

    pub fn project_id(&self) -> u64 {
        match self {
            Self::IssueAssignee { project_id, .. }
            | Self::IssueNote { project_id, .. }
            | Self::MrNote { project_id, .. }
            | Self::MrReviewer { project_id, .. }
            | Self::PipelineFailed { project_id, .. } => *project_id,
        }
    }

    /// The trigger as the trigger API takes it: inputs, or variables on older GitLab.
    pub fn parameters(&self, with: TriggerWith) -> TriggerParameters {
        as_parameters(with, self.variables().into_iter())
    }

    /// The name GitLab gives the pipeline this trigger starts: [`PIPELINE_NAME`] with this
    /// trigger's values (an absent one empty).
    pub fn pipeline_name(&self) -> String {
        let values = self.variables();
        let value = |name: &str| values.iter().find(|(known, _)| *known == name).map_or("", |(_, v)| v.as_str());
        format!(
            "copilot {} {}/{}/{}/{}/{}",
            value(var::TRIGGER_TYPE),
            value(var::TARGET_PROJECT_ID),
            value(var::TARGET_ISSUE_IID),
            value(var::TARGET_MR_IID),
            value(var::TARGET_NOTE_ID),
            value(var::TARGET_PIPELINE_ID)
        )
    }

    /// The pipeline variables that carry this trigger (identifiers only).
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![(var::TRIGGER_TYPE, self.kind().as_str().to_owned())];
        vars.push((var::TARGET_PROJECT_ID, self.project_id().to_string()));
        let branches_of = |branches: &Branches, vars: &mut Vec<(&'static str, String)>| {
            if let Some(source) = &branches.source {
                vars.push((var::SOURCE_BRANCH, source.clone()));
            }
            if let Some(target) = &branches.target {
                vars.push((var::TARGET_BRANCH, target.clone()));
            }
        };
        match self {
            Self::IssueAssignee { issue_iid, .. } => vars.push((var::TARGET_ISSUE_IID, issue_iid.to_string())),
            Self::IssueNote { issue_iid, note_id, .. } => {
                vars.push((var::TARGET_ISSUE_IID, issue_iid.to_string()));
                vars.push((var::TARGET_NOTE_ID, note_id.to_string()));
            }
            Self::MrNote { mr_iid, note_id, branches, .. } => {
                vars.push((var::TARGET_MR_IID, mr_iid.to_string()));
                vars.push((var::TARGET_NOTE_ID, note_id.to_string()));
                branches_of(branches, &mut vars);
            }
            Self::MrReviewer { mr_iid, branches, .. } => {
                vars.push((var::TARGET_MR_IID, mr_iid.to_string()));
                branches_of(branches, &mut vars);
            }
            Self::PipelineFailed { pipeline_id, mr_iid, branches, .. } => {
                vars.push((var::TARGET_PIPELINE_ID, pipeline_id.to_string()));
                if let Some(mr_iid) = mr_iid {
                    vars.push((var::TARGET_MR_IID, mr_iid.to_string()));
                }
                branches_of(branches, &mut vars);
            }
        }
        vars
    }
}

/// The contract as the job received it, `NAME=value` separated by spaces in the order of
/// [`Trigger::variables`] (`TRIGGER_TYPE=issue_assignee TARGET_PROJECT_ID=7 TARGET_ISSUE_IID=3`):
/// what the job log shows, whichever way the values arrived.
impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (name, value)) in self.variables().iter().enumerate() {
            let separator = if index == 0 { "" } else { " " };
            write!(f, "{separator}{name}={value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Trigger, TriggerError> {
        Trigger::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn an_empty_trigger_sends_the_whole_contract_with_nothing_in_it() {
        let TriggerParameters::Inputs(inputs) = empty_parameters(TriggerWith::Inputs) else { panic!("inputs") };
        let mut names: Vec<String> = CONTRACT.iter().map(|name| input_name(name)).collect();
        names.sort();
        assert_eq!(inputs.keys().cloned().collect::<Vec<_>>(), names);
        assert!(inputs.values().all(String::is_empty));
        let TriggerParameters::Variables(variables) = empty_parameters(TriggerWith::Variables) else { panic!("vars") };
        assert_eq!(variables.len(), CONTRACT.len());
        assert_eq!(variables.get("TRIGGER_TYPE").map(String::as_str), Some(""));
        // No value names a workflow, so the template's `workflow: rules` filter it out.
        assert!(parse(&[("TRIGGER_TYPE", ""), ("TARGET_PROJECT_ID", "")]).is_err());
    }

    #[test]
    fn every_trigger_type_parses_and_renders_back_to_the_same_variables() {
        let cases: &[&[(&str, &str)]] = &[
            &[("TRIGGER_TYPE", "issue_assignee"), ("TARGET_PROJECT_ID", "7"), ("TARGET_ISSUE_IID", "3")],
            &[
                ("TRIGGER_TYPE", "issue_note"),
                ("TARGET_PROJECT_ID", "7"),
                ("TARGET_ISSUE_IID", "3"),
                ("TARGET_NOTE_ID", "99"),
            ],
            &[
                ("TRIGGER_TYPE", "mr_note"),
                ("TARGET_PROJECT_ID", "7"),
                ("TARGET_MR_IID", "5"),
                ("TARGET_NOTE_ID", "99"),
                ("SOURCE_BRANCH", "feature"),
                ("TARGET_BRANCH", "main"),
            ],
            &[("TRIGGER_TYPE", "mr_reviewer"), ("TARGET_PROJECT_ID", "7"), ("TARGET_MR_IID", "5")],
            &[
                ("TRIGGER_TYPE", "pipeline_failed"),
                ("TARGET_PROJECT_ID", "7"),
                ("TARGET_PIPELINE_ID", "1234"),
                ("TARGET_MR_IID", "5"),
                ("SOURCE_BRANCH", "copilot/issue-3"),
            ],
        ];
        for pairs in cases {
            let trigger = parse(pairs).expect("valid trigger");
            let mut rendered: Vec<_> = trigger.variables().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            let mut expected: Vec<_> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            rendered.sort();
            expected.sort();
            assert_eq!(rendered, expected);
        }
    }

    #[test]
    fn a_trigger_displays_as_its_contract_in_order() {
        let trigger = parse(&[
            ("TARGET_MR_IID", "5"),
            ("TRIGGER_TYPE", "mr_reviewer"),
            ("TARGET_BRANCH", "main"),
            ("TARGET_PROJECT_ID", "7"),
            ("SOURCE_BRANCH", "feature/x"),
        ])
        .expect("valid trigger");
        assert_eq!(
            trigger.to_string(),
            "TRIGGER_TYPE=mr_reviewer TARGET_PROJECT_ID=7 TARGET_MR_IID=5 SOURCE_BRANCH=feature/x TARGET_BRANCH=main"
        );
    }

    #[test]
    fn inputs_are_the_variables_in_lowercase_and_the_fallback_sends_the_variables() {
        let trigger = parse(&[
            ("TRIGGER_TYPE", "issue_note"),
            ("TARGET_PROJECT_ID", "7"),
            ("TARGET_ISSUE_IID", "3"),
            ("TARGET_NOTE_ID", "9"),
        ])
        .expect("valid trigger");
        let TriggerParameters::Inputs(inputs) = trigger.parameters(TriggerWith::Inputs) else { panic!("inputs") };
        let names: Vec<&str> = inputs.keys().map(String::as_str).collect();
        assert_eq!(names, ["target_issue_iid", "target_note_id", "target_project_id", "trigger_type"]);
        assert_eq!(inputs["trigger_type"], "issue_note");
        let TriggerParameters::Variables(variables) = trigger.parameters(TriggerWith::Variables) else {
            panic!("variables")
        };
        assert_eq!(variables["TARGET_NOTE_ID"], "9");
        assert_eq!("variables".parse::<TriggerWith>(), Ok(TriggerWith::Variables));
        assert!("vars".parse::<TriggerWith>().expect_err("unknown").contains("`inputs`"));
    }

    #[test]
    fn a_missing_variable_is_named() {
        let error = parse(&[("TRIGGER_TYPE", "issue_note"), ("TARGET_PROJECT_ID", "7"), ("TARGET_NOTE_ID", "1")])
            .expect_err("needs the issue");
        assert_eq!(error.to_string(), "`TRIGGER_TYPE=issue_note` needs `TARGET_ISSUE_IID`");
        assert_eq!(parse(&[]).expect_err("no trigger"), TriggerError::Missing);
        let error = parse(&[("TRIGGER_TYPE", "issue_assignee"), ("TARGET_ISSUE_IID", "1")]).expect_err("no project");
        assert_eq!(error.to_string(), "`TRIGGER_TYPE=issue_assignee` needs `TARGET_PROJECT_ID`");
    }

    #[test]
    fn malformed_values_are_refused_with_what_is_allowed() {
        let error = parse(&[("TRIGGER_TYPE", "issue_assignee"), ("TARGET_PROJECT_ID", "group/project")])
            .expect_err("not numeric");
        assert_eq!(
            error.to_string(),
            "`TARGET_PROJECT_ID=group/project` is not valid: expected a positive whole number"
        );
        let error = parse(&[("TRIGGER_TYPE", "merge")]).expect_err("unknown type");
        assert!(error.to_string().starts_with("`TRIGGER_TYPE=merge` is not a known trigger"));
        let error = parse(&[("TRIGGER_TYPE", "issue_assignee"), ("TARGET_PROJECT_ID", "0")]).expect_err("zero");
        assert!(matches!(error, TriggerError::NotAnId { variable: "TARGET_PROJECT_ID", .. }));
    }

    #[test]
    fn the_pipeline_name_is_the_templates_with_the_contracts_values() {
        let trigger = Trigger::MrNote {
            project_id: 5,
            mr_iid: 7,
            note_id: 1241,
            branches: Branches { source: Some("feature/x".into()), target: Some("main".into()) },
        };
        let mut expected = PIPELINE_NAME.to_owned();
        for (name, value) in [
            ("$TARGET_PIPELINE_ID", ""),
            ("$TARGET_PROJECT_ID", "5"),
            ("$TARGET_ISSUE_IID", ""),
            ("$TARGET_NOTE_ID", "1241"),
            ("$TARGET_MR_IID", "7"),
            ("$TRIGGER_TYPE", "mr_note"),
        ] {
            expected = expected.replace(name, value);
        }
        assert_eq!(trigger.pipeline_name(), expected);
        assert_eq!(expected, "copilot mr_note 5//7/1241/");
    }
}
