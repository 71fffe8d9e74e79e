//! Running components: the wasmtime engine and its compile cache, the
//! per-call store composed of the capabilities' contexts, the export
//! bindings, the loaded components and their versions, and typed guest
//! failures. Imports the capabilities below it, never the triggers.

pub mod bindings;
pub mod components;
pub mod engine;
pub mod failure;
pub mod store;
pub mod versions;
