//! Consumer idempotency: one `processed_event` row per (event id, consumer).

use crate::db::text;
use crate::sql::Transaction;
use crate::StoreError;
use chrono::{DateTime, Utc};
use todo_domain::time::format_utc;

/// Marks `event_id` processed by `consumer` inside `tx`: `true` the first
/// time, `false` when it already was (a redelivery), in which case the
/// caller does nothing more. Marking and the work it guards commit together,
/// so an event is either fully handled once or not at all; a concurrent
/// delivery of the same event waits for this one's outcome.
pub fn first_delivery(tx: &Transaction, event_id: &str, consumer: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
    // ON CONFLICT DO NOTHING rather than catching the violation: on
    // PostgreSQL a failed statement aborts the whole transaction.
    let inserted = tx.execute(
        "INSERT INTO processed_event (event_id, consumer, processed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (event_id, consumer) DO NOTHING",
        &[text(event_id), text(consumer), text(format_utc(at))],
    )?;
    Ok(inserted == 1)
}
