//! The admin API, on a listener of its own (off unless `--admin-listen`),
//! guarded by the `TODO_ADMIN_TOKEN` bearer token: list components and
//! their versions, push a new version, activate one, roll back. A refusal
//! answers by cause: 400 (a malformed request), 404 (no such component or
//! version), 409 (ambiguous, or nothing to roll back to), 422 (the version
//! does not compile or fit), 500 (the host failed).

use crate::runtime::{components::Components, versions::SwapError};
use crate::triggers::http::error;
use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, Request, State},
    http::{header, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use std::sync::Arc;

pub const TOKEN_ENV: &str = "TODO_ADMIN_TOKEN";
/// The largest component an admin may upload.
const MAX_COMPONENT_BYTES: usize = 64 << 20;

#[derive(Clone)]
struct Admin {
    components: Arc<Components>,
    token: Arc<str>,
}

/// Serves the admin API on `addr` with `token` (`TODO_ADMIN_TOKEN` or the
/// Spin variable `admin_token`, 16 characters or more).
pub async fn spawn(
    addr: std::net::SocketAddr,
    components: Arc<Components>,
    token: Option<String>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let token = token
        .filter(|t| t.len() >= 16)
        .with_context(|| format!("--admin-listen needs {TOKEN_ENV} (16 characters or more)"))?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
    println!("todo-host admin listening on http://{}", listener.local_addr()?);
    let router = router(components, token);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(())
}

pub fn router(components: Arc<Components>, token: String) -> Router {
    let admin = Admin { components, token: token.into() };
    Router::new()
        .route("/admin/components", get(list))
        .route("/admin/components/{id}/versions", post(push))
        .route("/admin/components/{id}/activate", post(activate))
        .route("/admin/components/{id}/rollback", post(rollback))
        .layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES))
        .route_layer(middleware::from_fn_with_state(admin.clone(), authorize))
        .with_state(admin)
}

async fn authorize(State(admin): State<Admin>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    match given {
        Some(token) if constant_time_eq(token.as_bytes(), admin.token.as_bytes()) => next.run(request).await,
        _ => {
            error(StatusCode::UNAUTHORIZED, "unauthorized", format!("the admin API needs the {TOKEN_ENV} bearer token"))
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The answer to a refused swap, by cause.
fn refused(e: SwapError) -> Response {
    let (status, code) = match &e {
        SwapError::NoSuchComponent(_) | SwapError::NoSuchVersion(_) => (StatusCode::NOT_FOUND, "not_found"),
        SwapError::ShortHash => (StatusCode::BAD_REQUEST, "bad_request"),
        SwapError::Ambiguous(_) | SwapError::NoEarlierVersion(_) => (StatusCode::CONFLICT, "conflict"),
        SwapError::Refused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
        SwapError::Internal(_) => {
            tracing::error!(error = %e, "admin API");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    };
    error(status, code, e.to_string())
}

async fn list(State(admin): State<Admin>) -> Response {
    Json(serde_json::json!({ "components": admin.components.list() })).into_response()
}

#[derive(Deserialize)]
struct PushQuery {
    #[serde(default = "yes")]
    activate: bool,
}

fn yes() -> bool {
    true
}

async fn push(State(admin): State<Admin>, Path(id): Path<String>, Query(q): Query<PushQuery>, body: Bytes) -> Response {
    match admin.components.push(&id, body.to_vec(), "admin upload".into(), q.activate).await {
        Ok(version) => (StatusCode::CREATED, Json(version)).into_response(),
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Activate {
    sha256: String,
}

async fn activate(State(admin): State<Admin>, Path(id): Path<String>, body: Bytes) -> Response {
    let body: Activate = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, "malformed_json", format!("expected {{\"sha256\": \"...\"}}: {e}"))
        }
    };
    match admin.components.activate(&id, &body.sha256) {
        Ok(version) => Json(version).into_response(),
        Err(e) => refused(e),
    }
}

async fn rollback(State(admin): State<Admin>, Path(id): Path<String>) -> Response {
    match admin.components.rollback(&id) {
        Ok(version) => Json(version).into_response(),
        Err(e) => refused(e),
    }
}
