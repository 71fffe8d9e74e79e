//! Running components: the wasmtime engine and its compile cache, the
//! per-call store composed of the capabilities' contexts, the export
//! bindings, the loaded components and their versions, typed guest
//! failures, and the composition of components with their dependencies.
//! Imports the capabilities below it, never the triggers.

pub mod bindings;
pub mod components;
pub mod compose;
pub mod engine;
pub mod failure;
pub mod store;
pub mod versions;
