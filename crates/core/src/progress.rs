//! Progress reporting from the runner to whoever shows it (a terminal bar, a log, nothing).

/// Receives progress events from replicas running on several threads.
pub trait Progress: Sync {
    /// `steps` more steps of some replica are done.
    fn advance(&self, steps: u64);
    /// One replica finished (or diverged).
    fn replica_done(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _steps: u64) {}
}
