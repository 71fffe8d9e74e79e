//! The Dapr app endpoints, an inbound trigger: the host's side of the Dapr
//! app protocol, on a listener of its own
//! (`[dapr] app_listen`, never the public port): the sidecar asks which
//! subscriptions the host has, delivers their events, and triggers the cron
//! bindings.

use crate::capabilities::pubsub::{
    dapr::{DeliveryError, Subscriptions},
    Outcome,
};
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
    match crate::triggers::schedule::tick(components, &component, chrono::Utc::now()).await {
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

#[cfg(test)]
mod tests {
    //! The declarative files in `dapr/` must say what the host does.

    use crate::manifest::Manifest;
    use std::{collections::BTreeSet, path::Path};

    fn repo() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    /// The `name: value` lines of a YAML document, comments dropped (our
    /// files are flat enough for that).
    fn field<'a>(doc: &'a str, name: &str) -> Option<&'a str> {
        doc.lines().find_map(|l| {
            let l = l.split(" #").next().unwrap().trim().trim_start_matches("- ");
            l.strip_prefix(name)?.strip_prefix(':').map(|v| v.trim().trim_matches('"'))
        })
    }

    #[test]
    fn declarative_subscriptions_match_the_manifest_and_the_sse_hub() {
        let manifest = Manifest::load(&repo().join("spin.toml")).unwrap();
        let mut expected: BTreeSet<(String, String, String, String)> = manifest
            .trigger
            .pubsub
            .iter()
            .map(|t| {
                ("pubsub".into(), t.topic.clone(), format!("/dapr/events/pubsub/{}", t.topic), t.dead_letter_topic())
            })
            .collect();
        for hub in manifest.trigger.sse.iter().map(|t| &t.topic) {
            expected.insert((
                "pubsub-replica".into(),
                hub.clone(),
                format!("/dapr/events/pubsub-replica/{hub}"),
                format!("{hub}-dlq"),
            ));
        }
        let text = std::fs::read_to_string(repo().join("dapr/subscriptions.yaml")).unwrap();
        let declared: BTreeSet<_> = text
            .split("\n---\n")
            .map(|doc| {
                let f = |name| field(doc, name).unwrap_or_else(|| panic!("no {name} in {doc}")).to_owned();
                (f("pubsubname"), f("topic"), f("default"), f("deadLetterTopic"))
            })
            .collect();
        assert_eq!(declared, expected);
    }

    #[test]
    fn every_schedule_has_a_cron_binding_with_the_same_schedule() {
        let manifest = Manifest::load(&repo().join("spin.toml")).unwrap();
        assert!(!manifest.trigger.schedule.is_empty());
        for t in &manifest.trigger.schedule {
            let path = repo().join(format!("dapr/components/{}-cron.yaml", t.component));
            let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let value_after = |name: &str| {
                let after = doc.split(&format!("- name: {name}\n")).nth(1).unwrap_or_else(|| panic!("no {name}"));
                field(after, "value").unwrap().to_owned()
            };
            assert_eq!(value_after("schedule"), t.schedule.split(" #").next().unwrap().trim(), "{}", path.display());
            assert_eq!(value_after("route"), format!("/dapr/cron/{}", t.component));
            assert_eq!(field(&doc, "type"), Some("bindings.cron"));
        }
    }
}
