//! Failures that are not numbers, from calls that cannot return an error.

use std::sync::OnceLock;

/// Where a component that must not fail inside the step loop (an activation, a data stream) records
/// why it did. Such a component writes NaN instead of a result, which stops the replica as diverged at
/// that step; the executor then reports the recorded reason with the divergence. Plugins use this for
/// panics and errors caught at the C ABI. One log per sweep point, shared by its replicas; the first
/// fault wins. Recording allocates, but only on the failure path.
#[derive(Debug, Default)]
pub struct FaultLog {
    first: OnceLock<String>,
}

impl FaultLog {
    /// Records `message()` unless a fault was recorded before.
    pub fn record(&self, message: impl FnOnce() -> String) {
        if self.first.get().is_none() {
            let _ = self.first.set(message());
        }
    }

    /// The first recorded fault.
    pub fn first(&self) -> Option<&str> {
        self.first.get().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_fault_wins() {
        let log = FaultLog::default();
        assert_eq!(log.first(), None);
        log.record(|| "first".into());
        log.record(|| unreachable!("not evaluated once a fault is recorded"));
        assert_eq!(log.first(), Some("first"));
    }
}
