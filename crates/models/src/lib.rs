//! Models of meanfield: networks whose hidden units are particles (one and two hidden layers), and the
//! built-in activations.

pub mod activations;
pub mod one_hidden;
pub mod two_hidden;

pub use activations::BuiltinActivation;
pub use one_hidden::{ModelError, OneHidden, OneHiddenConfig};
pub use two_hidden::{TwoHidden, TwoHiddenConfig};
