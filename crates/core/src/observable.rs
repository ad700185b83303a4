//! Observables: functionals of the empirical measure μ_N(t) recorded on a schedule.

use crate::model::Model;
use std::fmt::Debug;

/// A fixed sample (x, y) used to estimate population quantities, drawn once per replica.
#[derive(Debug, Clone, Default)]
pub struct Holdout {
    /// Row-major `len × dim`.
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

impl Holdout {
    pub fn len(&self) -> usize {
        self.y.len()
    }
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
}

/// What an observable may look at when it is recorded.
#[derive(Debug)]
pub struct ObservationContext<'a> {
    /// The step just completed (0 before the first).
    pub step: u64,
    pub model: &'a mut dyn Model,
    pub holdout: &'a Holdout,
    /// Reusable buffer (e.g. for predictions); its contents are unspecified on entry.
    pub scratch: &'a mut Vec<f64>,
}

/// A functional F(μ_N) that produces a fixed set of named scalar columns.
pub trait Observable: Send + Sync + Debug {
    /// Column names, in output order. Their number never changes.
    fn columns(&self) -> Vec<String>;
    /// Size of the held-out sample this observable needs (0 if none).
    fn holdout_size(&self) -> usize {
        0
    }
    /// Appends exactly `columns().len()` values to `out`.
    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>);
}
