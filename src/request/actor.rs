//! Who is asking: the rules about a GitLab user that `serve` and `run` apply alike.

/// Whether a username belongs to a bot: GitLab's project and group access token users
/// (`project_12_bot_…`, `group_3_bot_…`), service accounts, and its internal bots
/// (`support-bot`, `alert-bot`, `ghost`, …). Webhook payloads carry no `bot` flag, so the name
/// is all there is; the naming rules are GitLab's own.
pub fn is_bot(username: &str) -> bool {
    let name = username.to_ascii_lowercase();
    name == "ghost"
        || name.starts_with("service_account_")
        || name.ends_with("-bot")
        || name.ends_with("_bot")
        || name.contains("_bot_")
        || name
            .rsplit_once("_bot")
            .is_some_and(|(_, tail)| !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_names_follow_gitlab_conventions() {
        for name in [
            "project_12_bot_a1b2",
            "group_3_bot_ff",
            "project_12_bot",
            "project_12_bot2",
            "support-bot",
            "ghost",
            "service_account_group_7_x",
        ] {
            assert!(is_bot(name), "{name}");
        }
        for name in ["copilot-agent", "bottle", "robot", "abbott", "user1"] {
            assert!(!is_bot(name), "{name}");
        }
    }
}
