//! `todo:platform@0.2.0` on Spin's `fermyon:spin/sqlite@2.0.0`, for hosts
//! that do not provide the platform natively (real Spin). Composed with a
//! component as its dependency (`[component.<id>.dependencies]
//! "todo:platform" = { component = "platform-adapter" }`), one instance of
//! the adapter serves every `todo:platform` import of one instance of the
//! component, over one connection per database: a transaction, the state
//! calls and the outbox writes of a request share it.
//!
//! What the native host does, done in SQL on that connection:
//! - `sql`: statements as they are (placeholders `$N` become SQLite's `?N`),
//!   transactions as `BEGIN IMMEDIATE` / `COMMIT` / `ROLLBACK`, constraint
//!   violations named as the host names them (`sql`);
//! - `state`: a table of its own with expiry times, set-if-absent as one
//!   upsert (`state`);
//! - `pubsub` / `outbox`: the event's CloudEvents envelope written to the
//!   host's `outbox` table (the embedded pub/sub's log), in the transaction
//!   or on its own; the todo-host processes sharing the database deliver it
//!   (`pubsub`, `outbox`);
//! - the host's and the application's migrations, applied when a database
//!   is first opened and recorded as the host records them (`migrate`).
//!
//! What it cannot do: check `publish_topics` or `state_stores` grants
//! (Spin does not pass the component's `tool.todo` table on; only
//! `sqlite_databases` is enforced, by Spin), or report `BOOLEAN` columns as
//! booleans (Spin's values carry no declared type: they read as 0 and 1).

mod conn;
mod envelope;
mod migrate;
mod outbox;
mod sql;
mod state;
mod statement;

wit_bindgen::generate!({
    world: "todo:platform/platform-adapter",
    path: "../../wit",
    with: {
        "wasi:clocks/wall-clock@0.2.12": generate,
        "fermyon:spin/sqlite@2.0.0": generate,
    },
});

use exports::todo::platform::{outbox as wit_outbox, pubsub as wit_pubsub, types as wit_types};

/// The component: every exported interface.
struct Adapter;

impl exports::todo::platform::sql::Guest for Adapter {
    type Database = sql::Db;
    type Transaction = sql::Tx;
}

impl exports::todo::platform::state::Guest for Adapter {
    type Store = state::Store;
}

impl wit_pubsub::Guest for Adapter {
    fn publish(topic: String, partition_key: String, event: wit_types::CloudEvent) -> Result<(), wit_pubsub::Error> {
        outbox::publish(&topic, &partition_key, &event)
    }
}

impl wit_outbox::Guest for Adapter {
    fn publish(
        tx: exports::todo::platform::sql::TransactionBorrow<'_>,
        topic: String,
        partition_key: String,
        event: wit_types::CloudEvent,
    ) -> Result<(), wit_pubsub::Error> {
        outbox::publish_in(tx.get(), &topic, &partition_key, &event)
    }
}

export!(Adapter);
