//! Host bindings of the worlds whose exports the host calls (event
//! handlers, scheduled jobs), reusing the capabilities' import bindings.
//! HTTP components export `wasi:http/incoming-handler` (wasmtime-wasi-http).

/// The bindings of a world that exports something and imports the platform.
macro_rules! exporting_world {
    ($world:literal) => {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: $world,
            imports: { default: async | trappable },
            exports: { default: async },
            with: {
                "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
                "todo:platform/sql": crate::capabilities::wit::sql,
                "todo:platform/state": crate::capabilities::wit::state,
                "todo:platform/pubsub": crate::capabilities::wit::pubsub,
                "todo:platform/outbox": crate::capabilities::wit::outbox,
                "todo:platform/types": crate::capabilities::wit::types,
            },
        });
    };
}

pub mod handler {
    exporting_world!("todo:platform/event-handler-component");
}

pub mod scheduled {
    exporting_world!("todo:platform/scheduled-component");
}

use crate::capabilities::wit::types::CloudEvent;
use handler::exports::todo::platform::event_handler::Event;

/// A published event as the handler's own record (the same fields): the
/// handler's export may not use `types.cloud-event` (see wit/handlers.wit).
impl From<&CloudEvent> for Event {
    fn from(e: &CloudEvent) -> Self {
        Event {
            id: e.id.clone(),
            source: e.source.clone(),
            type_: e.type_.clone(),
            subject: e.subject.clone(),
            time: e.time,
            datacontenttype: e.datacontenttype.clone(),
            data: e.data.clone(),
        }
    }
}
