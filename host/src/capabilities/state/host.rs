//! The host side of `todo:platform/state`: the `store` resource of one
//! instance, within what its component was granted.

use super::{State, StateCapability, StateError};
use crate::capabilities::wit::state as wit;
use std::{sync::Arc, time::Duration};
use wasmtime::component::{HasData, Resource, ResourceTable};

const MAX_KEY_BYTES: usize = 1024;

/// What one instance may reach of the `state` capability.
pub struct StateCtx {
    pub capability: Arc<StateCapability>,
    pub component: Arc<str>,
    pub granted: Arc<[String]>,
}

/// The instance's view for the WIT traits.
pub struct StateView<'a> {
    pub ctx: &'a mut StateCtx,
    pub table: &'a mut ResourceTable,
}

/// Selects `StateView` for `add_to_linker`.
pub struct StateData;

impl HasData for StateData {
    type Data<'a> = StateView<'a>;
}

/// An opened store (the `store` resource).
pub struct Store {
    state: Arc<dyn State>,
}

fn check_key(key: &str) -> Result<(), wit::Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(wit::Error::InvalidKey(format!("keys are 1 to {MAX_KEY_BYTES} bytes, got {}", key.len())));
    }
    Ok(())
}

impl From<StateError> for wit::Error {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Unavailable(m) => Self::Unavailable(m),
            StateError::Other(m) => Self::Other(m),
        }
    }
}

fn ttl(seconds: Option<u32>) -> Option<Duration> {
    seconds.map(|s| Duration::from_secs(s.into()))
}

impl StateView<'_> {
    /// The store behind `store`, for a call on `key`.
    fn store(&self, store: &Resource<Store>, key: &str) -> wasmtime::Result<Result<Arc<dyn State>, wit::Error>> {
        let state = self.table.get(store)?.state.clone();
        Ok(check_key(key).map(|()| state))
    }
}

impl wit::Host for StateView<'_> {}

impl wit::HostStore for StateView<'_> {
    #[tracing::instrument(level = "debug", name = "state.open", skip(self))]
    async fn open(&mut self, label: String) -> wasmtime::Result<Result<Resource<Store>, wit::Error>> {
        if !self.ctx.granted.contains(&label) {
            tracing::warn!(component = %self.ctx.component, %label, "denied a state store the manifest does not grant");
            return Ok(Err(wit::Error::AccessDenied(format!(
                "component {} is not granted state store {label:?} (state_stores in spin.toml)",
                self.ctx.component
            ))));
        }
        match self.ctx.capability.store(&label) {
            Some(state) => Ok(Ok(self.table.push(Store { state: state.clone() })?)),
            None => Ok(Err(wit::Error::NoSuchStore(label))),
        }
    }

    #[tracing::instrument(level = "debug", name = "state.get", skip_all)]
    async fn get(
        &mut self,
        store: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wit::Error>> {
        let state = match self.store(&store, &key)? {
            Ok(state) => state,
            Err(e) => return Ok(Err(e)),
        };
        Ok(state.get(&key).await.map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "state.set", skip_all)]
    async fn set(
        &mut self,
        store: Resource<Store>,
        key: String,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> wasmtime::Result<Result<(), wit::Error>> {
        let state = match self.store(&store, &key)? {
            Ok(state) => state,
            Err(e) => return Ok(Err(e)),
        };
        Ok(state.set(&key, value, ttl(ttl_seconds)).await.map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "state.delete", skip_all)]
    async fn delete(&mut self, store: Resource<Store>, key: String) -> wasmtime::Result<Result<(), wit::Error>> {
        let state = match self.store(&store, &key)? {
            Ok(state) => state,
            Err(e) => return Ok(Err(e)),
        };
        Ok(state.delete(&key).await.map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "state.set-if-absent", skip_all)]
    async fn set_if_absent(
        &mut self,
        store: Resource<Store>,
        key: String,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> wasmtime::Result<Result<bool, wit::Error>> {
        let state = match self.store(&store, &key)? {
            Ok(state) => state,
            Err(e) => return Ok(Err(e)),
        };
        Ok(state.set_if_absent(&key, value, ttl(ttl_seconds)).await.map_err(Into::into))
    }

    async fn drop(&mut self, store: Resource<Store>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}
