//! Logging: tracing to stderr (human or JSON), a file log in the artifacts dir, GitLab
//! collapsible log sections, and redaction of every registered secret (placeholder until the
//! foundation lands).
