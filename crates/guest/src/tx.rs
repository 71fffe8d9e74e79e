//! Running work in a transaction on the application's database.

use crate::sql::Transaction;
use crate::{db, StoreError};

/// Runs `work` in a new transaction and commits it when `work` succeeds.
/// When `work` fails (or the commit does) nothing is committed: dropping the
/// transaction rolls it back, statements and events alike.
pub fn transaction<T, E: From<StoreError>>(work: impl FnOnce(&Transaction) -> Result<T, E>) -> Result<T, E> {
    let tx = db::begin()?;
    let value = work(&tx)?;
    commit(tx)?;
    Ok(value)
}

/// Commits `tx`: its statements and the events published with it. On error
/// nothing was committed (past the host's deadline: `DeadlineExceeded`).
pub fn commit(tx: Transaction) -> Result<(), StoreError> {
    Ok(tx.commit()?)
}
