//! The wasmtime engine (component model, pooling allocator, epoch
//! interruption) and the on-disk cache of compiled components.

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::{
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
};
use wasmtime::{component::Component, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::store::EPOCH_TICK;

/// Instances alive at once (requests, events and ticks in flight).
const MAX_INSTANCES: u32 = 1000;
/// Bytes of each memory, table and stack slot zeroed in place on reuse.
const KEEP_RESIDENT: usize = 64 << 10;
/// Slots released before their pages go back to the kernel in one batch.
const DECOMMIT_BATCH: usize = 32;

pub fn new_engine(memory_bytes: usize) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 4)
        .total_memories(MAX_INSTANCES)
        .total_tables(MAX_INSTANCES * 2)
        .total_stacks(MAX_INSTANCES)
        .max_memory_size(memory_bytes)
        // A fresh instance per request: giving a slot's pages back to the
        // kernel and faulting them in again costs more than zeroing them.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .async_stack_keep_resident(KEEP_RESIDENT)
        .decommit_batch_size(DECOMMIT_BATCH);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
    spawn_epoch_ticker(&engine);
    Ok(engine)
}

/// Advances the epoch every tick for as long as the engine lives.
fn spawn_epoch_ticker(engine: &Engine) {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch ticker");
}

/// A compiled component and the content hash of its source.
pub struct Compiled {
    pub component: Component,
    pub sha256: String,
}

/// Compiles a component, or loads it from `cache_dir` if these exact bytes
/// were compiled before by a compatible engine: a restart does not recompile.
pub fn compile_cached(engine: &Engine, bytes: &[u8], cache_dir: &Path) -> anyhow::Result<Compiled> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let cached = cache_path(engine, cache_dir, &sha256);
    if cached.exists() {
        // SAFETY: the file was written by `precompile_component` of an engine
        // with the same compatibility hash, and is only ever replaced whole.
        match unsafe { Component::deserialize_file(engine, &cached) } {
            Ok(component) => return Ok(Compiled { component, sha256 }),
            Err(e) => tracing::warn!(path = %cached.display(), error = %e, "ignoring a bad cache entry"),
        }
    }
    let compiled = engine.precompile_component(bytes).map_err(anyhow::Error::from)?;
    std::fs::create_dir_all(cache_dir).with_context(|| format!("creating {}", cache_dir.display()))?;
    let partial = cached.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&partial, &compiled).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &cached).with_context(|| format!("writing {}", cached.display()))?;
    // SAFETY: these bytes were just produced by this engine.
    let component = unsafe { Component::deserialize(engine, &compiled) }.map_err(anyhow::Error::from)?;
    Ok(Compiled { component, sha256 })
}

fn cache_path(engine: &Engine, cache_dir: &Path, sha256: &str) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    cache_dir.join(format!("{sha256}-{:016x}.cwasm", hasher.finish()))
}
