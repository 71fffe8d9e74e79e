//! Host bindings of the `todo:platform` imports (`wit/`), generated once.
//! Resources map onto each capability's own host types; `wasi:clocks` is
//! wasmtime-wasi's, linked by the runtime with the rest of WASI.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "todo:platform/platform",
    imports: { default: async | trappable },
    with: {
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "todo:platform/sql.database": crate::capabilities::sql::host::Database,
        "todo:platform/sql.transaction": crate::capabilities::sql::host::Transaction,
        "todo:platform/state.store": crate::capabilities::state::host::Store,
    },
});

pub use todo::platform::{outbox, pubsub, sql, state, types};

use chrono::{DateTime, Utc};

/// A WIT timestamp as a UTC time (None when out of chrono's range).
pub fn to_utc(t: types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(i64::try_from(t.seconds).ok()?, t.nanoseconds)
}

/// A UTC time as a WIT timestamp (times before 1970 clamp to the epoch).
pub fn from_utc(t: DateTime<Utc>) -> types::Timestamp {
    types::Timestamp { seconds: u64::try_from(t.timestamp()).unwrap_or(0), nanoseconds: t.timestamp_subsec_nanos() }
}
