//! `docs/deploy.md` as an admin follows it: at most five manual steps, numbered in order and
//! counted in the introduction; every `copilot-runner` command in it takes the flags the guide
//! gives; every repository file a command names exists; every link inside the guide leads to one
//! of its headings.

use std::path::PathBuf;

use clap::CommandFactory as _;
use copilot_runner::cli::Cli;

/// The most manual steps a deployment may take.
const MAX_STEPS: usize = 5;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn guide() -> String {
    std::fs::read_to_string(repo().join("docs/deploy.md")).expect("docs/deploy.md")
}

/// The shell commands of the guide's `sh` blocks, continuation lines joined.
fn commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut current = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let line = line.trim();
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    commands
}

#[test]
fn the_guide_takes_at_most_five_manual_steps_numbered_in_order() {
    let text = guide();
    let steps: Vec<&str> = text.lines().filter(|line| line.starts_with("## Step ")).collect();
    assert!(!steps.is_empty() && steps.len() <= MAX_STEPS, "{steps:#?}");
    for (index, step) in steps.iter().enumerate() {
        assert!(step.starts_with(&format!("## Step {}. ", index + 1)), "step {} is `{step}`", index + 1);
    }
    let words = ["one", "two", "three", "four", "five"];
    let said = format!("**{} manual steps**", words[steps.len() - 1]);
    assert!(text.contains(&said), "the introduction says {said}");
}

#[test]
fn every_copilot_runner_command_in_the_guide_takes_its_flags() {
    let cli = Cli::command();
    let mut checked = 0;
    for command in commands(&guide()) {
        // The program, not the namespace of the same name (`-n copilot-runner`).
        let tokens: Vec<&str> = command.split_whitespace().collect();
        let Some(at) = tokens.iter().enumerate().position(|(index, token)| {
            *token == "copilot-runner" && !matches!(index.checked_sub(1).map(|i| tokens[i]), Some("-n" | "--namespace"))
        }) else {
            continue;
        };
        let mut words = tokens[at + 1..].iter().copied();
        let Some(name) = words.next() else { continue };
        let sub = cli.find_subcommand(name).unwrap_or_else(|| panic!("`copilot-runner {name}` is no subcommand"));
        for flag in words.filter_map(|word| word.strip_prefix("--")) {
            let flag = flag.split('=').next().unwrap_or_default();
            let known = sub.get_arguments().chain(cli.get_arguments()).any(|arg| arg.get_long() == Some(flag));
            assert!(known, "`copilot-runner {name}` has no `--{flag}` ({command})");
        }
        checked += 1;
    }
    assert!(checked >= 3, "setup, doctor and serve's commands are checked: {checked}");
}

#[test]
fn every_file_a_command_names_exists() {
    let mut checked = 0;
    for command in commands(&guide()) {
        for word in command.split_whitespace() {
            let path = word.trim_start_matches("-f").trim_start_matches('=');
            if ["k8s-runner/", "ci-templates/", "scripts/"].iter().any(|root| path.starts_with(root)) {
                assert!(repo().join(path).exists(), "`{path}` in `{command}` does not exist");
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "{checked}");
}

#[test]
fn every_link_inside_the_guide_finds_its_heading() {
    let text = guide();
    let anchors: Vec<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("## ").or_else(|| line.strip_prefix("### ")))
        .map(|heading| {
            heading
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect();
    let mut links = 0;
    for part in text.split("](#").skip(1) {
        let anchor = part.split(')').next().unwrap_or_default();
        assert!(anchors.iter().any(|known| known == anchor), "no heading for `#{anchor}` among {anchors:?}");
        links += 1;
    }
    assert!(links >= 5, "{links}");
}
