//! Data distributions: where the (x, y) samples of SGD come from.

use crate::rng::Stream;
use std::fmt::Debug;

/// A law of (x, y) pairs with x ∈ ℝ^dim.
///
/// The distribution itself is immutable and shared by all replicas; each replica draws from its own
/// [`DataStream`], which holds whatever per-replica state sampling needs (e.g. the position within an
/// epoch over a finite data set).
pub trait DataDistribution: Send + Sync + Debug {
    /// Input dimension d.
    fn dim(&self) -> usize;

    /// A short description for summaries and messages.
    fn name(&self) -> String;

    /// A fresh per-replica sampler. Called once per replica, outside the step loop.
    fn stream(&self) -> Box<dyn DataStream + '_>;

    /// The sampler of held-out data (population observables). The law itself, unless the training data
    /// is a finite sample of a law: then held-out data comes from the law, so the risk is the population
    /// risk, not the training error.
    fn holdout(&self) -> Box<dyn DataStream + '_> {
        self.stream()
    }

    /// The number of distinct samples when the data is finite (a data set, a drawn sample), else `None`.
    fn size(&self) -> Option<usize> {
        None
    }
}

/// A per-replica sampler of a [`DataDistribution`].
pub trait DataStream: Send {
    /// Fills `x` (row-major `n × dim`) and `y` (`n`) with `n = y.len()` samples drawn from `rng` (the
    /// replica's keyed stream). Must not allocate: it runs inside the per-step loop. A batch of n samples
    /// is the n samples drawn one by one: filling n at once or one at a time draws the same samples and
    /// leaves `rng` at the same place, so a stepper may draw several steps' samples in one call.
    fn fill(&mut self, rng: &mut Stream, x: &mut [f64], y: &mut [f64]);
}
