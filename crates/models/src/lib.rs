//! Models of meanfield: networks whose hidden units are particles (one and two hidden layers, kernel/RBF
//! particles), and the built-in activations.

pub mod activations;
mod batched;
mod checked;
pub mod kernel;
pub mod one_hidden;
pub mod two_hidden;

pub use activations::BuiltinActivation;
pub use checked::Checked;
pub use kernel::population::MixtureOnInterval;
pub use kernel::{Kernel, KernelConfig, KernelParticles};
pub use one_hidden::{ModelError, OneHidden, OneHiddenConfig, OneHiddenSgd};
pub use two_hidden::{TwoHidden, TwoHiddenConfig};
