//! A webhook delivery as GitLab sends it (headers, token, idempotency key, event UUID, an
//! optional Standard Webhooks signature), and the service's answer.

use serde_json::Value;

use super::SECRET;

/// A delivery as GitLab sends it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub hook: &'static str,
    pub body: Vec<u8>,
    pub token: Option<String>,
    pub idempotency_key: Option<String>,
    pub event_uuid: Option<String>,
    /// Further headers, such as a signature.
    pub headers: Vec<(&'static str, String)>,
}

impl Delivery {
    pub fn new(hook: &'static str, payload: &Value) -> Self {
        Self {
            hook,
            body: payload.to_string().into_bytes(),
            token: Some(SECRET.to_owned()),
            idempotency_key: Some(unique_id()),
            event_uuid: Some(unique_id()),
            headers: Vec::new(),
        }
    }

    pub fn raw(hook: &'static str, body: Vec<u8>) -> Self {
        Self { body, ..Self::new(hook, &Value::Null) }
    }

    pub fn with_token(mut self, token: Option<&str>) -> Self {
        self.token = token.map(str::to_owned);
        self
    }

    /// Signs the delivery as GitLab's signed webhooks do (Standard Webhooks): `webhook-id`
    /// (GitLab sends the `Idempotency-Key`), `webhook-timestamp` and
    /// `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn signed(mut self, key: &[u8], timestamp: i64) -> Self {
        use base64::Engine as _;
        let id = self.idempotency_key.clone().unwrap_or_else(unique_id);
        let message = [id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", &self.body].concat();
        let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), &message);
        let signature = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag));
        self.headers.retain(|(name, _)| !name.starts_with("webhook-"));
        self.headers.extend([
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ]);
        self
    }
}

fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// What the service answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// The `Retry-After` header, in seconds, when one came (with a 503).
    pub retry_after: Option<u64>,
}

impl Answer {
    pub fn outcome(&self) -> &str {
        self.body["status"].as_str().unwrap_or("")
    }
}

/// Delivers, or says why no answer came (the service died, say).
pub async fn try_deliver(client: &reqwest::Client, url: &str, delivery: &Delivery) -> reqwest::Result<Answer> {
    let mut request = client
        .post(format!("{url}/webhook"))
        .header("Content-Type", "application/json")
        .header("User-Agent", "GitLab/18.6.0")
        .header("X-Gitlab-Event", delivery.hook)
        .header("X-Gitlab-Instance", "https://gitlab.example.com")
        .body(delivery.body.clone());
    if let Some(token) = &delivery.token {
        request = request.header("X-Gitlab-Token", token);
    }
    if let Some(key) = &delivery.idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    if let Some(uuid) = &delivery.event_uuid {
        request = request.header("X-Gitlab-Event-UUID", uuid);
    }
    for (name, value) in &delivery.headers {
        request = request.header(*name, value);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok());
    let text = response.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Answer { status, body, retry_after })
}

/// A metric without labels from the service's `GET /metrics` at `url`, or why there is none.
pub async fn metric(client: &reqwest::Client, url: &str, name: &str) -> Result<u64, String> {
    let response = client.get(format!("{url}/metrics")).send().await.map_err(|error| error.to_string())?;
    let text = response.text().await.map_err(|error| error.to_string())?;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .ok_or_else(|| format!("no `{name}` in\n{text}"))
}
