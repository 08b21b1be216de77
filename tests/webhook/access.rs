//! The access check before a trigger counts what GitLab's `members` API says beyond the role: a
//! locked or blocked user, and a membership past its `expires_at` (GitLab removes those only in
//! a daily clean-up), are denied like outsiders; the same people, active again or with a
//! membership still running, trigger.

use super::harness::{Delivery, WIDGETS, deliver, issue_note, rig, triggered};
use super::payloads;

#[tokio::test]
async fn locked_blocked_and_expired_members_are_denied_until_active_again() {
    let (fake, service) = rig().await;
    let mention = |actor: &'static str| {
        let text = format!("@copilot-agent please cover the negative case ({actor})");
        let note = issue_note(&fake, actor, 1, &text);
        payloads::issue_note(&fake, actor, 1, note, &text)
    };
    fake.set_user_state("alice", "locked");
    fake.set_user_state("dave", "blocked");
    fake.set_membership_expiry(WIDGETS, "maria", Some("2020-01-31"));
    for actor in ["alice", "dave", "maria"] {
        let answer = deliver(&service.url, &Delivery::new("Note Hook", &mention(actor))).await;
        assert_eq!((answer.status, answer.outcome()), (200, "denied"), "{actor}: {:?}", answer.body);
    }
    assert!(triggered(&fake).is_empty());

    fake.set_user_state("alice", "active");
    fake.set_membership_expiry(WIDGETS, "maria", Some("2999-12-31"));
    for actor in ["alice", "maria"] {
        let answer = deliver(&service.url, &Delivery::new("Note Hook", &mention(actor))).await;
        assert_eq!((answer.status, answer.outcome()), (200, "triggered"), "{actor}: {:?}", answer.body);
    }
    assert_eq!(triggered(&fake).len(), 2);
}
