//! The Task API's operations. Each change runs in one transaction: task row,
//! tag rows, audit row and both events commit together or not at all (an
//! early return drops the transaction, which rolls it back).

use super::Caller;
use crate::db::{self, Autocommit};
use crate::http::encode;
use crate::idempotency::{self, StoredResponse};
use crate::sql::Transaction;
use crate::{tasks, tx};
use sha2::{Digest, Sha256};
use todo_domain::idempotency::validate_idempotency_key;
use todo_domain::time::now_utc;
use todo_domain::{ApiError, ErrorCode, HistoryPage, ListQuery, NewTask, Task, TaskChange, TaskPage, TaskPatch};
use uuid::Uuid;

pub fn list(caller: Caller, query: &ListQuery) -> Result<TaskPage, ApiError> {
    let rows = tasks::list_tasks(&Autocommit, caller.user_id, query)?;
    Ok(query.page(rows))
}

pub fn get(caller: Caller, id: Uuid) -> Result<Task, ApiError> {
    tasks::find_task(&Autocommit, caller.user_id, id)?.ok_or_else(ApiError::not_found)
}

/// An `Idempotency-Key` and the hash of the request it came with.
pub struct Idempotency {
    key: String,
    request_hash: String,
}

impl Idempotency {
    /// `request` is what a retry must repeat exactly: the body as sent.
    pub fn new(key: &str, request: &[u8]) -> Result<Self, ApiError> {
        let key = validate_idempotency_key(key)?.to_owned();
        Ok(Self { key, request_hash: format!("{:x}", Sha256::digest(request)) })
    }
}

/// The answer to a create: its status and JSON body, the first one's again
/// for a repeated `Idempotency-Key`.
pub struct Created {
    pub status: u16,
    pub body: String,
}

pub fn create(caller: Caller, new: NewTask, idempotency: Option<&Idempotency>) -> Result<Created, ApiError> {
    match create_once(caller, new.clone(), idempotency) {
        // Two concurrent first uses of a key: the loser's key row conflicts
        // with the winner's; now that the winner has committed, a second try
        // replays its response.
        Err(err) if err.code == ErrorCode::Conflict && idempotency.is_some() => create_once(caller, new, idempotency),
        result => result,
    }
}

/// Creates the task, or replays the response stored under the key.
fn create_once(caller: Caller, new: NewTask, idempotency: Option<&Idempotency>) -> Result<Created, ApiError> {
    let tx = db::begin()?;
    if let Some(idempotency) = idempotency {
        if let Some(stored) = idempotency::find_response(&tx, caller.user_id, &idempotency.key)? {
            return if stored.request_hash == idempotency.request_hash {
                Ok(Created { status: stored.status, body: stored.body })
            } else {
                Err(ApiError::idempotency_key_reused())
            };
        }
    }
    let now = now_utc();
    let task = new.into_task(Uuid::new_v4(), now);
    let body = encode(&task)?;
    tasks::create_task(&tx, caller.source, caller.user_id, &task, now)?;
    if let Some(idempotency) = idempotency {
        let response =
            StoredResponse { request_hash: idempotency.request_hash.clone(), status: 201, body: body.clone() };
        idempotency::save_response(&tx, caller.user_id, &idempotency.key, &response, now)?;
    }
    tx::commit(tx)?;
    Ok(Created { status: 201, body })
}

/// Applies a patch; one that changes nothing writes nothing and returns the task.
pub fn update(caller: Caller, id: Uuid, patch: TaskPatch) -> Result<Task, ApiError> {
    let tx = db::begin()?;
    let before = tasks::find_task(&tx, caller.user_id, id)?.ok_or_else(ApiError::not_found)?;
    let now = now_utc();
    let (after, changes) = before.apply(patch, now);
    if changes.is_empty() {
        return Ok(after);
    }
    tasks::update_task(&tx, caller.user_id, &after, changes.get("tags").is_some())?;
    record(&tx, caller, &TaskChange::updated(caller.user_id, after.clone(), changes))?;
    tx::commit(tx)?;
    Ok(after)
}

pub fn delete(caller: Caller, id: Uuid) -> Result<(), ApiError> {
    let tx = db::begin()?;
    let task = tasks::find_task(&tx, caller.user_id, id)?.ok_or_else(ApiError::not_found)?;
    tasks::delete_task(&tx, caller.user_id, id)?;
    record(&tx, caller, &TaskChange::deleted(caller.user_id, task))?;
    tx::commit(tx)?;
    Ok(())
}

pub fn history(caller: Caller, id: Uuid, limit: u32) -> Result<HistoryPage, ApiError> {
    let items = tasks::history(&Autocommit, caller.user_id, id, limit)?;
    // No audit rows: 404 unless the task exists (written without any).
    if items.is_empty() && tasks::find_task(&Autocommit, caller.user_id, id)?.is_none() {
        return Err(ApiError::not_found());
    }
    Ok(HistoryPage { items })
}

/// Writes the audit row and publishes both events, sharing one event id.
fn record(tx: &Transaction, caller: Caller, change: &TaskChange) -> Result<(), ApiError> {
    tasks::record(tx, caller.source, change, now_utc())?;
    Ok(())
}
