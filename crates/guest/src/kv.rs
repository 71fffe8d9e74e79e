//! The application's state store (label "default"), opened once per instance.

use crate::state::Store;
use crate::{StoreError, DEFAULT_LABEL};
use std::sync::OnceLock;

static STORE: OnceLock<Store> = OnceLock::new();

/// The "default" state store, opened on first use and kept for the rest of
/// the instance. Failing to open it is an error like any other; the next
/// call tries again.
pub fn store() -> Result<&'static Store, StoreError> {
    if let Some(store) = STORE.get() {
        return Ok(store);
    }
    let store = Store::open(DEFAULT_LABEL)?;
    Ok(STORE.get_or_init(|| store))
}
