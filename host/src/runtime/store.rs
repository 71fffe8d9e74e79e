//! One fresh store per request, event or tick. Its state is composed of
//! each capability's own context for the component (what its manifest
//! grants), WASI, wasi-http with the component's outbound policy, and the
//! sandbox limits.

use super::failure::{MemoryLimitExceeded, TimeLimitExceeded};
use crate::capabilities::{
    outbound_http::{AllowedHosts, OutboundHttp},
    pubsub::host::PubSubCtx,
    sql::{host::SqlCtx, spin::SpinSqliteCtx},
    state::host::StateCtx,
    variables::{VariablesCapability, VariablesCtx},
    Capabilities,
};
use crate::manifest::{Grants, Mount};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use wasmtime::{component::ResourceTable, Engine, ResourceLimiter, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// What every instance of the application shares.
pub struct AppContext {
    pub capabilities: Capabilities,
    /// Each component's Spin variables, resolved when the app loads.
    pub variables: VariablesCapability,
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

/// What one component is granted, prepared once when the app loads.
#[derive(Clone)]
pub struct ComponentGrants {
    pub component: Arc<str>,
    pub sql_databases: Arc<[String]>,
    pub state_stores: Arc<[String]>,
    pub publish_topics: Arc<[String]>,
    pub sqlite_databases: Arc<[String]>,
    pub outbound: Arc<AllowedHosts>,
    /// Directories preopened read-only in every instance.
    pub files: Arc<[Mount]>,
}

impl ComponentGrants {
    /// Parses and checks a component's grants against the capabilities: a
    /// grant naming a store the runtime configuration does not define, or
    /// an outbound entry that does not parse, refuses the app.
    pub fn new(component: &str, grants: &Grants, capabilities: &Capabilities) -> anyhow::Result<Self> {
        capabilities.sql.check_grants(component, &grants.sql_databases)?;
        capabilities.state.check_grants(component, &grants.state_stores)?;
        capabilities.sql.check_sqlite_grants(component, &grants.sqlite_databases)?;
        let outbound = AllowedHosts::parse(&grants.allowed_outbound_hosts)
            .map_err(|e| anyhow::anyhow!("component {component:?}: {e:#}"))?;
        for mount in &grants.files {
            anyhow::ensure!(
                mount.host.is_dir(),
                "component {component:?}: files mounts {}, which is not a directory (build it first?)",
                mount.host.display()
            );
        }
        Ok(Self {
            component: component.into(),
            sql_databases: grants.sql_databases.clone().into(),
            state_stores: grants.state_stores.clone().into(),
            publish_topics: grants.publish_topics.clone().into(),
            sqlite_databases: grants.sqlite_databases.clone().into(),
            outbound: Arc::new(outbound),
            files: grants.files.clone().into(),
        })
    }
}

pub struct InstanceState {
    pub table: ResourceTable,
    pub sql: SqlCtx,
    pub state: StateCtx,
    pub pubsub: PubSubCtx,
    pub spin_sqlite: SpinSqliteCtx,
    pub variables: VariablesCtx,
    outbound: OutboundHttp,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    limiter: Limiter,
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.outbound }
    }
}

/// Caps an instance's memory, failing the call with a typed error.
struct Limiter {
    memory_bytes: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            return Err(wasmtime::Error::new(MemoryLimitExceeded { desired, limit: self.memory_bytes }));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        64
    }
}

/// Ticks of the engine's epoch; `engine::spawn_epoch_ticker` advances it.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

pub type Store = wasmtime::Store<InstanceState>;

/// A store for one call of the component `grants` describes, with the
/// memory cap and the time limit armed: the guest yields to the executor
/// every tick and fails once the limit passes.
pub fn new_store(engine: &Engine, app: &Arc<AppContext>, grants: &ComponentGrants) -> anyhow::Result<Store> {
    let limits = app.limits;
    let capabilities = &app.capabilities;
    let component = &grants.component;
    let state = InstanceState {
        table: ResourceTable::new(),
        sql: capabilities.sql.instance(component, &grants.sql_databases),
        state: capabilities.state.instance(component, &grants.state_stores),
        pubsub: capabilities.pubsub.instance(component, &grants.publish_topics),
        spin_sqlite: capabilities.sql.spin_instance(component, &grants.sqlite_databases),
        variables: app.variables.instance(component),
        outbound: OutboundHttp { component: component.clone(), allowed: grants.outbound.clone() },
        wasi: wasi(&grants.files)?,
        http: WasiHttpCtx::new(),
        limiter: Limiter { memory_bytes: limits.memory_bytes },
    };
    let mut store = wasmtime::Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    let started = Instant::now();
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if started.elapsed() > limits.time {
            Err(wasmtime::Error::new(TimeLimitExceeded(limits.time)))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    Ok(store)
}

/// WASI: the guest writes to the host's stdout and stderr, and reads its
/// `files` (read-only).
fn wasi(files: &[Mount]) -> anyhow::Result<WasiCtx> {
    let mut builder = WasiCtx::builder();
    builder.inherit_stdout().inherit_stderr();
    for mount in files {
        builder
            .preopened_dir(&mount.host, &mount.guest, FsPerms::ReadOnly)
            .map_err(|e| anyhow::anyhow!("mounting {} at {}: {e}", mount.host.display(), mount.guest))?;
    }
    Ok(builder.build())
}
