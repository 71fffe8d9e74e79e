//! How a guest call fails, as types (metrics and logs tell them apart by
//! type, not by the text of the error).

use std::time::Duration;

/// The call ran past its wall-clock limit (raised by the epoch callback).
#[derive(Debug, thiserror::Error)]
#[error("guest exceeded its time limit of {0:?}")]
pub struct TimeLimitExceeded(pub Duration);

/// The instance asked for more linear memory than its cap (raised by the limiter).
#[derive(Debug, thiserror::Error)]
#[error("guest exceeded its memory limit: asked for {desired} bytes, the limit is {limit}")]
pub struct MemoryLimitExceeded {
    pub desired: usize,
    pub limit: usize,
}

/// What kind of failure a failed guest call was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestFailure {
    Timeout,
    OutOfMemory,
    /// A trap of the guest's own (panic, unreachable, a host call that trapped).
    Trap,
}

impl GuestFailure {
    pub fn of(error: &anyhow::Error) -> Self {
        if error.chain().any(|e| e.is::<TimeLimitExceeded>()) {
            Self::Timeout
        } else if error.chain().any(|e| e.is::<MemoryLimitExceeded>()) {
            Self::OutOfMemory
        } else {
            Self::Trap
        }
    }

    /// The `kind` label of `todo_guest_failures_total`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::OutOfMemory => "out_of_memory",
            Self::Trap => "trap",
        }
    }
}

/// Counts a failed call of `component` by its kind, and returns the kind.
pub fn record(component: &str, error: &anyhow::Error) -> GuestFailure {
    let kind = GuestFailure::of(error);
    crate::metrics::guest_failed(component, kind.label());
    kind
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_failures_apart_by_type() {
        let timeout = anyhow::Error::new(TimeLimitExceeded(Duration::from_secs(1))).context("calling the guest");
        assert_eq!(GuestFailure::of(&timeout), GuestFailure::Timeout);
        let oom = anyhow::Error::new(MemoryLimitExceeded { desired: 2, limit: 1 });
        assert_eq!(GuestFailure::of(&oom), GuestFailure::OutOfMemory);
        // A trap whose text merely mentions a time limit is still a trap.
        assert_eq!(GuestFailure::of(&anyhow::anyhow!("guest exceeded its time limit")), GuestFailure::Trap);
    }
}
