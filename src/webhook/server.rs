//! The HTTP side of `serve`: an axum router with `POST /webhook`, `GET /healthz`, `GET /readyz`
//! and `GET /metrics`, and graceful shutdown on SIGTERM.
//!
//! `POST /webhook` works on at most `max_in_flight` deliveries at once and answers 503 with
//! `Retry-After` beyond that, so a burst cannot exhaust memory or GitLab's rate limit. It checks
//! the token before it reads the body (a stranger costs us no parsing), caps the body at GitLab's
//! own 25 MB limit, checks the signature when a signing secret is set, then parses, routes,
//! deduplicates and — for a trigger — acts (see [`super::act`]). The answer reflects what GitLab needs to know: 2xx when
//! there is nothing to do or the pipeline was accepted, 401/400/413 for a misconfigured hook,
//! 5xx when GitLab itself failed us, so the delivery shows as failed and can be resent.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest as _, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;

use super::Config;
use super::act::{self, Acted};
use super::dedup::{Dedup, Outcome};
use super::metrics::Metrics;
use super::route::{self, Decision};
use crate::gitlab::Client;
use crate::gitlab::events::{Event, ParseError};

/// GitLab's own maximum webhook payload.
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// What a busy instance asks the sender to wait before trying again.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// The state every handler shares.
#[derive(Debug)]
pub struct Service {
    config: Config,
    gitlab: Client,
    dedup: Dedup,
    in_flight: tokio::sync::Semaphore,
    metrics: Metrics,
    readiness: Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Service {
    pub fn new(config: Config, gitlab: Client) -> Arc<Self> {
        let dedup = Dedup::new(config.dedup_window, config.dedup_capacity);
        let in_flight = tokio::sync::Semaphore::new(config.max_in_flight.max(1));
        Arc::new(Self { config, gitlab, dedup, in_flight, metrics: Metrics::default(), readiness: Mutex::new(None) })
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// The service's routes.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/webhook", post(webhook))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service)
}

/// Serves until `shutdown` completes, then stops accepting and lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(service)).with_graceful_shutdown(shutdown).await
}

/// Completes on SIGTERM (Kubernetes stopping the pod) or Ctrl-C. The SIGTERM handler is
/// installed when this is called, not when the future is first polled, so a signal that arrives
/// while the server starts up is not lost (nor does it kill the process).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let terminate = async {
            match terminate {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the service");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            () = terminate => tracing::info!("SIGTERM: finishing in-flight requests"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: finishing in-flight requests"),
        }
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(service): State<Arc<Service>>) -> Response {
    let in_flight = service.config.max_in_flight.max(1) - service.in_flight.available_permits();
    let text = service.metrics.render(in_flight, service.dedup.footprint());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Ready when GitLab answers `GET /user` with our token and the token belongs to the agent user.
async fn readyz(State(service): State<Arc<Service>>) -> Response {
    let cached = {
        let readiness = service.readiness.lock().unwrap_or_else(PoisonError::into_inner);
        readiness
            .as_ref()
            .filter(|(at, _)| at.elapsed() < service.config.readiness_ttl)
            .map(|(_, result)| result.clone())
    };
    let result = match cached {
        Some(result) => result,
        None => {
            let result = act::check_ready(&service.gitlab, &service.config.agent.username).await;
            *service.readiness.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), result.clone()));
            result
        }
    };
    match result {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}\n")).into_response(),
    }
}

/// A JSON answer for GitLab's "recent events" view, where people debug their hook.
fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Observes the request's latency however the handler returns.
struct Timer<'a> {
    metrics: &'a Metrics,
    start: Instant,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.metrics.observe(self.start.elapsed());
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).filter(|value| !value.is_empty())
}

async fn webhook(State(service): State<Arc<Service>>, request: Request) -> Response {
    let _timer = Timer { metrics: &service.metrics, start: Instant::now() };
    let metrics = &service.metrics;
    // Shed load before doing anything for the delivery; the permit is held until we answer.
    let Ok(_permit) = service.in_flight.try_acquire() else {
        metrics.event("none", "busy");
        tracing::warn!(max_in_flight = service.config.max_in_flight, "webhook refused: too many deliveries in flight");
        let mut response = answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "busy", "reason": "too many deliveries in flight; send it again later"}),
        );
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(RETRY_AFTER_SECONDS));
        return response;
    };
    // The headers are moved out, not cloned: the body extractor does not need them.
    let (mut parts, body) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    let hook = header_str(&headers, "x-gitlab-event").unwrap_or("");

    if !service.config.secret.matches(headers.get("x-gitlab-token").map(|value| value.as_bytes())) {
        metrics.event("none", "rejected");
        tracing::warn!(hook, "webhook rejected: missing or wrong `X-Gitlab-Token`");
        return answer(StatusCode::UNAUTHORIZED, json!({"status": "rejected", "reason": "invalid X-Gitlab-Token"}));
    }
    // A sender that trickles its body would hold its place for good; GitLab sends it at once.
    let read =
        tokio::time::timeout(service.config.action_budget, Bytes::from_request(Request::from_parts(parts, body), &()));
    let Ok(read) = read.await else {
        metrics.event("none", "invalid");
        tracing::warn!(hook, "webhook body refused: it did not arrive in time");
        return answer(
            StatusCode::REQUEST_TIMEOUT,
            json!({"status": "invalid", "reason": "the body did not arrive within the delivery's time"}),
        );
    };
    let body = match read {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            metrics.event("none", "invalid");
            tracing::warn!(hook, %status, "webhook body refused: {}", rejection.body_text());
            return answer(status, json!({"status": "invalid", "reason": rejection.body_text()}));
        }
    };
    if let Some(signing) = &service.config.signing {
        let header = |name: &str| headers.get(name).map(|value| value.as_bytes());
        let verified = signing.verify(
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            &body,
            std::time::SystemTime::now(),
        );
        if let Err(error) = verified {
            metrics.event("none", "rejected");
            tracing::warn!(hook, "webhook rejected: {error}");
            return answer(StatusCode::UNAUTHORIZED, json!({"status": "rejected", "reason": error.to_string()}));
        }
    }
    let event = match Event::parse_delivery(&body, Some(hook).filter(|hook| !hook.is_empty())) {
        Ok(event) => event,
        Err(ParseError::Unknown) => {
            metrics.event("none", "ignored");
            metrics.ignored("unknown_payload");
            tracing::debug!(hook, "webhook ignored: a payload without `object_kind`");
            return answer(StatusCode::OK, json!({"status": "ignored", "reason": "unknown_payload"}));
        }
        Err(error) => {
            metrics.event("none", "invalid");
            tracing::warn!(hook, "webhook body unreadable: {error}");
            return answer(StatusCode::BAD_REQUEST, json!({"status": "invalid", "reason": error.to_string()}));
        }
    };
    let kind = event.kind();
    let work = match route::route(&event, &service.config.agent) {
        Decision::Ignore(ignored) => {
            metrics.event(kind, "ignored");
            metrics.ignored(ignored.as_str());
            // Most deliveries start nothing (every comment, every pipeline of a busy group):
            // they are counted in the metrics and logged only at debug level.
            tracing::debug!(hook, kind, reason = ignored.as_str(), "webhook ignored");
            return answer(StatusCode::OK, json!({"status": "ignored", "reason": ignored.as_str()}));
        }
        Decision::Trigger(work) => work,
    };
    let trigger_type = work.trigger_type().as_str();
    let delivery_keys = [
        header_str(&headers, "idempotency-key").map(|key| format!("delivery:{key}")),
        header_str(&headers, "x-gitlab-event-uuid").map(|uuid| format!("event:{uuid}")),
        Some(format!("object:{}", work.object_key())),
    ];
    let claim = match service.dedup.claim(delivery_keys.into_iter().flatten()) {
        Outcome::Fresh(claim) => claim,
        Outcome::Duplicate => {
            metrics.event(kind, "duplicate");
            tracing::info!(hook, kind, trigger_type, object = work.object_key(), "webhook duplicate: already handled");
            return answer(StatusCode::OK, json!({"status": "duplicate", "trigger_type": trigger_type}));
        }
    };

    let deadline = tokio::time::Instant::now() + service.config.action_budget;
    let acted = act::act(&service.gitlab, &service.config, &work, deadline, metrics).await;
    let object = work.object_key();
    match acted {
        Acted::Triggered { pipeline_id } => {
            claim.done();
            metrics.event(kind, trigger_type);
            metrics.triggered(trigger_type);
            tracing::info!(hook, kind, trigger_type, object, pipeline_id, "webhook triggered the agent");
            answer(
                StatusCode::OK,
                json!({"status": "triggered", "trigger_type": trigger_type, "pipeline_id": pipeline_id}),
            )
        }
        Acted::Denied { access_level } => {
            // A decision about this event, not a failure: a resend would be denied again.
            claim.done();
            metrics.event(kind, "denied");
            tracing::info!(
                hook,
                kind,
                trigger_type,
                actor = work.actor.username,
                access_level,
                "webhook denied: access too low"
            );
            answer(StatusCode::OK, json!({"status": "denied", "reason": "insufficient access level"}))
        }
        Acted::TakenElsewhere => {
            // Not remembered: should the holder die before triggering, a later resend must be
            // judged again (against the 👀 lease), not answered from memory.
            drop(claim);
            metrics.event(kind, "taken_elsewhere");
            tracing::info!(hook, kind, trigger_type, object, "webhook handled by another replica (👀 already awarded)");
            answer(StatusCode::OK, json!({"status": "duplicate", "reason": "handled by another replica"}))
        }
        Acted::Failed { status, reason } => {
            // Dropping the claim forgets the delivery, so GitLab's resend is handled afresh.
            drop(claim);
            metrics.event(kind, "failed");
            tracing::error!(hook, kind, trigger_type, object, "webhook failed: {reason}");
            answer(status, json!({"status": "failed", "reason": reason}))
        }
    }
}
