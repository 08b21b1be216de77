//! The only place that spawns child processes (placeholder until the process runner lands).
