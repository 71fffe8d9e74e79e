//! The routes: each reads its request, runs the operation of
//! `todo_guest::api::tasks` as the caller, and answers JSON.

use crate::SOURCE;
use spin_sdk::http::{Request, Response};
use todo_domain::idempotency::IDEMPOTENCY_KEY_HEADER;
use todo_domain::json::{is_blank, parse_object};
use todo_domain::{ApiError, Completion, FieldError, HistoryQuery, ListQuery, NewTask, TaskPatch};
use todo_guest::api::tasks::{self, Idempotency};
use todo_guest::api::Caller;
use todo_guest::http::{json, json_text, no_content, Context};
use uuid::Uuid;

fn caller(ctx: &Context) -> Caller<'_> {
    Caller { user_id: &ctx.user_id, source: SOURCE }
}

/// A task id from the path.
fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    todo_guest::http::parse_id(raw, "task")
}

pub fn list(ctx: &Context, req: &Request) -> Result<Response, ApiError> {
    let query = ListQuery::parse(req.query())?;
    Ok(json(200, &tasks::list(caller(ctx), &query)?))
}

pub fn get(ctx: &Context, id: &str) -> Result<Response, ApiError> {
    Ok(json(200, &tasks::get(caller(ctx), parse_id(id)?)?))
}

pub fn create(ctx: &Context, req: &Request) -> Result<Response, ApiError> {
    let new = NewTask::from_json(req.body())?;
    let idempotency = match req.header(IDEMPOTENCY_KEY_HEADER) {
        None => None,
        Some(value) => {
            let key = value.as_str().ok_or_else(|| FieldError::new("Idempotency-Key", "must be UTF-8 text"))?;
            Some(Idempotency::new(key, req.body())?)
        }
    };
    let created = tasks::create(caller(ctx), new, idempotency.as_ref())?;
    Ok(json_text(created.status, created.body))
}

pub fn update(ctx: &Context, req: &Request, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    let patch = TaskPatch::from_json(req.body())?;
    Ok(json(200, &tasks::update(caller(ctx), id, patch)?))
}

/// An empty body completes.
pub fn complete(ctx: &Context, req: &Request, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    let completion = if is_blank(req.body()) { Completion::default() } else { parse_object::<Completion>(req.body())? };
    Ok(json(200, &tasks::update(caller(ctx), id, TaskPatch::completion(completion.completed))?))
}

pub fn delete(ctx: &Context, id: &str) -> Result<Response, ApiError> {
    tasks::delete(caller(ctx), parse_id(id)?)?;
    Ok(no_content())
}

pub fn history(ctx: &Context, req: &Request, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    let query = HistoryQuery::parse(req.query())?;
    Ok(json(200, &tasks::history(caller(ctx), id, query.limit)?))
}
