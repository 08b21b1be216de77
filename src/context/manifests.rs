//! Reads one manifest and says what it declares: its name, the frameworks, test frameworks and
//! build tools among its dependencies, and the commands that build and test it.
//!
//! Structured formats go through real parsers (`serde_json` for `package.json` and
//! `composer.json`, `toml` for `Cargo.toml` and `pyproject.toml`); line-based formats (go.mod,
//! requirements, Gemfile, Makefile) are read line by line; XML and script-like manifests (pom.xml,
//! Gradle, csproj, setup.py, mix.exs) are searched for the coordinates we know, which is all
//! we need from them. Dependencies are matched against one table per ecosystem.

use std::path::Path;

use super::facts::{Manifest, ManifestKind};

/// What a dependency tells us when a manifest declares it.
#[derive(Clone, Copy)]
enum Role {
    Framework,
    TestFramework,
    BuildTool,
}

use Role::{BuildTool, Framework, TestFramework};

/// `(dependency name, role, label)`; a name ending in `*` matches by prefix.
type Table = &'static [(&'static str, Role, &'static str)];

const CARGO: Table = &[
    ("actix-web", Framework, "actix"),
    ("axum", Framework, "axum"),
    ("rocket", Framework, "rocket"),
    ("warp", Framework, "warp"),
    ("poem", Framework, "poem"),
    ("tokio", Framework, "tokio"),
    ("leptos", Framework, "leptos"),
    ("yew", Framework, "yew"),
    ("tauri", Framework, "tauri"),
    ("bevy", Framework, "bevy"),
    ("diesel", Framework, "diesel"),
    ("sqlx", Framework, "sqlx"),
    ("sea-orm", Framework, "sea-orm"),
    ("proptest", TestFramework, "proptest"),
    ("rstest", TestFramework, "rstest"),
    ("insta", TestFramework, "insta"),
    ("criterion", TestFramework, "criterion"),
];

const NPM: Table = &[
    ("react", Framework, "react"),
    ("vue", Framework, "vue"),
    ("next", Framework, "next"),
    ("nuxt", Framework, "nuxt"),
    ("svelte", Framework, "svelte"),
    ("@sveltejs/kit", Framework, "sveltekit"),
    ("@angular/core", Framework, "angular"),
    ("express", Framework, "express"),
    ("koa", Framework, "koa"),
    ("fastify", Framework, "fastify"),
    ("@nestjs/core", Framework, "nest"),
    ("@remix-run/react", Framework, "remix"),
    ("electron", Framework, "electron"),
    ("react-native", Framework, "react-native"),
    ("prisma", Framework, "prisma"),
    ("typeorm", Framework, "typeorm"),
    ("jest", TestFramework, "jest"),
    ("vitest", TestFramework, "vitest"),
    ("mocha", TestFramework, "mocha"),
    ("ava", TestFramework, "ava"),
    ("jasmine", TestFramework, "jasmine"),
    ("@playwright/test", TestFramework, "playwright"),
    ("cypress", TestFramework, "cypress"),
    ("vite", BuildTool, "vite"),
    ("webpack", BuildTool, "webpack"),
    ("esbuild", BuildTool, "esbuild"),
    ("rollup", BuildTool, "rollup"),
    ("typescript", BuildTool, "tsc"),
    ("turbo", BuildTool, "turbo"),
];

const PYTHON: Table = &[
    ("django", Framework, "django"),
    ("flask", Framework, "flask"),
    ("fastapi", Framework, "fastapi"),
    ("starlette", Framework, "starlette"),
    ("tornado", Framework, "tornado"),
    ("aiohttp", Framework, "aiohttp"),
    ("pyramid", Framework, "pyramid"),
    ("sqlalchemy", Framework, "sqlalchemy"),
    ("pydantic", Framework, "pydantic"),
    ("pytest", TestFramework, "pytest"),
    ("pytest-*", TestFramework, "pytest"),
    ("nose2", TestFramework, "nose2"),
    ("hypothesis", TestFramework, "hypothesis"),
    ("tox", BuildTool, "tox"),
    ("nox", BuildTool, "nox"),
];

const GO: Table = &[
    ("github.com/gin-gonic/gin", Framework, "gin"),
    ("github.com/labstack/echo*", Framework, "echo"),
    ("github.com/gofiber/fiber*", Framework, "fiber"),
    ("github.com/go-chi/chi*", Framework, "chi"),
    ("github.com/gorilla/mux", Framework, "gorilla"),
    ("gorm.io/gorm", Framework, "gorm"),
    ("google.golang.org/grpc", Framework, "grpc"),
    ("github.com/stretchr/testify", TestFramework, "testify"),
    ("github.com/onsi/ginkgo*", TestFramework, "ginkgo"),
];

const RUBY: Table = &[
    ("rails", Framework, "rails"),
    ("sinatra", Framework, "sinatra"),
    ("hanami", Framework, "hanami"),
    ("rspec", TestFramework, "rspec"),
    ("rspec-rails", TestFramework, "rspec"),
    ("minitest", TestFramework, "minitest"),
    ("rake", BuildTool, "rake"),
];

const PHP: Table = &[
    ("laravel/framework", Framework, "laravel"),
    ("symfony/framework-bundle", Framework, "symfony"),
    ("slim/slim", Framework, "slim"),
    ("phpunit/phpunit", TestFramework, "phpunit"),
    ("pestphp/pest", TestFramework, "pest"),
];

/// Searched as plain text in pom.xml, Gradle scripts, csproj, setup.py and mix.exs.
const TEXTUAL: &[(ManifestKind, &str, Role, &str)] = &[
    (ManifestKind::Maven, "spring-boot", Framework, "spring"),
    (ManifestKind::Maven, "quarkus", Framework, "quarkus"),
    (ManifestKind::Maven, "micronaut", Framework, "micronaut"),
    (ManifestKind::Maven, "junit", TestFramework, "junit"),
    (ManifestKind::Maven, "testng", TestFramework, "testng"),
    (ManifestKind::Gradle, "org.springframework.boot", Framework, "spring"),
    (ManifestKind::Gradle, "io.ktor", Framework, "ktor"),
    (ManifestKind::Gradle, "com.android.application", Framework, "android"),
    (ManifestKind::Gradle, "junit", TestFramework, "junit"),
    (ManifestKind::Gradle, "kotest", TestFramework, "kotest"),
    (ManifestKind::Gradle, "testng", TestFramework, "testng"),
    (ManifestKind::Dotnet, "Microsoft.NET.Sdk.Web", Framework, "aspnetcore"),
    (ManifestKind::Dotnet, "Microsoft.AspNetCore", Framework, "aspnetcore"),
    (ManifestKind::Dotnet, "xunit", TestFramework, "xunit"),
    (ManifestKind::Dotnet, "NUnit", TestFramework, "nunit"),
    (ManifestKind::Dotnet, "MSTest", TestFramework, "mstest"),
    (ManifestKind::SetupPy, "'django", Framework, "django"),
    (ManifestKind::SetupPy, "\"django", Framework, "django"),
    (ManifestKind::SetupPy, "'flask", Framework, "flask"),
    (ManifestKind::SetupPy, "\"flask", Framework, "flask"),
    (ManifestKind::SetupPy, "'fastapi", Framework, "fastapi"),
    (ManifestKind::SetupPy, "\"fastapi", Framework, "fastapi"),
    (ManifestKind::SetupPy, "'pytest", TestFramework, "pytest"),
    (ManifestKind::SetupPy, "\"pytest", TestFramework, "pytest"),
    (ManifestKind::Mix, "{:phoenix,", Framework, "phoenix"),
    (ManifestKind::Mix, "{:ecto", Framework, "ecto"),
];

/// Facts gathered while reading one manifest.
struct Found {
    manifest: Manifest,
    /// The directory of the manifest relative to the root (`""` at the root).
    dir: String,
}

impl Found {
    fn add(&mut self, role: Role, label: &str) {
        let list = match role {
            Framework => &mut self.manifest.frameworks,
            TestFramework => &mut self.manifest.test_frameworks,
            BuildTool => &mut self.manifest.build_tools,
        };
        if !list.iter().any(|item| item == label) {
            list.push(label.to_owned());
        }
    }

    fn match_dependency(&mut self, table: Table, dependency: &str) {
        let dependency = dependency.trim();
        for (name, role, label) in table {
            let hit = match name.strip_suffix('*') {
                Some(prefix) => dependency.starts_with(prefix),
                None => dependency.eq_ignore_ascii_case(name),
            };
            if hit {
                self.add(*role, label);
            }
        }
    }

    /// A command to run in the manifest's directory.
    fn command(&self, command: &str) -> String {
        if self.dir.is_empty() { command.to_owned() } else { format!("cd {} && {command}", self.dir) }
    }

    fn test_command(&mut self, command: &str) {
        let command = self.command(command);
        self.manifest.test_commands.push(command);
    }

    fn build_command(&mut self, command: &str) {
        let command = self.command(command);
        self.manifest.build_commands.push(command);
    }
}

/// Reads what a manifest declares. `text` is `None` when the file was not read (too large or
/// unreadable; `problem` says why); `sibling_exists` answers whether a file next to the manifest
/// exists (lock files, wrapper scripts, test configuration).
pub(super) fn read(
    path: &str,
    kind: ManifestKind,
    text: Result<&str, String>,
    sibling_exists: &dyn Fn(&str) -> bool,
) -> Manifest {
    let dir = Path::new(path).parent().and_then(Path::to_str).unwrap_or("").to_owned();
    let mut found = Found {
        manifest: Manifest {
            path: path.to_owned(),
            kind,
            name: None,
            frameworks: Vec::new(),
            test_frameworks: Vec::new(),
            build_tools: Vec::new(),
            test_commands: Vec::new(),
            build_commands: Vec::new(),
            problem: None,
        },
        dir,
    };
    match text {
        Ok(text) => {
            if let Err(problem) = read_text(&mut found, kind, text, sibling_exists) {
                found.manifest.problem = Some(problem);
            }
        }
        Err(problem) => found.manifest.problem = Some(problem),
    }
    found.manifest
}

fn read_text(
    found: &mut Found,
    kind: ManifestKind,
    text: &str,
    sibling_exists: &dyn Fn(&str) -> bool,
) -> Result<(), String> {
    match kind {
        ManifestKind::Cargo => cargo(found, text, sibling_exists),
        ManifestKind::Npm => npm(found, text, sibling_exists),
        ManifestKind::Pyproject => pyproject(found, text, sibling_exists),
        ManifestKind::Requirements => {
            for line in text.lines() {
                found.match_dependency(PYTHON, python_requirement_name(line));
            }
            python_commands(found, sibling_exists);
            Ok(())
        }
        ManifestKind::SetupPy
        | ManifestKind::Maven
        | ManifestKind::Gradle
        | ManifestKind::Dotnet
        | ManifestKind::Mix => {
            textual(found, kind, text, sibling_exists);
            Ok(())
        }
        ManifestKind::GoMod => {
            go_mod(found, text);
            Ok(())
        }
        ManifestKind::Gemfile => {
            gemfile(found, text, sibling_exists);
            Ok(())
        }
        ManifestKind::Composer => composer(found, text),
        ManifestKind::Pubspec => {
            pubspec(found, text);
            Ok(())
        }
        ManifestKind::Cmake => {
            found.add(BuildTool, "cmake");
            found.build_command("cmake -B build && cmake --build build");
            if text.contains("enable_testing(") || text.contains("add_test(") {
                found.add(TestFramework, "ctest");
                found.test_command("ctest --test-dir build");
            }
            Ok(())
        }
        ManifestKind::Make => {
            makefile(found, text);
            Ok(())
        }
    }
}

fn cargo(found: &mut Found, text: &str, sibling_exists: &dyn Fn(&str) -> bool) -> Result<(), String> {
    let doc: toml::Table = toml::from_str(text).map_err(|error| format!("invalid TOML: {}", error.message()))?;
    found.manifest.name =
        doc.get("package").and_then(|package| package.get("name")).and_then(toml::Value::as_str).map(str::to_owned);
    let sections = ["dependencies", "dev-dependencies", "build-dependencies"];
    let mut tables: Vec<&toml::Table> =
        sections.iter().filter_map(|s| doc.get(*s).and_then(|v| v.as_table())).collect();
    if let Some(workspace) = doc.get("workspace").and_then(|w| w.get("dependencies")).and_then(|d| d.as_table()) {
        tables.push(workspace);
    }
    let names: Vec<String> = tables.iter().flat_map(|table| table.keys().cloned()).collect();
    for name in names {
        found.match_dependency(CARGO, &name);
    }
    found.add(BuildTool, "cargo");
    found.add(TestFramework, "cargo test");
    if sibling_exists(".config/nextest.toml") {
        found.add(TestFramework, "nextest");
        found.test_command("cargo nextest run");
    } else {
        found.test_command("cargo test");
    }
    found.build_command("cargo build");
    Ok(())
}

/// npm writes this as the default `test` script of a new package: it is no test suite.
const NPM_DEFAULT_TEST: &str = "no test specified";

fn npm(found: &mut Found, text: &str, sibling_exists: &dyn Fn(&str) -> bool) -> Result<(), String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|error| format!("invalid JSON: {error}"))?;
    found.manifest.name = doc.get("name").and_then(|n| n.as_str()).map(str::to_owned);
    for section in ["dependencies", "devDependencies", "peerDependencies"] {
        if let Some(deps) = doc.get(section).and_then(|d| d.as_object()) {
            for name in deps.keys() {
                found.match_dependency(NPM, name);
            }
        }
    }
    let runner = if sibling_exists("pnpm-lock.yaml") {
        "pnpm"
    } else if sibling_exists("yarn.lock") {
        "yarn"
    } else if sibling_exists("bun.lockb") || sibling_exists("bun.lock") {
        "bun"
    } else {
        "npm"
    };
    found.add(BuildTool, runner);
    let scripts = doc.get("scripts").and_then(|s| s.as_object());
    let script = |name: &str| scripts.and_then(|s| s.get(name)).and_then(|s| s.as_str());
    if let Some(test) = script("test").filter(|test| !test.contains(NPM_DEFAULT_TEST)) {
        for word in test.split(|c: char| c.is_whitespace() || c == '&' || c == ';') {
            found.match_dependency(NPM, word);
        }
        let command = if runner == "npm" { "npm test".to_owned() } else { format!("{runner} test") };
        found.test_command(&command);
    }
    if script("build").is_some() {
        found.build_command(&format!("{runner} run build"));
    }
    Ok(())
}

fn pyproject(found: &mut Found, text: &str, sibling_exists: &dyn Fn(&str) -> bool) -> Result<(), String> {
    let doc: toml::Table = toml::from_str(text).map_err(|error| format!("invalid TOML: {}", error.message()))?;
    let project = doc.get("project");
    let poetry = doc.get("tool").and_then(|t| t.get("poetry"));
    found.manifest.name =
        project.or(poetry).and_then(|p| p.get("name")).and_then(toml::Value::as_str).map(str::to_owned);
    let mut requirements: Vec<String> = Vec::new();
    let mut push_list = |value: Option<&toml::Value>| {
        for item in value.and_then(toml::Value::as_array).into_iter().flatten() {
            if let Some(spec) = item.as_str() {
                requirements.push(python_requirement_name(spec).to_owned());
            }
        }
    };
    push_list(project.and_then(|p| p.get("dependencies")));
    for table in [project.and_then(|p| p.get("optional-dependencies")), doc.get("dependency-groups")] {
        for (_, list) in table.and_then(toml::Value::as_table).into_iter().flatten() {
            push_list(Some(list));
        }
    }
    if let Some(poetry) = poetry {
        for key in ["dependencies", "dev-dependencies"] {
            if let Some(deps) = poetry.get(key).and_then(toml::Value::as_table) {
                requirements.extend(deps.keys().cloned());
            }
        }
        for (_, group) in poetry.get("group").and_then(toml::Value::as_table).into_iter().flatten() {
            if let Some(deps) = group.get("dependencies").and_then(toml::Value::as_table) {
                requirements.extend(deps.keys().cloned());
            }
        }
    }
    for requirement in &requirements {
        found.match_dependency(PYTHON, requirement);
    }
    let tool = doc.get("tool");
    if tool.and_then(|t| t.get("pytest")).is_some() {
        found.add(TestFramework, "pytest");
    }
    if tool.and_then(|t| t.get("uv")).is_some() || sibling_exists("uv.lock") {
        found.add(BuildTool, "uv");
    }
    let backend = doc.get("build-system").and_then(|b| b.get("build-backend")).and_then(toml::Value::as_str);
    if let Some(backend) = backend {
        let tool = backend.split(['.', ':']).next().unwrap_or(backend);
        let tool = match tool {
            "poetry" => "poetry",
            "hatchling" => "hatch",
            "flit_core" => "flit",
            "pdm" => "pdm",
            "maturin" => "maturin",
            _ => "setuptools",
        };
        found.add(BuildTool, tool);
    }
    python_commands(found, sibling_exists);
    Ok(())
}

/// `Django>=4.2 ; python_version > "3.8"` → `Django`.
fn python_requirement_name(spec: &str) -> &str {
    let spec = spec.trim();
    if spec.starts_with('#') || spec.starts_with('-') {
        return "";
    }
    let end =
        spec.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')).unwrap_or(spec.len());
    &spec[..end]
}

fn python_commands(found: &mut Found, sibling_exists: &dyn Fn(&str) -> bool) {
    if sibling_exists("pytest.ini") || sibling_exists("conftest.py") {
        found.add(TestFramework, "pytest");
    }
    if found.manifest.test_frameworks.iter().any(|t| t == "pytest") {
        found.test_command("pytest");
    } else if sibling_exists("tests") || sibling_exists("test") {
        found.add(TestFramework, "unittest");
        found.test_command("python -m unittest discover");
    }
}

fn textual(found: &mut Found, kind: ManifestKind, text: &str, sibling_exists: &dyn Fn(&str) -> bool) {
    for (on, needle, role, label) in TEXTUAL {
        if *on == kind && text.contains(needle) {
            found.add(*role, label);
        }
    }
    match kind {
        ManifestKind::Maven => {
            let mvn = if sibling_exists("mvnw") { "./mvnw" } else { "mvn" };
            found.manifest.name = xml_element(text, "artifactId").map(str::to_owned);
            found.add(BuildTool, "maven");
            found.test_command(&format!("{mvn} test"));
            found.build_command(&format!("{mvn} package"));
        }
        ManifestKind::Gradle => {
            let gradle = if sibling_exists("gradlew") { "./gradlew" } else { "gradle" };
            found.add(BuildTool, "gradle");
            found.test_command(&format!("{gradle} test"));
            found.build_command(&format!("{gradle} build"));
        }
        ManifestKind::Dotnet => {
            found.add(BuildTool, "dotnet");
            found.test_command("dotnet test");
            found.build_command("dotnet build");
        }
        ManifestKind::Mix => {
            found.add(BuildTool, "mix");
            found.add(TestFramework, "exunit");
            found.test_command("mix test");
            found.build_command("mix compile");
        }
        ManifestKind::SetupPy => {
            found.add(BuildTool, "setuptools");
            python_commands(found, sibling_exists);
        }
        _ => {}
    }
}

fn xml_element<'t>(text: &'t str, element: &str) -> Option<&'t str> {
    let open = format!("<{element}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find('<')? + start;
    Some(text[start..end].trim())
}

fn go_mod(found: &mut Found, text: &str) {
    let mut in_require = false;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        if let Some(module) = line.strip_prefix("module ") {
            found.manifest.name = Some(module.trim().to_owned());
        } else if line.starts_with("require (") || line == "require(" {
            in_require = true;
        } else if in_require && line == ")" {
            in_require = false;
        } else if let Some(single) = line.strip_prefix("require ") {
            found.match_dependency(GO, single.split_whitespace().next().unwrap_or(""));
        } else if in_require {
            found.match_dependency(GO, line.split_whitespace().next().unwrap_or(""));
        }
    }
    found.add(BuildTool, "go");
    found.add(TestFramework, "go test");
    found.test_command("go test ./...");
    found.build_command("go build ./...");
}

fn gemfile(found: &mut Found, text: &str, sibling_exists: &dyn Fn(&str) -> bool) {
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("gem ") else { continue };
        let name = rest.trim().trim_start_matches(['\'', '"']);
        let name = name.split(['\'', '"']).next().unwrap_or("");
        found.match_dependency(RUBY, name);
    }
    if sibling_exists(".rspec") {
        found.add(TestFramework, "rspec");
    }
    found.add(BuildTool, "bundler");
    if found.manifest.test_frameworks.iter().any(|t| t == "rspec") {
        found.test_command("bundle exec rspec");
    } else if found.manifest.frameworks.iter().any(|f| f == "rails") {
        found.add(TestFramework, "minitest");
        found.test_command("bin/rails test");
    } else if found.manifest.test_frameworks.iter().any(|t| t == "minitest") {
        found.test_command("bundle exec rake test");
    }
}

fn composer(found: &mut Found, text: &str) -> Result<(), String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|error| format!("invalid JSON: {error}"))?;
    found.manifest.name = doc.get("name").and_then(|n| n.as_str()).map(str::to_owned);
    for section in ["require", "require-dev"] {
        for name in doc.get(section).and_then(|d| d.as_object()).into_iter().flat_map(|d| d.keys()) {
            found.match_dependency(PHP, name);
        }
    }
    found.add(BuildTool, "composer");
    let has_test_script = doc.get("scripts").and_then(|s| s.get("test")).is_some();
    if has_test_script {
        found.test_command("composer test");
    } else if found.manifest.test_frameworks.iter().any(|t| t == "pest") {
        found.test_command("vendor/bin/pest");
    } else if found.manifest.test_frameworks.iter().any(|t| t == "phpunit") {
        found.test_command("vendor/bin/phpunit");
    }
    Ok(())
}

fn pubspec(found: &mut Found, text: &str) {
    let mut flutter = false;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("name:") {
            found.manifest.name = Some(name.trim().to_owned());
        }
        if line.trim_start().starts_with("flutter:") || line.contains("sdk: flutter") {
            flutter = true;
        }
    }
    if flutter {
        found.add(Framework, "flutter");
        found.add(BuildTool, "flutter");
        found.add(TestFramework, "flutter test");
        found.test_command("flutter test");
    } else {
        found.add(BuildTool, "dart");
        found.add(TestFramework, "dart test");
        found.test_command("dart test");
    }
}

fn makefile(found: &mut Found, text: &str) {
    found.add(BuildTool, "make");
    let mut has_all = false;
    for line in text.lines() {
        // A rule starts at column 0: `target: prerequisites`.
        let Some((target, _)) = line.split_once(':') else { continue };
        if line.starts_with(['\t', ' ', '#', '.']) || target.contains('=') || line[target.len()..].starts_with(":=") {
            continue;
        }
        for target in target.split_whitespace() {
            match target {
                "test" | "check" if found.manifest.test_commands.is_empty() => {
                    found.test_command(&format!("make {target}"));
                }
                "build" => found.build_command("make build"),
                "all" => has_all = true,
                _ => {}
            }
        }
    }
    if has_all && found.manifest.build_commands.is_empty() {
        found.build_command("make");
    }
}
