use super::*;

/// A `git diff` of one file: `old` lines removed and `new` lines added in one hunk at `line`.
fn diff(path: &str, line: u32, old: &[&str], new: &[&str]) -> String {
    let mut text = format!(
        "diff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n--- a/{path}\n+++ b/{path}\n@@ -{line},{} +{line},{} @@ fn x() {{\n context\n",
        old.len() + 1,
        new.len() + 1
    );
    for removed in old {
        text.push_str(&format!("-{removed}\n"));
    }
    for added in new {
        text.push_str(&format!("+{added}\n"));
    }
    text
}

fn rules(diff: &str) -> Vec<(Rule, String)> {
    inspect(diff).into_iter().map(|found| (found.rule, found.describe())).collect()
}

#[test]
fn a_real_fix_passes() {
    let fix = diff("src/greet.rs", 3, &["    String::new()"], &["    format!(\"Hello, {name}!\")"]);
    let new_test = diff(
        "tests/greet.rs",
        10,
        &[],
        &["#[test]", "fn greets_bob() {", "    assert_eq!(greet(\"Bob\"), \"Hello, Bob!\");", "}"],
    );
    let moved = format!(
        "{}{}",
        diff("tests/a.rs", 1, &["#[test]", "fn one() { assert!(ok()); }"], &[]),
        diff("tests/b.rs", 1, &[], &["#[test]", "fn one() { assert!(ok()); }"])
    );
    assert_eq!(rules(&fix), []);
    assert_eq!(rules(&new_test), []);
    assert_eq!(rules(&moved), [], "a test moved to another file is no removal");
}

#[test]
fn deleting_or_removing_tests_is_rejected_with_the_line_named() {
    let deleted = "diff --git a/tests/test_api.py b/tests/test_api.py\ndeleted file mode 100644\nindex 1111111..0000000\n\
                   --- a/tests/test_api.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-def test_login():\n-    assert login()\n";
    assert_eq!(rules(deleted), [(Rule::DeletesTestFile, "tests/test_api.py: deletes a test file".to_owned())]);

    let removed = diff(
        "src/lib.rs",
        40,
        &["    #[test]", "    fn greets() {", "        assert_eq!(greet(\"A\"), \"Hello, A!\");", "    }"],
        &[],
    );
    let found = rules(&removed);
    assert_eq!(found[0], (Rule::RemovesTest, "src/lib.rs:41: removes a test: -#[test]".to_owned()));
    assert_eq!(found.len(), 1, "{found:?}");

    let go = diff(
        "parse_test.go",
        7,
        &["func TestParse(t *testing.T) {", "\tif parse(\"1\") != 1 { t.Fatal(\"x\") }", "}"],
        &[],
    );
    assert_eq!(rules(&go)[0].0, Rule::RemovesTest);
    let jest = diff("src/sum.test.ts", 2, &["test('adds', () => {", "  expect(sum(1, 2)).toBe(3);", "});"], &[]);
    let found = rules(&jest);
    assert_eq!(found.iter().map(|(rule, _)| *rule).collect::<Vec<_>>(), [Rule::RemovesTest, Rule::LoosensAssertion]);
}

#[test]
fn skip_and_expected_failure_markers_are_rejected() {
    for marker in [
        "#[ignore]",
        "#[ignore = \"flaky\"]",
        "@pytest.mark.skip(reason=\"later\")",
        "@pytest.mark.xfail",
        "@unittest.skip(\"x\")",
        "describe.skip('suite', () => {",
        "it.skip('works', () => {",
        "xit('works', () => {",
        "@Disabled",
        "\tt.Skip(\"broken\")",
    ] {
        let found = rules(&diff("tests/any.rs", 5, &[], &[marker]));
        assert_eq!(found.len(), 1, "{marker}: {found:?}");
        assert_eq!(found[0].0, Rule::SkipsTest, "{marker}");
    }
}

#[test]
fn assertions_loosened_to_constants_are_rejected() {
    for loosened in [
        "    assert!(true);",
        "    assert True",
        "    assert_eq!(greet(\"A\"), greet(\"A\"));",
        "    expect(true).toBe(true);",
        "    assertTrue(true);",
    ] {
        let found = rules(&diff("tests/greet.rs", 5, &["    assert_eq!(greet(\"A\"), \"Hello, A!\");"], &[loosened]));
        assert!(found.iter().any(|(rule, _)| *rule == Rule::LoosensAssertion), "{loosened}: {found:?}");
    }
    // An assertion rewritten to another real one is fine.
    let rewritten = diff(
        "tests/greet.rs",
        5,
        &["    assert_eq!(greet(\"A\"), \"Hi A\");"],
        &["    assert_eq!(greet(\"A\"), \"Hello, A!\");"],
    );
    assert_eq!(rules(&rewritten), []);
    // An assertion simply dropped from a test file is not.
    let dropped = diff("tests/greet.rs", 5, &["    assert_eq!(greet(\"A\"), \"Hello, A!\");"], &[]);
    assert_eq!(rules(&dropped)[0].0, Rule::LoosensAssertion);
}

#[test]
fn ci_made_to_tolerate_failure_is_rejected() {
    let allow = diff(".gitlab-ci.yml", 8, &[], &["  allow_failure: true"]);
    let or_true = diff(".gitlab-ci.yml", 9, &["    - cargo test"], &["    - cargo test || true"]);
    let commented =
        diff(".gitlab-ci.yml", 3, &["test:", "  script: cargo test"], &["# test:", "#   script: cargo test"]);
    let include = diff(".gitlab/ci/test.yml", 3, &[], &["  allow_failure:", "    exit_codes: [1]"]);
    assert_eq!(
        rules(&allow),
        [(Rule::WeakensCi, ".gitlab-ci.yml:9: makes CI tolerate a failure: +allow_failure: true".to_owned())]
    );
    assert_eq!(rules(&or_true)[0].0, Rule::WeakensCi);
    assert_eq!(rules(&commented).len(), 2, "{:?}", rules(&commented));
    assert_eq!(rules(&include)[0].0, Rule::WeakensCi);
    // The same words outside CI configuration, and real CI changes, pass.
    assert_eq!(rules(&diff("scripts/setup.sh", 1, &[], &["rm -f cache || true"])), []);
    assert_eq!(rules(&diff(".gitlab-ci.yml", 3, &["  image: rust:1.80"], &["  image: rust:1.85"])), []);
}

#[test]
fn test_paths_are_recognised() {
    for path in [
        "tests/a.rs",
        "src/x/tests/mod.rs",
        "test_api.py",
        "pkg/parse_test.go",
        "src/sum.test.ts",
        "spec/a_spec.rb",
        "src/test/java/WidgetTest.java",
        "app/__tests__/x.js",
    ] {
        assert!(is_test_path(path), "{path}");
    }
    for path in ["src/lib.rs", "src/testing.rs", "contest/main.go", "README.md"] {
        assert!(!is_test_path(path), "{path}");
    }
}
