//! The hidden operation marker that makes posting a note safe to retry.
//!
//! A note POST whose answer is lost (connection reset, timeout, 5xx) may or may not have been
//! stored. Every note and discussion we post carries an HTML comment with a random operation
//! id, invisible in GitLab's rendering; before posting again the client looks for a note that
//! carries it and returns that one instead of posting a duplicate.

use std::fmt::Write as _;

const PREFIX: &str = "<!-- copilot-runner:op=";
const SUFFIX: &str = " -->";

/// A random operation id, rendered as `<!-- copilot-runner:op=<id> -->`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpMarker {
    id: String,
}

impl OpMarker {
    /// A fresh marker with 64 random bits: unique enough among the notes of one issue or MR.
    pub fn new() -> Self {
        let mut id = String::with_capacity(16);
        for byte in rand::random::<[u8; 8]>() {
            let _ = write!(id, "{byte:02x}");
        }
        Self { id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The HTML comment itself.
    pub fn comment(&self) -> String {
        format!("{PREFIX}{}{SUFFIX}", self.id)
    }

    /// `body` with the marker appended on its own line.
    pub fn stamp(&self, body: &str) -> String {
        format!("{}\n\n{}", body.trim_end(), self.comment())
    }

    /// Whether `body` carries this marker.
    pub fn is_in(&self, body: &str) -> bool {
        body.contains(&self.comment())
    }
}

impl Default for OpMarker {
    fn default() -> Self {
        Self::new()
    }
}

/// The operation id in a note body, if it carries a marker of ours.
pub fn op_id_in(body: &str) -> Option<&str> {
    let start = body.find(PREFIX)? + PREFIX.len();
    let len = body[start..].find(SUFFIX)?;
    let id = &body[start..start + len];
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_body_carries_its_marker_and_no_other() {
        let marker = OpMarker::new();
        let other = OpMarker::new();
        assert_ne!(marker, other);
        assert_eq!(marker.id().len(), 16);
        let body = marker.stamp("Working on it.\n");
        assert_eq!(body, format!("Working on it.\n\n<!-- copilot-runner:op={} -->", marker.id()));
        assert!(marker.is_in(&body));
        assert!(!other.is_in(&body));
        assert_eq!(op_id_in(&body), Some(marker.id()));
    }

    #[test]
    fn bodies_without_a_well_formed_marker_have_no_op_id() {
        assert_eq!(op_id_in("plain text"), None);
        assert_eq!(op_id_in("<!-- copilot-runner:op= -->"), None);
        assert_eq!(op_id_in("<!-- copilot-runner:op=abc"), None);
        assert_eq!(op_id_in("<!-- copilot-runner:op=a b -->"), None);
        assert_eq!(op_id_in("x <!-- copilot-runner:op=0a1b -->"), Some("0a1b"));
    }
}
