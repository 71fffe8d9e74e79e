//! What every component of the todo system shares, so that no component
//! carries its own copy: the bindings of the `todo:platform/platform@0.2.0`
//! world (generated here, once), the handles of the "default" database and
//! state store, the persistence error `StoreError`, row decoding,
//! transactions, typed times, CloudEvents (on their own through `pubsub`,
//! inside a transaction through `outbox`), the consumers' `processed_event`
//! dedup, the task persistence of the Task API and the recurring handler,
//! the notifications' and `Idempotency-Key`s' persistence, and — with the
//! `http` feature — the JSON plumbing of HTTP components (spin-sdk), where
//! `StoreError` becomes the API's `ApiError`, and the APIs' operations
//! (`api`), which the Task API, the Notification API and the MCP server share.
//!
//! A component that also exports a world (an event handler, a scheduled job)
//! generates only its exports, with the imports mapped to these bindings:
//! `todo_guest::generate_exports!("todo:platform/event-handler-component");`

// Imports only: HTTP components export `wasi:http/incoming-handler` through
// spin-sdk, the others their own world.
wit_bindgen::generate!({
    world: "todo:platform/platform",
    path: "../../wit",
    // `types.timestamp` is wall-clock's `datetime`; only the type is used.
    with: { "wasi:clocks/wall-clock@0.2.12": generate },
});

/// Generates a component's exports of `world` (a world of `wit/`, for a crate
/// in `components/<name>`), reusing this crate's bindings for the imports.
/// An event handler also gets its delivered `Event` as this crate's
/// `CloudEvent` (the same fields), which the handlers decode.
#[macro_export]
macro_rules! generate_exports {
    ("todo:platform/event-handler-component") => {
        $crate::generate_exports!(@world "todo:platform/event-handler-component");

        // The handler's export has a record of its own (see wit/handlers.wit).
        impl From<exports::todo::platform::event_handler::Event> for todo_guest::types::CloudEvent {
            fn from(e: exports::todo::platform::event_handler::Event) -> Self {
                Self {
                    id: e.id,
                    source: e.source,
                    type_: e.type_,
                    subject: e.subject,
                    time: e.time,
                    datacontenttype: e.datacontenttype,
                    data: e.data,
                }
            }
        }
    };
    ($world:literal) => {
        $crate::generate_exports!(@world $world);
    };
    (@world $world:literal) => {
        wit_bindgen::generate!({
            world: $world,
            path: "../../wit",
            with: {
                "wasi:clocks/wall-clock@0.2.12": todo_guest::wasi::clocks::wall_clock,
                "todo:platform/types@0.2.0": todo_guest::todo::platform::types,
                "todo:platform/sql@0.2.0": todo_guest::todo::platform::sql,
                "todo:platform/state@0.2.0": todo_guest::todo::platform::state,
                "todo:platform/pubsub@0.2.0": todo_guest::todo::platform::pubsub,
                "todo:platform/outbox@0.2.0": todo_guest::todo::platform::outbox,
            },
        });
    };
}

#[cfg(feature = "http")]
pub mod api;
pub mod db;
pub mod error;
pub mod events;
#[cfg(feature = "http")]
pub mod http;
pub mod idempotency;
pub mod kv;
pub mod log;
pub mod notifications;
pub mod processed;
pub mod tasks;
pub mod time;
pub mod tx;

pub use error::{Backend, StoreError};
pub use todo::platform::{outbox, pubsub, sql, state, types};

use serde::Serialize;

/// The label of the application's own database and state store.
pub const DEFAULT_LABEL: &str = "default";

/// JSON text of `value`, to store or publish.
pub fn encode(value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|err| StoreError::Encode(err.to_string()))
}
