//! The host side of `todo:platform`: `sql`, `state` and `pubsub` for one
//! guest instance, forwarding to the application's backends.
//!
//! Host functions return nested results: the outer `wasmtime::Result` is a
//! host failure that traps the guest, the inner one the WIT error the guest
//! handles.

use super::bindings::todo::platform::{pubsub, sql, state, types};
use super::store::InstanceState;
use crate::backends::{self, sql::SqlTransaction};
use crate::outbox;
use std::time::Duration;
use wasmtime::component::Resource;

/// A guest's open transaction (the `transaction` resource).
pub struct Transaction {
    inner: Box<dyn SqlTransaction>,
    /// Whether events were published inside it: wake the relay on commit.
    published: bool,
}

impl From<backends::sql::SqlError> for sql::Error {
    fn from(e: backends::sql::SqlError) -> Self {
        use backends::sql::SqlError as E;
        match e {
            E::ConstraintViolation(m) => Self::ConstraintViolation(m),
            E::InvalidStatement(m) => Self::InvalidStatement(m),
            E::Unavailable(m) => Self::Unavailable(m),
            E::TransactionClosed => Self::TransactionClosed,
            E::Other(m) => Self::Other(m),
        }
    }
}

impl From<sql::Value> for backends::sql::Value {
    fn from(v: sql::Value) -> Self {
        use sql::Value as V;
        match v {
            V::Null => Self::Null,
            V::Boolean(b) => Self::Boolean(b),
            V::Integer(i) => Self::Integer(i),
            V::Real(f) => Self::Real(f),
            V::Text(s) => Self::Text(s),
            V::Blob(b) => Self::Blob(b),
        }
    }
}

impl From<backends::sql::Value> for sql::Value {
    fn from(v: backends::sql::Value) -> Self {
        use backends::sql::Value as V;
        match v {
            V::Null => Self::Null,
            V::Boolean(b) => Self::Boolean(b),
            V::Integer(i) => Self::Integer(i),
            V::Real(f) => Self::Real(f),
            V::Text(s) => Self::Text(s),
            V::Blob(b) => Self::Blob(b),
        }
    }
}

fn params(values: Vec<sql::Value>) -> Vec<backends::sql::Value> {
    values.into_iter().map(Into::into).collect()
}

fn row_set(rows: backends::sql::RowSet) -> sql::RowSet {
    sql::RowSet {
        columns: rows.columns,
        rows: rows.rows.into_iter().map(|r| r.into_iter().map(Into::into).collect()).collect(),
    }
}

impl sql::Host for InstanceState {
    #[tracing::instrument(level = "debug", name = "sql.begin", skip_all)]
    async fn begin(&mut self) -> wasmtime::Result<Result<Resource<Transaction>, sql::Error>> {
        match self.app.backends.sql.begin().await {
            Ok(inner) => Ok(Ok(self.table.push(Transaction { inner, published: false })?)),
            Err(e) => Ok(Err(e.into())),
        }
    }

    #[tracing::instrument(level = "debug", name = "sql.execute", skip_all, fields(statement = %statement))]
    async fn execute(&mut self, statement: String, values: Vec<sql::Value>) -> wasmtime::Result<Result<u64, sql::Error>> {
        Ok(self.app.backends.sql.execute(&statement, params(values)).await.map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "sql.query", skip_all, fields(statement = %statement))]
    async fn query(&mut self, statement: String, values: Vec<sql::Value>) -> wasmtime::Result<Result<sql::RowSet, sql::Error>> {
        Ok(self.app.backends.sql.query(&statement, params(values)).await.map(row_set).map_err(Into::into))
    }
}

impl sql::HostTransaction for InstanceState {
    #[tracing::instrument(level = "debug", name = "sql.execute", skip_all, fields(statement = %statement))]
    async fn execute(
        &mut self,
        tx: Resource<Transaction>,
        statement: String,
        values: Vec<sql::Value>,
    ) -> wasmtime::Result<Result<u64, sql::Error>> {
        let tx = self.table.get_mut(&tx)?;
        Ok(tx.inner.execute(&statement, params(values)).await.map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "sql.query", skip_all, fields(statement = %statement))]
    async fn query(
        &mut self,
        tx: Resource<Transaction>,
        statement: String,
        values: Vec<sql::Value>,
    ) -> wasmtime::Result<Result<sql::RowSet, sql::Error>> {
        let tx = self.table.get_mut(&tx)?;
        Ok(tx.inner.query(&statement, params(values)).await.map(row_set).map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "sql.commit", skip_all)]
    async fn commit(&mut self, tx: Resource<Transaction>) -> wasmtime::Result<Result<(), sql::Error>> {
        let tx = self.table.get_mut(&tx)?;
        let result = tx.inner.commit().await;
        if result.is_ok() && std::mem::take(&mut tx.published) {
            self.app.relay.wake();
        }
        Ok(result.map_err(Into::into))
    }

    async fn rollback(&mut self, tx: Resource<Transaction>) -> wasmtime::Result<Result<(), sql::Error>> {
        let tx = self.table.get_mut(&tx)?;
        Ok(tx.inner.rollback().await.map_err(Into::into))
    }

    async fn drop(&mut self, tx: Resource<Transaction>) -> wasmtime::Result<()> {
        // An uncommitted transaction rolls back when its backend handle drops.
        self.table.delete(tx)?;
        Ok(())
    }
}

const MAX_KEY_BYTES: usize = 1024;

fn check_key(key: &str) -> Result<(), state::Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(state::Error::InvalidKey(format!("keys are 1 to {MAX_KEY_BYTES} bytes, got {}", key.len())));
    }
    Ok(())
}

impl From<backends::state::StateError> for state::Error {
    fn from(e: backends::state::StateError) -> Self {
        match e {
            backends::state::StateError::Unavailable(m) => Self::Unavailable(m),
            backends::state::StateError::Other(m) => Self::Other(m),
        }
    }
}

fn ttl(seconds: Option<u32>) -> Option<Duration> {
    seconds.map(|s| Duration::from_secs(s.into()))
}

impl state::Host for InstanceState {
    #[tracing::instrument(level = "debug", name = "state.get", skip_all)]
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, state::Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self.app.backends.state.get(&key).await.map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "state.set", skip_all)]
    async fn set(&mut self, key: String, value: Vec<u8>, ttl_seconds: Option<u32>) -> wasmtime::Result<Result<(), state::Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self.app.backends.state.set(&key, value, ttl(ttl_seconds)).await.map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "state.delete", skip_all)]
    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), state::Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self.app.backends.state.delete(&key).await.map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "state.set-if-absent", skip_all)]
    async fn set_if_absent(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> wasmtime::Result<Result<bool, state::Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self.app.backends.state.set_if_absent(&key, value, ttl(ttl_seconds)).await.map_err(Into::into))
    }
}

impl types::Host for InstanceState {}

impl pubsub::Host for InstanceState {
    #[tracing::instrument(level = "debug", name = "pubsub.publish", skip_all, fields(%topic, event_id = %event.id))]
    async fn publish(
        &mut self,
        topic: String,
        partition_key: String,
        event: types::CloudEvent,
        tx: Option<Resource<Transaction>>,
    ) -> wasmtime::Result<Result<(), pubsub::Error>> {
        let message = match outbox::envelope(&topic, &partition_key, &event) {
            Ok(message) => message,
            Err(e) => return Ok(Err(e)),
        };
        let written = match tx {
            Some(tx) => {
                let tx = self.table.get_mut(&tx)?;
                tx.published = true;
                outbox::write(tx.inner.as_mut(), &message).await
            }
            None => {
                let written = outbox::write_now(self.app.backends.sql.as_ref(), &message).await;
                if written.is_ok() {
                    self.app.relay.wake();
                }
                written
            }
        };
        Ok(written.map_err(|e| pubsub::Error::Unavailable(e.to_string())))
    }
}
