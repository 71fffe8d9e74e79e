//! The MCP server: AI agents reach the Task and Notification APIs as MCP
//! tools over Streamable HTTP at `/mcp` (JSON-RPC 2.0 over POST, answered
//! with `application/json`), acting as the user the host authenticated, and
//! read that user's recent task events as a resource. It is subscribed to
//! `task-events` to keep those events (`recent`). It also serves the API's
//! OpenAPI document at `/api/openapi.json` (a public route), from which its
//! tool schemas are taken.

mod document;
mod jsonrpc;
mod protocol;
mod recent;
mod schemas;
mod shape;
mod tools;

// Only the event-handler export is generated here; the imports are
// todo-guest's bindings, and spin-sdk exports `wasi:http/incoming-handler`.
todo_guest::generate_exports!("todo:platform/event-handler-component");

use exports::todo::platform::event_handler::{self, Outcome};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;
use todo_domain::events::TASK_EVENTS_TOPIC;
use todo_domain::TaskEvent;
use todo_guest::log;
use todo_guest::types::CloudEvent;

/// The component's name in log lines.
const NAME: &str = "mcp-server";
/// The `source` of the events its tools' changes publish.
const SOURCE: &str = "/mcp-server";

#[http_component]
fn handle(req: Request) -> Response {
    log::set_component(NAME);
    if req.path() == document::PATH {
        return document::serve(&req);
    }
    todo_guest::http::serve(&req, NAME, protocol::serve)
}

struct Handler;

impl event_handler::Guest for Handler {
    fn handle(topic: String, event: event_handler::Event, attempt: u32) -> Outcome {
        let event = CloudEvent::from(event);
        log::set_component(NAME);
        if topic != TASK_EVENTS_TOPIC {
            log::dropping(&event.id, format_args!("unexpected topic {topic}"));
            return Outcome::Drop;
        }
        let data: TaskEvent = match serde_json::from_slice(&event.data) {
            Ok(data) => data,
            Err(e) => {
                log::dropping(&event.id, format_args!("not a task event ({e})"));
                return Outcome::Drop;
            }
        };
        match recent::record(&event, data) {
            Ok(recent::Recorded::Done) => Outcome::Success,
            // Another delivery for this user holds the list: try again later.
            Ok(recent::Recorded::Busy) => {
                log::retrying(&event.id, attempt, "the user's recent events are being updated");
                Outcome::Retry
            }
            Err(err) => {
                log::retrying(&event.id, attempt, err);
                Outcome::Retry
            }
        }
    }
}

export!(Handler);
