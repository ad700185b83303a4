//! What of a run one process holds: the whole run, a shard, or a merge.

/// How much of a run's results one process holds at once: what its estimate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Holding {
    /// A run made at once holds every point's results until they are written.
    #[default]
    Whole,
    /// Shard `i` of `count` (`meanfield run --shard`) holds its slice of the replicas, at most
    /// ceil(T/count) of the T.
    Shard { count: usize },
    /// A merge reads one point at a time, holding its results and their text while it parses them (and
    /// of every point the few records per replica a study or an LDP estimate at one time reads, which
    /// this does not count; an LDP average over a window counts as the whole run).
    Merge,
}
