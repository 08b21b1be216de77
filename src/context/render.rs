//! Renders [`Facts`] as `project_context.md`: the summary every stage prompt carries, so it has
//! a hard byte budget. Sections come in the order of their worth to an agent (stack and
//! commands, then the repository's own agent instructions, then layout); whatever does not fit
//! is cut at a line and a note says so and where the rest is.

use std::fmt::Write as _;

use super::analyzer::cut;
use super::facts::Facts;
use crate::prompts::stage::ProjectContext;

/// The default budget of `project_context.md`.
pub const PROJECT_CONTEXT_BYTES: usize = 16 * 1024;

/// Agent instructions share this part of the budget; each file gets an equal slice of it.
const AGENT_INSTRUCTIONS_SHARE: usize = 8 * 1024;

const MAX_LISTED_MANIFESTS: usize = 40;
const MAX_LISTED_DIRECTORIES: usize = 40;
const MAX_LISTED_LANGUAGES: usize = 12;

/// The project context every stage prompt carries: the analyzer's facts rendered within the
/// project-context budget (without the agent instructions), the repository's own agent
/// instructions once, and the agent-written
/// `understanding` when there is one (bounded like every part of a prompt), all as data.
pub fn prompt_context(facts: &Facts, understanding: Option<&str>) -> ProjectContext {
    // The instructions go into the prompt once, as their own part: not again inside the facts.
    let mut without_instructions = facts.clone();
    without_instructions.agent_instructions.clear();
    let rendered = project_context(&without_instructions);
    let instructions: Vec<(&str, &str)> =
        facts.agent_instructions.iter().map(|found| (found.path.as_str(), found.text.as_str())).collect();
    ProjectContext::new(Some(&rendered), understanding, &instructions)
}

/// `project_context.md` as rendered from `facts`, within [`PROJECT_CONTEXT_BYTES`]: the one
/// rendering every job, cache entry and artifact uses.
pub fn project_context(facts: &Facts) -> String {
    project_context_within(facts, PROJECT_CONTEXT_BYTES)
}

/// `project_context.md` for `facts`, at most `budget` bytes long.
pub(super) fn project_context_within(facts: &Facts, budget: usize) -> String {
    let mut out = String::new();
    // `write!` to a String cannot fail; the results are discarded through `let _`.
    let _ = writeln!(out, "# Project context\n");
    let _ = writeln!(out, "{} files, {} bytes (gitignored files excluded).\n", facts.files, facts.bytes);

    if !facts.languages.is_empty() {
        out.push_str("## Languages\n\n");
        for lang in facts.languages.iter().take(MAX_LISTED_LANGUAGES) {
            let _ = writeln!(out, "- {}: {} files, {} bytes", lang.name, lang.files, lang.bytes);
        }
        if facts.languages.len() > MAX_LISTED_LANGUAGES {
            let _ = writeln!(out, "- … and {} more", facts.languages.len() - MAX_LISTED_LANGUAGES);
        }
        out.push('\n');
    }

    let lists = [
        ("Frameworks", &facts.frameworks),
        ("Test frameworks", &facts.test_frameworks),
        ("Build tools", &facts.build_tools),
    ];
    if lists.iter().any(|(_, list)| !list.is_empty()) {
        out.push_str("## Stack\n\n");
        for (title, list) in lists {
            if !list.is_empty() {
                let _ = writeln!(out, "- {title}: {}", list.join(", "));
            }
        }
        out.push('\n');
    }

    if !facts.test_commands.is_empty() || !facts.build_commands.is_empty() {
        out.push_str("## Commands\n\n");
        for command in &facts.build_commands {
            let _ = writeln!(out, "- build: `{command}`");
        }
        for command in &facts.test_commands {
            let _ = writeln!(out, "- test: `{command}`");
        }
        out.push('\n');
    }

    if !facts.agent_instructions.is_empty() {
        out.push_str("## Agent instructions from the repository\n\n");
        let slice = AGENT_INSTRUCTIONS_SHARE / facts.agent_instructions.len();
        for instructions in &facts.agent_instructions {
            let (text, cut_here) = cut(&instructions.text, slice);
            let _ = writeln!(out, "### `{}`\n", instructions.path);
            out.push_str(text.trim_end());
            out.push('\n');
            if cut_here || instructions.truncated {
                let _ = writeln!(out, "\n_(`{}` continues; read the file for the rest)_", instructions.path);
            }
            out.push('\n');
        }
    }

    if !facts.ci.is_empty() {
        out.push_str("## CI\n\n");
        for ci in &facts.ci {
            let kind =
                serde_json::to_value(ci.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let _ = writeln!(out, "- `{}` ({kind})", ci.path);
        }
        out.push('\n');
    }

    if !facts.manifests.is_empty() {
        out.push_str("## Manifests\n\n");
        for manifest in facts.manifests.iter().take(MAX_LISTED_MANIFESTS) {
            let _ = write!(out, "- `{}`", manifest.path);
            if let Some(name) = &manifest.name {
                let _ = write!(out, " ({name})");
            }
            let mut said: Vec<&str> = Vec::new();
            said.extend(manifest.frameworks.iter().map(String::as_str));
            said.extend(manifest.test_frameworks.iter().map(String::as_str));
            if !said.is_empty() {
                let _ = write!(out, ": {}", said.join(", "));
            }
            if let Some(problem) = &manifest.problem {
                let _ = write!(out, " — {problem}");
            }
            out.push('\n');
        }
        if facts.manifests.len() > MAX_LISTED_MANIFESTS {
            let _ = writeln!(out, "- … and {} more", facts.manifests.len() - MAX_LISTED_MANIFESTS);
        }
        out.push('\n');
    }

    if !facts.directories.is_empty() {
        out.push_str("## Layout\n\n");
        let mut dirs: Vec<_> = facts.directories.iter().collect();
        dirs.sort_by(|a, b| b.files.cmp(&a.files).then_with(|| a.name.cmp(&b.name)));
        for dir in dirs.iter().take(MAX_LISTED_DIRECTORIES) {
            let shown = if dir.name == "." { "(root)".to_owned() } else { format!("{}/", dir.name) };
            let _ = writeln!(out, "- {shown}: {} files", dir.files);
        }
        if dirs.len() > MAX_LISTED_DIRECTORIES {
            let _ = writeln!(out, "- … and {} more", dirs.len() - MAX_LISTED_DIRECTORIES);
        }
        out.push('\n');
    }

    if !facts.docs.is_empty() {
        out.push_str("## Docs\n\n");
        for doc in &facts.docs {
            let _ = writeln!(out, "- `{doc}`");
        }
        out.push('\n');
    }

    if let Some(readme) = &facts.readme_excerpt {
        out.push_str("## README (start)\n\n");
        out.push_str(readme.trim_end());
        out.push('\n');
    }

    fit(out, budget)
}

/// Cuts `text` to `budget` bytes at a line boundary, ending with a note, if it is longer.
fn fit(text: String, budget: usize) -> String {
    if text.len() <= budget {
        return text;
    }
    let note = format!("\n_(cut at {budget} bytes; facts.json has everything)_\n");
    let room = budget.saturating_sub(note.len());
    let (head, _) = cut(&text, room);
    let head = match head.rfind('\n') {
        Some(end) => &head[..end],
        None => head,
    };
    format!("{head}\n{note}")
}
