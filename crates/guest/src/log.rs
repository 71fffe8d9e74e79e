//! Log lines on stderr (the host passes a guest's stderr through), each
//! prefixed with the component's name so the host's log tells who said it.

use std::fmt::Display;
use std::sync::OnceLock;

static COMPONENT: OnceLock<&'static str> = OnceLock::new();

/// Names the component in its log lines; call it first in every export
/// (each call runs in a fresh instance). Later calls change nothing.
pub fn set_component(name: &'static str) {
    let _ = COMPONENT.set(name);
}

/// The name given to `set_component`, or `guest`.
pub fn component() -> &'static str {
    COMPONENT.get().copied().unwrap_or("guest")
}

/// Writes `<component>: <message>` to stderr.
pub fn line(message: impl Display) {
    eprintln!("{}: {message}", component());
}

/// Logs why an event handler answers `drop`: the event can never be handled
/// (the host dead-letters it, where it shows).
pub fn dropping(event_id: &str, why: impl Display) {
    line(format_args!("event {event_id}: {why}: dropped"));
}

/// Logs why an event handler answers `retry`: the database or the outbox is
/// unavailable, or something else failed; the host redelivers with backoff,
/// then dead-letters the event where it shows.
pub fn retrying(event_id: &str, attempt: u32, err: impl Display) {
    line(format_args!("event {event_id} attempt {attempt}: {err}: retry"));
}
