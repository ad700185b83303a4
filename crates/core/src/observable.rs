//! Observables: functionals of the empirical measure μ_N(t) recorded on a schedule.

use crate::model::Model;
use serde::{Deserialize, Serialize};
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

/// Columns of the tagged-particles observable start with this; the summary finds them by it.
pub const TAGGED_COLUMN_PREFIX: &str = "tag(";
/// Columns of the inter-layer dependence observable start with this; the summary finds them by it.
pub const DEPENDENCE_COLUMN_PREFIX: &str = "dep(";
/// Columns of the represented function at fixed test points (`yhat(0)`, `yhat(1)`, …) start with this; the
/// `FluctuationScaling` study finds them by it.
pub const PREDICTION_COLUMN_PREFIX: &str = "yhat(";

/// A scalar statistic of one particle θ_i.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Statistic {
    /// Entry `index` of the particle's row in block `block` (e.g. `Coordinate("w", 0)` is w_i1).
    Coordinate(String, usize),
    /// Euclidean norm of the particle's row in block `block` (e.g. `Norm("w")` is |w_i|).
    Norm(String),
}

impl Statistic {
    pub fn block(&self) -> &str {
        match self {
            Statistic::Coordinate(b, _) | Statistic::Norm(b) => b,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Statistic::Coordinate(b, i) => format!("{b}[{i}]"),
            Statistic::Norm(b) => format!("|{b}|"),
        }
    }

    /// Calls `f` with the statistic of every particle, in particle order.
    pub fn for_each(&self, model: &dyn Model, mut f: impl FnMut(f64)) {
        let block = model
            .blocks()
            .iter()
            .find(|b| b.name == self.block())
            .unwrap_or_else(|| panic!("block '{}' was checked to exist when the scenario was built", self.block()));
        let values = &model.params()[block.range()];
        for row in values.chunks_exact(block.cols) {
            f(match self {
                Statistic::Coordinate(_, i) => row[*i],
                Statistic::Norm(_) => row.iter().map(|v| v * v).sum::<f64>().sqrt(),
            });
        }
    }
}
