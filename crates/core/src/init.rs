//! Initial laws of parameter blocks.

use rand::RngCore;
use std::fmt::Debug;

/// The law μ0 of the entries of one parameter block; entries are drawn i.i.d.
pub trait InitLaw: Send + Sync + Debug {
    /// Fills `out` with i.i.d. draws.
    fn sample(&self, rng: &mut dyn RngCore, out: &mut [f64]);

    /// A short description for summaries.
    fn name(&self) -> String;
}
