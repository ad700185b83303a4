//! Models of meanfield: networks whose hidden units are particles, and the built-in activations.

pub mod activations;
pub mod one_hidden;

pub use activations::BuiltinActivation;
pub use one_hidden::{OneHidden, OneHiddenConfig};
