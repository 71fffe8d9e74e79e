//! The Task API: CRUD, completion and history of the caller's tasks.
//!
//! Every change commits the task, its audit row and its two events in one
//! transaction (the host's outbox publishes the events after the commit).
//! The platform bindings, the task persistence and the operations (shared
//! with the MCP server) live in `todo-guest`.

mod handlers;

use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use todo_domain::ApiError;
use todo_guest::http;

/// The `source` of the events this component publishes.
pub(crate) const SOURCE: &str = "/task-api";

#[http_component]
fn handle(req: Request) -> Response {
    http::serve(&req, "task-api", dispatch)
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
        match http::segments(path, "/api/todos")?.as_slice() {
            [] => Some(Self::Tasks),
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

fn dispatch(ctx: &http::Context, req: &Request) -> Result<Response, ApiError> {
    let route = Route::of(req.path()).ok_or_else(ApiError::route_not_found)?;
    match (&route, req.method()) {
        (Route::Tasks, Method::Get) => handlers::list(ctx, req),
        (Route::Tasks, Method::Post) => handlers::create(ctx, req),
        (Route::Task(id), Method::Get) => handlers::get(ctx, id),
        (Route::Task(id), Method::Put) => handlers::update(ctx, req, id),
        (Route::Task(id), Method::Delete) => handlers::delete(ctx, id),
        (Route::Complete(id), Method::Patch) => handlers::complete(ctx, req, id),
        (Route::History(id), Method::Get) => handlers::history(ctx, req, id),
        (_, method) => Ok(http::method_not_allowed(method, route.allowed())),
    }
}

#[cfg(test)]
mod tests {
    use super::Route;

    #[test]
    fn routes() {
        assert!(matches!(Route::of("/api/todos"), Some(Route::Tasks)));
        assert!(matches!(Route::of("/api/todos/"), Some(Route::Tasks)));
        assert!(matches!(Route::of("/api/todos/abc"), Some(Route::Task("abc"))));
        assert!(matches!(Route::of("/api/todos/abc/"), Some(Route::Task("abc"))));
        assert!(matches!(Route::of("/api/todos/abc/complete"), Some(Route::Complete("abc"))));
        assert!(matches!(Route::of("/api/todos/abc/history"), Some(Route::History("abc"))));
        for path in ["/api/todosx", "/api/todos/abc/other", "/api/todos/a/b/c", "/api/todos//complete", "/other"] {
            assert!(Route::of(path).is_none(), "{path}");
        }
    }
}
