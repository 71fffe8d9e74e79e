//! Development sign-in, as a component so that it runs under Spin as under
//! `todo-host`:
//! - `POST /auth/dev/sign-in` with `{"user_id": "..."}` answers
//!   `{"token", "user_id", "expires_at"}`, a token valid for 12 hours signed
//!   with `jwt_secret`, and sets it as the stream cookie. Only when the
//!   variable `dev_sign_in` is `"true"` (`todo-host` sets it when it runs on
//!   its development secret); otherwise 404, as for any unknown route.
//! - `POST /auth/sign-out` clears the stream cookie (tokens themselves
//!   expire; the client drops its copy).
//!
//! The cookie authenticates only the event stream (a browser `EventSource`
//! cannot send headers): it is scoped to the stream's route, the variable
//! `stream_route`, and not set when the component has none.

use serde::Deserialize;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

/// How long a development token is valid.
const TTL_HOURS: i64 = 12;
/// The stream's cookie, as the host's stream reads it.
const COOKIE: &str = "todo_token";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    user_id: String,
}

#[http_component]
fn handle(req: Request) -> Response {
    match (req.method(), req.path()) {
        (Method::Post, "/auth/dev/sign-in") if variable("dev_sign_in").as_deref() == Some("true") => sign_in(&req),
        (Method::Post, "/auth/dev/sign-in") => {
            error(404, "not_found", "development sign-in is off (TODO_JWT_SECRET is set)")
        }
        (Method::Post, "/auth/sign-out") => {
            with_cookie(Response::builder().status(204).body(Vec::new()).build(), "", 0)
        }
        (_, "/auth/dev/sign-in" | "/auth/sign-out") => {
            let mut response =
                error(405, "method_not_allowed", format!("method {} is not allowed on this path", req.method()));
            response.set_header("allow", "POST");
            response
        }
        (_, path) => error(404, "not_found", format!("no route for {path}")),
    }
}

fn sign_in(req: &Request) -> Response {
    let request: SignIn = match serde_json::from_slice(req.body()) {
        Ok(r) => r,
        Err(e) => return error(400, "malformed_json", format!("expected {{\"user_id\": \"...\"}}: {e}")),
    };
    if !todo_token::valid_user_id(&request.user_id) {
        return error(422, "validation_failed", "user_id: 1-128 of letters, digits and ._@+-");
    }
    let Some(secret) = variable("jwt_secret") else {
        return error(500, "internal", "the component cannot read its jwt_secret variable");
    };
    let now = chrono::Utc::now();
    let expires = now + chrono::Duration::hours(TTL_HOURS);
    let token = todo_token::Key::new(secret.as_bytes()).issue(&request.user_id, now.timestamp(), expires.timestamp());
    let body = serde_json::json!({ "token": token, "user_id": request.user_id, "expires_at": expires.to_rfc3339() });
    with_cookie(json(200, body.to_string()), &token, TTL_HOURS * 3600)
}

/// A variable the manifest gives this component, if it does.
fn variable(name: &str) -> Option<String> {
    spin_sdk::variables::get(name).ok()
}

/// Sets (or, with `max_age` 0, clears) the stream cookie.
fn with_cookie(mut response: Response, token: &str, max_age: i64) -> Response {
    if let Some(route) = variable("stream_route") {
        let cookie = format!("{COOKIE}={token}; Path={route}; HttpOnly; SameSite=Strict; Max-Age={max_age}");
        response.set_header("set-cookie", cookie);
    }
    response
}

fn json(status: u16, body: String) -> Response {
    Response::builder().status(status).header("content-type", "application/json").body(body).build()
}

/// The API's error body.
fn error(status: u16, code: &str, message: impl Into<String>) -> Response {
    json(status, serde_json::json!({ "error": { "code": code, "message": message.into() } }).to_string())
}
