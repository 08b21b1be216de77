//! Who may do what on a project: a member's effective access level (a blocked or locked user,
//! an expired or pending membership count as no access) and the protected-branch rules that
//! decide who may push to a branch.
//!
//! All reads; retried freely.

use chrono::NaiveDate;
use serde::Deserialize;

use super::client::{Client, ProjectId};
use super::error::Error;
use super::types::{AccessLevel, Member};

impl Member {
    /// The level this membership grants on `today`: its `access_level` while the user is
    /// `active`, the membership is `active` and not past `expires_at`; otherwise none.
    pub fn effective_level(&self, today: NaiveDate) -> AccessLevel {
        let user_active = self.state.as_deref().is_none_or(|state| state == "active");
        let membership_active = self.membership_state.as_deref().is_none_or(|state| state == "active");
        let expired = self.expires_at.as_deref().is_some_and(|expires| match expiry_date(expires) {
            Some(date) => date < today,
            // A date we cannot read is not trusted to lie in the future.
            None => true,
        });
        if user_active && membership_active && !expired { self.access_level } else { AccessLevel::NONE }
    }
}

/// The date of `expires_at`: `2025-01-31` or a timestamp starting with one.
fn expiry_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

/// Today in UTC, the day GitLab's `expires_at` dates are compared with.
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// One entry of a protected branch's `push_access_levels`: a role (`access_level`, 0 for no
/// one), or a single user or group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PushAccess {
    #[serde(default)]
    pub access_level: Option<u32>,
    #[serde(default)]
    pub user_id: Option<u64>,
    #[serde(default)]
    pub group_id: Option<u64>,
}

/// `GET /projects/:id/protected_branches`: a rule protecting the branches `name` matches (an
/// exact name or a wildcard such as `release/*`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProtectedBranch {
    pub name: String,
    #[serde(default)]
    pub push_access_levels: Vec<PushAccess>,
}

impl ProtectedBranch {
    /// Whether this rule protects `branch`: `*` matches any run of characters.
    pub fn matches(&self, branch: &str) -> bool {
        wildcard_match(&self.name, branch)
    }

    /// Whether a user with `level` (and id `user_id`) may push under this rule. A group entry
    /// is not resolved and grants nothing.
    pub fn allows_push(&self, user_id: u64, level: AccessLevel) -> bool {
        self.push_access_levels.iter().any(|entry| match (entry.user_id, entry.group_id, entry.access_level) {
            (Some(id), _, _) => id == user_id && level > AccessLevel::NONE,
            (None, Some(_), _) => false,
            (None, None, Some(required)) => required > 0 && level.0 >= required,
            (None, None, None) => false,
        })
    }
}

/// `pattern` against `text`, where `*` stands for any run of characters.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(index) => rest = &rest[index + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl Client {
    /// The user's effective access level on the project today (see [`Member::effective_level`]);
    /// none when they are not a member.
    pub async fn access_level(&self, project: impl Into<ProjectId>, user_id: u64) -> Result<AccessLevel, Error> {
        let member = self.member(project, user_id).await?;
        Ok(member.map_or(AccessLevel::NONE, |member| member.effective_level(today())))
    }

    /// `GET /projects/:id/protected_branches`: every protection rule of the project.
    pub async fn protected_branches(&self, project: impl Into<ProjectId>) -> Result<Vec<ProtectedBranch>, Error> {
        self.get_all(&format!("/projects/{}/protected_branches", project.into().segment()), &[]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(state: &str, membership: &str, expires_at: Option<&str>) -> Member {
        Member {
            id: 7,
            username: "alice".into(),
            name: "Alice".into(),
            state: Some(state.into()),
            access_level: AccessLevel::DEVELOPER,
            expires_at: expires_at.map(str::to_owned),
            membership_state: Some(membership.into()),
        }
    }

    #[test]
    fn blocked_locked_pending_and_expired_memberships_grant_nothing() {
        let today = NaiveDate::from_ymd_opt(2025, 3, 10).unwrap();
        assert_eq!(member("active", "active", None).effective_level(today), AccessLevel::DEVELOPER);
        assert_eq!(member("active", "active", Some("2025-03-10")).effective_level(today), AccessLevel::DEVELOPER);
        for refused in [
            member("blocked", "active", None),
            member("locked", "active", None),
            member("active", "awaiting", None),
            member("active", "active", Some("2025-03-09")),
            member("active", "active", Some("soon")),
        ] {
            assert_eq!(refused.effective_level(today), AccessLevel::NONE, "{refused:?}");
        }
    }

    #[test]
    fn protection_rules_match_wildcards_and_allow_by_role_or_user() {
        let rule =
            |name: &str, entries: Vec<PushAccess>| ProtectedBranch { name: name.into(), push_access_levels: entries };
        let role = |level| PushAccess { access_level: Some(level), user_id: None, group_id: None };
        assert!(rule("main", vec![]).matches("main") && !rule("main", vec![]).matches("main2"));
        assert!(rule("release/*", vec![]).matches("release/1.0") && !rule("release/*", vec![]).matches("feature/x"));
        assert!(rule("*-stable", vec![]).matches("1-0-stable") && rule("*", vec![]).matches("anything"));
        assert!(rule("a*b*c", vec![]).matches("axxbyyc") && !rule("a*b*c", vec![]).matches("acb"));
        let maintainers = rule("main", vec![role(40)]);
        assert!(maintainers.allows_push(1, AccessLevel::MAINTAINER));
        assert!(!maintainers.allows_push(1, AccessLevel::DEVELOPER));
        assert!(!rule("main", vec![role(0)]).allows_push(1, AccessLevel::OWNER), "no one may push");
        let bob = rule("main", vec![role(0), PushAccess { access_level: Some(40), user_id: Some(9), group_id: None }]);
        assert!(bob.allows_push(9, AccessLevel::DEVELOPER) && !bob.allows_push(8, AccessLevel::DEVELOPER));
    }
}
