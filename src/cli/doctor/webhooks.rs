//! The webhooks that reach our webhook service: for each hook of the checked project, and of
//! its group where the token may read them, whose URL is `--webhook-url`, GitLab's own test
//! delivery (`POST …/hooks/:hook_id/test/push_events`). Hooks pointing elsewhere are ignored.
//!
//! A test delivery goes the whole way a real one goes: from GitLab's network to the URL,
//! through TLS, to `serve`, which checks the secret token before anything else. A push is the
//! test event because `serve` ignores pushes: the delivery proves the path and the secret and
//! starts no work. GitLab answers 201 when `serve` answered 2xx; otherwise its message is
//! `serve`'s answer or the connection's error, and the hook's delivery log has the status.
//! Each failure is named with its fix: a wrong secret (`serve` answers 401), a URL that
//! reaches no `serve`, TLS, or an instance that refuses local addresses.
//!
//! Listing a project's hooks needs the Maintainer role, a group's the Owner role (and GitLab
//! Premium); the agent user is usually a Developer, so `--maintainer-token-env` names a variable
//! holding a token that may.

use super::{Check, Outcome};
use crate::env_vars;
use crate::gitlab::{self, Client, Hook, HookEvents, HookParent, ProjectId, TestDelivery};

const WEBHOOKS: &str = "webhooks";

/// What a hook of ours needs and how its test went.
struct Finding {
    problems: Vec<String>,
    fixes: Vec<String>,
    passed: Vec<String>,
}

/// Checks the hooks of `project` (and its group) that point at `webhook_url`.
pub(super) async fn webhook_check(
    client: &Client,
    project: &str,
    webhook_url: &str,
    wanted: &HookEvents,
    api_url: &str,
) -> Check {
    let token_fix = format!(
        "pass `--maintainer-token-env VAR` with a variable holding the token of a Maintainer of {project} (an Owner \
         of its group for group hooks)"
    );
    let found = match client.project(ProjectId::from(project)).await {
        Ok(found) => found,
        Err(error) => return Check::from_gitlab(WEBHOOKS, api_url, &error, &token_fix),
    };
    let mut notes = Vec::new();
    let mut parents =
        vec![(HookParent::Project(ProjectId::from(found.id)), format!("project {}", found.path_with_namespace))];
    if let Some(namespace) = found.namespace.as_ref().filter(|namespace| namespace.kind == "group") {
        parents.push((HookParent::Group(ProjectId::from(namespace.id)), format!("group {}", namespace.full_path)));
    }
    let mut ours: Vec<(HookParent, String, Hook)> = Vec::new();
    let mut elsewhere = Vec::new();
    let mut readable = 0;
    for (parent, label) in parents {
        match client.hooks(&parent).await {
            Ok(hooks) => {
                readable += 1;
                for hook in hooks {
                    if same_url(&hook.url, webhook_url) {
                        ours.push((parent.clone(), label.clone(), hook));
                    } else {
                        elsewhere.push(hook.url);
                    }
                }
            }
            Err(gitlab::Error::Forbidden { .. } | gitlab::Error::NotFound { .. }) => notes.push(match parent {
                HookParent::Project(_) => {
                    format!("the token may not read the hooks of {label} (Maintainer role needed)")
                }
                HookParent::Group(_) => format!(
                    "the token may not read the hooks of {label} (Owner role needed; GitLab Free has no group hooks)"
                ),
            }),
            Err(error) => return Check::from_gitlab(WEBHOOKS, api_url, &error, &token_fix),
        }
    }
    if readable == 0 {
        return Check { name: WEBHOOKS, outcome: Outcome::Skipped, detail: notes.join("; "), fix: Some(token_fix) };
    }
    if ours.is_empty() {
        let seen = if elsewhere.is_empty() { "none".to_owned() } else { elsewhere.join(", ") };
        return Check::fail(
            WEBHOOKS,
            format!(
                "no webhook of {} (or of its group) points at `{webhook_url}`; hooks there point at: {seen}{}",
                found.path_with_namespace,
                notes.iter().map(|note| format!("; {note}")).collect::<String>()
            ),
            format!(
                "add a webhook (Settings > Webhooks, on the project or its group) with URL `{webhook_url}`, the secret \
                 token of `{}`, the triggers issues, confidential issues, comments, confidential comments, merge \
                 requests and pipelines, and SSL verification on",
                env_vars::WEBHOOK_SECRET_TOKEN
            ),
        );
    }
    let mut finding = Finding { problems: Vec::new(), fixes: Vec::new(), passed: Vec::new() };
    for (parent, label, hook) in &ours {
        test_one(client, (parent, label), hook, wanted, &mut finding).await;
    }
    if finding.problems.is_empty() {
        Check::pass(WEBHOOKS, finding.passed.join("; "))
    } else {
        finding.fixes.dedup();
        Check::fail(WEBHOOKS, finding.problems.join("; "), finding.fixes.join("; "))
    }
}

/// URLs equal but for case in scheme and host and a trailing slash.
fn same_url(a: &str, b: &str) -> bool {
    let normal = |url: &str| match url::Url::parse(url.trim()) {
        Ok(parsed) => parsed.as_str().trim_end_matches('/').to_owned(),
        Err(_) => url.trim().trim_end_matches('/').to_owned(),
    };
    normal(a) == normal(b)
}

async fn test_one(
    client: &Client,
    (parent, label): (&HookParent, &str),
    hook: &Hook,
    wanted: &HookEvents,
    finding: &mut Finding,
) {
    let name = format!("hook {} of {label}", hook.id);
    let missing = hook.events.missing(wanted);
    if !missing.is_empty() {
        finding.problems.push(format!("{name} does not send {}", missing.join(", ")));
        finding.fixes.push(format!("tick the missing triggers of {name} (Settings > Webhooks > Edit)"));
    }
    if hook.url.starts_with("https://") && !hook.enable_ssl_verification {
        finding.problems.push(format!("{name} does not verify TLS certificates"));
        finding.fixes.push(format!("turn SSL verification on for {name}"));
    }
    match client.test_hook(parent, hook.id, "push_events").await {
        Ok(TestDelivery::Delivered) => {
            finding.passed.push(format!(
                "GitLab's test push through {name} reached the service, which took its secret token and answered 2xx"
            ));
        }
        Ok(TestDelivery::Failed { message }) => {
            // The delivery log has the receiver's status; the test's answer only its body.
            let status = match client.hook_events(parent, hook.id).await {
                Ok(events) => events.into_iter().next().map(|event| event.response_status),
                Err(_) => None,
            };
            let (problem, fix) = diagnose(&name, &hook.url, status.as_deref(), &message);
            finding.problems.push(problem);
            finding.fixes.push(fix);
        }
        Err(error) => {
            finding.problems.push(format!("GitLab could not test {name}: {error}"));
            finding.fixes.push("run doctor again with a Maintainer's token (`--maintainer-token-env`)".to_owned());
        }
    }
}

/// What a failed test delivery means, and its fix. `status` is the receiver's HTTP status as
/// GitLab logged it (`internal error` when no response came).
fn diagnose(name: &str, url: &str, status: Option<&str>, message: &str) -> (String, String) {
    let said = if message.is_empty() { "an empty body".to_owned() } else { format!("`{message}`") };
    let answered = |code: &str| format!("GitLab's test push through {name} got {code} from `{url}`: {said}");
    if status == Some("401") || message.contains("\"rejected\"") {
        return (
            answered("401"),
            format!(
                "the hook's secret token is not the service's: set the same value as the hook's secret token \
                 (Settings > Webhooks > Edit) and as `{}` of `serve` (and, with `{}` set, the hook's signing token)",
                env_vars::WEBHOOK_SECRET_TOKEN,
                env_vars::WEBHOOK_SIGNING_SECRET
            ),
        );
    }
    if let Some(code) = status.filter(|code| code.parse::<u16>().is_ok()) {
        let fix = match code {
            "404" | "405" => format!(
                "`{url}` reaches a server but not the service's webhook endpoint: the URL must end in `/webhook`"
            ),
            "503" => "the service is busy or not ready: see its `/readyz` and its log".to_owned(),
            _ => "see the service's log for this delivery".to_owned(),
        };
        return (answered(code), fix);
    }
    let problem = format!("GitLab's test push through {name} did not reach `{url}`: {said}");
    let fix = if message.contains("local network") || message.contains("URL is blocked") {
        "GitLab refuses to deliver to a local or private address: an administrator must turn on \"Allow requests \
         to the local network from webhooks and integrations\" (Admin area > Settings > Network > Outbound \
         requests), or the service must be reached at an address GitLab may call"
            .to_owned()
    } else if message.contains("SSL") || message.contains("certificate") {
        format!(
            "GitLab does not trust the TLS certificate at `{url}`: serve it with a certificate from an authority \
             GitLab trusts (or add that authority to GitLab's trusted certificates)"
        )
    } else {
        format!(
            "GitLab cannot reach the service at `{url}`: check that `copilot-runner serve` runs and is ready \
             (`/readyz`), and that the URL is its address as GitLab sees it (ingress, DNS, firewall)"
        )
    };
    (problem, fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failed_delivery_gets_its_own_fix() {
        let url = "https://runner.example/webhook";
        let (problem, fix) = diagnose("hook 1", url, Some("401"), r#"{"status":"rejected"}"#);
        assert!(problem.contains("got 401") && fix.contains("WEBHOOK_SECRET_TOKEN"), "{problem} / {fix}");
        let (_, fix) = diagnose("hook 1", url, Some("404"), "");
        assert!(fix.contains("`/webhook`"), "{fix}");
        let blocked = "URL is blocked: Requests to the local network are not allowed";
        let (_, fix) = diagnose("hook 1", url, Some("internal error"), blocked);
        assert!(fix.contains("Allow requests to the local network from webhooks and integrations"), "{fix}");
        let (_, fix) = diagnose("hook 1", url, None, "SSL_connect returned=1: certificate verify failed");
        assert!(fix.contains("TLS certificate"), "{fix}");
        let refused = "Failed to open TCP connection to runner.example:443 (Connection refused)";
        let (problem, fix) = diagnose("hook 1", url, Some("internal error"), refused);
        assert!(problem.contains("did not reach") && fix.contains("`/readyz`"), "{problem} / {fix}");
    }

    #[test]
    fn urls_match_but_for_case_and_a_trailing_slash() {
        assert!(same_url("https://Runner.example/webhook/", "https://runner.example/webhook"));
        assert!(!same_url("https://runner.example/webhook", "https://runner.example/other"));
    }
}
