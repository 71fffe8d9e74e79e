//! The operations of the Task and Notification APIs as the caller may run
//! them, apart from how they arrive: the Task API and the Notification API
//! serve them over HTTP, the MCP server as tools. Each returns the domain's
//! values or the API's `ApiError`, so every client sees the same rules,
//! messages and events.

pub mod notifications;
pub mod tasks;

/// Who asks, and the `source` of the events their changes publish
/// (`/task-api`, `/mcp-server`, ...).
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub user_id: &'a str,
    pub source: &'a str,
}
