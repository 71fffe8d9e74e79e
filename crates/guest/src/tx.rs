//! Running work in a transaction.

use crate::sql::{self, Transaction};

/// Runs `work` in a new transaction and commits it when `work` succeeds.
/// When `work` fails (or the commit does) nothing is committed: dropping the
/// transaction rolls it back, statements and events alike.
pub fn transaction<T, E: From<sql::Error>>(
    work: impl FnOnce(&Transaction) -> Result<T, E>,
) -> Result<T, E> {
    let tx = sql::begin()?;
    let value = work(&tx)?;
    tx.commit()?;
    Ok(value)
}
