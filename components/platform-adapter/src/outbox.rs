//! Events into the host's `outbox` table (host/migrations/sqlite/0001_outbox.sql),
//! row for row as the host's outbox writes them
//! (`host/src/capabilities/pubsub/outbox.rs`): inside the guest's transaction
//! (`outbox.publish`), or committed on their own (`pubsub.publish`). The
//! outbox is the embedded pub/sub's log: the todo-host processes sharing the
//! database deliver from it in place, and an event id already in it is the
//! same event again, kept once. All of the adapter's SQL on the outbox is here.

use crate::conn::Conn;
use crate::envelope::envelope;
use crate::exports::todo::platform::{pubsub::Error, types::CloudEvent};
use crate::fermyon::spin::sqlite::{Error as SpinError, Value};
use crate::sql::Tx;

const INSERT: &str =
    "INSERT INTO outbox (event_id, topic, partition_key, event, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (event_id) DO NOTHING";

/// Queues the event inside `tx`: published if and only if `tx` commits.
pub fn publish_in(tx: &Tx, topic: &str, partition_key: &str, event: &CloudEvent) -> Result<(), Error> {
    let conn =
        tx.conn().map_err(|_| Error::Unavailable("the transaction was already committed or rolled back".into()))?;
    write(conn, topic, partition_key, event)
}

/// Queues the event on its own, durably when this returns.
pub fn publish(topic: &str, partition_key: &str, event: &CloudEvent) -> Result<(), Error> {
    let conn = Conn::open("default").map_err(|e| Error::Unavailable(format!("opening the default database: {e:?}")))?;
    if conn.in_transaction() {
        // The host's publish would wait for the writer this instance holds.
        return Err(Error::Unavailable(
            "this instance holds an open transaction: publish inside it with outbox.publish".into(),
        ));
    }
    write(&conn, topic, partition_key, event)
}

fn write(conn: &Conn, topic: &str, partition_key: &str, event: &CloudEvent) -> Result<(), Error> {
    let row = [
        Value::Text(event.id.clone()),
        Value::Text(topic.to_owned()),
        Value::Text(partition_key.to_owned()),
        Value::Text(envelope(topic, partition_key, event)?),
        Value::Text(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    ];
    conn.run(INSERT, &row).map(drop).map_err(|e| refused(&event.id, e))
}

/// A second event with one id is the guest's bug, anything else the
/// database's trouble (as the host's outbox reports them).
fn refused(event_id: &str, e: SpinError) -> Error {
    match e {
        SpinError::Io(m) if m.contains("UNIQUE constraint failed") => {
            Error::DuplicateEvent(format!("event {event_id} is already queued"))
        }
        SpinError::Io(m) if m.contains("outlived its deadline") => {
            Error::Unavailable("the transaction outlived its deadline and was rolled back".into())
        }
        SpinError::Io(m) => Error::Unavailable(m),
        other => Error::Unavailable(format!("{other:?}")),
    }
}
