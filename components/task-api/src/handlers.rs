//! The routes. Each change runs in one transaction: task row, tag rows,
//! audit row and both events commit together or not at all (an early return
//! drops the transaction, which rolls it back).

use crate::store::{self, StoredResponse};
use crate::SOURCE;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use spin_sdk::http::{Request, Response};
use todo_domain::idempotency::{validate_idempotency_key, IDEMPOTENCY_KEY_HEADER};
use todo_domain::json::{is_blank, parse_object};
use todo_domain::time::now_utc;
use todo_domain::{ApiError, ErrorCode, FieldError, HistoryQuery, ListQuery, NewTask, TaskChange, TaskPatch};
use todo_guest::db::{self, Autocommit};
use todo_guest::http::{encode, json, json_text, no_content, Context};
use todo_guest::sql::Transaction;
use todo_guest::{tasks, tx};
use uuid::Uuid;

/// A task id from the path.
fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    todo_guest::http::parse_id(raw, "task")
}

pub fn list(ctx: &Context, req: &Request) -> Result<Response, ApiError> {
    let query = ListQuery::parse(req.query())?;
    let rows = store::list_tasks(&ctx.user_id, &query)?;
    Ok(json(200, &query.page(rows)))
}

pub fn get(ctx: &Context, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    let task = tasks::find_task(&Autocommit, &ctx.user_id, id)?.ok_or_else(ApiError::not_found)?;
    Ok(json(200, &task))
}

pub fn create(ctx: &Context, req: &Request) -> Result<Response, ApiError> {
    let new = NewTask::from_json(req.body())?;
    let idempotency = Idempotency::of(req)?;
    match create_once(ctx, new.clone(), idempotency.as_ref()) {
        // Two concurrent first uses of a key: the loser's key row conflicts
        // with the winner's; now that the winner has committed, a second try
        // replays its response.
        Err(err) if err.code == ErrorCode::Conflict && idempotency.is_some() => {
            create_once(ctx, new, idempotency.as_ref())
        }
        result => result,
    }
}

/// An `Idempotency-Key` and the hash of the body it was sent with.
struct Idempotency<'a> {
    key: &'a str,
    request_hash: String,
}

impl<'a> Idempotency<'a> {
    fn of(req: &'a Request) -> Result<Option<Self>, ApiError> {
        let Some(value) = req.header(IDEMPOTENCY_KEY_HEADER) else {
            return Ok(None);
        };
        let key = value.as_str().ok_or_else(|| FieldError::new("Idempotency-Key", "must be UTF-8 text"))?;
        Ok(Some(Self {
            key: validate_idempotency_key(key)?,
            request_hash: format!("{:x}", Sha256::digest(req.body())),
        }))
    }
}

/// Creates the task, or replays the response stored under the key.
fn create_once(ctx: &Context, new: NewTask, idempotency: Option<&Idempotency>) -> Result<Response, ApiError> {
    let tx = db::begin()?;
    if let Some(idempotency) = idempotency {
        if let Some(stored) = store::find_response(&tx, &ctx.user_id, idempotency.key)? {
            return if stored.request_hash == idempotency.request_hash {
                Ok(json_text(stored.status, stored.body))
            } else {
                Err(ApiError::idempotency_key_reused())
            };
        }
    }
    let now = now_utc();
    let task = new.into_task(Uuid::new_v4(), now);
    let body = encode(&task)?;
    tasks::create_task(&tx, SOURCE, &ctx.user_id, &task, now)?;
    if let Some(idempotency) = idempotency {
        let response =
            StoredResponse { request_hash: idempotency.request_hash.clone(), status: 201, body: body.clone() };
        store::save_response(&tx, &ctx.user_id, idempotency.key, &response, now)?;
    }
    tx::commit(tx)?;
    Ok(json_text(201, body))
}

pub fn update(ctx: &Context, req: &Request, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    let patch = TaskPatch::from_json(req.body())?;
    change(ctx, id, patch)
}

/// The body of `PATCH .../complete`; an empty body completes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Completion {
    completed: bool,
}

impl Default for Completion {
    fn default() -> Self {
        Self { completed: true }
    }
}

pub fn complete(ctx: &Context, req: &Request, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    let completion = if is_blank(req.body()) { Completion::default() } else { parse_object::<Completion>(req.body())? };
    change(ctx, id, TaskPatch::completion(completion.completed))
}

/// Applies a patch; one that changes nothing writes nothing and returns the task.
fn change(ctx: &Context, id: Uuid, patch: TaskPatch) -> Result<Response, ApiError> {
    let tx = db::begin()?;
    let before = tasks::find_task(&tx, &ctx.user_id, id)?.ok_or_else(ApiError::not_found)?;
    let now = now_utc();
    let (after, changes) = before.apply(patch, now);
    let response = json(200, &after);
    if changes.is_empty() {
        return Ok(response);
    }
    tasks::update_task(&tx, &ctx.user_id, &after, changes.get("tags").is_some())?;
    record(&tx, &TaskChange::updated(&ctx.user_id, after, changes), now)?;
    tx::commit(tx)?;
    Ok(response)
}

pub fn delete(ctx: &Context, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    let tx = db::begin()?;
    let task = tasks::find_task(&tx, &ctx.user_id, id)?.ok_or_else(ApiError::not_found)?;
    tasks::delete_task(&tx, &ctx.user_id, id)?;
    record(&tx, &TaskChange::deleted(&ctx.user_id, task), now_utc())?;
    tx::commit(tx)?;
    Ok(no_content())
}

pub fn history(ctx: &Context, req: &Request, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    let query = HistoryQuery::parse(req.query())?;
    let items = store::history(&ctx.user_id, id, query.limit)?;
    // No audit rows: 404 unless the task exists (written without any).
    if items.is_empty() && tasks::find_task(&Autocommit, &ctx.user_id, id)?.is_none() {
        return Err(ApiError::not_found());
    }
    Ok(json(200, &json!({ "items": items })))
}

/// Writes the audit row and publishes both events, sharing one event id.
fn record(tx: &Transaction, change: &TaskChange, at: DateTime<Utc>) -> Result<(), ApiError> {
    tasks::record(tx, SOURCE, change, at)?;
    Ok(())
}
