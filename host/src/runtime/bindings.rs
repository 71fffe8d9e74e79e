//! Host bindings generated from `wit/`: the `todo:platform` imports once, and
//! the exports of the event-handler and scheduled worlds reusing them.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "todo:platform/platform",
    imports: { default: async | trappable },
    with: {
        "todo:platform/sql.transaction": crate::runtime::platform::Transaction,
    },
});

pub mod handler {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "todo:platform/event-handler-component",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "todo:platform/sql": crate::runtime::bindings::todo::platform::sql,
            "todo:platform/state": crate::runtime::bindings::todo::platform::state,
            "todo:platform/pubsub": crate::runtime::bindings::todo::platform::pubsub,
            "todo:platform/types": crate::runtime::bindings::todo::platform::types,
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
            "todo:platform/sql": crate::runtime::bindings::todo::platform::sql,
            "todo:platform/state": crate::runtime::bindings::todo::platform::state,
            "todo:platform/pubsub": crate::runtime::bindings::todo::platform::pubsub,
            "todo:platform/types": crate::runtime::bindings::todo::platform::types,
        },
    });
}
