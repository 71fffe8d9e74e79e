//! One fresh store per request, event or tick: WASI, wasi-http, the
//! application's backends, and the sandbox limits.

use crate::backends::Backends;
use crate::outbox::Relay;
use std::{sync::Arc, time::{Duration, Instant}};
use wasmtime::{component::ResourceTable, Engine, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// What every instance of the application shares.
pub struct AppContext {
    pub backends: Backends,
    pub relay: Arc<Relay>,
    pub limits: GuestLimits,
}

/// The sandbox of one guest call.
#[derive(Debug, Clone, Copy)]
pub struct GuestLimits {
    /// Wall-clock time a call may run before it is interrupted.
    pub time: Duration,
    /// Linear memory an instance may grow to.
    pub memory_bytes: usize,
}

pub struct InstanceState {
    pub app: Arc<AppContext>,
    pub table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    limits: StoreLimits,
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: Default::default() }
    }
}

/// How a call stopped by its time limit fails (metrics tell it from a trap).
pub const TIME_LIMIT: &str = "guest exceeded its time limit";

/// Ticks of the engine's epoch; `engine::spawn_epoch_ticker` advances it.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

pub type Store = wasmtime::Store<InstanceState>;

/// A store for one call, with the memory cap and the time limit armed: the
/// guest yields to the executor every tick and traps once the limit passes.
pub fn new_store(engine: &Engine, app: &Arc<AppContext>) -> Store {
    let limits = app.limits;
    let state = InstanceState {
        app: app.clone(),
        table: ResourceTable::new(),
        wasi: WasiCtx::builder().inherit_stdout().inherit_stderr().build(),
        http: WasiHttpCtx::new(),
        limits: StoreLimitsBuilder::new().memory_size(limits.memory_bytes).instances(64).build(),
    };
    let mut store = wasmtime::Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    let started = Instant::now();
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if started.elapsed() > limits.time {
            Err(wasmtime::Error::msg(format!("{TIME_LIMIT} of {:?}", limits.time)))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store
}
