//! The distributed backend's bridge to a Dapr sidecar, over Dapr's HTTP
//! API. The host is the Dapr "app": it calls the sidecar for state and
//! publishing (this module's client), and the sidecar calls the host back
//! with subscribed events and cron bindings (`app`).

pub mod app;
pub mod pubsub;
pub mod state;

use reqwest::{Method, RequestBuilder, StatusCode, Url};
use std::time::Duration;

/// The statuses of a sidecar call that did what it was asked.
const DONE: &[StatusCode] = &[StatusCode::OK, StatusCode::NO_CONTENT];

/// A call to the sidecar that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer: the sidecar is down, or too slow.
    #[error("Dapr sidecar unreachable: {0}")]
    Unreachable(String),
    /// The sidecar answered with an error status (and Dapr's error body).
    #[error("Dapr answered {status}: {body}")]
    Status { status: StatusCode, body: String },
}

/// The sidecar's HTTP API.
#[derive(Clone)]
pub struct Sidecar {
    base: Url,
    client: reqwest::Client,
}

impl Sidecar {
    pub fn new(http_url: &str) -> anyhow::Result<Self> {
        let base = Url::parse(http_url).map_err(|e| anyhow::anyhow!("Dapr URL {http_url:?}: {e}"))?;
        anyhow::ensure!(base.scheme() == "http", "Dapr URL {http_url:?}: only http:// is supported (the sidecar is local)");
        // A publish waits for Kafka's acknowledgement; past this the relay
        // retries rather than hanging.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(15))
            .build()?;
        Ok(Self { base, client })
    }

    /// A request to `/v1.0/<segments...>`, each segment percent-encoded.
    fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let mut url = self.base.clone();
        url.path_segments_mut().expect("an http URL has a path").pop_if_empty().push("v1.0").extend(segments);
        self.client.request(method, url)
    }

    /// Sends `request`; returns the response when it did what it asked.
    async fn send(request: RequestBuilder) -> Result<reqwest::Response, CallError> {
        let response = request.send().await.map_err(|e| CallError::Unreachable(error_chain(&e)))?;
        let status = response.status();
        if DONE.contains(&status) {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        Err(CallError::Status { status, body })
    }

    /// Whether the sidecar is up and its components are ready.
    pub async fn healthz(&self) -> Result<(), CallError> {
        Self::send(self.request(Method::GET, &["healthz", "outbound"])).await.map(drop)
    }
}

/// The error and its causes on one line (reqwest hides the interesting part).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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
            .map(|t| ("pubsub".into(), t.topic.clone(), format!("/dapr/events/pubsub/{}", t.topic), t.dead_letter_topic()))
            .collect();
        let hub = crate::sse::TOPIC;
        expected.insert(("pubsub-replica".into(), hub.into(), format!("/dapr/events/pubsub-replica/{hub}"), format!("{hub}-dlq")));
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
        assert!(!manifest.trigger.cron.is_empty());
        for t in &manifest.trigger.cron {
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
