//! The CI template users include is valid GitLab CI: every YAML file under `ci-templates/` is
//! validated with check-jsonschema (pinned by `scripts/test`) against GitLab's own CI schema. A
//! component file is two documents: its `spec:` header is validated on its own, and the pipeline
//! after `---` is validated with every `$[[ inputs.* ]]` interpolated to its default, as GitLab
//! does when the file is included without inputs. The header's shape and the pipeline's
//! contract with the webhook (no `workflow:` in the component, one job per `TRIGGER_TYPE` run
//! only from the trigger API, the pushing jobs of a target project in one resource group) are
//! pinned too, with the agent project's `workflow:name` that `serve` looks for, the catalog
//! project around the component (README inputs table, LICENSE, its own pipeline) and the
//! defaults the template, the example agent project and the runner's values share.
#![expect(clippy::disallowed_methods, reason = "the test runs the real check-jsonschema binary")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const TRIGGER_TYPES: [&str; 5] = ["issue_assignee", "issue_note", "mr_note", "mr_reviewer", "pipeline_failed"];
const TEMPLATE: &str = "ci-templates/templates/copilot-runner.yml";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn ci_schema() -> PathBuf {
    let path = repo().join("tests/data/schemas/gitlab-ci.json");
    assert!(path.is_file(), "GitLab's CI schema is missing at {}", path.display());
    path
}

fn check_jsonschema() -> PathBuf {
    let path = repo().join(".tools/venv/bin/check-jsonschema");
    assert!(path.is_file(), "check-jsonschema is missing at {}: run scripts/test to install it", path.display());
    path
}

/// Runs check-jsonschema on one YAML file; `Err` carries its report.
fn validate(file: &Path) -> Result<(), String> {
    let output = Command::new(check_jsonschema())
        .arg("--schemafile")
        .arg(ci_schema())
        .arg(file)
        .output()
        .expect("check-jsonschema runs");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("ci-templates is readable") {
        let path = entry.expect("test setup").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "yml" || ext == "yaml") {
            out.push(path);
        }
    }
}

/// A component file split at its `---` line into the `spec:` header and the pipeline.
struct Component {
    header: String,
    body: String,
}

fn split_component(text: &str) -> Option<Component> {
    let mut header = String::new();
    let mut lines = text.lines();
    for line in lines.by_ref() {
        if line.trim_end() == "---" {
            let body: Vec<&str> = lines.collect();
            return Some(Component { header, body: body.join("\n") + "\n" });
        }
        header.push_str(line);
        header.push('\n');
    }
    None
}

fn spec_inputs(header: &str) -> serde_json::Map<String, Value> {
    let doc: Value = serde_saphyr::from_str(header).expect("the spec header is YAML");
    doc["spec"]["inputs"].as_object().cloned().unwrap_or_default()
}

/// `$[[ inputs.NAME ]]` (spacing as GitLab allows) replaced by each input's default: strings as
/// they are, numbers and booleans as literals, arrays as YAML flow sequences.
fn interpolate_defaults(body: &str, inputs: &serde_json::Map<String, Value>) -> String {
    let pattern = regex::Regex::new(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]").expect("test setup");
    pattern
        .replace_all(body, |caps: &regex::Captures<'_>| {
            let name = &caps[1];
            let default = inputs
                .get(name)
                .and_then(|input| input.get("default"))
                .unwrap_or_else(|| panic!("input `{name}` is used but has no default"));
            match default {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            }
        })
        .into_owned()
}

fn interpolated_template() -> (serde_json::Map<String, Value>, Value) {
    let text = std::fs::read_to_string(repo().join(TEMPLATE)).expect("test setup");
    let component = split_component(&text).expect("the template is a component with a spec header");
    let inputs = spec_inputs(&component.header);
    let body = interpolate_defaults(&component.body, &inputs);
    (inputs, serde_saphyr::from_str(&body).expect("the interpolated pipeline is YAML"))
}

#[test]
fn every_ci_template_yaml_validates_against_the_gitlab_ci_schema() {
    let mut files = Vec::new();
    yaml_files(&repo().join("ci-templates"), &mut files);
    assert!(files.len() >= 2, "expected the template and the example, found {files:?}");
    let scratch = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let text = std::fs::read_to_string(file).unwrap();
        let documents: Vec<(String, String)> = match split_component(&text) {
            Some(component) => {
                let inputs = spec_inputs(&component.header);
                vec![
                    ("spec header".to_owned(), component.header.clone()),
                    ("pipeline with input defaults".to_owned(), interpolate_defaults(&component.body, &inputs)),
                ]
            }
            None => vec![("pipeline".to_owned(), text)],
        };
        for (part, yaml) in documents {
            let path = scratch.path().join(format!("{index}-{}.yml", part.replace(' ', "-")));
            std::fs::write(&path, yaml).unwrap();
            if let Err(report) = validate(&path) {
                failures.push(format!("{} ({part}):\n{report}", file.display()));
            }
        }
    }
    assert!(failures.is_empty(), "schema violations:\n{}", failures.join("\n"));
}

#[test]
fn schema_validation_rejects_a_broken_pipeline() {
    // Proves the validation above can fail: the same schema refuses a job GitLab would refuse.
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("broken.yml");
    std::fs::write(&path, "job:\n  script: [\"true\"]\n  timeout: 5\n  interruptible: \"yes\"\n").unwrap();
    assert!(validate(&path).is_err(), "check-jsonschema accepted an invalid pipeline");
}

#[test]
fn spec_header_declares_typed_inputs_that_all_have_defaults_and_are_all_used() {
    let text = std::fs::read_to_string(repo().join(TEMPLATE)).unwrap();
    let component = split_component(&text).unwrap();
    let header: Value = serde_saphyr::from_str(&component.header).unwrap();
    let spec = header["spec"].as_object().expect("a `spec:` mapping");
    assert!(spec.keys().all(|key| ["inputs", "description", "include", "component"].contains(&key.as_str())));
    let description = spec["description"].as_str().expect("a catalog description");
    assert!(description.len() <= 256, "the catalog cuts descriptions at 256 characters");

    let inputs = spec_inputs(&component.header);
    for needed in ["image", "stage", "tags", "language", "agent_username", "job_timeout"] {
        assert!(inputs.contains_key(needed), "input `{needed}` is missing");
    }
    for (name, input) in &inputs {
        let kind = input.get("type").and_then(Value::as_str).unwrap_or("string");
        let default = input.get("default").unwrap_or_else(|| panic!("input `{name}` has no default"));
        let fits = match kind {
            "string" => default.is_string(),
            "number" => default.is_number(),
            "boolean" => default.is_boolean(),
            "array" => default.is_array(),
            other => panic!("input `{name}` has unknown type `{other}`"),
        };
        assert!(fits, "default of `{name}` is not a {kind}: {default}");
        if let Some(options) = input.get("options").and_then(Value::as_array) {
            assert!(options.contains(default), "default of `{name}` is not one of its options");
        }
        let description = input.get("description").and_then(Value::as_str).unwrap_or_default();
        assert!(!description.is_empty() && description.len() <= 1024, "input `{name}` needs a description");
    }
    assert_eq!(inputs["tags"]["type"], "array");
    let languages: BTreeSet<&str> =
        inputs["language"]["options"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(languages, BTreeSet::from(["en", "zh", "ja", "ko", "hi", "th"]));

    let pattern = regex::Regex::new(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]").unwrap();
    let used: BTreeSet<String> = pattern.captures_iter(&component.body).map(|caps| caps[1].to_owned()).collect();
    let declared: BTreeSet<String> = inputs.keys().cloned().collect();
    assert_eq!(used, declared, "every input is used and every use is declared");
}

const EXAMPLE: &str = "ci-templates/examples/agent-project.gitlab-ci.yml";

/// The example agent project's pipeline (after its `spec:` header), as written.
fn example_pipeline() -> Value {
    let text = std::fs::read_to_string(repo().join(EXAMPLE)).expect("test setup");
    let example = split_component(&text).expect("the agent project declares the pipeline's inputs");
    serde_saphyr::from_str(&example.body).expect("the example's pipeline is YAML")
}

/// The name a triggered pipeline gets is the one `serve` looks for (and the fake GitLab gives):
/// the agent project's `workflow:name`, from the component's variables.
#[test]
fn the_pipeline_name_spells_the_whole_trigger_contract() {
    let pipeline = example_pipeline();
    let name = pipeline["workflow"]["name"].as_str().expect("workflow:name");
    assert_eq!(name, copilot_runner::trigger::PIPELINE_NAME);
    assert_eq!(name, copilot_runner_testkit::fake_gitlab::AGENT_PIPELINE_NAME);
    let (_, template) = interpolated_template();
    for variable in regex::Regex::new(r"\$([A-Z_]+)").unwrap().captures_iter(name) {
        assert!(template["variables"].get(&variable[1]).is_some(), "the component sets `{}`", &variable[1]);
    }
}

#[test]
fn the_component_sets_no_workflow_and_each_job_runs_only_for_its_trigger_type_from_the_trigger_api() {
    let (_, pipeline) = interpolated_template();
    assert!(pipeline.get("workflow").is_none(), "a component must not set the including pipeline's workflow");
    let jobs: Vec<(&String, &Value)> = pipeline
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, job)| !name.starts_with('.') && job.get("extends").is_some())
        .collect();
    assert_eq!(jobs.len(), TRIGGER_TYPES.len());
    for trigger in TRIGGER_TYPES {
        let job = &pipeline[format!("copilot:{trigger}")];
        assert_eq!(job["extends"], ".copilot-runner");
        let rules = job["rules"].as_array().expect("rules");
        // Not "Run pipeline" (`web`), not the pipelines API (`api`), not a push: only the trigger API.
        assert_eq!(rules.len(), 1, "{rules:?}");
        assert_eq!(rules[0]["if"], format!(r#"$CI_PIPELINE_SOURCE == "trigger" && $TRIGGER_TYPE == "{trigger}""#));
    }

    // The agent project's workflow creates no other pipeline, and a push there cancels nothing.
    let workflow = &example_pipeline()["workflow"];
    let rules = workflow["rules"].as_array().expect("workflow rules");
    let conditions: Vec<&str> = rules.iter().filter_map(|rule| rule["if"].as_str()).collect();
    assert_eq!(conditions, [r#"$CI_PIPELINE_SOURCE == "trigger" && $TRIGGER_TYPE"#]);
    assert_eq!(rules.last().unwrap()["when"], "never", "anything else creates no pipeline");
    assert_eq!(workflow["auto_cancel"]["on_new_commit"], "none");
}

/// The trigger contract: each variable `run` reads and the input that carries it.
const CONTRACT: [(&str, &str); 8] = [
    ("TRIGGER_TYPE", "trigger_type"),
    ("TARGET_PROJECT_ID", "target_project_id"),
    ("TARGET_ISSUE_IID", "target_issue_iid"),
    ("TARGET_MR_IID", "target_mr_iid"),
    ("TARGET_NOTE_ID", "target_note_id"),
    ("TARGET_PIPELINE_ID", "target_pipeline_id"),
    ("SOURCE_BRANCH", "source_branch"),
    ("TARGET_BRANCH", "target_branch"),
];

#[test]
fn the_trigger_contract_arrives_as_inputs_that_become_the_jobs_variables() {
    let text = std::fs::read_to_string(repo().join(TEMPLATE)).unwrap();
    let component = split_component(&text).unwrap();
    let inputs = spec_inputs(&component.header);
    let pipeline: Value = serde_saphyr::from_str(&component.body).unwrap();
    let example_text =
        std::fs::read_to_string(repo().join("ci-templates/examples/agent-project.gitlab-ci.yml")).unwrap();
    let example = split_component(&example_text).expect("the agent project declares the pipeline's inputs");
    let pipeline_inputs = spec_inputs(&example.header);
    let example_body: Value = serde_saphyr::from_str(&example.body).unwrap();
    let passed_on = &example_body["include"][0]["inputs"];
    for (variable, input) in CONTRACT {
        // Empty by default, so trigger variables (GitLab before 18.1) still override them.
        assert_eq!(inputs[input]["default"], "", "template input `{input}`");
        assert_eq!(pipeline_inputs[input]["default"], "", "pipeline input `{input}`");
        assert_eq!(passed_on[input], format!("$[[ inputs.{input} ]]"), "the agent project passes `{input}` on");
        let value = &pipeline["variables"][variable];
        let value = value.get("value").unwrap_or(value);
        assert_eq!(value, &Value::from(format!("$[[ inputs.{input} ]]")), "`{variable}` comes from `{input}`");
        // The binary reads the same names (inputs are the variables in lowercase).
        assert_eq!(copilot_runner::trigger::input_name(variable), input);
    }
    // Identifiers only: each id input admits digits alone, and the type only the known workflows.
    for input in ["target_project_id", "target_issue_iid", "target_mr_iid", "target_note_id", "target_pipeline_id"] {
        assert_eq!(inputs[input]["regex"], "^[0-9]*$", "`{input}`");
        assert_eq!(pipeline_inputs[input]["regex"], "^[0-9]*$", "`{input}`");
    }
    let kinds: BTreeSet<&str> =
        inputs["trigger_type"]["options"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(kinds, TRIGGER_TYPES.into_iter().chain([""]).collect());
    // Branch names are data: never expanded as variables.
    assert_eq!(pipeline["variables"]["SOURCE_BRANCH"]["expand"], false);
}

#[test]
fn jobs_that_push_share_one_resource_group_per_target_project_and_reviews_one_per_merge_request() {
    let (_, pipeline) = interpolated_template();
    let group = |trigger: &str| pipeline[format!("copilot:{trigger}")]["resource_group"].as_str().unwrap().to_owned();
    // The issue workflow, MR notes and the fix loop can push to the same `copilot/issue-<iid>`
    // branch, and their triggers name no common issue or MR: the project is what they share.
    for pusher in ["issue_assignee", "issue_note", "mr_note", "pipeline_failed"] {
        assert_eq!(group(pusher), "copilot-$TARGET_PROJECT_ID", "`copilot:{pusher}`");
    }
    assert_eq!(group("mr_reviewer"), "copilot-$TARGET_PROJECT_ID-review-$TARGET_MR_IID");
    // Expanded from the component's variables alone (GitLab expands `resource_group` with the
    // job's YAML and trigger variables, one level deep): nothing else is needed to tell targets apart.
    let variable = regex::Regex::new(r"\$([A-Z_]+)").unwrap();
    for trigger in TRIGGER_TYPES {
        for name in variable.captures_iter(&group(trigger)) {
            assert!(pipeline["variables"].get(&name[1]).is_some(), "`{}` is a variable of the component", &name[1]);
        }
    }
}

#[test]
fn base_job_keeps_artifacts_and_cache_and_runs_the_binary() {
    let (inputs, pipeline) = interpolated_template();
    let base = &pipeline[".copilot-runner"];
    assert_eq!(base["script"], serde_json::json!(["copilot-runner run"]));
    assert_eq!(base["image"]["name"], inputs["image"]["default"]);
    assert_eq!(base["image"]["entrypoint"], serde_json::json!([""]));
    assert_eq!(base["tags"], inputs["tags"]["default"]);
    assert_eq!(base["timeout"], inputs["job_timeout"]["default"]);
    assert!(base["interruptible"].is_boolean());
    assert_eq!(base["artifacts"]["when"], "always");
    assert!(base["artifacts"]["expire_in"].is_string());
    assert_eq!(base["cache"]["paths"], serde_json::json!([".copilot-cache/"]));
    assert_eq!(base["cache"]["when"], "always");
    // The binary's own defaults put its artifacts and its cache where `artifacts:` and `cache:`
    // look for them.
    let env = copilot_runner::config::Env::from_pairs([("CI", "true"), ("CI_PROJECT_DIR", "/builds/agent")]);
    let settings = copilot_runner::config::Settings::resolve(&env, &copilot_runner::config::Flags::default())
        .expect("defaults resolve");
    assert_eq!(settings.artifacts_dir, Path::new("/builds/agent/copilot-artifacts"));
    assert_eq!(settings.cache.url, "file:///builds/agent/.copilot-cache");
    assert_eq!(
        pipeline["copilot:mr_reviewer"]["artifacts"]["reports"]["codequality"],
        "copilot-artifacts/gl-code-quality-report.json"
    );
}

#[test]
fn artifacts_are_an_explicit_list_never_the_whole_folder_and_only_developers_download_them() {
    let (_, pipeline) = interpolated_template();
    let artifacts = &pipeline[".copilot-runner"]["artifacts"];
    assert_eq!(artifacts["access"], "developer");
    let paths: Vec<&str> = artifacts["paths"].as_array().unwrap().iter().map(|path| path.as_str().unwrap()).collect();
    for path in &paths {
        assert!(path.starts_with("copilot-artifacts/") && !path.ends_with('/'), "`{path}` uploads a whole folder");
    }
    for needed in [
        "copilot-artifacts/copilot-runner.log",
        "copilot-artifacts/**/summary.json",
        "copilot-artifacts/**/plan.json",
        "copilot-artifacts/**/prompt*.md",
        "copilot-artifacts/**/transcript.txt",
        "copilot-artifacts/gl-code-quality-report.json",
    ] {
        assert!(paths.contains(&needed), "`{needed}` is not uploaded: {paths:?}");
    }
    // The Copilot CLI's raw events and debug logs can quote whole files of the target.
    assert!(!paths.iter().any(|path| path.contains("events") || path.contains("copilot-logs")), "{paths:?}");
    // The review job adds its report and keeps the list and the access rule (`extends` merges).
    let review = &pipeline["copilot:mr_reviewer"]["artifacts"];
    assert!(review.get("paths").is_none() && review.get("access").is_none(), "{review}");
}

#[test]
fn template_sets_only_variables_the_binary_knows() {
    let (_, pipeline) = interpolated_template();
    let known: BTreeSet<&str> = copilot_runner::env_vars::SETTINGS.iter().map(|var| var.name).collect();
    for name in pipeline[".copilot-runner"]["variables"].as_object().unwrap().keys() {
        assert!(name.starts_with("GIT_") || known.contains(name.as_str()), "`{name}` is not a copilot-runner setting");
    }
}

/// How the component project's README writes an input's default in its table: as YAML would
/// (`""` for the empty string, a flow sequence for an array), in backticks.
fn readme_default(default: &Value) -> String {
    let text = match default {
        Value::String(text) if text.is_empty() => r#""""#.to_owned(),
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let items: Vec<String> =
                items.iter().map(|item| item.as_str().map_or_else(|| item.to_string(), str::to_owned)).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    };
    format!("`{text}`")
}

/// The rows of the README's inputs table: input name and default cell.
fn readme_inputs(readme: &str) -> Vec<(String, String)> {
    readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|row| {
            let (name, rest) = row.split_once("` | ")?;
            let (default, _) = rest.split_once(" | ")?;
            Some((name.to_owned(), default.to_owned()))
        })
        .collect()
}

#[test]
fn the_component_readme_lists_every_input_with_its_default() {
    let readme = std::fs::read_to_string(repo().join("ci-templates/README.md")).unwrap();
    let rows = readme_inputs(&readme);
    let (inputs, _) = interpolated_template();
    let names: Vec<&str> = rows.iter().map(|(name, _)| name.as_str()).collect();
    let mut declared: Vec<&str> = inputs.keys().map(String::as_str).collect();
    declared.sort_unstable();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, declared, "the README's table lists exactly the `spec:inputs` entries");
    for (name, default) in &rows {
        assert_eq!(*default, readme_default(&inputs[name]["default"]), "the README's default of `{name}`");
    }
    // The check can fail: a row with another default does not match.
    assert_ne!(readme_default(&serde_json::json!(["copilot-agent"])), readme_default(&serde_json::json!([])));
    assert_eq!(readme_default(&Value::from("")), r#"`""`"#);
}

#[test]
fn ci_templates_is_a_catalog_project_that_tests_its_component_and_releases_on_a_semver_tag() {
    let root = repo().join("ci-templates");
    assert!(root.join("templates/copilot-runner.yml").is_file());
    let license = std::fs::read_to_string(root.join("LICENSE")).expect("a LICENSE");
    assert!(license.starts_with("MIT License"), "MIT, as the crate");
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    assert!(manifest.contains("\nlicense = \"MIT\"\n"));

    let text = std::fs::read_to_string(root.join(".gitlab-ci.yml")).expect("the component project's pipeline");
    let pipeline: Value = serde_saphyr::from_str(&text).unwrap();
    let include = &pipeline["include"][0];
    assert_eq!(include["component"], "$CI_SERVER_FQDN/$CI_PROJECT_PATH/copilot-runner@$CI_COMMIT_SHA");
    // The inputs it passes are declared, and fit their options and patterns.
    let (inputs, _) = interpolated_template();
    let passed = include["inputs"].as_object().expect("inputs");
    assert!(!passed.is_empty());
    for (name, value) in passed {
        let input = inputs.get(name).unwrap_or_else(|| panic!("`{name}` is not an input of the component"));
        if let Some(options) = input.get("options").and_then(Value::as_array) {
            assert!(options.contains(value), "`{name}`");
        }
        if let Some(pattern) = input.get("regex").and_then(Value::as_str) {
            assert!(regex::Regex::new(pattern).unwrap().is_match(value.as_str().unwrap()), "`{name}`");
        }
    }
    let stages: Vec<&str> = pipeline["stages"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(stages.contains(&passed["stage"].as_str().unwrap()), "the component's jobs have a stage here");
    assert!(pipeline["component:check"]["script"].is_array());
    let release = &pipeline["release"];
    assert_eq!(release["rules"], serde_json::json!([{"if": r"$CI_COMMIT_TAG =~ /^\d+\.\d+\.\d+$/"}]));
    assert_eq!(release["release"]["tag_name"], "$CI_COMMIT_TAG");
    assert!(pipeline.get("workflow").is_none());
}

/// Whether gitlab-runner's `allowed_images` glob `pattern` admits `image` (`*` within a path
/// segment, `**` across segments).
fn image_allowed(pattern: &str, image: &str) -> bool {
    let mut expression = String::from("^");
    let mut rest = pattern;
    while let Some(star) = rest.find('*') {
        expression.push_str(&regex::escape(&rest[..star]));
        if rest[star..].starts_with("**") {
            expression.push_str(".*");
            rest = &rest[star + 2..];
        } else {
            expression.push_str("[^/]*");
            rest = &rest[star + 1..];
        }
    }
    expression.push_str(&regex::escape(rest));
    expression.push('$');
    regex::Regex::new(&expression).expect("a glob makes a regex").is_match(image)
}

#[test]
fn the_template_defaults_the_example_project_and_the_runner_values_agree() {
    let (inputs, _) = interpolated_template();
    let example = example_pipeline();
    let passed = &example["include"][0]["inputs"];
    let config = crate::ship_k8s::runner_config();
    let kubernetes = config["runners"][0]["kubernetes"].as_table().unwrap();
    let allowed: Vec<&str> =
        kubernetes["allowed_images"].as_array().unwrap().iter().filter_map(toml::Value::as_str).collect();
    let admitted = |image: &str| allowed.iter().any(|pattern| image_allowed(pattern, image));
    // The image: the template's default, the example's and the runner's own are all admitted.
    for (whose, image) in [
        ("the template's default", inputs["image"]["default"].as_str().unwrap()),
        ("the example's", passed["image"].as_str().unwrap()),
        ("the runner's", kubernetes["image"].as_str().unwrap()),
    ] {
        assert!(admitted(image), "{whose} image `{image}` is outside `allowed_images` {allowed:?}");
    }
    // The check can fail: the template's former default was outside.
    assert!(!admitted("$CI_REGISTRY_IMAGE/copilot-runner:0.1.0"));
    assert!(!admitted("registry.example.com/tools/copilot-runner/evil:1"));

    // One tag: the runner runs no untagged jobs, so an empty list would never be picked up.
    let tag = serde_json::json!(["copilot-agent"]);
    assert_eq!(inputs["tags"]["default"], tag);
    assert_eq!(passed["tags"], tag);
    let values_text = std::fs::read_to_string(repo().join("k8s-runner/values.yaml")).unwrap();
    assert!(values_text.contains("tagged `copilot-agent`"), "values.yaml names the runner's tag");
    let deploy = std::fs::read_to_string(repo().join("docs/deploy.md")).unwrap();
    assert!(
        deploy.contains("tags\n`copilot-agent`, \"Run untagged jobs\" off"),
        "docs/deploy.md creates the runner so"
    );

    // The job pods pull the image with the Secret the deployment guide creates in their namespace.
    let secrets: Vec<&str> =
        kubernetes["image_pull_secrets"].as_array().unwrap().iter().filter_map(toml::Value::as_str).collect();
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    let job_namespace = crate::ship_k8s::our_values()["runners"]["jobNamespace"].as_str().unwrap().to_owned();
    let command = format!("kubectl -n {job_namespace} create secret docker-registry {}", secrets[0]);
    assert!(deploy.contains(&command), "docs/deploy.md runs `{command}`");

    // The agent user: the template's default, the example's and the webhook's agree.
    let configmap: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(repo().join("k8s-runner/webhook/configmap.yaml")).unwrap())
            .unwrap();
    assert_eq!(inputs["agent_username"]["default"], passed["agent_username"]);
    assert_eq!(configmap["data"]["COPILOT_AGENT_USERNAME"], passed["agent_username"]);
}
