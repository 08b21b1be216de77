//! The JSON files the analysis and architecture stages write, and how they are checked.
//!
//! The schemas are the ones the stage prompts describe (`prompts/<lang>/analysis.md.tera`,
//! `architecture.md.tera`). A file that is missing, not JSON, or missing a field gets one retry
//! whose prompt quotes the problem; the error text here is that quote, so it says exactly what
//! to fix.

use serde::{Deserialize, Serialize};

use crate::planner::Stage;

/// `analysis.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    pub summary: String,
    pub relevant_files: Vec<String>,
    pub risks: Vec<String>,
    pub acceptance_criteria: Vec<String>,
    pub approach: String,
}

/// One entry of `architecture.json`'s `files_to_change`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileToChange {
    pub path: String,
    pub change: String,
}

/// `architecture.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    pub components: Vec<String>,
    pub files_to_change: Vec<FileToChange>,
    pub interfaces: Vec<String>,
    pub notes: String,
}

/// The file a stage must write into its scratch folder, if it writes one.
pub fn output_file(stage: Stage) -> Option<&'static str> {
    match stage {
        Stage::Analysis => Some("analysis.json"),
        Stage::Architecture => Some("architecture.json"),
        Stage::Understanding => Some("project_context.md"),
        Stage::Review => Some("findings.json"),
        Stage::AddressThreads => Some("answers.json"),
        Stage::Implementation | Stage::Tests | Stage::Docs | Stage::MrNote | Stage::PipelineFix => None,
    }
}

/// A stage output that passed its check: the normalised text carried into later prompts and
/// kept as an artifact, and, for analysis and architecture, the typed value it was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    pub text: String,
    pub typed: Option<Typed>,
}

/// The typed output of a JSON stage, carried as it was checked rather than parsed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    Analysis(Analysis),
    Architecture(Architecture),
}

/// Checks a stage's output file.
pub fn validate(stage: Stage, text: Option<&str>) -> Result<Validated, String> {
    let file = output_file(stage).unwrap_or("output");
    let Some(text) = text else {
        return Err(format!("the file `{file}` was not written; write it at the path given above"));
    };
    let text = strip_code_fence(text.trim());
    match stage {
        Stage::Analysis => {
            let analysis: Analysis = parse(file, text)?;
            non_empty(file, "summary", &analysis.summary)?;
            non_empty(file, "approach", &analysis.approach)?;
            let text = serde_json::to_string_pretty(&analysis).map_err(|error| error.to_string())?;
            Ok(Validated { text, typed: Some(Typed::Analysis(analysis)) })
        }
        Stage::Architecture => {
            let architecture: Architecture = parse(file, text)?;
            non_empty(file, "notes", &architecture.notes)?;
            if let Some(entry) = architecture.files_to_change.iter().find(|entry| entry.path.trim().is_empty()) {
                return Err(format!("`{file}`: an entry of `files_to_change` has an empty `path` ({})", entry.change));
            }
            let text = serde_json::to_string_pretty(&architecture).map_err(|error| error.to_string())?;
            Ok(Validated { text, typed: Some(Typed::Architecture(architecture)) })
        }
        // Their callers check these in their own terms (review findings, the understanding).
        Stage::Implementation
        | Stage::Tests
        | Stage::Docs
        | Stage::MrNote
        | Stage::Review
        | Stage::PipelineFix
        | Stage::AddressThreads
        | Stage::Understanding => Ok(Validated { text: text.to_owned(), typed: None }),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(file: &str, text: &str) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." {
            format!("`{file}` is not a valid JSON object of the required shape: {inner}")
        } else {
            format!("`{file}` at `{path}`: {inner}")
        }
    })
}

fn non_empty(file: &str, field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("`{file}`: `{field}` must not be empty"));
    }
    Ok(())
}

/// Models sometimes wrap the file in a Markdown fence despite being told not to; that much is
/// forgiven, anything else is not.
fn strip_code_fence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else { return text };
    let Some((_, body)) = rest.split_once('\n') else { return text };
    body.trim_end().strip_suffix("```").map_or(text, str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANALYSIS: &str =
        r#"{"summary": "s", "relevant_files": ["a.rs"], "risks": [], "acceptance_criteria": ["c"], "approach": "a"}"#;

    #[test]
    fn a_valid_analysis_passes_and_a_fenced_one_is_forgiven() {
        assert!(validate(Stage::Analysis, Some(ANALYSIS)).is_ok());
        assert!(validate(Stage::Analysis, Some(&format!("```json\n{ANALYSIS}\n```"))).is_ok());
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        assert_eq!(
            validate(Stage::Analysis, None).expect_err("missing"),
            "the file `analysis.json` was not written; write it at the path given above"
        );
        let error = validate(Stage::Analysis, Some(r#"{"summary": "s"}"#)).expect_err("fields missing");
        assert!(error.contains("analysis.json") && error.contains("relevant_files"), "{error}");
        let error = validate(Stage::Analysis, Some(&ANALYSIS.replace(r#""approach": "a""#, r#""approach": " ""#)))
            .expect_err("empty");
        assert_eq!(error, "`analysis.json`: `approach` must not be empty");
        let error = validate(
            Stage::Architecture,
            Some(r#"{"components": [], "files_to_change": [{"path": 3, "change": "x"}], "interfaces": [], "notes": "n"}"#),
        )
        .expect_err("wrong type");
        assert!(error.contains("files_to_change[0].path"), "{error}");
        assert!(validate(Stage::Analysis, Some("not json")).expect_err("garbage").starts_with("`analysis.json`"));
    }
}
