//! The dashboard's static files, as a component so that Spin serves them as
//! `todo-host` does: the files come from the directory the manifest mounts
//! at `/` (`files = [{ source = "frontend/dist", destination = "/" }]`),
//! on `[[trigger.http]] route = "/..."`, below every more specific route.
//! - A file is served with its content type; build outputs under
//!   `/assets/` (content-hashed names) are cached for good, the rest
//!   revalidated (`index.html` names the hashes).
//! - A path with no file and no dot in its last segment is a route of the
//!   single-page app: it gets `index.html`. A missing asset (a dot: `.js`,
//!   `.css`, ...) gets a 404 in the API's JSON error shape.
//! - `/todo-config.json` tells the dashboard where its live stream is:
//!   `{"stream_url": ...}` from the variable `stream_url`, empty for the
//!   same origin (under `todo-host`), the `sse` plugin's address under Spin.
//!
//! No token is needed: these are public assets.

use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use std::path::{Path, PathBuf};

/// Where the manifest mounts the files in the guest.
const ROOT: &str = "/";
const ENTRY: &str = "index.html";
const CONFIG: &str = "/todo-config.json";

#[http_component]
fn handle(req: Request) -> Response {
    let head = match req.method() {
        Method::Get => false,
        Method::Head => true,
        other => {
            let mut response = error(405, "method_not_allowed", &format!("method {other} is not allowed here"));
            response.set_header("allow", "GET, HEAD");
            return response;
        }
    };
    let path = req.path();
    let response = if path == CONFIG { config() } else { file(path) };
    if head {
        let mut empty = Response::new(*response.status(), Vec::new());
        for (name, value) in response.headers() {
            empty.set_header(name, value.as_str().unwrap_or_default());
        }
        return empty;
    }
    response
}

/// `/todo-config.json`.
fn config() -> Response {
    let stream_url = spin_sdk::variables::get("stream_url").unwrap_or_default();
    let body = serde_json::json!({ "stream_url": stream_url }).to_string();
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("cache-control", "no-cache")
        .body(body)
        .build()
}

/// The file at `path`, the entry point for an app route, or a 404.
fn file(path: &str) -> Response {
    let Some(relative) = relative(path) else {
        return error(404, "not_found", &format!("no file {path}"));
    };
    let on_disk = Path::new(ROOT).join(&relative);
    let target = if on_disk.is_file() {
        on_disk
    } else if on_disk.join(ENTRY).is_file() {
        // A directory of its own page (`/api/docs/`): its relative links
        // need the trailing slash.
        if !path.ends_with('/') {
            return Response::builder().status(308).header("location", format!("{path}/")).body(Vec::new()).build();
        }
        on_disk.join(ENTRY)
    } else if on_disk.is_dir() || !last_segment_has_dot(&relative) {
        Path::new(ROOT).join(ENTRY)
    } else {
        return error(404, "not_found", &format!("no file {path}"));
    };
    match std::fs::read(&target) {
        Ok(bytes) => Response::builder()
            .status(200)
            .header("content-type", content_type(&target))
            .header("cache-control", cache_control(&relative))
            .body(bytes)
            .build(),
        Err(e) => error(500, "internal", &format!("reading {}: {e}", target.display())),
    }
}

/// The path below the mount, refusing any that would leave it.
fn relative(path: &str) -> Option<PathBuf> {
    let mut relative = PathBuf::new();
    for segment in path.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if segment == ".." || segment.contains('\\') {
            return None;
        }
        relative.push(segment);
    }
    Some(relative)
}

fn last_segment_has_dot(relative: &Path) -> bool {
    relative.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains('.'))
}

/// Content-hashed build outputs never change; everything else is revalidated.
fn cache_control(relative: &Path) -> &'static str {
    if relative.starts_with("assets") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// The API's error shape.
fn error(status: u16, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    Response::builder().status(status).header("content-type", "application/json").body(body).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_paths_below_the_mount() {
        assert_eq!(relative("/assets/app.js"), Some(PathBuf::from("assets/app.js")));
        assert_eq!(relative("/"), Some(PathBuf::new()));
        assert_eq!(relative("/a/../../etc/passwd"), None);
        assert!(last_segment_has_dot(Path::new("assets/app.js")));
        assert!(!last_segment_has_dot(Path::new("tasks/42")));
        assert_eq!(cache_control(Path::new("assets/app.js")), "public, max-age=31536000, immutable");
        assert_eq!(cache_control(Path::new("index.html")), "no-cache");
        assert_eq!(content_type(Path::new("/index.html")), "text/html; charset=utf-8");
    }
}
