//! The agent project's `.gitlab-ci.yml`: the shipped example
//! (`ci-templates/examples/agent-project.gitlab-ci.yml`) with this installation's component,
//! image, runner tag and agent username put in.
//!
//! The example is embedded as it is, so the file `setup` writes is the one the documentation
//! shows. Exactly four of its lines are replaced; each must be in the example once, or
//! rendering fails (and a unit test with it), so an edit of the example cannot silently leave a
//! placeholder in a real installation.

/// The example, as shipped.
pub const EXAMPLE: &str = include_str!("../../ci-templates/examples/agent-project.gitlab-ci.yml");

/// The example's lines `setup` replaces, in the order of [`Values`]' fields.
pub const COMPONENT_LINE: &str = "  - component: $CI_SERVER_FQDN/tools/copilot-runner-ci/copilot-runner@0.1.0";
pub const IMAGE_LINE: &str = "      image: registry.example.com/tools/copilot-runner:0.1.0";
pub const TAGS_LINE: &str = "      tags: [copilot-agent]";
pub const AGENT_LINE: &str = "      agent_username: copilot-agent";

/// Where the file lives in the agent project.
pub const PATH: &str = ".gitlab-ci.yml";

/// The component setup includes unless told otherwise: the CI/CD component project of the
/// documentation on this instance, at this binary's version.
pub fn default_component() -> String {
    format!("$CI_SERVER_FQDN/tools/copilot-runner-ci/copilot-runner@{}", env!("CARGO_PKG_VERSION"))
}

/// What an installation puts in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values<'a> {
    /// `<fqdn>/<project>/<component>@<version>`.
    pub component: &'a str,
    pub image: &'a str,
    pub runner_tag: &'a str,
    pub agent_username: &'a str,
}

/// A line the example should have and does not (exactly once).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the embedded example `.gitlab-ci.yml` has the line `{line}` {count} times instead of once")]
pub struct ExampleChanged {
    pub line: &'static str,
    pub count: usize,
}

/// A YAML plain scalar when `value` can be one, else a double-quoted string.
fn scalar(value: &str) -> String {
    let plain = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:$@".contains(c))
        && !value.starts_with(['-', ':', '@', '$']);
    if plain { value.to_owned() } else { serde_json::Value::from(value).to_string() }
}

/// The example with `values` put in.
pub fn render(values: &Values<'_>) -> Result<String, ExampleChanged> {
    render_from(EXAMPLE, values)
}

fn render_from(example: &str, values: &Values<'_>) -> Result<String, ExampleChanged> {
    let replacements = [
        (COMPONENT_LINE, format!("  - component: {}", scalar_or_component(values.component))),
        (IMAGE_LINE, format!("      image: {}", scalar(values.image))),
        (TAGS_LINE, format!("      tags: [{}]", scalar(values.runner_tag))),
        (AGENT_LINE, format!("      agent_username: {}", scalar(values.agent_username))),
    ];
    for (line, _) in &replacements {
        let count = example.lines().filter(|candidate| candidate == line).count();
        if count != 1 {
            return Err(ExampleChanged { line, count });
        }
    }
    let mut text = String::with_capacity(example.len() + 64);
    for line in example.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        match replacements.iter().find(|(from, _)| *from == bare) {
            Some((_, to)) => {
                text.push_str(to);
                text.push_str(&line[bare.len()..]);
            }
            None => text.push_str(line),
        }
    }
    Ok(text)
}

/// A component reference starts with `$CI_SERVER_FQDN` as the example's does; GitLab expands it
/// in `include:`, so it stays a plain scalar.
fn scalar_or_component(component: &str) -> String {
    match component.strip_prefix('$') {
        Some(rest) if scalar(rest) == rest => component.to_owned(),
        _ => scalar(component),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values<'static> {
        Values {
            component: "$CI_SERVER_FQDN/platform/copilot-ci/copilot-runner@1.2.3",
            image: "registry.acme.test/platform/copilot-runner:1.2.3",
            runner_tag: "agents",
            agent_username: "robo",
        }
    }

    #[test]
    fn the_example_has_each_replaced_line_exactly_once() {
        for line in [COMPONENT_LINE, IMAGE_LINE, TAGS_LINE, AGENT_LINE] {
            assert_eq!(EXAMPLE.lines().filter(|l| *l == line).count(), 1, "the example must keep `{line}` as it is");
        }
    }

    #[test]
    fn rendering_puts_the_installation_in_and_keeps_the_rest() {
        let text = render(&values()).expect("the example renders");
        assert!(text.contains("\n  - component: $CI_SERVER_FQDN/platform/copilot-ci/copilot-runner@1.2.3\n"), "{text}");
        assert!(text.contains("\n      image: registry.acme.test/platform/copilot-runner:1.2.3\n"));
        assert!(text.contains("\n      tags: [agents]\n"));
        assert!(text.contains("\n      agent_username: robo\n"));
        for line in [COMPONENT_LINE, IMAGE_LINE, TAGS_LINE, AGENT_LINE] {
            assert!(!text.lines().any(|l| l == line), "`{line}` is still there");
        }
        assert_eq!(text.lines().count(), EXAMPLE.lines().count(), "nothing else changes");
        let parsed: serde_json::Value = serde_saphyr::from_str(text.split("\n---\n").nth(1).unwrap()).expect("YAML");
        assert_eq!(parsed["include"][0]["inputs"]["tags"][0], "agents");
    }

    #[test]
    fn odd_values_are_quoted_and_a_changed_example_is_refused() {
        let odd = Values { runner_tag: "gpu, large", image: "registry/x:1 # not a comment", ..values() };
        let text = render(&odd).unwrap();
        assert!(text.contains("      tags: [\"gpu, large\"]\n"), "{text}");
        assert!(text.contains("      image: \"registry/x:1 # not a comment\"\n"), "{text}");
        let changed = EXAMPLE.replace(TAGS_LINE, "      tags: [other]");
        assert_eq!(render_from(&changed, &values()), Err(ExampleChanged { line: TAGS_LINE, count: 0 }));
    }
}
