//! The host's side of the Dapr app protocol, on a listener of its own
//! (`[dapr] app_listen`, never the public port): the sidecar asks which
//! subscriptions the host has, delivers their events, and triggers the cron
//! bindings.

use super::pubsub::{DeliveryError, Subscriptions};
use crate::backends::pubsub::Outcome;
use crate::runtime::components::Components;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use bytes::Bytes;
use std::sync::Arc;

pub struct App {
    /// The Dapr pub/sub subscriptions (none when pub/sub is embedded).
    pub subscriptions: Arc<Subscriptions>,
    /// Runs the scheduled components, when cron is Dapr's.
    pub cron: Option<Arc<Components>>,
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/dapr/subscribe", get(|State(app): State<Arc<App>>| async move { Json(app.subscriptions.list()) }))
        .route("/dapr/events/{pubsub}/{topic}", post(event))
        .route("/dapr/cron/{component}", post(cron))
        .with_state(app)
}

/// A subscribed event: the answer tells the sidecar SUCCESS, RETRY or DROP.
async fn event(State(app): State<Arc<App>>, Path((pubsub, topic)): Path<(String, String)>, body: Bytes) -> Response {
    let status = match app.subscriptions.deliver(&pubsub, &topic, &body).await {
        Ok(Outcome::Success) => "SUCCESS",
        Ok(Outcome::Retry) => "RETRY",
        Ok(Outcome::Drop) => "DROP",
        Err(e @ DeliveryError::Malformed(_)) => {
            tracing::warn!(%pubsub, %topic, error = %e, "dropping an undeliverable event");
            "DROP"
        }
        // 404 also makes the sidecar drop it: nobody here subscribed.
        Err(e @ DeliveryError::Unknown(..)) => return (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    };
    Json(serde_json::json!({ "status": status })).into_response()
}

/// A cron binding's tick, for the component the binding is named after.
async fn cron(State(app): State<Arc<App>>, Path(component): Path<String>) -> Response {
    let Some(components) = &app.cron else {
        return (StatusCode::NOT_FOUND, "cron is not Dapr's here ([cron] type)").into_response();
    };
    match crate::triggers::cron::tick(components, &component, chrono::Utc::now()).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")).into_response(),
    }
}

/// Serves the app endpoints on `listener` until the process ends.
pub fn spawn(listener: tokio::net::TcpListener, app: Arc<App>) {
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(app)).await {
            tracing::error!(error = %e, "the Dapr app listener failed");
        }
    });
}
