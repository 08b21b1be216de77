//! The static project analysis: one parallel walk of the checkout that honours `.gitignore`,
//! counting files and bytes per language and per top-level directory, and noting the few files
//! whose contents matter (manifests, CI configuration, docs, agent instructions), which are read
//! afterwards, each under a size limit.
//!
//! The walk is the cost: 100k-file trees must analyse in about the time a bare walk takes. So
//! the per-file work is a name classification on bytes and a size lookup (in the git index when
//! the checkout has one, else one `stat`), counters live per walker thread and are merged once at
//! the end, and nothing is allocated for an ordinary file.
//!
//! [`analyze_paths`] updates earlier facts from a list of changed files, for the cache's
//! "parent commit" level, reading only those files.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use super::ContextError;
use super::classify::{self, LANGUAGE_COUNT, LANGUAGES, Special};
use super::facts::{AgentInstructions, CiConfig, CiKind, DirectoryStat, Facts, LanguageStat, SCHEMA_VERSION};
use super::git_index::IndexSizes;
use super::manifests;

/// Manifests and other special files larger than this are listed but not read.
pub const MAX_CONTENT_BYTES: u64 = 1024 * 1024;
/// Agent instruction files are kept up to this many bytes each.
pub const AGENT_INSTRUCTIONS_BYTES: usize = 8 * 1024;
/// The README excerpt kept in the facts.
pub const README_EXCERPT_BYTES: usize = 2 * 1024;
/// At most this many manifests are read; a monorepo with more lists the shallowest ones.
pub const MAX_MANIFESTS: usize = 400;

/// The name under which files at the root are counted in [`Facts::directories`].
const ROOT_DIRECTORY: &str = ".";

/// A walker configured the way every analysis walks: `.gitignore` (also without a `.git`
/// directory) and `.git/info/exclude` honoured, hidden files included (CI configuration lives in
/// them), the global gitignore of the machine ignored (results must not depend on who runs us),
/// `.git` itself skipped. Public so the benchmark compares against exactly this walk.
pub fn walker(root: &Path) -> WalkBuilder {
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_global(false)
        .git_ignore(true)
        .git_exclude(true)
        .require_git(false)
        .follow_links(false)
        .threads(0)
        .filter_entry(|entry| entry.file_name() != ".git");
    builder
}

/// Analyses the project at `root` from scratch.
pub fn analyze(root: &Path) -> Result<Facts, ContextError> {
    if !root.is_dir() {
        return Err(ContextError::NotADirectory(root.to_path_buf()));
    }
    let sizes = IndexSizes::load(root);
    let totals = walk(root, sizes.as_ref());
    let mut facts = Facts {
        schema_version: SCHEMA_VERSION,
        files: totals.files,
        bytes: totals.bytes,
        unreadable: totals.unreadable,
        ..Facts::default()
    };
    facts.languages = LANGUAGES
        .iter()
        .zip(totals.languages.iter())
        .filter(|(_, (files, _))| *files > 0)
        .map(|(name, (files, bytes))| LanguageStat { name: (*name).to_owned(), files: *files, bytes: *bytes })
        .collect();
    facts.directories = totals
        .directories
        .into_iter()
        .map(|(name, files)| DirectoryStat { name: String::from_utf8_lossy(&name).into_owned(), files })
        .collect();
    let mut specials = totals.specials;
    specials.sort_by(|a, b| (a.0.matches('/').count(), &a.0).cmp(&(b.0.matches('/').count(), &b.0)));
    let mut manifests = 0;
    for (path, special) in specials {
        if matches!(special, Special::Manifest(_)) {
            manifests += 1;
            if manifests > MAX_MANIFESTS {
                continue;
            }
        }
        record_special(root, &path, special, &mut facts);
    }
    if facts.directories.iter().any(|dir| dir.name == "docs") {
        facts.docs.push("docs/".to_owned());
    }
    facts.finish();
    Ok(facts)
}

/// What one walker thread counted; merged into one at the end.
#[derive(Default)]
struct Totals {
    files: u64,
    bytes: u64,
    unreadable: u64,
    languages: Vec<(u64, u64)>,
    /// Top-level directory name → files.
    directories: HashMap<Vec<u8>, u64>,
    specials: Vec<(String, Special)>,
}

impl Totals {
    fn new() -> Self {
        Self { languages: vec![(0, 0); LANGUAGE_COUNT], ..Self::default() }
    }

    fn merge(&mut self, other: Totals) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.unreadable += other.unreadable;
        for (mine, theirs) in self.languages.iter_mut().zip(other.languages) {
            mine.0 += theirs.0;
            mine.1 += theirs.1;
        }
        for (name, files) in other.directories {
            *self.directories.entry(name).or_default() += files;
        }
        self.specials.extend(other.specials);
    }
}

struct Visitor<'a> {
    root_path: &'a Path,
    /// The root's path bytes: every entry's path starts with them.
    root: &'a [u8],
    sizes: Option<&'a IndexSizes>,
    totals: Totals,
    /// The top-level directory of the last files seen and how many: a thread visits a
    /// directory's files one after another, so this spares a map lookup per file.
    current_top: Vec<u8>,
    current_count: u64,
    merged: &'a Mutex<Totals>,
}

impl Visitor<'_> {
    fn count_in_top(&mut self, top: &[u8]) {
        if self.current_top != top {
            self.flush_top();
            self.current_top.extend_from_slice(top);
        }
        self.current_count += 1;
    }

    fn flush_top(&mut self) {
        if self.current_count > 0 {
            match self.totals.directories.get_mut(self.current_top.as_slice()) {
                Some(count) => *count += self.current_count,
                None => {
                    self.totals.directories.insert(self.current_top.clone(), self.current_count);
                }
            }
        }
        self.current_top.clear();
        self.current_count = 0;
    }
}

impl ignore::ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<ignore::DirEntry, ignore::Error>) -> WalkState {
        let Ok(entry) = entry else {
            self.totals.unreadable += 1;
            return WalkState::Continue;
        };
        if !entry.file_type().is_some_and(|kind| kind.is_file()) {
            return WalkState::Continue;
        }
        let path = entry.path().as_os_str().as_encoded_bytes();
        let relative = path.strip_prefix(self.root).unwrap_or(path);
        let relative = relative.strip_prefix(b"/").unwrap_or(relative);
        let recorded = self.sizes.and_then(|sizes| sizes.size_of(relative));
        let size = match recorded {
            Some(size) => size,
            None => match entry.metadata() {
                Ok(metadata) => metadata.len(),
                Err(_) => {
                    self.totals.unreadable += 1;
                    return WalkState::Continue;
                }
            },
        };
        let name = entry.file_name().as_encoded_bytes();
        let totals = &mut self.totals;
        totals.files += 1;
        totals.bytes += size;
        if let Some(lang) = classify::language_of(name) {
            let slot = &mut totals.languages[lang];
            slot.0 += 1;
            slot.1 += size;
        }
        let depth = entry.depth();
        let (top, parent) = match relative.iter().position(|b| *b == b'/') {
            None => (ROOT_DIRECTORY.as_bytes(), &b""[..]),
            Some(first_slash) => {
                let with_slash = &relative[..relative.len().saturating_sub(name.len())];
                let dir = with_slash.strip_suffix(b"/").unwrap_or(with_slash);
                let parent = dir.rsplit(|b| *b == b'/').next().unwrap_or(dir);
                (&relative[..first_slash], parent)
            }
        };
        self.count_in_top(top);
        if let Some(special) = classify::special_of(name, depth, parent)
            && let Some(path) = slash_path(entry.path().strip_prefix(self.root_path).unwrap_or(entry.path()))
            && is_wanted(&path, special)
        {
            self.totals.specials.push((path, special));
        }
        WalkState::Continue
    }
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        self.flush_top();
        let totals = std::mem::take(&mut self.totals);
        // A poisoned lock means another walker thread panicked; its panic is what gets reported.
        if let Ok(mut merged) = self.merged.lock() {
            merged.merge(totals);
        }
    }
}

struct VisitorBuilder<'a> {
    root: &'a Path,
    sizes: Option<&'a IndexSizes>,
    merged: &'a Mutex<Totals>,
}

impl<'s> ignore::ParallelVisitorBuilder<'s> for VisitorBuilder<'s> {
    fn build(&mut self) -> Box<dyn ignore::ParallelVisitor + 's> {
        Box::new(Visitor {
            root_path: self.root,
            root: self.root.as_os_str().as_encoded_bytes(),
            sizes: self.sizes,
            totals: Totals::new(),
            current_top: Vec::new(),
            current_count: 0,
            merged: self.merged,
        })
    }
}

fn walk(root: &Path, sizes: Option<&IndexSizes>) -> Totals {
    let merged = Mutex::new(Totals::new());
    walker(root).build_parallel().visit(&mut VisitorBuilder { root, sizes, merged: &merged });
    merged.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn first_component(relative: &Path) -> &OsStr {
    match relative.components().next() {
        Some(Component::Normal(name)) => name,
        _ => OsStr::new(ROOT_DIRECTORY),
    }
}

/// A relative path with `/` separators, or `None` when it is not valid UTF-8 (such a file is
/// still counted, but we cannot name it in facts that are JSON).
fn slash_path(relative: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|component| match component {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect();
    parts.map(|parts| parts.join("/"))
}

/// Checks what the name alone could not: the full location of the file.
fn is_wanted(path: &str, special: Special) -> bool {
    match special {
        Special::Ci(CiKind::GithubActions) => path.starts_with(".github/workflows/"),
        Special::Manifest(_) => !path.split('/').any(|part| classify::is_dependency_dir(part.as_bytes())),
        Special::AgentInstructions => !path.split('/').any(|part| classify::is_dependency_dir(part.as_bytes())),
        Special::Ci(_) | Special::Doc => true,
    }
}

/// Reads a special file (bounded) and adds what it says to `facts`.
fn record_special(root: &Path, path: &str, special: Special, facts: &mut Facts) {
    let file = root.join(path);
    match special {
        Special::Manifest(kind) => {
            let text = read_bounded(&file);
            let dir = file.parent().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf());
            let sibling_exists = |name: &str| dir.join(name).exists();
            let manifest = manifests::read(path, kind, text.as_deref().map_err(Clone::clone), &sibling_exists);
            facts.manifests.push(manifest);
        }
        Special::Ci(kind) => facts.ci.push(CiConfig { path: path.to_owned(), kind }),
        Special::Doc => {
            facts.docs.push(path.to_owned());
            if path.starts_with("README")
                && facts.readme_excerpt.is_none()
                && let Ok(text) = read_bounded(&file)
            {
                facts.readme_excerpt = Some(cut(&text, README_EXCERPT_BYTES).0.to_owned());
            }
        }
        Special::AgentInstructions => {
            if let Ok(text) = read_bounded(&file) {
                let (kept, truncated) = cut(&text, AGENT_INSTRUCTIONS_BYTES);
                facts.agent_instructions.push(AgentInstructions {
                    path: path.to_owned(),
                    text: kept.to_owned(),
                    truncated,
                });
            }
        }
    }
}

fn read_bounded(file: &Path) -> Result<String, String> {
    let metadata = std::fs::metadata(file).map_err(|error| format!("unreadable: {error}"))?;
    if metadata.len() > MAX_CONTENT_BYTES {
        return Err(format!("not read: {} bytes is over the {MAX_CONTENT_BYTES}-byte limit", metadata.len()));
    }
    let bytes = std::fs::read(file).map_err(|error| format!("unreadable: {error}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The longest prefix of `text` within `limit` bytes that ends on a character boundary, and
/// whether anything was cut.
pub(super) fn cut(text: &str, limit: usize) -> (&str, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

pub use crate::git::history::Change;

/// Updates `previous` for the files in `changes`, reading only them (and their ignore rules):
/// their old contribution is removed, their current one (if they exist and are not ignored)
/// added, and the manifests, CI files, docs and agent instructions among them read again.
///
/// Falls back to a full [`analyze`] when the previous facts have another schema version or a
/// `.gitignore` changed (any file's status may have changed with it).
pub fn analyze_paths(root: &Path, changes: &[Change], previous: &Facts) -> Result<Facts, ContextError> {
    let ignore_rules_changed = changes.iter().any(|change| change.path.file_name() == Some(OsStr::new(".gitignore")));
    if previous.schema_version != SCHEMA_VERSION || ignore_rules_changed {
        return analyze(root);
    }
    if !root.is_dir() {
        return Err(ContextError::NotADirectory(root.to_path_buf()));
    }
    let mut facts = previous.clone();
    let mut rules = IgnoreRules::new(root);
    for change in changes {
        let Some(path) = slash_path(&change.path) else { continue };
        if path.is_empty() || path == ".git" || path.starts_with(".git/") || rules.is_ignored(&change.path) {
            continue;
        }
        if let Some(bytes) = change.previous_bytes {
            adjust(&mut facts, &change.path, bytes, -1);
        }
        forget_special(&mut facts, &path);
        let file = root.join(&change.path);
        let Ok(metadata) = std::fs::symlink_metadata(&file) else { continue };
        if !metadata.is_file() {
            continue;
        }
        adjust(&mut facts, &change.path, metadata.len(), 1);
        let name = change.path.file_name().map_or(&b""[..], OsStr::as_encoded_bytes);
        let parent = change.path.parent().and_then(Path::file_name).map_or(&b""[..], OsStr::as_encoded_bytes);
        let depth = change.path.components().count();
        if let Some(special) = classify::special_of(name, depth, parent)
            && is_wanted(&path, special)
        {
            record_special(root, &path, special, &mut facts);
        }
    }
    facts.docs.retain(|doc| doc != "docs/");
    if facts.directories.iter().any(|dir| dir.name == "docs" && dir.files > 0) {
        facts.docs.push("docs/".to_owned());
    }
    facts.finish();
    Ok(facts)
}

/// Adds (`sign` 1) or removes (`sign` -1) one file of `bytes` bytes from the totals.
fn adjust(facts: &mut Facts, path: &Path, bytes: u64, sign: i8) {
    let apply = |value: &mut u64, by: u64| {
        *value = if sign > 0 { value.saturating_add(by) } else { value.saturating_sub(by) };
    };
    apply(&mut facts.files, 1);
    apply(&mut facts.bytes, bytes);
    let name = path.file_name().map_or(&b""[..], OsStr::as_encoded_bytes);
    if let Some(lang) = classify::language_of(name) {
        let lang_name = LANGUAGES[lang];
        let position = facts.languages.iter().position(|stat| stat.name == lang_name);
        let stat = match position {
            Some(index) => &mut facts.languages[index],
            None => {
                facts.languages.push(LanguageStat { name: lang_name.to_owned(), files: 0, bytes: 0 });
                let last = facts.languages.len() - 1;
                &mut facts.languages[last]
            }
        };
        apply(&mut stat.files, 1);
        apply(&mut stat.bytes, bytes);
    }
    let top = if path.components().count() <= 1 {
        ROOT_DIRECTORY.to_owned()
    } else {
        first_component(path).to_string_lossy().into_owned()
    };
    let position = facts.directories.iter().position(|dir| dir.name == top);
    let dir = match position {
        Some(index) => &mut facts.directories[index],
        None => {
            facts.directories.push(DirectoryStat { name: top, files: 0 });
            let last = facts.directories.len() - 1;
            &mut facts.directories[last]
        }
    };
    apply(&mut dir.files, 1);
}

fn forget_special(facts: &mut Facts, path: &str) {
    facts.manifests.retain(|manifest| manifest.path != path);
    facts.ci.retain(|ci| ci.path != path);
    facts.agent_instructions.retain(|instructions| instructions.path != path);
    if facts.docs.iter().any(|doc| doc == path) {
        facts.docs.retain(|doc| doc != path);
        if path.starts_with("README") {
            facts.readme_excerpt = None;
        }
    }
}

/// The `.gitignore` files on the way to a changed path, loaded once per directory.
struct IgnoreRules<'a> {
    root: &'a Path,
    by_dir: HashMap<PathBuf, ignore::gitignore::Gitignore>,
    exclude: ignore::gitignore::Gitignore,
}

impl<'a> IgnoreRules<'a> {
    fn new(root: &'a Path) -> Self {
        let mut builder = ignore::gitignore::GitignoreBuilder::new(root);
        // A missing exclude file is the common case and means "no rules".
        let _missing = builder.add(super::git_index::git_dir(root).join("info/exclude"));
        let exclude = builder.build().unwrap_or_else(|_| ignore::gitignore::Gitignore::empty());
        Self { root, by_dir: HashMap::new(), exclude }
    }

    /// Whether git would ignore `relative`: the deepest `.gitignore` with an opinion decides,
    /// as in git, then `.git/info/exclude`.
    fn is_ignored(&mut self, relative: &Path) -> bool {
        let mut dirs: Vec<PathBuf> = relative.ancestors().skip(1).map(Path::to_path_buf).collect();
        // Deepest first: `ancestors` already yields them in that order, ending with "".
        for dir in dirs.drain(..) {
            let absolute = self.root.join(&dir);
            let rules = self
                .by_dir
                .entry(dir)
                .or_insert_with(|| ignore::gitignore::Gitignore::new(absolute.join(".gitignore")).0);
            let full = self.root.join(relative);
            let verdict = rules.matched_path_or_any_parents(&full, false);
            if verdict.is_ignore() {
                return true;
            }
            if verdict.is_whitelist() {
                return false;
            }
        }
        self.exclude.matched_path_or_any_parents(self.root.join(relative), false).is_ignore()
    }
}
