//! The instance's connections to Spin's SQLite databases: one per label,
//! opened (and migrated) on first use and shared by every resource of the
//! instance, so that a transaction, state calls and outbox writes run on
//! the same connection.

use crate::fermyon::spin::sqlite::{Connection, Error, QueryResult, Value};
use crate::{migrate, statement};
use std::{cell::Cell, cell::RefCell, collections::BTreeMap, rc::Rc};

/// One open database.
pub struct Conn {
    spin: Connection,
    /// Whether a `BEGIN` is open on the connection (by the `transaction`
    /// resource that holds it).
    in_transaction: Cell<bool>,
}

thread_local! {
    static OPEN: RefCell<BTreeMap<String, Rc<Conn>>> = const { RefCell::new(BTreeMap::new()) };
}

impl Conn {
    /// The instance's connection to `label`, opened and migrated on first use.
    pub fn open(label: &str) -> Result<Rc<Conn>, Error> {
        if let Some(conn) = OPEN.with(|open| open.borrow().get(label).cloned()) {
            return Ok(conn);
        }
        let conn = Rc::new(Conn { spin: Connection::open(label)?, in_transaction: Cell::new(false) });
        migrate::apply(&conn)?;
        OPEN.with(|open| open.borrow_mut().insert(label.to_owned(), conn.clone()));
        Ok(conn)
    }

    /// Runs one statement written for the platform (`$N` placeholders).
    pub fn run(&self, statement: &str, params: &[Value]) -> Result<QueryResult, Error> {
        self.spin.execute(&statement::numbered_placeholders(statement), params)
    }

    pub fn in_transaction(&self) -> bool {
        self.in_transaction.get()
    }

    /// Runs `BEGIN IMMEDIATE`, `COMMIT` or `ROLLBACK`, tracking the state.
    pub fn control(&self, statement: &str) -> Result<(), Error> {
        let result = self.run(statement, &[]).map(drop);
        self.in_transaction.set(statement.starts_with("BEGIN") && result.is_ok());
        result
    }

    /// The rows the last statement changed (Spin 2.0 has no call for it;
    /// SQLite's `changes()` on the same connection does).
    pub fn changes(&self) -> Result<u64, Error> {
        let rows = self.run("SELECT changes()", &[])?;
        match rows.rows.first().and_then(|r| r.values.first()) {
            Some(Value::Integer(n)) => Ok(u64::try_from(*n).unwrap_or(0)),
            other => Err(Error::Io(format!("changes() returned {other:?}"))),
        }
    }

    /// Runs `f` in a transaction of its own unless one is open, so that
    /// `f`'s statements (and `changes()`) see no other writer's; `fail`
    /// maps a failed BEGIN or COMMIT to `f`'s error.
    pub fn atomically<T, E>(
        &self,
        fail: impl Fn(&Self, Error) -> E,
        f: impl FnOnce(&Self) -> Result<T, E>,
    ) -> Result<T, E> {
        if self.in_transaction() {
            return f(self);
        }
        self.control("BEGIN IMMEDIATE").map_err(|e| fail(self, e))?;
        let result = f(self).and_then(|value| self.control("COMMIT").map(|()| value).map_err(|e| fail(self, e)));
        if result.is_err() {
            let _ = self.control("ROLLBACK");
        }
        result
    }
}
