//! Reading a task's text: its length as a measure of size, the paths it names, and its
//! acceptance criteria (checkbox lists and the items under an "Acceptance criteria" or "Done
//! when" heading, in every prompt language).

use super::keywords::CRITERIA_HEADINGS;

/// At most this many paths and criteria are kept; more adds nothing to the decision.
const MAX_ITEMS: usize = 50;

/// The text outside fenced code blocks: a pasted stack trace or log says little about size.
pub(super) fn without_code_blocks(task: &str) -> String {
    let mut out = String::with_capacity(task.len());
    let mut fenced = false;
    for line in task.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Characters that carry text, whitespace excluded; a CJK character (Han, kana, Hangul) weighs
/// two, as it says about as much as two Latin letters or more.
pub(super) fn weighted_length(text: &str) -> usize {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c as u32 {
            0x1100..=0x11FF
            | 0x3040..=0x30FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xAC00..=0xD7AF
            | 0xF900..=0xFAFF => 2,
            _ => 1,
        })
        .sum()
}

/// Extensions that mark a bare file name (`main.rs`) as a path.
const FILE_EXTENSIONS: &[&str] = &[
    "rs", "toml", "lock", "py", "pyi", "ts", "tsx", "js", "jsx", "mjs", "cjs", "vue", "svelte", "go", "mod", "java",
    "kt", "kts", "scala", "c", "h", "cc", "cpp", "hpp", "cs", "csproj", "sln", "rb", "php", "swift", "dart", "ex",
    "exs", "sh", "md", "rst", "txt", "json", "yml", "yaml", "xml", "html", "css", "scss", "sql", "proto", "graphql",
    "gradle", "tf", "ini", "cfg", "conf", "env", "lua",
];

/// Top-level directory names that make `dir/name` a path even without an extension.
const SOURCE_DIRS: &[&str] = &[
    "src",
    "lib",
    "app",
    "apps",
    "test",
    "tests",
    "spec",
    "docs",
    "doc",
    "packages",
    "crates",
    "cmd",
    "internal",
    "pkg",
    "scripts",
    "config",
    "web",
    "public",
    "assets",
    "include",
    "examples",
    "tools",
    "migrations",
    "prompts",
];

/// Paths the task names: runs of path characters that have a known extension, or a `/` and the
/// shape of a source path. Routes (`/users/1`) and URLs are not paths.
pub(super) fn mentioned_paths(prose: &str) -> Vec<String> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
    let mut found: Vec<String> = Vec::new();
    for run in prose.split(|c: char| !is_path_char(c)) {
        let run = run.trim_end_matches(['.', '-']).trim_start_matches("./");
        if run.is_empty() || run.starts_with('/') || run.contains("//") || run.starts_with('.') && run.len() < 3 {
            continue;
        }
        let name = run.rsplit('/').find(|part| !part.is_empty()).unwrap_or(run);
        let has_extension = name.rsplit_once('.').is_some_and(|(stem, ext)| {
            !stem.is_empty() && FILE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
        });
        let is_source_path = run.contains('/')
            && run.split('/').all(|part| !part.is_empty() || run.ends_with('/'))
            && (run.matches('/').count() >= 2
                || run.ends_with('/')
                || run.split('/').next().is_some_and(|first| SOURCE_DIRS.contains(&first)));
        let is_dotfile = name.starts_with('.') && name.len() > 2;
        if (has_extension || is_source_path || is_dotfile && run.contains('/')) && !found.iter().any(|p| p == run) {
            found.push(run.to_owned());
            if found.len() == MAX_ITEMS {
                break;
            }
        }
    }
    found
}

/// `- [ ] item`, `* [x] item`, `1. [ ] item` → `item`.
fn checkbox(line: &str) -> Option<&str> {
    let rest = list_item(line)?;
    let rest = rest.strip_prefix('[')?;
    let (mark, item) = rest.split_at_checked(2)?;
    matches!(mark, " ]" | "x]" | "X]").then(|| item.trim()).filter(|item| !item.is_empty())
}

/// `- item`, `* item`, `+ item`, `1. item`, `1) item` → `item`.
fn list_item(line: &str) -> Option<&str> {
    let line = line.trim_start();
    if let Some(rest) = line.strip_prefix(['-', '*', '+']) {
        return rest.strip_prefix(' ').map(str::trim_start);
    }
    let digits = line.find(|c: char| !c.is_ascii_digit())?;
    if digits == 0 {
        return None;
    }
    line[digits..].strip_prefix(['.', ')']).and_then(|rest| rest.strip_prefix(' ')).map(str::trim_start)
}

/// When `line` is a criteria heading (`## Acceptance criteria`, `**Done when:**`, `验收标准：`),
/// what follows the heading on the same line (possibly empty).
fn criteria_heading(line: &str) -> Option<String> {
    let stripped = line.trim().trim_start_matches(['#', '*', '_', ' ']);
    let lowered = stripped.to_lowercase();
    let phrase = CRITERIA_HEADINGS.iter().find(|phrase| lowered.starts_with(*phrase))?;
    let rest = lowered[phrase.len()..].trim_start_matches(['*', '_', ' ', ':', '：', '*']);
    // A heading is short; a sentence that merely starts with the phrase is not one.
    let has_separator = lowered[phrase.len()..].trim_start_matches(['*', '_', ' ']).starts_with([':', '：']);
    if !rest.is_empty() && !has_separator {
        return None;
    }
    // Map back to the original casing by byte offset (lowercasing keeps these lengths for the
    // scripts we handle; fall back to the lowered text otherwise).
    let kept = if stripped.len() == lowered.len() {
        stripped.get(stripped.len() - rest.len()..).unwrap_or(rest)
    } else {
        rest
    };
    Some(kept.trim().trim_end_matches(['*', '_']).trim().to_owned())
}

/// Acceptance criteria: checkbox items anywhere, and the items (or lines) under a criteria
/// heading until the next heading.
pub(super) fn acceptance_criteria(task: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut push = |item: &str| {
        let item = item.trim();
        if !item.is_empty() && found.len() < MAX_ITEMS && !found.iter().any(|seen| seen == item) {
            found.push(item.to_owned());
        }
    };
    let mut in_section = false;
    let mut fenced = false;
    for line in task.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced || trimmed.is_empty() {
            continue;
        }
        if let Some(item) = checkbox(trimmed) {
            push(item);
            continue;
        }
        if let Some(inline) = criteria_heading(trimmed) {
            in_section = true;
            push(&inline);
            continue;
        }
        let item = list_item(trimmed);
        // Another heading, a bold line or a "Notes:" line ends the section.
        let other_heading = trimmed.starts_with('#')
            || item.is_none()
                && (trimmed.ends_with([':', '：']) || trimmed.starts_with("**") && trimmed.ends_with("**"));
        if other_heading {
            in_section = false;
            continue;
        }
        if in_section {
            push(item.unwrap_or(trimmed));
        }
    }
    found
}
