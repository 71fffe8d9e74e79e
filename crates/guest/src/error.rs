//! `StoreError`: why persistence failed — the database, the state store or
//! publishing — typed, with no HTTP in it. Every platform error becomes one
//! here (the `From` impls), so persistence code can use `?` on any of them.
//! Event handlers and jobs decide from it (retry, done, unavailable); HTTP
//! components turn it into their API's error (`http`, feature `http`).

use crate::sql::{self, ConstraintKind};
use crate::{pubsub, state};
use std::fmt;

/// Which platform interface an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `sql`: the database.
    Sql,
    /// `state`: the key-value store.
    State,
    /// `pubsub` and `outbox`: publishing events.
    Pubsub,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sql => "database",
            Self::State => "state store",
            Self::Pubsub => "pub/sub",
        })
    }
}

/// Why a persistence operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A constraint refused a change: `name` is the constraint or index name
    /// the host reports (for a unique index, its name, such as
    /// `task_one_next_occurrence`), `message` the database's own text.
    Constraint { kind: ConstraintKind, name: String, message: String },
    /// The row an operation was about does not exist (or is not the
    /// caller's): what it is, such as `task`.
    NotFound(&'static str),
    /// A backend is unreachable or busy: nothing was changed, and retrying
    /// later may succeed.
    Unavailable { backend: Backend, reason: String },
    /// The transaction outlived the host's transaction deadline and was
    /// rolled back: nothing of it was committed. Retrying may succeed.
    DeadlineExceeded,
    /// The manifest or the runtime configuration does not give this
    /// component what it asked for: no such database or store, or access to
    /// it (or to a topic) denied.
    Misconfigured { backend: Backend, reason: String },
    /// A stored value this code cannot read.
    Corrupt(String),
    /// A value to store or publish could not be encoded as JSON.
    Encode(String),
    /// Any other failure: a statement or event the host refuses, a closed
    /// transaction, a duplicate event id, the backend's own error.
    Other { backend: Backend, reason: String },
}

impl StoreError {
    /// A stored value this code cannot read.
    pub fn corrupt(detail: impl fmt::Display) -> Self {
        Self::Corrupt(detail.to_string())
    }

    /// A failure that retrying later may cure: a backend unavailable, a
    /// transaction past its deadline.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::DeadlineExceeded)
    }

    /// Whether this is a violation of the unique constraint (or index) `name`.
    pub fn is_unique_violation(&self, name: &str) -> bool {
        matches!(self, Self::Constraint { kind: ConstraintKind::Unique, name: n, .. } if n == name)
    }
}

/// How a constraint kind reads in a log line.
fn kind_name(kind: ConstraintKind) -> &'static str {
    match kind {
        ConstraintKind::Unique => "unique",
        ConstraintKind::PrimaryKey => "primary key",
        ConstraintKind::ForeignKey => "foreign key",
        ConstraintKind::Check => "check",
        ConstraintKind::NotNull => "not-null",
        ConstraintKind::Other => "other",
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Constraint { kind, name, message } => {
                write!(f, "{} constraint {name} refused the change: {message}", kind_name(*kind))
            }
            Self::NotFound(what) => write!(f, "no such {what}"),
            Self::Unavailable { backend, reason } => write!(f, "{backend} unavailable: {reason}"),
            Self::DeadlineExceeded => f.write_str("the transaction outlived the host's deadline and was rolled back"),
            Self::Misconfigured { backend, reason } => {
                write!(f, "{backend} not granted or not configured: {reason}")
            }
            Self::Corrupt(detail) => write!(f, "unreadable stored data: {detail}"),
            Self::Encode(detail) => write!(f, "could not encode JSON: {detail}"),
            Self::Other { backend, reason } => write!(f, "{backend} error: {reason}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sql::Error> for StoreError {
    fn from(err: sql::Error) -> Self {
        let backend = Backend::Sql;
        match err {
            sql::Error::NoSuchDatabase(label) => {
                Self::Misconfigured { backend, reason: format!("no such database: {label}") }
            }
            sql::Error::AccessDenied(reason) => {
                Self::Misconfigured { backend, reason: format!("access denied: {reason}") }
            }
            sql::Error::ConstraintViolation(c) => Self::Constraint { kind: c.kind, name: c.name, message: c.message },
            sql::Error::InvalidStatement(reason) => {
                Self::Other { backend, reason: format!("invalid statement: {reason}") }
            }
            sql::Error::Unavailable(reason) => Self::Unavailable { backend, reason },
            sql::Error::DeadlineExceeded => Self::DeadlineExceeded,
            sql::Error::TransactionClosed => {
                Self::Other { backend, reason: "the transaction was already committed or rolled back".into() }
            }
            sql::Error::Other(reason) => Self::Other { backend, reason },
        }
    }
}

impl From<state::Error> for StoreError {
    fn from(err: state::Error) -> Self {
        let backend = Backend::State;
        match err {
            state::Error::NoSuchStore(label) => {
                Self::Misconfigured { backend, reason: format!("no such store: {label}") }
            }
            state::Error::AccessDenied(reason) => {
                Self::Misconfigured { backend, reason: format!("access denied: {reason}") }
            }
            state::Error::InvalidKey(reason) => Self::Other { backend, reason: format!("invalid key: {reason}") },
            state::Error::Unavailable(reason) => Self::Unavailable { backend, reason },
            state::Error::Other(reason) => Self::Other { backend, reason },
        }
    }
}

impl From<pubsub::Error> for StoreError {
    fn from(err: pubsub::Error) -> Self {
        let backend = Backend::Pubsub;
        match err {
            pubsub::Error::AccessDenied(reason) => {
                Self::Misconfigured { backend, reason: format!("access denied: {reason}") }
            }
            pubsub::Error::InvalidTopic(reason) => Self::Other { backend, reason: format!("invalid topic: {reason}") },
            pubsub::Error::InvalidEvent(reason) => Self::Other { backend, reason: format!("invalid event: {reason}") },
            pubsub::Error::DuplicateEvent(reason) => {
                Self::Other { backend, reason: format!("duplicate event id: {reason}") }
            }
            pubsub::Error::Unavailable(reason) => Self::Unavailable { backend, reason },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(kind: ConstraintKind, name: &str) -> sql::Error {
        sql::Error::ConstraintViolation(sql::ConstraintViolation {
            kind,
            name: name.into(),
            message: "UNIQUE constraint failed".into(),
        })
    }

    #[test]
    fn constraint_violations_keep_kind_and_name() {
        let err = StoreError::from(violation(ConstraintKind::Unique, "task_one_next_occurrence"));
        assert_eq!(
            err,
            StoreError::Constraint {
                kind: ConstraintKind::Unique,
                name: "task_one_next_occurrence".into(),
                message: "UNIQUE constraint failed".into(),
            }
        );
        assert!(err.is_unique_violation("task_one_next_occurrence"));
        assert!(!err.is_unique_violation("task_event_task_id_version_key"));
        let check = StoreError::from(violation(ConstraintKind::Check, "task_one_next_occurrence"));
        assert!(!check.is_unique_violation("task_one_next_occurrence"));
        assert!(!check.is_transient());
    }

    #[test]
    fn transient_failures_are_told_apart() {
        let transient = [
            StoreError::from(sql::Error::Unavailable("busy".into())),
            StoreError::from(sql::Error::DeadlineExceeded),
            StoreError::from(state::Error::Unavailable("down".into())),
            StoreError::from(pubsub::Error::Unavailable("full".into())),
        ];
        for err in transient {
            assert!(err.is_transient(), "{err:?}");
        }
        let lasting = [
            StoreError::from(sql::Error::NoSuchDatabase("default".into())),
            StoreError::from(sql::Error::AccessDenied("default".into())),
            StoreError::from(sql::Error::InvalidStatement("syntax".into())),
            StoreError::from(sql::Error::TransactionClosed),
            StoreError::from(state::Error::NoSuchStore("default".into())),
            StoreError::from(pubsub::Error::DuplicateEvent("e1".into())),
            StoreError::from(pubsub::Error::AccessDenied("reminders".into())),
            StoreError::corrupt("expected text"),
            StoreError::NotFound("task"),
        ];
        for err in lasting {
            assert!(!err.is_transient(), "{err:?}");
        }
    }

    #[test]
    fn errors_name_their_backend() {
        assert_eq!(
            StoreError::from(state::Error::AccessDenied("default".into())),
            StoreError::Misconfigured { backend: Backend::State, reason: "access denied: default".into() }
        );
        assert_eq!(StoreError::from(pubsub::Error::Unavailable("x".into())).to_string(), "pub/sub unavailable: x");
        assert_eq!(StoreError::from(sql::Error::Other("disk I/O".into())).to_string(), "database error: disk I/O");
    }
}
