//! The responses stored under `Idempotency-Key`s, one per (user, key).

use crate::db::{corrupt, text, Cells};
use crate::sql::{Transaction, Value};
use crate::StoreError;
use chrono::{DateTime, Utc};
use todo_domain::time::format_utc;

/// The first response to an `Idempotency-Key`.
pub struct StoredResponse {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
}

pub fn find_response(tx: &Transaction, user_id: &str, key: &str) -> Result<Option<StoredResponse>, StoreError> {
    let rows = tx.query(
        "SELECT request_hash, status, response_body FROM idempotency_key WHERE user_id = $1 AND key = $2",
        &[text(user_id), text(key)],
    )?;
    let Some(row) = rows.rows.first() else {
        return Ok(None);
    };
    let mut cells = Cells::new(row);
    Ok(Some(StoredResponse {
        request_hash: cells.text()?.to_owned(),
        status: u16::try_from(cells.integer()?).map_err(corrupt)?,
        body: cells.text()?.to_owned(),
    }))
}

pub fn save_response(
    tx: &Transaction,
    user_id: &str,
    key: &str,
    response: &StoredResponse,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO idempotency_key (user_id, key, request_hash, status, response_body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            text(user_id),
            text(key),
            text(&response.request_hash),
            Value::Integer(i64::from(response.status)),
            text(&response.body),
            text(format_utc(at)),
        ],
    )?;
    Ok(())
}
