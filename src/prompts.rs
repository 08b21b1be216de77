//! Every text the runner writes for someone else: the prompts the Copilot CLI receives per stage
//! and the notes, descriptions and summaries posted on GitLab, in six languages.
//!
//! Wording lives in Tera templates under `prompts/<lang>/` so translators and operators can read
//! and change it without touching Rust; the templates are embedded in the binary (see
//! [`embedded`]) and a folder named by `COPILOT_PROMPTS_DIR` may replace any of them. Templates
//! are rendered only from the typed contexts in [`stage`] and [`message`], whose untrusted parts
//! are already fenced or escaped (see [`crate::untrusted`]), so a template cannot forget to.

mod embedded;
pub mod markers;
pub mod message;
pub mod stage;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Language;

pub use message::Message;
pub use stage::Stage;

/// Why prompts could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// An override file could not be read.
    #[error("cannot read the prompt override `{path}`")]
    ReadOverride {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A template (embedded or override) does not parse; `origin` names the file.
    #[error("the prompt template `{origin}` is invalid: {message}")]
    InvalidTemplate { origin: String, message: String },
    /// A template parsed but failed to render with its context.
    #[error("cannot render the prompt template `{origin}`: {message}")]
    Render { origin: String, message: String },
}

impl PromptError {
    /// Whether the error comes from the override folder an operator configured (exit code 2)
    /// rather than from rendering.
    pub fn is_configuration(&self) -> bool {
        matches!(self, Self::ReadOverride { .. } | Self::InvalidTemplate { .. })
    }
}

impl crate::exit::Classify for PromptError {
    fn exit_code(&self) -> crate::exit::Code {
        if self.is_configuration() { crate::exit::Code::Usage } else { crate::exit::Code::WorkFailed }
    }
}

/// One template: a stage prompt, a GitLab message, or a partial the others include.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateName {
    Stage(Stage),
    Message(Message),
    Partial(&'static str),
}

impl TemplateName {
    /// The file stem under `prompts/<lang>/`.
    pub fn stem(self) -> &'static str {
        match self {
            Self::Stage(stage) => stage.as_str(),
            Self::Message(message) => message.name(),
            Self::Partial(name) => name,
        }
    }

    /// The path relative to the prompts folder: `<lang>/<name>.md.tera`.
    pub fn relative_path(self, language: Language) -> String {
        format!("{}/{}.md.tera", language.code(), self.stem())
    }

    /// Every template each language must have.
    pub fn all() -> impl Iterator<Item = TemplateName> {
        Stage::ALL
            .into_iter()
            .map(Self::Stage)
            .chain(Message::ALL.into_iter().map(Self::Message))
            .chain(embedded::PARTIALS.iter().map(|name| Self::Partial(name)))
    }
}

/// A context that renders one stage prompt.
pub trait StageContext: Serialize {
    fn stage(&self) -> Stage;

    /// Refuses a context the template cannot render sensibly (a missing output path).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A context that renders one GitLab message.
pub trait MessageContext: Serialize {
    fn message(&self) -> Message;
}

/// All templates of all languages, parsed once.
pub struct Prompts {
    tera: tera::Tera,
    /// Where each template came from, by template name, for error messages.
    origins: std::collections::HashMap<String, String>,
}

impl std::fmt::Debug for Prompts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let overridden = self.origins.values().filter(|origin| !origin.ends_with("(embedded)")).count();
        f.debug_struct("Prompts").field("templates", &self.origins.len()).field("overridden", &overridden).finish()
    }
}

impl Prompts {
    /// Loads the embedded templates, each replaced by `<override_dir>/<lang>/<name>.md.tera` when
    /// that file exists. Every template of every language is parsed here, so a broken override
    /// fails at start, naming its file. It reads the override folder with blocking IO: call it
    /// once at start (from async code, inside `spawn_blocking`) and share the result.
    pub fn new(override_dir: Option<&Path>) -> Result<Self, PromptError> {
        let mut sources = Vec::new();
        let mut origins = std::collections::HashMap::new();
        for (name, embedded_text) in embedded::TEMPLATES.iter().flatten() {
            let override_path = override_dir.map(|dir| dir.join(name)).filter(|path| path.is_file());
            let (text, origin) = match override_path {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|source| PromptError::ReadOverride { path: path.clone(), source })?;
                    let origin = path.display().to_string();
                    // Parsed alone first so that a syntax error names its own file; the embedded
                    // templates are known to parse (their tests render them all).
                    check_alone(name, &text)
                        .and_then(|()| check_stage_line(name, &text))
                        .map_err(|message| PromptError::InvalidTemplate { origin: origin.clone(), message })?;
                    (text, origin)
                }
                None => ((*embedded_text).to_owned(), format!("prompts/{name} (embedded)")),
            };
            origins.insert((*name).to_owned(), origin);
            sources.push(((*name).to_owned(), text));
        }
        let mut tera = tera::Tera::default();
        tera.autoescape_on(Vec::<&str>::new());
        tera.add_raw_templates(sources).map_err(|error| PromptError::InvalidTemplate {
            origin: override_dir.map_or_else(|| "prompts/ (embedded)".to_owned(), |dir| dir.display().to_string()),
            message: error.to_string(),
        })?;
        Ok(Self { tera, origins })
    }

    /// Renders the prompt of `context.stage()` in `language`.
    pub fn render_stage(&self, language: Language, context: &impl StageContext) -> Result<String, PromptError> {
        let name = TemplateName::Stage(context.stage()).relative_path(language);
        context.check().map_err(|message| PromptError::Render { origin: name.clone(), message })?;
        self.render(&name, context)
    }

    /// Renders the GitLab message `context.message()` in `language`.
    pub fn render_message(&self, language: Language, context: &impl MessageContext) -> Result<String, PromptError> {
        self.render(&TemplateName::Message(context.message()).relative_path(language), context)
    }

    fn render(&self, name: &str, context: &impl Serialize) -> Result<String, PromptError> {
        let origin = || self.origins.get(name).cloned().unwrap_or_else(|| name.to_owned());
        let context = tera::Context::from_serialize(context)
            .map_err(|error| PromptError::Render { origin: origin(), message: error.to_string() })?;
        let rendered = self
            .tera
            .render(name, &context)
            .map_err(|error| PromptError::Render { origin: origin(), message: error_chain(&error) })?;
        Ok(tidy(&rendered))
    }
}

/// Parses one template on its own, with every other template of its language stubbed empty so
/// its includes resolve, so that a syntax error is reported against its own file.
fn check_alone(name: &str, text: &str) -> Result<(), String> {
    let language = name.split_once('/').map_or("", |(language, _)| language);
    let stubs = embedded::TEMPLATES
        .iter()
        .flatten()
        .map(|(other, _)| *other)
        .filter(|other| other.split_once('/').is_some_and(|(lang, _)| lang == language) && *other != name)
        .map(|other| (other, ""));
    tera::Tera::default().add_raw_templates(stubs.chain([(name, text)])).map_err(|error| error_chain(&error))
}

/// A stage template must start with its stage line (see [`markers::stage_line`]): tests and
/// transcripts tell the stages apart by it.
fn check_stage_line(name: &str, text: &str) -> Result<(), String> {
    let stem = name.rsplit_once('/').map_or(name, |(_, file)| file).trim_end_matches(".md.tera");
    let Some(stage) = Stage::ALL.into_iter().find(|stage| stage.as_str() == stem) else {
        return Ok(());
    };
    let line = markers::stage_line(stage);
    if text.lines().next().map(str::trim_end) == Some(line.as_str()) {
        Ok(())
    } else {
        Err(format!("a stage prompt must start with the line `{line}`"))
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Trims trailing spaces, collapses runs of blank lines that optional sections leave behind and
/// ends the text with exactly one newline, so templates can stay readable.
fn tidy(rendered: &str) -> String {
    let mut out = String::with_capacity(rendered.len());
    let mut blank_run = 0;
    let mut in_fence: Option<String> = None;
    for line in rendered.trim_start_matches('\n').lines() {
        let line = if in_fence.is_some() { line } else { line.trim_end() };
        let fence = line.chars().take_while(|c| *c == '`').collect::<String>();
        if fence.len() >= 3 {
            match &in_fence {
                Some(open) if line == open.as_str() => in_fence = None,
                None => in_fence = Some(fence),
                Some(_) => {}
            }
        }
        if line.is_empty() && in_fence.is_none() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod address_fixtures;
#[cfg(test)]
mod bounds_tests;
#[cfg(test)]
mod override_tests;
#[cfg(test)]
mod tests;
