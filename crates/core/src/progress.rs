//! Progress reporting from the runner to whoever shows it (a terminal bar, a log, nothing).

/// Receives progress events from replicas running on several threads. `point` is the index of the sweep
/// point (`PointInfo::index`) the replica belongs to, so a display can show one bar per point.
pub trait Progress: Sync {
    /// `steps` more steps of some replica of `point` are done.
    fn advance(&self, point: usize, steps: u64);
    /// One replica of `point` finished (or diverged, or was restored finished from a checkpoint).
    fn replica_done(&self, _point: usize) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _point: usize, _steps: u64) {}
}
