//! Initial laws of parameter blocks.

use rand::RngCore;
use std::fmt::Debug;

/// The law μ0 of the entries of one parameter block; entries are drawn i.i.d.
pub trait InitLaw: Send + Sync + Debug {
    /// Fills `out` with i.i.d. draws.
    fn sample(&self, rng: &mut dyn RngCore, out: &mut [f64]);

    /// A short description for summaries.
    fn name(&self) -> String;

    /// log(dμ0/dq) summed over entries drawn by `sample`, where q is the law `sample` actually draws from.
    /// Zero except for importance-sampling proposals (a tilted μ0), whose replicas then carry this weight
    /// so that averages under μ0 stay unbiased.
    fn log_likelihood_ratio(&self, _drawn: &[f64]) -> f64 {
        0.0
    }
}
