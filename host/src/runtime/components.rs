//! An application's components: compiled (through the on-disk cache),
//! linked against the host interfaces and pre-instantiated once, then
//! instantiated fresh for every request, event or tick. Each component's
//! active version can be swapped while it serves (see `versions`).

use super::bindings::{handler::EventHandlerComponentPre, scheduled::ScheduledComponentPre};
use super::compose;
use super::engine::compile_cached;
use super::failure;
use super::store::{new_store, AppContext, ComponentGrants, InstanceState, Store};
use super::versions::{Slot, SwapError, VersionInfo};
use crate::capabilities::{
    pubsub::{host::PubSubData, host::PubSubView, Outcome},
    sql::host::{SqlData, SqlView},
    sql::spin::{self as spin_sqlite, SpinSqliteData, SpinSqliteView},
    state::host::{StateData, StateView},
    variables::{self, VariablesData},
    wit::{self, todo::platform},
};
use crate::manifest::{ComponentSpec, Grants, Manifest};
use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};
use wasmtime::{
    component::{types::ComponentItem, Component, Linker},
    Engine,
};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// The version of `todo:platform` this host provides.
pub const PLATFORM_VERSION: &str = "0.2.0";

/// What a component is used as, from the triggers that name it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Roles {
    pub http: bool,
    pub handler: bool,
    pub scheduled: bool,
}

/// One loaded component, pre-instantiated for each role it plays.
pub struct Loaded {
    pub sha256: String,
    pub http: Option<ProxyPre<InstanceState>>,
    pub handler: Option<EventHandlerComponentPre<InstanceState>>,
    pub scheduled: Option<ScheduledComponentPre<InstanceState>>,
}

pub struct Components {
    pub engine: Engine,
    pub app: Arc<AppContext>,
    linker: Linker<InstanceState>,
    cache_dir: PathBuf,
    slots: BTreeMap<String, Slot>,
}

fn sql_view(s: &mut InstanceState) -> SqlView<'_> {
    SqlView { ctx: &mut s.sql, table: &mut s.table }
}

fn state_view(s: &mut InstanceState) -> StateView<'_> {
    StateView { ctx: &mut s.state, table: &mut s.table }
}

fn pubsub_view(s: &mut InstanceState) -> PubSubView<'_> {
    PubSubView { ctx: &mut s.pubsub, table: &mut s.table }
}

fn spin_sqlite_view(s: &mut InstanceState) -> SpinSqliteView<'_> {
    SpinSqliteView { ctx: &mut s.spin_sqlite, table: &mut s.table }
}

/// WASI, wasi-http and each capability's interfaces, each capability
/// seeing only its own context of the instance.
fn linker(engine: &Engine) -> anyhow::Result<Linker<InstanceState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    platform::sql::add_to_linker::<_, SqlData>(&mut linker, sql_view)?;
    platform::state::add_to_linker::<_, StateData>(&mut linker, state_view)?;
    platform::types::add_to_linker::<_, PubSubData>(&mut linker, pubsub_view)?;
    platform::pubsub::add_to_linker::<_, PubSubData>(&mut linker, pubsub_view)?;
    platform::outbox::add_to_linker::<_, PubSubData>(&mut linker, pubsub_view)?;
    spin_sqlite::sqlite::add_to_linker::<_, SpinSqliteData>(&mut linker, spin_sqlite_view)?;
    variables::add_to_linker::<_, VariablesData>(&mut linker, |s| &mut s.variables)?;
    Ok(linker)
}

/// A component's grants; composed with dependencies that do not inherit
/// its configuration, none of Spin's SQLite (the dependencies' only way to
/// it), as Spin gives such dependencies nothing.
fn grants(manifest: &Manifest, spec: &ComponentSpec) -> Grants {
    let mut grants = manifest.grants(spec);
    if manifest.compose_dependencies && !spec.dependencies.is_empty() && !spec.dependencies_inherit_configuration {
        grants.sqlite_databases.clear();
    }
    grants
}

fn roles(manifest: &Manifest, id: &str) -> Roles {
    Roles {
        http: manifest.trigger.http.iter().any(|t| t.component == id),
        handler: manifest.trigger.pubsub.iter().any(|t| t.component == id),
        scheduled: manifest.trigger.schedule.iter().any(|t| t.component == id),
    }
}

impl Components {
    /// Loads the manifest's components (or only the one named `only`).
    pub fn load(
        engine: Engine,
        app: Arc<AppContext>,
        manifest: &Manifest,
        cache_dir: &Path,
        only: Option<&str>,
    ) -> anyhow::Result<Self> {
        let linker = linker(&engine)?;
        let mut this = Self { engine, app, linker, cache_dir: cache_dir.to_owned(), slots: BTreeMap::new() };
        for (id, spec) in manifest.component.iter().filter(|(id, _)| only.is_none_or(|o| o == id.as_str())) {
            let grants = ComponentGrants::new(id, &grants(manifest, spec), &this.app.capabilities)?;
            let path = manifest.source_path(spec);
            let bytes = std::fs::read(&path).with_context(|| {
                format!("reading component {id} from {} (build it with `todo-host build`)", path.display())
            })?;
            let bytes = match manifest.compose_dependencies {
                true => compose::compose(manifest, id, spec, bytes, cache_dir)?,
                false => bytes,
            };
            let roles = roles(manifest, id);
            let loaded = this.compile(id, &bytes, roles)?;
            this.slots.insert(id.clone(), Slot::new(roles, grants, loaded, path.display().to_string()));
        }
        Ok(this)
    }

    /// Compiles and pre-instantiates `bytes` as component `id`: a version
    /// that does not fit the component's roles is refused here, before it
    /// could serve anything.
    fn compile(&self, id: &str, bytes: &[u8], roles: Roles) -> anyhow::Result<Loaded> {
        let started = std::time::Instant::now();
        let loaded = load_one(&self.engine, &self.linker, id, bytes, roles, &self.cache_dir)?;
        tracing::info!(component = %id, sha256 = %&loaded.sha256[..12], elapsed = ?started.elapsed(), "loaded");
        Ok(loaded)
    }

    /// The active version of a component: calls started with it finish on
    /// it, whatever is activated meanwhile.
    pub fn get(&self, id: &str) -> Option<Arc<Loaded>> {
        self.slots.get(id).map(Slot::active)
    }

    /// A fresh store for one call of component `id`, with its grants.
    pub fn store(&self, id: &str) -> Result<Store, SwapError> {
        new_store(&self.engine, &self.app, &self.slot(id)?.grants).map_err(SwapError::Internal)
    }

    fn slot(&self, id: &str) -> Result<&Slot, SwapError> {
        self.slots.get(id).ok_or_else(|| SwapError::NoSuchComponent(id.to_owned()))
    }

    /// The components and their versions, by id.
    pub fn list(&self) -> BTreeMap<String, Vec<VersionInfo>> {
        self.slots.iter().map(|(id, slot)| (id.clone(), slot.versions())).collect()
    }

    /// Compiles a new version (off the async threads) and keeps it; with
    /// `activate`, makes it the active one.
    pub async fn push(
        self: &Arc<Self>,
        id: &str,
        bytes: Vec<u8>,
        source: String,
        activate: bool,
    ) -> Result<VersionInfo, SwapError> {
        let roles = self.slot(id)?.roles;
        let (this, owned_id) = (self.clone(), id.to_owned());
        let compiled = tokio::task::spawn_blocking(move || this.compile(&owned_id, &bytes, roles));
        let loaded = compiled.await.map_err(|e| SwapError::Internal(e.into()))?.map_err(|e| {
            let labels = crate::metrics::Component { component: id.to_owned() };
            crate::metrics::METRICS.swap_refusals.get_or_create(&labels).inc();
            SwapError::Refused(e)
        })?;
        let slot = self.slot(id)?;
        let sha256 = slot.add(loaded, source);
        if activate {
            slot.activate(id, &sha256)
        } else {
            slot.info(&sha256)
        }
    }

    /// Makes a version seen before the active one (a unique sha256 prefix).
    pub fn activate(&self, id: &str, sha256: &str) -> Result<VersionInfo, SwapError> {
        self.slot(id)?.activate(id, sha256)
    }

    /// Re-activates the version that was active before the current one.
    pub fn rollback(&self, id: &str) -> Result<VersionInfo, SwapError> {
        self.slot(id)?.rollback(id)
    }

    /// Delivers one event to a handler component; a trap or timeout is a retry.
    pub async fn handle_event(&self, id: &str, topic: &str, event: &wit::types::CloudEvent, attempt: u32) -> Outcome {
        use super::bindings::handler::exports::todo::platform::event_handler::Outcome as O;
        let result = async {
            let pre = self.get(id).and_then(|c| c.handler.clone()).context("no such handler component")?;
            let mut store = self.store(id)?;
            let started = std::time::Instant::now();
            let instance = pre.instantiate_async(&mut store).await?;
            crate::metrics::instantiated(id, started);
            let outcome =
                instance.todo_platform_event_handler().call_handle(&mut store, topic, &event.into(), attempt).await?;
            anyhow::Ok(outcome)
        }
        .await;
        match result {
            Ok(O::Success) => Outcome::Success,
            Ok(O::Retry) => Outcome::Retry,
            Ok(O::Drop) => Outcome::Drop,
            Err(e) => {
                let kind = failure::record(id, &e);
                tracing::warn!(
                    component = %id, event_id = %event.id, attempt, kind = kind.label(), error = %format!("{e:#}"),
                    "handler failed"
                );
                Outcome::Retry
            }
        }
    }

    /// Runs a scheduled component for the tick at `scheduled_time`.
    #[tracing::instrument(name = "job", skip(self), fields(otel.name = format!("job {id}")))]
    pub async fn run_job(&self, id: &str, scheduled_time: DateTime<Utc>) -> anyhow::Result<()> {
        use super::bindings::scheduled::exports::todo::platform::scheduled_job::JobError;
        let pre = self.get(id).and_then(|c| c.scheduled.clone()).context("no such scheduled component")?;
        let mut store = self.store(id)?;
        let started = std::time::Instant::now();
        let instance = pre.instantiate_async(&mut store).await?;
        crate::metrics::instantiated(id, started);
        let job = instance.todo_platform_scheduled_job();
        let reported = job.call_run(&mut store, wit::from_utc(scheduled_time)).await.map_err(|e| {
            let e = anyhow::Error::from(e);
            failure::record(id, &e);
            e
        })?;
        match reported {
            Ok(()) => Ok(()),
            Err(JobError::Unavailable(why)) => bail!("the job reported a dependency unavailable: {why}"),
            Err(JobError::Failed(why)) => bail!("the job failed: {why}"),
        }
    }
}

/// Refuses a component built for another version of `todo:platform`,
/// naming the version it imports.
fn check_platform_version(id: &str, engine: &Engine, component: &Component) -> anyhow::Result<()> {
    let ty = component.component_type();
    for (name, item) in ty.imports(engine) {
        let Some(rest) = name.strip_prefix("todo:platform/") else { continue };
        let version = rest.split_once('@').map_or("(none)", |(_, v)| v);
        if !matches!(item.ty, ComponentItem::ComponentInstance(_)) || version != PLATFORM_VERSION {
            bail!(
                "component {id} imports {name}, built for todo:platform@{version}; this host provides \
                 todo:platform@{PLATFORM_VERSION}: rebuild it against wit/"
            );
        }
    }
    Ok(())
}

/// Compiles, links and pre-instantiates one component for its roles. Fails
/// with a clear message when its imports or exports do not fit its world.
pub fn load_one(
    engine: &Engine,
    linker: &Linker<InstanceState>,
    id: &str,
    bytes: &[u8],
    roles: Roles,
    cache_dir: &Path,
) -> anyhow::Result<Loaded> {
    let compiled = compile_cached(engine, bytes, cache_dir).with_context(|| format!("compiling component {id}"))?;
    check_platform_version(id, engine, &compiled.component)?;
    let pre = linker
        .instantiate_pre(&compiled.component)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("component {id} imports something the host does not provide"))?;
    let mut loaded = Loaded { sha256: compiled.sha256, http: None, handler: None, scheduled: None };
    if roles.http {
        loaded.http = Some(fit(id, "http-component", ProxyPre::new(pre.clone()))?);
    }
    if roles.handler {
        loaded.handler = Some(fit(id, "event-handler-component", EventHandlerComponentPre::new(pre.clone()))?);
    }
    if roles.scheduled {
        loaded.scheduled = Some(fit(id, "scheduled-component", ScheduledComponentPre::new(pre))?);
    }
    Ok(loaded)
}

fn fit<P>(id: &str, world: &str, pre: wasmtime::Result<P>) -> anyhow::Result<P> {
    pre.map_err(anyhow::Error::from)
        .with_context(|| format!("component {id} does not export what the {world} world requires"))
}
