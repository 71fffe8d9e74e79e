//! `GET /api/stream/tasks`: a user's live events as `text/event-stream`,
//! resumable with `Last-Event-ID`.

use super::{Entry, Hub, Registration};
use crate::triggers::http::{error, HttpServer};
use axum::{
    extract::{Request, State},
    http::{header, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
};
use std::{collections::VecDeque, convert::Infallible, sync::atomic::Ordering, sync::Arc, time::Duration};
use tokio::sync::watch;

/// The cookie the development sign-in sets, scoped to the stream route.
pub const COOKIE: &str = "todo_token";
const HEARTBEAT: Duration = Duration::from_secs(15);
/// A reconnect with more missed events than this gets a resync instead.
const MAX_REPLAY: usize = 10_000;
const PAGE: i64 = 500;

/// The token: `Authorization: Bearer`, else `?access_token=`, else the cookie
/// (a browser `EventSource` cannot set headers).
fn token(request: &Request) -> Option<String> {
    let headers = request.headers();
    if let Some(bearer) = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()) {
        return bearer.strip_prefix("Bearer ").map(str::to_owned);
    }
    let query = request.uri().query().unwrap_or("");
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

pub async fn handler(State(server): State<Arc<HttpServer>>, request: Request) -> Response {
    let user_id = match token(&request).ok_or("missing token").and_then(|t| server.auth.verify(&t).map_err(|_| "invalid token")) {
        Ok(user_id) => user_id,
        Err(reason) => return error(StatusCode::UNAUTHORIZED, "unauthorized", reason),
    };
    let last_event_id = request.headers().get("last-event-id").and_then(|h| h.to_str().ok()).map(str::to_owned);
    let hub = server.hub.clone();
    // Register before reading the backlog, so nothing falls between the two;
    // live entries already replayed are skipped by sequence number.
    let registration = hub.register(&user_id);
    let (pending, last_sent) = match backlog(&hub, &user_id, last_event_id.as_deref()).await {
        Ok(backlog) => backlog,
        Err(e) => {
            tracing::error!(error = %e, "reading the stream log");
            return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the stream log is unavailable");
        }
    };
    let state = StreamState { hub: hub.clone(), pending, registration, last_sent, shutdown: hub.shutdown_signal(), closed: false };
    let stream = futures::stream::unfold(state, |mut state| async move {
        let event = state.next().await?;
        Some((Ok::<_, Infallible>(event), state))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("keepalive")).into_response()
}

fn resync(reason: &str) -> Event {
    Event::default().event("resync").data(serde_json::json!({ "reason": reason }).to_string())
}

fn event(hub: &Hub, entry: &Entry) -> Event {
    Event::default().id(format!("{}-{}", hub.log.log_id, entry.seq)).event(&entry.event_type).data(&entry.data)
}

/// What a (re)connecting client is owed before live events: the events after
/// its `Last-Event-ID`, or a resync when they cannot be replayed exactly.
async fn backlog(hub: &Hub, user_id: &str, last_event_id: Option<&str>) -> rusqlite::Result<(VecDeque<Event>, i64)> {
    let newest = hub.log.newest().await?;
    let Some(last_event_id) = last_event_id else {
        return Ok((VecDeque::new(), newest));
    };
    let resume = last_event_id
        .split_once('-')
        .filter(|(log_id, _)| *log_id == hub.log.log_id)
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

struct StreamState {
    hub: Arc<Hub>,
    pending: VecDeque<Event>,
    registration: Registration,
    /// Live entries up to here were already sent (or predate the stream).
    last_sent: i64,
    shutdown: watch::Receiver<bool>,
    closed: bool,
}

impl StreamState {
    /// The next event to send; None ends the stream.
    async fn next(&mut self) -> Option<Event> {
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
                    return Some(Event::default().retry(Duration::from_secs(1)).comment("server restarting: reconnect"));
                }
            }
        }
    }
}
