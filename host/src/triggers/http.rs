//! The HTTP trigger: host endpoints (health, readiness, metrics) and every
//! `[[trigger.http]]` route. Components authenticate their own requests
//! (the bearer token, with the `jwt_secret` variable), as they must under
//! Spin, where nothing else would: the host forwards `Authorization`, and
//! only removes a client's `todo-user-id` (no identity comes from headers)
//! and sets `todo-request-id`.

use super::driven_body::{detach, DrivenBody, Guest};
use crate::auth::Auth;
use crate::manifest::Manifest;
use crate::runtime::components::Components;
use crate::runtime::failure;
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};
use tracing::Instrument;
use wasmtime_wasi_http::{p2::bindings::http::types::Scheme, WasiHttpView};

/// Requests with a larger body get 413 before reaching a component.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most a request's head (request line and headers) may take, on
/// hyper's connections and on the streams' own: more gets 431.
pub const MAX_HEAD_BYTES: usize = 32 << 10;
pub use super::head_deadline::HEAD_TIMEOUT;
/// The identity header hosts used to set: removed from every request, so
/// that nothing downstream can mistake a client's claim for an identity.
pub const USER_ID_HEADER: &str = "todo-user-id";
/// Set by the host on every request; never taken from clients.
pub const REQUEST_ID_HEADER: &str = "todo-request-id";

pub struct HttpServer {
    pub manifest: Arc<Manifest>,
    pub components: Arc<Components>,
    /// Verifies the tokens of the event stream, the one route the host serves itself.
    pub auth: Auth,
    /// The `[[trigger.sse]]` stream, if the app has one.
    pub hub: Option<Arc<super::sse::Hub>>,
    /// The other origins whose pages may read the stream.
    pub cors: super::cors::Cors,
    /// Set once every component is loaded and every trigger runs.
    pub started: AtomicBool,
}

pub fn router(server: Arc<HttpServer>) -> Router {
    let mut router = Router::new().route("/healthz", get(|| async { "ok" })).route("/readyz", get(readyz)).route(
        "/metrics",
        get(|| async { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render()) }),
    );
    if let Some(hub) = &server.hub {
        let stream = get(super::sse::stream::handler)
            .options(|State(server): State<Arc<HttpServer>>, request: Request| async move {
                server.cors.preflight(request.headers())
            })
            .layer(axum::middleware::from_fn_with_state(server.clone(), allow_origin));
        router = router.route(&hub.trigger.route, stream);
    }
    router.fallback(dispatch).with_state(server)
}

/// Adds the CORS headers of an allowed origin to the stream's answers.
async fn allow_origin(
    State(server): State<Arc<HttpServer>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let allowed = server.cors.headers(request.headers());
    let mut response = next.run(request).await;
    response.headers_mut().extend(allowed);
    response
}

/// Serves `server` on `listener` (streams held natively, the rest through
/// hyper, HTTP/1.1) until `shutdown` resolves; then stops accepting, tells
/// the streams to reconnect and lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<HttpServer>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let hub = server.hub.clone();
    let mut listener = super::sse::native::Listener::new(listener, server.clone());
    let router = router(server);
    let mut http1 = hyper::server::conn::http1::Builder::new();
    // The head's deadline is `HeadDeadline`'s, which spares idle keep-alive
    // connections; hyper's own would close them after 10 s.
    http1.timer(TokioTimer::new()).header_read_timeout(None).max_buf_size(MAX_HEAD_BYTES);
    // Dropping `stop` asks every connection to finish its request in flight
    // and close; each holds a `closed` receiver, so `done.closed()`
    // resolves once the last one has.
    let (stop, stopping) = tokio::sync::watch::channel(());
    let (done, closed) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let socket = tokio::select! {
            (socket, _addr) = listener.accept() => socket,
            () = &mut shutdown => break,
        };
        let socket = TokioIo::new(super::head_deadline::HeadDeadline::new(socket));
        let connection = http1.serve_connection(socket, TowerToHyperService::new(router.clone()));
        let (mut stopping, closed) = (stopping.clone(), closed.clone());
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "serving a connection");
            }
            drop(closed);
        });
    }
    drop(listener);
    if let Some(hub) = hub {
        hub.shutdown();
    }
    drop((stop, stopping, closed));
    done.closed().await;
    Ok(())
}

/// The JSON error every API route answers with.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(error_body(code, &message.into()))).into_response()
}

/// The body of `error`.
pub fn error_body(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "error": { "code": code, "message": message } })
}

async fn readyz(State(server): State<Arc<HttpServer>>) -> Response {
    if !server.started.load(Ordering::Acquire) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "starting", "components are still loading");
    }
    match server.components.app.capabilities.check_ready().await {
        Ok(()) => "ready".into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "backend_unavailable", e),
    }
}

/// Routes a request to its component: bound the body, then instantiate the
/// component fresh and let it answer (and authenticate the caller).
async fn dispatch(State(server): State<Arc<HttpServer>>, request: Request) -> Response {
    let Some(route) = server.manifest.route(request.uri().path()) else {
        return error(StatusCode::NOT_FOUND, "not_found", format!("no route for {}", request.uri().path()));
    };
    let (component, route_pattern) = (route.component.clone(), route.route.clone());
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!(
        "request",
        otel.name = format!("{} {route_pattern}", request.method()),
        otel.kind = "server",
        %request_id, %component, method = %request.method(), path = %request.uri().path()
    );
    let traceparent = request.headers().get("traceparent").and_then(|v| v.to_str().ok());
    crate::telemetry::set_parent(&span, traceparent);
    async move {
        let request = match prepare(request, &request_id).await {
            Ok(request) => request,
            Err(response) => return response,
        };
        let started = std::time::Instant::now();
        let response = match call(&server.components, &component, request).await {
            Ok(response) => response,
            Err(e) => {
                let kind = failure::record(&component, &e);
                tracing::error!(kind = kind.label(), error = %format!("{e:#}"), "component failed");
                let message = format!("component {component} failed; request id {request_id}");
                error(StatusCode::INTERNAL_SERVER_ERROR, "component_failed", message)
            }
        };
        crate::metrics::served(route_pattern, component, response.status().as_u16(), started);
        response
    }
    .instrument(span)
    .await
}

/// Reads the body (at most `MAX_BODY_BYTES`) and sets the host's headers.
async fn prepare(request: Request, request_id: &str) -> Result<http::Request<Full<Bytes>>, Response> {
    let (mut parts, body) = request.into_parts();
    let too_large = || {
        error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the body exceeds {MAX_BODY_BYTES} bytes"))
    };
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => return Err(too_large()),
        Err(e) => return Err(error(StatusCode::BAD_REQUEST, "bad_request", format!("reading the body: {e}"))),
    };
    parts.headers.remove(USER_ID_HEADER);
    parts.headers.remove(REQUEST_ID_HEADER);
    parts.headers.insert(REQUEST_ID_HEADER, HeaderValue::from_str(request_id).expect("a uuid is header-safe"));
    if !parts.headers.contains_key(header::HOST) {
        parts.headers.insert(header::HOST, HeaderValue::from_static("localhost"));
    }
    Ok(http::Request::from_parts(parts, Full::new(body)))
}

/// Runs the component's `wasi:http/incoming-handler` on a fresh instance.
async fn call(components: &Arc<Components>, id: &str, request: http::Request<Full<Bytes>>) -> anyhow::Result<Response> {
    let pre = components
        .get(id)
        .and_then(|c| c.http.clone())
        .ok_or_else(|| anyhow::anyhow!("component {id} is not loaded as an HTTP component"))?;
    let mut store = components.store(id)?;
    let (sender, mut receiver) = tokio::sync::oneshot::channel();
    let request = store.data_mut().http().new_incoming_request(Scheme::Http, request)?;
    let out = store.data_mut().http().new_response_outparam(sender)?;
    let id_owned = id.to_owned();
    let mut guest: Guest = Box::pin(
        async move {
            let started = std::time::Instant::now();
            let proxy = pre.instantiate_async(&mut store).await.map_err(anyhow::Error::from)?;
            crate::metrics::instantiated(&id_owned, started);
            let handler = proxy.wasi_http_incoming_handler();
            handler.call_handle(&mut store, request, out).await.map_err(anyhow::Error::from)
        }
        .in_current_span(),
    );
    // The guest runs here until it sends its response head (or returns),
    // then as the response body is read (`DrivenBody`).
    let (head, guest) = tokio::select! {
        biased;
        head = &mut receiver => (head.ok(), Some(guest)),
        result = guest.as_mut() => {
            result?;
            (receiver.try_recv().ok(), None)
        }
    };
    match head {
        Some(Ok(response)) => {
            Ok(response.map(|body| Body::new(DrivenBody::new(body.map_err(|e| anyhow::anyhow!("{e:?}")), guest, id))))
        }
        Some(Err(code)) => {
            if let Some(guest) = guest {
                detach(guest, id.to_owned());
            }
            anyhow::bail!("the component answered with error code {code:?}")
        }
        // The response outparam went without a response: the guest returned
        // (or is returning) without answering.
        None => match guest {
            Some(guest) => {
                guest.await.and_then(|()| anyhow::bail!("the component returned without sending a response"))
            }
            None => anyhow::bail!("the component returned without sending a response"),
        },
    }
}
