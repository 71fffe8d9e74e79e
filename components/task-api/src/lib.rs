//! The Task API: CRUD, completion and history of the caller's tasks.
//!
//! Every change commits the task, its audit row and its two events in one
//! transaction (the host's outbox publishes the events after the commit).

mod events;
mod handlers;
mod http_util;
mod store;

// Imports only: spin-sdk already exports `wasi:http/incoming-handler`.
wit_bindgen::generate!({
    world: "todo:platform/platform",
    path: "../../wit",
});

use http_util::Context;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use todo_domain::ApiError;

/// Beyond this the host has already refused the body; checked again here.
const MAX_BODY_BYTES: usize = 1024 * 1024;

#[http_component]
fn handle(req: Request) -> Response {
    let ctx = match Context::of(&req) {
        Ok(ctx) => ctx,
        Err(err) => return http_util::error(&err),
    };
    let result = if req.body().len() > MAX_BODY_BYTES {
        Err(ApiError::payload_too_large(MAX_BODY_BYTES))
    } else {
        dispatch(&ctx, &req)
    };
    result.unwrap_or_else(|err| {
        if err.status() >= 500 {
            ctx.log_failure(&err);
        }
        http_util::error(&err)
    })
}

/// The paths this component serves.
enum Route<'a> {
    Tasks,
    Task(&'a str),
    Complete(&'a str),
    History(&'a str),
}

impl<'a> Route<'a> {
    fn of(path: &'a str) -> Option<Self> {
        let rest = match path.strip_prefix("/api/todos")? {
            "" | "/" => return Some(Self::Tasks),
            rest => rest.strip_prefix('/')?.trim_end_matches('/'),
        };
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.contains(&"") {
            return None;
        }
        match segments.as_slice() {
            [id] => Some(Self::Task(id)),
            [id, "complete"] => Some(Self::Complete(id)),
            [id, "history"] => Some(Self::History(id)),
            _ => None,
        }
    }

    /// The `Allow` header of a 405.
    fn allowed(&self) -> &'static str {
        match self {
            Self::Tasks => "GET, POST",
            Self::Task(_) => "GET, PUT, DELETE",
            Self::Complete(_) => "PATCH",
            Self::History(_) => "GET",
        }
    }
}

fn dispatch(ctx: &Context, req: &Request) -> Result<Response, ApiError> {
    let route = Route::of(req.path()).ok_or_else(ApiError::route_not_found)?;
    match (&route, req.method()) {
        (Route::Tasks, Method::Get) => handlers::list(ctx, req),
        (Route::Tasks, Method::Post) => handlers::create(ctx, req),
        (Route::Task(id), Method::Get) => handlers::get(ctx, id),
        (Route::Task(id), Method::Put) => handlers::update(ctx, req, id),
        (Route::Task(id), Method::Delete) => handlers::delete(ctx, id),
        (Route::Complete(id), Method::Patch) => handlers::complete(ctx, req, id),
        (Route::History(id), Method::Get) => handlers::history(ctx, req, id),
        (_, method) => Ok(http_util::method_not_allowed(method, route.allowed())),
    }
}

#[cfg(test)]
mod tests {
    use super::Route;

    #[test]
    fn routes() {
        assert!(matches!(Route::of("/api/todos"), Some(Route::Tasks)));
        assert!(matches!(Route::of("/api/todos/"), Some(Route::Tasks)));
        assert!(matches!(
            Route::of("/api/todos/abc"),
            Some(Route::Task("abc"))
        ));
        assert!(matches!(
            Route::of("/api/todos/abc/"),
            Some(Route::Task("abc"))
        ));
        assert!(matches!(
            Route::of("/api/todos/abc/complete"),
            Some(Route::Complete("abc"))
        ));
        assert!(matches!(
            Route::of("/api/todos/abc/history"),
            Some(Route::History("abc"))
        ));
        for path in [
            "/api/todosx",
            "/api/todos/abc/other",
            "/api/todos/a/b/c",
            "/api/todos//complete",
            "/other",
        ] {
            assert!(Route::of(path).is_none(), "{path}");
        }
    }
}
