//! Running components: the wasmtime engine, the per-instance store, the host
//! side of `todo:platform`, and the loaded components of an application.

pub mod bindings;
pub mod components;
pub mod engine;
pub mod platform;
pub mod store;
pub mod versions;
