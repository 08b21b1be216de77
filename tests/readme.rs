//! The README keeps its promises: the configuration table matches `env_vars.rs`, and the
//! quickstart's commands exist.

const README: &str = include_str!("../README.md");

#[test]
fn readme_configuration_table_matches_env_vars() {
    let start = README.find("<!-- settings:start -->").expect("start marker") + "<!-- settings:start -->".len();
    let end = README.find("<!-- settings:end -->").expect("end marker");
    let table = README[start..end].trim();
    let expected = copilot_runner::env_vars::markdown_table();
    #[expect(clippy::disallowed_methods, reason = "a switch for regenerating the table, read by this test only")]
    if std::env::var_os("UPDATE_README").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let updated = format!("{}\n{}{}", &README[..start], expected, &README[end..]);
        std::fs::write(path, updated).expect("write README.md");
        return;
    }
    assert_eq!(table, expected.trim(), "README table is stale: run `UPDATE_README=1 cargo nextest run readme`");
}

#[test]
fn quickstart_commands_exist() {
    assert!(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test")).exists());
    assert!(README.contains("scripts/test"));
}

#[test]
fn readme_yaml_example_is_a_valid_configuration_file() {
    let start = README.find("```yaml\n").expect("yaml example") + "```yaml\n".len();
    let end = start + README[start..].find("```").expect("end of example");
    let file = copilot_runner::config::ConfigFile::parse(std::path::Path::new("README.md"), &README[start..end])
        .expect("parses");
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    assert_eq!(file.values.len(), 9, "{:?}", file.values.keys());
}

#[test]
#[expect(clippy::disallowed_methods, reason = "runs the quickstart's second command as a person would")]
fn readme_quickstart_demo_commits_on_a_branch() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo");
    assert!(README.contains("\nscripts/demo\n"), "the quickstart names scripts/demo");
    // The binaries this test run built: building them again with the plain `cargo build` feature
    // set would recompile the dependencies, which is the quickstart's cost, not this test's.
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_copilot-runner")).parent().expect("the target dir");
    assert!(bin_dir.join("mock-model").exists(), "the test rig's `mock-model` is built beside copilot-runner");
    let out =
        std::process::Command::new(demo).env("COPILOT_RUNNER_BIN_DIR", bin_dir).output().expect("run scripts/demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("committed") && stdout.contains("Copilot-Stage: analysis, implementation"), "{stdout}");
    assert!(stdout.contains("hello.txt"), "{stdout}");
}
