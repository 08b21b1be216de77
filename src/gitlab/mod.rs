//! GitLab: the REST client, its resource types, and the webhook payloads GitLab sends us.

pub mod events;
