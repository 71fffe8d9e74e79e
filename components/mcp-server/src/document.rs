//! `GET /api/openapi.json`: the API's OpenAPI document as committed
//! (`todo_domain::OPENAPI_JSON`), public and cacheable: an `ETag` of its
//! content, and 304 for a client that already has it.

use sha2::{Digest, Sha256};
use spin_sdk::http::{Method, Request, Response};
use todo_domain::OPENAPI_JSON;
use todo_guest::http::method_not_allowed;

pub const PATH: &str = "/api/openapi.json";
/// Clients may reuse it for a minute, then revalidate with the ETag.
const CACHE_CONTROL: &str = "public, max-age=60";

pub fn serve(req: &Request) -> Response {
    if *req.method() != Method::Get {
        return method_not_allowed(req.method(), "GET");
    }
    let etag = etag();
    let cached = req.header("if-none-match").and_then(|v| v.as_str()).is_some_and(|tags| matches(tags, &etag));
    let mut response = Response::builder();
    response.status(if cached { 304 } else { 200 }).header("etag", etag).header("cache-control", CACHE_CONTROL);
    if !cached {
        response.header("content-type", "application/json").body(OPENAPI_JSON.as_bytes().to_vec());
    }
    response.build()
}

/// A strong validator: the start of the document's SHA-256.
fn etag() -> String {
    let digest = Sha256::digest(OPENAPI_JSON.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether an `If-None-Match` list names `etag` (or is `*`).
fn matches(tags: &str, etag: &str) -> bool {
    tags.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists() {
        let etag = etag();
        assert!(matches(&etag, &etag));
        assert!(matches(&format!("\"x\", W/{etag}"), &etag));
        assert!(matches("*", &etag));
        assert!(!matches("\"other\"", &etag));
    }
}
