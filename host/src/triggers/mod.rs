//! What runs components, and what the host serves itself: HTTP requests
//! (with the static files), pub/sub deliveries, scheduled ticks, the Dapr app
//! endpoints the sidecar calls, and the SSE streams. Triggers import the
//! runtime and the capabilities below them, never the app.

pub mod cors;
pub mod dapr;
mod driven_body;
mod head_deadline;
pub mod http;
pub mod pubsub;
pub mod schedule;
pub mod sse;
