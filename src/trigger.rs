//! The trigger contract (placeholder until the foundation lands).
