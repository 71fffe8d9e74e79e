//! Cross-origin reads of the stream. Under `todo-host up` the dashboard and
//! the stream share one origin and no other is allowed; under Spin the
//! dashboard comes from Spin's address and the stream from the `sse`
//! plugin's, so the stream answers the origins it is told to allow
//! (`--sse-allow-origin`), with the preflight a `fetch` carrying
//! `Authorization` and `Last-Event-ID` needs.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The origins allowed to read the stream from pages of their own.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<String>,
}

impl Cors {
    pub fn new(origins: Vec<String>) -> Self {
        Self { origins: origins.into_iter().map(|o| o.trim_end_matches('/').to_owned()).collect() }
    }

    /// What a response to `request` adds: its origin echoed back, when
    /// allowed (nothing for a same-origin request or another origin).
    pub fn headers(&self, request: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
        match request.get(header::ORIGIN) {
            Some(origin) if self.origins.iter().any(|o| o.as_bytes() == origin.as_bytes()) => vec![
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()),
                (header::VARY, HeaderValue::from_static("origin")),
            ],
            _ => Vec::new(),
        }
    }

    /// The answer to a preflight `OPTIONS`: the method and headers the
    /// stream takes, for an allowed origin only.
    pub fn preflight(&self, request: &HeaderMap) -> Response {
        let allowed = self.headers(request);
        if allowed.is_empty() {
            return StatusCode::FORBIDDEN.into_response();
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.extend(allowed);
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET"));
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, last-event-id"));
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(origin: &str) -> HeaderMap {
        HeaderMap::from_iter([(header::ORIGIN, HeaderValue::from_str(origin).unwrap())])
    }

    #[test]
    fn allows_only_the_configured_origins() {
        let cors = Cors::new(vec!["http://127.0.0.1:3000/".into()]);
        let allowed = cors.headers(&from("http://127.0.0.1:3000"));
        assert_eq!(allowed[0].1, "http://127.0.0.1:3000");
        assert!(cors.headers(&from("http://evil.example")).is_empty());
        assert!(cors.headers(&HeaderMap::new()).is_empty(), "same-origin requests send no Origin");
        let preflight = cors.preflight(&from("http://127.0.0.1:3000"));
        assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
        assert!(preflight.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().contains("authorization"));
        assert_eq!(cors.preflight(&from("http://evil.example")).status(), StatusCode::FORBIDDEN);
        assert!(Cors::default().headers(&from("http://127.0.0.1:3000")).is_empty(), "none allowed by default");
    }
}
