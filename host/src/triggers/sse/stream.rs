//! The SSE trigger's route: a user's live events as `text/event-stream`,
//! resumable with `Last-Event-ID`. The stream logic is here; `native`
//! writes it on a connection of its own, and `handler` through hyper (for a
//! stream asked for on a connection that served other requests first).

use super::{Entry, Hub, LogError, Registration};
use crate::triggers::http::{error, HttpServer};
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use std::{collections::VecDeque, convert::Infallible, fmt::Write, sync::atomic::Ordering, sync::Arc, time::Duration};
use tokio::sync::watch;

/// The cookie the development sign-in sets, scoped to the stream route.
pub const COOKIE: &str = "todo_token";
const HEARTBEAT: Duration = Duration::from_secs(15);
/// A reconnect with more missed events than this gets a resync instead.
const MAX_REPLAY: usize = 10_000;
const PAGE: i64 = 500;

/// The token: `Authorization: Bearer`, else `?access_token=`, else the cookie
/// (a browser `EventSource` cannot set headers).
fn token(headers: &HeaderMap, query: &str) -> Option<String> {
    if let Some(bearer) = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()) {
        return bearer.strip_prefix("Bearer ").map(str::to_owned);
    }
    if let Some((_, t)) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "access_token") {
        return Some(t.into_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('=').map(str::to_owned))
}

/// Why a stream cannot open: the status, error code and message to answer.
pub type Refusal = (StatusCode, &'static str, &'static str);

/// Authenticates the request and opens the user's stream: registered for
/// live events, with the backlog its `Last-Event-ID` is owed.
pub async fn open(server: &HttpServer, headers: &HeaderMap, query: &str) -> Result<StreamState, Refusal> {
    let user_id = token(headers, query)
        .ok_or("missing token")
        .and_then(|t| server.auth.verify(&t).map_err(|_| "invalid token"))
        .map_err(|reason| (StatusCode::UNAUTHORIZED, "unauthorized", reason))?;
    let last_event_id = headers.get("last-event-id").and_then(|h| h.to_str().ok());
    let hub = server.hub.clone().ok_or((StatusCode::NOT_FOUND, "not_found", "this application has no stream"))?;
    // Register before reading the backlog, so nothing falls between the two;
    // live entries already replayed are skipped by sequence number.
    let registration = hub.register(&user_id).map_err(|_| {
        (StatusCode::TOO_MANY_REQUESTS, "too_many_streams", "too many streams are open for this user; close one first")
    })?;
    let (pending, last_sent) = backlog(&hub, &user_id, last_event_id).await.map_err(|e| {
        tracing::error!(error = %e, "reading the stream log");
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the stream log is unavailable")
    })?;
    Ok(StreamState {
        hub: hub.clone(),
        pending,
        registration,
        last_sent,
        shutdown: hub.shutdown_signal(),
        closed: false,
    })
}

/// The stream through hyper.
pub async fn handler(State(server): State<Arc<HttpServer>>, request: Request) -> Response {
    let state = match open(&server, request.headers(), request.uri().query().unwrap_or("")).await {
        Ok(state) => state,
        Err((status, code, message)) => return error(status, code, message),
    };
    let frames = futures::stream::unfold(state, |mut state| async move {
        let frame = state.next_or_heartbeat().await?;
        Some((Ok::<_, Infallible>(frame), state))
    });
    let mut response = Body::from_stream(frames).into_response();
    for (name, value) in RESPONSE_HEADERS {
        response.headers_mut().insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The headers of a stream's response.
pub const RESPONSE_HEADERS: [(header::HeaderName, &str); 2] =
    [(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")];

/// One message in the `text/event-stream` format.
fn message(id: Option<&str>, event: &str, data: &str) -> String {
    let mut text = String::with_capacity(data.len() + 64);
    if let Some(id) = id {
        let _ = writeln!(text, "id: {id}");
    }
    let _ = writeln!(text, "event: {event}");
    for line in data.split('\n') {
        let _ = writeln!(text, "data: {line}");
    }
    text.push('\n');
    text
}

fn resync(reason: &str) -> String {
    message(None, "resync", &serde_json::json!({ "reason": reason }).to_string())
}

fn event(hub: &Hub, entry: &Entry) -> String {
    message(Some(&format!("{}-{}", hub.log.log_id(), entry.seq)), &entry.event_type, &entry.data)
}

/// What a (re)connecting client is owed before live events: the events after
/// its `Last-Event-ID`, or a resync when they cannot be replayed exactly.
async fn backlog(hub: &Hub, user_id: &str, last_event_id: Option<&str>) -> Result<(VecDeque<String>, i64), LogError> {
    let newest = hub.log.newest().await?;
    let Some(last_event_id) = last_event_id else {
        return Ok((VecDeque::new(), newest));
    };
    let resume = last_event_id
        .split_once('-')
        .filter(|(log_id, _)| *log_id == hub.log.log_id())
        .and_then(|(_, seq)| seq.parse::<i64>().ok())
        .filter(|seq| *seq <= newest);
    let Some(mut after) = resume else {
        return Ok((VecDeque::from([resync("unknown event id")]), newest));
    };
    if hub.log.oldest().await?.is_some_and(|oldest| after + 1 < oldest) {
        return Ok((VecDeque::from([resync("event id too old to replay")]), newest));
    }
    let mut pending = VecDeque::new();
    loop {
        let page = hub.log.after(user_id, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        pending.extend(page.iter().map(|e| event(hub, e)));
        if pending.len() > MAX_REPLAY {
            return Ok((VecDeque::from([resync("too many missed events")]), newest));
        }
    }
    Ok((pending, after.max(newest)))
}

pub struct StreamState {
    hub: Arc<Hub>,
    pending: VecDeque<String>,
    registration: Registration,
    /// Live entries up to here were already sent (or predate the stream).
    last_sent: i64,
    shutdown: watch::Receiver<bool>,
    closed: bool,
}

impl StreamState {
    /// The next message, or a heartbeat comment after 15 s without one (so
    /// that proxies keep the connection); None ends the stream.
    pub async fn next_or_heartbeat(&mut self) -> Option<String> {
        match tokio::time::timeout(HEARTBEAT, self.next()).await {
            Ok(message) => message,
            Err(_) => Some(": keepalive\n\n".into()),
        }
    }

    /// The next message to send; None ends the stream.
    async fn next(&mut self) -> Option<String> {
        if let Some(event) = self.pending.pop_front() {
            return Some(event);
        }
        if self.closed {
            return None;
        }
        loop {
            tokio::select! {
                entry = self.registration.rx.recv() => match entry {
                    Some(entry) if entry.seq <= self.last_sent => continue,
                    Some(entry) => {
                        self.last_sent = entry.seq;
                        return Some(event(&self.hub, &entry));
                    }
                    None => {
                        self.closed = true;
                        let overflowed = self.registration.overflowed.load(Ordering::Acquire);
                        return Some(resync(if overflowed { "the stream fell behind" } else { "the stream was closed" }));
                    }
                },
                _ = self.shutdown.wait_for(|stopping| *stopping) => {
                    // Graceful shutdown: ask the client to reconnect soon, then end.
                    self.closed = true;
                    return Some("retry: 1000\n: server restarting: reconnect\n\n".into());
                }
            }
        }
    }
}
