//! Host bindings of the worlds whose exports the host calls (event
//! handlers, scheduled jobs), reusing the capabilities' import bindings.
//! HTTP components export `wasi:http/incoming-handler` (wasmtime-wasi-http).

pub mod handler {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "todo:platform/event-handler-component",
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
}

pub mod scheduled {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "todo:platform/scheduled-component",
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
}
