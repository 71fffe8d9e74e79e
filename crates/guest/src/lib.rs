//! What every component of the todo system shares, so that no component
//! carries its own copy: the bindings of the `todo:platform/platform` world
//! (generated here, once), row decoding, transactions, CloudEvents through
//! the transactional outbox, the consumers' `processed_event` dedup, the
//! task persistence of the Task API and the recurring handler, and — with
//! the `http` feature — the JSON plumbing of HTTP components (spin-sdk).
//!
//! A component that also exports a world (an event handler, a scheduled job)
//! generates only its exports, with the imports mapped to these bindings:
//! `todo_guest::generate_exports!("todo:platform/event-handler-component");`

// Imports only: HTTP components export `wasi:http/incoming-handler` through
// spin-sdk, the others their own world.
wit_bindgen::generate!({
    world: "todo:platform/platform",
    path: "../../wit",
});

/// Generates a component's exports of `world` (a world of `wit/`, for a crate
/// in `components/<name>`), reusing this crate's bindings for the imports.
#[macro_export]
macro_rules! generate_exports {
    ($world:literal) => {
        wit_bindgen::generate!({
            world: $world,
            path: "../../wit",
            with: {
                "todo:platform/sql@0.1.0": todo_guest::todo::platform::sql,
                "todo:platform/state@0.1.0": todo_guest::todo::platform::state,
                "todo:platform/pubsub@0.1.0": todo_guest::todo::platform::pubsub,
                "todo:platform/types@0.1.0": todo_guest::todo::platform::types,
            },
        });
    };
}

pub mod db;
pub mod events;
#[cfg(feature = "http")]
pub mod http;
pub mod log;
pub mod processed;
pub mod tasks;
pub mod tx;

pub use todo::platform::{pubsub, sql, state, types};

use serde::Serialize;
use todo_domain::ApiError;

/// JSON text of `value`; failing to encode is an internal error.
pub fn encode(value: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(value)
        .map_err(|err| ApiError::internal(format!("could not encode JSON: {err}")))
}
