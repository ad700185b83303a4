//! The shape and training switches of a [`OneHidden`](super::OneHidden) network, and their check.

use crate::Checked;
use meanfield_core::Activation;
use std::sync::Arc;

/// Invalid model dimensions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("{what} must be at least 1, got 0")]
    Zero { what: &'static str },
    #[error("beta must be 1 (mean-field) or 0.5 (lazy), got {0}")]
    Beta(f64),
}

/// Shape and training switches of a [`OneHidden`] network.
#[derive(Debug, Clone)]
pub struct OneHiddenConfig {
    /// N, the number of hidden units (particles).
    pub width: usize,
    /// d, the input dimension.
    pub dim: usize,
    /// Prefactor exponent β: 1 is the mean-field scaling, ½ the lazy (NTK) one.
    pub beta: f64,
    pub activation: Arc<dyn Activation>,
    /// Whether the bias block b exists.
    pub bias: bool,
    pub train_c: bool,
    pub train_w: bool,
    pub train_b: bool,
    /// Largest training batch; sizes the scratch space.
    pub max_batch: usize,
}

impl OneHiddenConfig {
    /// Mean-field scaling (β = 1), no bias, c and w trained, online batches: change fields with
    /// `OneHiddenConfig { bias: true, ..OneHiddenConfig::mean_field(n, d, act) }`.
    pub fn mean_field(width: usize, dim: usize, activation: Arc<dyn Activation>) -> OneHiddenConfig {
        OneHiddenConfig {
            width,
            dim,
            beta: 1.0,
            activation,
            bias: false,
            train_c: true,
            train_w: true,
            train_b: false,
            max_batch: 1,
        }
    }

    /// Checks the dimensions and the scaling: every size at least 1, β = 1 or ½.
    pub fn check(self) -> Result<Checked<OneHiddenConfig>, ModelError> {
        for (what, value) in [("width", self.width), ("input dimension", self.dim), ("batch", self.max_batch)] {
            if value == 0 {
                return Err(ModelError::Zero { what });
            }
        }
        if self.beta != 1.0 && self.beta != 0.5 {
            return Err(ModelError::Beta(self.beta));
        }
        Ok(Checked(self))
    }
}
