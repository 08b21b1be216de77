//! Protected branches as GitLab matches them: a rule's name is an exact branch name or a
//! pattern where `*` stands for any run of characters.

/// Whether the rule `pattern` protects `branch`.
pub fn matches(pattern: &str, branch: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == branch,
        Some((head, tail)) => {
            let Some(rest) = branch.strip_prefix(head) else { return false };
            (0..=rest.len()).filter(|index| rest.is_char_boundary(*index)).any(|index| matches(tail, &rest[index..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn names_and_wildcards() {
        assert!(matches("main", "main") && !matches("main", "main2"));
        assert!(matches("release/*", "release/1.0") && !matches("release/*", "feature/1.0"));
        assert!(matches("*-stable", "1-0-stable") && matches("*", "x") && !matches("a*b", "ba"));
    }
}
