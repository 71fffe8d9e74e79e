//! The client of a Dapr sidecar's HTTP API, which the Dapr backends of
//! `state` and `pubsub` share. (The sidecar's calls back into the host,
//! the Dapr app endpoints, are a trigger: `triggers::dapr`.)

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
        anyhow::ensure!(
            base.scheme() == "http",
            "Dapr URL {http_url:?}: only http:// is supported (the sidecar is local)"
        );
        // A publish waits for Kafka's acknowledgement; past this the relay
        // retries rather than hanging.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(15))
            .build()?;
        Ok(Self { base, client })
    }

    /// A request to `/v1.0/<segments...>`, each segment percent-encoded.
    pub(crate) fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let mut url = self.base.clone();
        url.path_segments_mut().expect("an http URL has a path").pop_if_empty().push("v1.0").extend(segments);
        self.client.request(method, url)
    }

    /// Sends `request`; returns the response when it did what it asked.
    pub(crate) async fn send(request: RequestBuilder) -> Result<reqwest::Response, CallError> {
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
