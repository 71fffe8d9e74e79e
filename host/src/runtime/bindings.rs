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
