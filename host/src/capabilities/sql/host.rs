//! The host side of `todo:platform/sql`: the `database` and `transaction`
//! resources of one instance, within what its component was granted.
//!
//! Host functions return nested results: the outer `wasmtime::Result` is a
//! host failure that traps the guest, the inner one the WIT error the guest
//! handles.

use super::{Constraint, ConstraintKind, RowSet, Sql, SqlCapability, SqlError, SqlTransaction, Value};
use crate::capabilities::wit::sql as wit;
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, Mutex, OnceLock, Weak,
};
use std::time::{Duration, Instant};
use wasmtime::component::{HasData, Resource, ResourceTable};

/// What one instance may reach of the `sql` capability.
pub struct SqlCtx {
    pub capability: Arc<SqlCapability>,
    pub component: Arc<str>,
    pub granted: Arc<[String]>,
}

/// The instance's view for the WIT traits: its context and its resources.
pub struct SqlView<'a> {
    pub ctx: &'a mut SqlCtx,
    pub table: &'a mut ResourceTable,
}

/// Selects `SqlView` for `add_to_linker`.
pub struct SqlData;

impl HasData for SqlData {
    type Data<'a> = SqlView<'a>;
}

/// An opened database (the `database` resource).
pub struct Database {
    sql: Arc<dyn Sql>,
}

/// Something to run once a transaction commits (the outbox wakes its relay).
pub type AfterCommit = Arc<dyn Fn() + Send + Sync>;

/// A guest's open transaction (the `transaction` resource). `Deadlines`
/// rolls it back at the deadline, so a guest that holds it (looping, sleeping)
/// blocks other writers for at most that long.
pub struct Transaction {
    shared: Arc<Shared>,
    after_commit: Vec<AfterCommit>,
}

struct Shared {
    inner: tokio::sync::Mutex<Option<Box<dyn SqlTransaction>>>,
    expired: AtomicBool,
}

impl Transaction {
    /// Begins a transaction on `sql` that is rolled back at the capability's deadline.
    pub async fn begin(sql: &dyn Sql, capability: &SqlCapability, component: &Arc<str>) -> Result<Self, SqlError> {
        let inner = sql.begin().await?;
        let shared = Arc::new(Shared { inner: tokio::sync::Mutex::new(Some(inner)), expired: AtomicBool::new(false) });
        capability.deadlines.watch(&shared, capability.limits.transaction_deadline, component);
        Ok(Self { shared, after_commit: Vec::new() })
    }

    /// Runs `f` once this transaction has committed.
    pub fn after_commit(&mut self, f: AfterCommit) {
        self.after_commit.push(f);
    }

    fn closed(&self) -> SqlError {
        if self.shared.expired.load(Ordering::Acquire) {
            SqlError::DeadlineExceeded
        } else {
            SqlError::TransactionClosed
        }
    }

    pub async fn execute(&self, statement: &str, params: Vec<Value>) -> Result<u64, SqlError> {
        let mut inner = self.shared.inner.lock().await;
        let tx = inner.as_mut().ok_or_else(|| self.closed())?;
        tx.execute(statement, params).await
    }

    pub async fn query(&self, statement: &str, params: Vec<Value>) -> Result<RowSet, SqlError> {
        let mut inner = self.shared.inner.lock().await;
        let tx = inner.as_mut().ok_or_else(|| self.closed())?;
        tx.query(statement, params).await
    }

    pub async fn commit(&mut self) -> Result<(), SqlError> {
        let mut tx = self.shared.inner.lock().await.take().ok_or_else(|| self.closed())?;
        tx.commit().await?;
        for f in self.after_commit.drain(..) {
            f();
        }
        Ok(())
    }

    pub async fn rollback(&mut self) -> Result<(), SqlError> {
        let mut tx = self.shared.inner.lock().await.take().ok_or_else(|| self.closed())?;
        tx.rollback().await
    }
}

impl Drop for Transaction {
    /// Dropped uncommitted (or with its guest trapped): the backend
    /// transaction rolls back as it drops.
    fn drop(&mut self) {
        if let Ok(mut inner) = self.shared.inner.try_lock() {
            inner.take();
        }
    }
}

/// How often the open transactions' deadlines are checked.
const DEADLINE_TICK: Duration = Duration::from_millis(50);

/// The deadlines of the open transactions, checked by one task (started
/// with the first transaction) that rolls back those held past theirs,
/// within `DEADLINE_TICK`. Watching one is a push under a lock: a timer task
/// per transaction cost a spawn, and often a worker's wake-up, per write.
#[derive(Default)]
pub struct Deadlines {
    open: Arc<Mutex<Vec<Watched>>>,
    started: OnceLock<()>,
}

struct Watched {
    at: Instant,
    shared: Weak<Shared>,
    component: Arc<str>,
}

impl Deadlines {
    fn watch(&self, shared: &Arc<Shared>, deadline: Duration, component: &Arc<str>) {
        self.started.get_or_init(|| drop(tokio::spawn(reap(Arc::downgrade(&self.open), deadline))));
        let watched =
            Watched { at: Instant::now() + deadline, shared: Arc::downgrade(shared), component: component.clone() };
        self.open.lock().unwrap().push(watched);
    }
}

/// Every tick: forgets the transactions that ended, rolls back those past
/// their deadline; until the capability is gone.
async fn reap(open: Weak<Mutex<Vec<Watched>>>, deadline: Duration) {
    let mut tick = tokio::time::interval(DEADLINE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(open) = open.upgrade() else { return };
        let now = Instant::now();
        let mut expired = Vec::new();
        open.lock().unwrap().retain(|w| match w.shared.upgrade() {
            Some(shared) if w.at <= now => {
                expired.push((shared, w.component.clone()));
                false
            }
            Some(_) => true,
            None => false,
        });
        drop(open);
        for (shared, component) in expired {
            let Some(mut tx) = shared.inner.lock().await.take() else { continue };
            shared.expired.store(true, Ordering::Release);
            tracing::warn!(%component, ?deadline, "rolling back a transaction held past its deadline");
            if let Err(e) = tx.rollback().await {
                tracing::error!(%component, error = %e, "rolling back an expired transaction");
            }
        }
    }
}

impl From<ConstraintKind> for wit::ConstraintKind {
    fn from(kind: ConstraintKind) -> Self {
        match kind {
            ConstraintKind::Unique => Self::Unique,
            ConstraintKind::PrimaryKey => Self::PrimaryKey,
            ConstraintKind::ForeignKey => Self::ForeignKey,
            ConstraintKind::Check => Self::Check,
            ConstraintKind::NotNull => Self::NotNull,
            ConstraintKind::Other => Self::Other,
        }
    }
}

impl From<SqlError> for wit::Error {
    fn from(e: SqlError) -> Self {
        match e {
            SqlError::ConstraintViolation(Constraint { kind, name, message }) => {
                Self::ConstraintViolation(wit::ConstraintViolation { kind: kind.into(), name, message })
            }
            SqlError::InvalidStatement(m) => Self::InvalidStatement(m),
            SqlError::Unavailable(m) => Self::Unavailable(m),
            SqlError::TransactionClosed => Self::TransactionClosed,
            SqlError::DeadlineExceeded => Self::DeadlineExceeded,
            SqlError::Other(m) => Self::Other(m),
        }
    }
}

impl From<wit::Value> for Value {
    fn from(v: wit::Value) -> Self {
        use wit::Value as V;
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

impl From<Value> for wit::Value {
    fn from(v: Value) -> Self {
        match v {
            Value::Null => Self::Null,
            Value::Boolean(b) => Self::Boolean(b),
            Value::Integer(i) => Self::Integer(i),
            Value::Real(f) => Self::Real(f),
            Value::Text(s) => Self::Text(s),
            Value::Blob(b) => Self::Blob(b),
        }
    }
}

fn params(values: Vec<wit::Value>) -> Vec<Value> {
    values.into_iter().map(Into::into).collect()
}

fn row_set(rows: RowSet) -> wit::RowSet {
    wit::RowSet {
        columns: rows.columns,
        rows: rows.rows.into_iter().map(|r| r.into_iter().map(Into::into).collect()).collect(),
    }
}

impl SqlCtx {
    /// The database `label`, if this component was granted it.
    fn open(&self, label: &str) -> Result<Arc<dyn Sql>, wit::Error> {
        if !self.granted.iter().any(|g| g == label) {
            tracing::warn!(component = %self.component, %label, "denied a database the manifest does not grant");
            return Err(wit::Error::AccessDenied(format!(
                "component {} is not granted database {label:?} (sql_databases in spin.toml)",
                self.component
            )));
        }
        self.capability.database(label).cloned().ok_or_else(|| wit::Error::NoSuchDatabase(label.to_owned()))
    }
}

impl wit::Host for SqlView<'_> {}

impl wit::HostDatabase for SqlView<'_> {
    #[tracing::instrument(level = "debug", name = "sql.open", skip(self))]
    async fn open(&mut self, label: String) -> wasmtime::Result<Result<Resource<Database>, wit::Error>> {
        match self.ctx.open(&label) {
            Ok(sql) => Ok(Ok(self.table.push(Database { sql })?)),
            Err(e) => Ok(Err(e)),
        }
    }

    #[tracing::instrument(level = "debug", name = "sql.begin", skip_all)]
    async fn begin(&mut self, db: Resource<Database>) -> wasmtime::Result<Result<Resource<Transaction>, wit::Error>> {
        let sql = self.table.get(&db)?.sql.clone();
        match Transaction::begin(sql.as_ref(), &self.ctx.capability, &self.ctx.component).await {
            Ok(tx) => Ok(Ok(self.table.push(tx)?)),
            Err(e) => Ok(Err(e.into())),
        }
    }

    #[tracing::instrument(level = "debug", name = "sql.execute", skip_all, fields(statement = %statement))]
    async fn execute(
        &mut self,
        db: Resource<Database>,
        statement: String,
        values: Vec<wit::Value>,
    ) -> wasmtime::Result<Result<u64, wit::Error>> {
        let sql = self.table.get(&db)?.sql.clone();
        Ok(sql.execute(&statement, params(values)).await.map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "sql.query", skip_all, fields(statement = %statement))]
    async fn query(
        &mut self,
        db: Resource<Database>,
        statement: String,
        values: Vec<wit::Value>,
    ) -> wasmtime::Result<Result<wit::RowSet, wit::Error>> {
        let sql = self.table.get(&db)?.sql.clone();
        Ok(sql.query(&statement, params(values)).await.map(row_set).map_err(Into::into))
    }

    async fn drop(&mut self, db: Resource<Database>) -> wasmtime::Result<()> {
        self.table.delete(db)?;
        Ok(())
    }
}

impl wit::HostTransaction for SqlView<'_> {
    #[tracing::instrument(level = "debug", name = "sql.execute", skip_all, fields(statement = %statement))]
    async fn execute(
        &mut self,
        tx: Resource<Transaction>,
        statement: String,
        values: Vec<wit::Value>,
    ) -> wasmtime::Result<Result<u64, wit::Error>> {
        let tx = self.table.get(&tx)?;
        Ok(tx.execute(&statement, params(values)).await.map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "sql.query", skip_all, fields(statement = %statement))]
    async fn query(
        &mut self,
        tx: Resource<Transaction>,
        statement: String,
        values: Vec<wit::Value>,
    ) -> wasmtime::Result<Result<wit::RowSet, wit::Error>> {
        let tx = self.table.get(&tx)?;
        Ok(tx.query(&statement, params(values)).await.map(row_set).map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "sql.commit", skip_all)]
    async fn commit(&mut self, tx: Resource<Transaction>) -> wasmtime::Result<Result<(), wit::Error>> {
        Ok(self.table.get_mut(&tx)?.commit().await.map_err(Into::into))
    }

    #[tracing::instrument(level = "debug", name = "sql.rollback", skip_all)]
    async fn rollback(&mut self, tx: Resource<Transaction>) -> wasmtime::Result<Result<(), wit::Error>> {
        Ok(self.table.get_mut(&tx)?.rollback().await.map_err(Into::into))
    }

    async fn drop(&mut self, tx: Resource<Transaction>) -> wasmtime::Result<()> {
        self.table.delete(tx)?;
        Ok(())
    }
}
