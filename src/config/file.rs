//! The optional YAML configuration file (`--config` / `COPILOT_RUNNER_CONFIG`).
//!
//! Two layouts are accepted: flat keys named after the environment variables
//! (`copilot_language: zh`), and the original grouped layout (`paths`, `services`,
//! `authentication`, `retry_config`, `templates`). Both flatten to environment variable names,
//! each with the line it came from so errors can point at `file:line`. Unknown keys are errors:
//! a misspelt key silently ignored is a setting silently lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{SettingError, Source};
use crate::env_vars;

/// Groups of the original layout, and the short names they accept besides the full ones.
const GROUPS: &[(&str, &[(&str, &str)])] = &[
    ("paths", &[("artifacts_dir", env_vars::COPILOT_ARTIFACTS_DIR), ("cache_url", env_vars::CONTEXT_CACHE_URL)]),
    (
        "services",
        &[
            ("gitlab_url", env_vars::GITLAB_API_BASE),
            ("api_base", env_vars::GITLAB_API_BASE),
            ("agent_username", env_vars::COPILOT_AGENT_USERNAME),
            ("project_id", env_vars::PIPELINE_PROJECT_ID),
            ("ref", env_vars::PIPELINE_REF),
        ],
    ),
    (
        "authentication",
        &[
            ("token", env_vars::GITLAB_TOKEN),
            ("github_token", env_vars::COPILOT_GITHUB_TOKEN),
            ("trigger_token", env_vars::PIPELINE_TRIGGER_TOKEN),
            ("webhook_secret", env_vars::WEBHOOK_SECRET_TOKEN),
            ("min_access_level", env_vars::COPILOT_MIN_ACCESS_LEVEL),
        ],
    ),
    (
        "retry_config",
        &[
            ("interval", env_vars::RETRY_INTERVAL_TIME),
            ("max_retries", env_vars::RETRY_MAX_TIME),
            ("max_debug_attempts", env_vars::DEBUG_MAX_TIME),
            ("total_timeout", env_vars::TOTAL_TIMEOUT),
        ],
    ),
    ("templates", &[("language", env_vars::COPILOT_LANGUAGE), ("branch_prefix", env_vars::COPILOT_BRANCH_PREFIX)]),
];

/// A value from the file and the line it is on.
#[derive(Debug, Clone)]
pub struct FileValue {
    pub value: String,
    pub line: usize,
}

/// A parsed configuration file, flattened to environment variable names.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub values: BTreeMap<&'static str, FileValue>,
    /// Problems with individual keys (unknown, not a scalar); the file itself was readable.
    pub errors: Vec<SettingError>,
}

impl ConfigFile {
    /// Reads and parses the file. `Err` carries what was expected when it cannot be read at all.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|error| format!("a readable YAML file ({error})"))?;
        Self::parse(path, &text)
    }

    /// Parses YAML text; `path` is only used in error messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        let root: BTreeMap<String, serde_json::Value> = if text.trim().is_empty() {
            BTreeMap::new()
        } else {
            serde_saphyr::from_str(text).map_err(|error| format!("a YAML mapping of settings ({error})"))?
        };
        let lines = KeyLines::scan(text);
        let mut file = Self { path: path.to_owned(), values: BTreeMap::new(), errors: Vec::new() };
        for (key, value) in root {
            let group = GROUPS.iter().find(|(name, _)| *name == key);
            match (group, value) {
                (Some((group, aliases)), serde_json::Value::Object(children)) => {
                    for (child, value) in children {
                        let line = lines.line(Some(group), &child);
                        let name = aliases
                            .iter()
                            .find(|(alias, _)| *alias == child)
                            .map(|(_, name)| *name)
                            .or_else(|| setting_named(&child));
                        file.insert(&format!("{group}.{child}"), name, &value, line);
                    }
                }
                (_, value) => {
                    let line = lines.line(None, &key);
                    file.insert(&key, setting_named(&key), &value, line);
                }
            }
        }
        Ok(file)
    }

    fn insert(&mut self, key: &str, name: Option<&'static str>, value: &serde_json::Value, line: usize) {
        let source = Source::File { path: self.path.clone(), line };
        let Some(name) = name else {
            self.errors.push(SettingError {
                key: key.to_owned(),
                value: "…".to_owned(),
                source,
                allowed: "a known setting (see `copilot-runner config` or the README's configuration table)".to_owned(),
            });
            return;
        };
        let scalar = match value {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Number(number) => Some(number.to_string()),
            serde_json::Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        };
        match scalar {
            Some(value) => {
                self.values.insert(name, FileValue { value, line });
            }
            None => self.errors.push(SettingError {
                key: key.to_owned(),
                value: "…".to_owned(),
                source,
                allowed: "a single value (text, number or boolean)".to_owned(),
            }),
        }
    }
}

/// The setting whose file key (or variable name) is `key`.
fn setting_named(key: &str) -> Option<&'static str> {
    env_vars::SETTINGS
        .iter()
        .find(|var| var.name.eq_ignore_ascii_case(key) && var.name != env_vars::COPILOT_RUNNER_CONFIG)
        .map(|var| var.name)
}

/// Where each key sits in the text, for `file:line` in errors. A small scan rather than a
/// span-aware parser: keys in our files are plain `key:` lines, one level deep at most.
pub(crate) struct KeyLines {
    entries: Vec<(Option<String>, String, usize)>,
}

impl KeyLines {
    pub(crate) fn scan(text: &str) -> Self {
        let mut entries = Vec::new();
        let mut group: Option<String> = None;
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let Some((key, _)) = trimmed.split_once(':') else { continue };
            let key = key.trim().trim_matches(['"', '\'']).to_owned();
            if line.len() == trimmed.len() {
                group = Some(key.clone());
                entries.push((None, key, index + 1));
            } else {
                entries.push((group.clone(), key, index + 1));
            }
        }
        Self { entries }
    }

    pub(crate) fn line(&self, group: Option<&str>, key: &str) -> usize {
        self.find(group, key).unwrap_or(1)
    }

    /// The line of `key` below `group` (`None`: a top-level key), when it sits on a line of its own.
    pub(crate) fn find(&self, group: Option<&str>, key: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|(entry_group, entry_key, _)| entry_group.as_deref() == group && entry_key == key)
            .map(|(_, _, line)| *line)
    }
}
